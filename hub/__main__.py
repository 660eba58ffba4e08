"""`python -m hub` is the `hub` command."""

import sys

from hub.cli import main

# Guarded: a spawned worker process imports this module again and must not start a second hub.
if __name__ == "__main__":
    sys.exit(main())
