"""`python -m hashtron_lab.g2p` (see g2p/cli.py): the process entry; importing this module runs nothing."""
from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
