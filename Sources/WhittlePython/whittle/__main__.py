"""``python -m whittle`` runs the whittle command line."""
import sys

from ._cli import main

sys.exit(main())
