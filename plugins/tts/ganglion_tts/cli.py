"""The ``ganglion-tts`` command (also ``python -m ganglion_tts``).

Sub-commands come from the modules named in :data:`SUBCOMMANDS`, each with an
``add_parser(subparsers)`` that registers its parser and sets ``func`` (the function that runs
it, taking the parsed arguments and returning the exit status):

* ``make-corpus DIR`` — synthesise a single-voice corpus with espeak-ng
  (:mod:`ganglion_tts.data.command`);
* ``synthesize GEN [VOC] "text" -o out.wav`` — speak text with a spectrogram generator and a
  vocoder (Griffin-Lim without one) (:mod:`ganglion_tts.synthesis.command`).

Each sub-command imports what it needs only when it runs, so ``--help`` is instant. Errors
reach the user as one line (exit status 2; 1 when the file system refuses); see
:func:`ganglion.command_errors.run_reporting_errors`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ganglion.command_errors import run_reporting_errors

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

#: The modules that provide sub-commands, in the order ``--help`` lists them. A new one is a
#: module with ``add_parser(subparsers)`` added here.
SUBCOMMANDS: tuple[str, ...] = ("ganglion_tts.data.command", "ganglion_tts.synthesis.command")


def build_parser() -> argparse.ArgumentParser:
    """The ``ganglion-tts`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="ganglion-tts", description="ganglion-tts: speech synthesis data and tools"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ganglion-tts``; returns the exit status."""
    args = build_parser().parse_args(argv)
    return run_reporting_errors(f"ganglion-tts {args.command}", args.func, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
