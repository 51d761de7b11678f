"""``python -m mcdiag``."""

import sys

from mcdiag.cli import main

sys.exit(main())
