"""``python -m symlstm``: the same as the ``symlstm`` command."""

import sys

from symlstm.cli import main

sys.exit(main())
