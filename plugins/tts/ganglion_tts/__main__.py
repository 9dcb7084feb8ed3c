"""``python -m ganglion_tts``: the ``ganglion-tts`` command."""

import sys

from ganglion_tts.cli import main

sys.exit(main())
