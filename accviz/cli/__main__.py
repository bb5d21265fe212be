"""``python -m accviz.cli``: the ``accviz`` command."""

import sys

from accviz.cli import main

sys.exit(main())
