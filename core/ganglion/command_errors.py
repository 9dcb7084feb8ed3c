"""How every ganglion command ends: a user's mistake as one line, never a traceback.

The ``ganglion`` command and the plugins' commands (``ganglion-asr``, ``ganglion-nlp`` …) run
their sub-commands through :func:`run_reporting_errors`, so they share exit statuses and the
shape of their messages::

    ganglion-nlp classify: error: model.ganglion does not exist; ...

Exit statuses: 0 done, 2 a ganglion error (bad input, config or file: the message says what
to fix), 1 the operating system refused (full disk, permissions: its message names the
path), 130 interrupted. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from ganglion.errors import GanglionError

__all__ = ["run_reporting_errors"]


def run_reporting_errors(prefix: str, func: Callable[[Any], Any], args: Any) -> int:
    """``func(args)``'s exit status (0 when it returns None); a ganglion or OS error is
    printed to stderr as ``"{prefix}: error: {message}"``."""
    try:
        return int(func(args) or 0)
    except GanglionError as exc:
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
