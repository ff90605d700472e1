"""`python -m mailserver`: the mailserver command."""

import sys

from mailserver.cli import main

sys.exit(main())
