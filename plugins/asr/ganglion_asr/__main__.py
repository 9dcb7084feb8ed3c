"""``python -m ganglion_asr``: the ``ganglion-asr`` command."""

import sys

from ganglion_asr.cli import main

sys.exit(main())
