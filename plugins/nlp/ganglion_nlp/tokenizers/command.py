"""The ``ganglion-nlp train-tokenizer`` sub-command: train a tokenizer on text files and save
it as a directory (what a model's ``tokenizer.dir`` names).

Example::

    ganglion-nlp train-tokenizer --type sentencepiece-unigram --vocab-size 8000 \\
        -o tokenizers/wordnet corpus/train.txt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganglion_nlp.tokenizers.errors import TokenizerError
from ganglion_nlp.tokenizers.factory import TOKENIZER_TYPES

__all__ = ["add_parser", "run"]

COMMAND = "train-tokenizer"
_SAMPLE_CHARS = 80
_SAMPLE_TOKENS = 24


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``train-tokenizer`` to ``subparsers`` (of the ``ganglion-nlp`` command)."""
    p = subparsers.add_parser(
        COMMAND,
        help="train a tokenizer on text files",
        description=(
            "Train a tokenizer on UTF-8 text files (one text per line) and save it as the "
            "directory OUT_DIR (ganglion_tokenizer.json and the library's files). The special "
            "tokens <pad> <unk> <cls> <sep> <mask> get ids 0..4 in every type."
        ),
    )
    p.add_argument(
        "--type",
        required=True,
        metavar="TYPE",
        dest="tokenizer_type",
        help=f"the tokenizer type: {', '.join(TOKENIZER_TYPES)}",
    )
    p.add_argument(
        "--vocab-size",
        type=_whole_number,
        default=8000,
        help="vocabulary size, special tokens included (char/word: at most; default 8000)",
    )
    p.add_argument(
        "--no-lowercase",
        dest="lowercase",
        action="store_false",
        help="keep case (by default texts are lowercased, in training and when tokenizing)",
    )
    p.add_argument(
        "--min-count",
        type=_whole_number,
        default=1,
        help="char, word, hf-*: leave out tokens seen fewer times (default 1)",
    )
    p.add_argument(
        "-o", "--output", required=True, type=Path, metavar="OUT_DIR", help="directory to write"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace OUT_DIR if it exists and is not empty"
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="training text files")
    p.set_defaults(func=run)
    return p


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    """Train and save the tokenizer ``args`` describe, print what was written; the exit status
    (0, or 2 with the error on stderr)."""
    from ganglion_nlp.tokenizers.factory import train_tokenizer

    try:
        tok = train_tokenizer(
            args.tokenizer_type,
            args.files,
            args.output,
            vocab_size=args.vocab_size,
            lowercase=args.lowercase,
            min_count=args.min_count,
            overwrite=args.overwrite,
        )
    except TokenizerError as exc:
        print(f"ganglion-nlp {COMMAND}: error: {exc}", file=sys.stderr)
        return 2
    files = ", ".join(sorted(p.name for p in tok.directory.iterdir()))
    case = "lowercased" if tok.lowercase else "case kept"
    print(f"wrote a {tok.type_name} tokenizer to {tok.directory} ({files})")
    print(f"  vocab size: {tok.vocab_size} ({case})")
    sample = _first_text(args.files)
    if sample:
        tokens = tok.text_to_tokens(sample)
        ids = tok.text_to_ids(sample)
        more = f" ... ({len(tokens)} in all)" if len(tokens) > _SAMPLE_TOKENS else ""
        print(f"  sample: {sample!r}")
        print(f"  tokens: {tokens[:_SAMPLE_TOKENS]}{more}")
        print(f"  ids:    {ids[:_SAMPLE_TOKENS]}{more}")
    return 0


def _first_text(files: list[Path]) -> str:
    """The first non-blank line of the training files (cut to a readable length)."""
    for path in files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    return line.strip()[:_SAMPLE_CHARS]
    return ""
