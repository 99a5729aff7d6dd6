"""`python -m pilot_desktop`: the same as the `pilot-desktop` command."""

import sys

from pilot_desktop.cli import main

sys.exit(main())
