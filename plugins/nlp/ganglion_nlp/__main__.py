"""``python -m ganglion_nlp``: the ``ganglion-nlp`` command."""

import sys

from ganglion_nlp.cli import main

sys.exit(main())
