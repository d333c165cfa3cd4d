"""``python -m pyagc`` runs the pyagc command line."""
import sys

from pyagc.cli import main

if __name__ == "__main__":
    sys.exit(main())
