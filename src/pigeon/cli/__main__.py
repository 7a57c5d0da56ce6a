"""``python -m pigeon.cli``."""

import sys

from pigeon.cli import main

sys.exit(main())
