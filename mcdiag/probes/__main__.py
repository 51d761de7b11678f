"""``python -m mcdiag.probes``: run one probe, print JSON, exit 0/1/2."""

import sys

from .cli import main

sys.exit(main())
