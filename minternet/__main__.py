"""`python -m minternet` is the `minternet` command."""

import sys

from minternet.cli import main

sys.exit(main())
