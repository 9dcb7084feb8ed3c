"""``python -m ganglion`` is the ``ganglion`` command."""

from ganglion.cli import main

raise SystemExit(main())
