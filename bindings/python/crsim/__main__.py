"""``python -m crsim``: the command line (see crsim.cli)."""
import sys

from .cli import main

sys.exit(main())
