"""``python -m azimds``: the same as the ``azimds`` command."""

import sys

from .cli import main

sys.exit(main())
