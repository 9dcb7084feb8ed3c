"""``ganglion-asr make-sanity-set DIR``: the human digit recordings of pocketsphinx-testdata.

The command's parser and its action, for ``ganglion_asr.cli`` to register::

    from ganglion_asr.data import sanity_command
    sanity_command.add_parser(sub)

Nothing heavy is imported until the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND = "make-sanity-set"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``make-sanity-set`` to the sub-commands ``sub``; returns its parser."""
    from ganglion_asr.data.sanity import MANIFEST_NAME, POCKETSPHINX_TESTDATA

    p = sub.add_parser(
        COMMAND,
        help="write a manifest of human digit recordings (Debian's pocketsphinx-testdata)",
        description="Convert the recordings of Debian's pocketsphinx-testdata whose transcripts "
        f"are only digit words to 16 kHz wavs in DIR/wavs and list them in DIR/{MANIFEST_NAME}, "
        "for checking a digit model on human speech (ganglion-asr transcribe MODEL --manifest "
        f"DIR/{MANIFEST_NAME}).",
    )
    p.add_argument("out_dir", type=Path, metavar="DIR", help="folder to write")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=POCKETSPHINX_TESTDATA,
        help=f"the package's recordings (default: {POCKETSPHINX_TESTDATA})",
    )
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Build the sanity set; prints one line per recording and the manifest's path."""
    from ganglion_asr.data.manifest import read_manifest
    from ganglion_asr.data.sanity import make_sanity_set

    manifest = make_sanity_set(args.out_dir, args.data_dir)
    for entry in read_manifest(manifest):
        print(f"{entry.duration:6.2f} s  {Path(entry.audio_filepath).name}: {entry.text}")
    return 0
