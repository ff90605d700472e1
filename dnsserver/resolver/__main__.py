"""`python -m dnsserver.resolver ...`: the resolver's commands before they join `dnsserver`."""

import sys

from dnsserver.resolver.cli import main

sys.exit(main())
