"""`python -m hashtron_lab.g2p` (see g2p/cli.py)."""
import sys

from .cli import main

sys.exit(main())
