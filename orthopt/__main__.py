"""``python -m orthopt ...`` runs the ``orthopt`` command (same as the console script)."""

import sys

from .cli import main

sys.exit(main())
