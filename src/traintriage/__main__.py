"""``python -m traintriage`` is the ``traintriage`` command."""

import sys

from .cli import main

sys.exit(main())
