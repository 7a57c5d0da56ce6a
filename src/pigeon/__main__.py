"""``python -m pigeon`` runs the ``pigeon`` command."""

import sys

from pigeon.cli import main

sys.exit(main())
