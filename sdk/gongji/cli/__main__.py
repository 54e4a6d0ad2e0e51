"""``python -m gongji.cli``: the ``gongji`` command."""

import sys

from gongji.cli.main import main

sys.exit(main())
