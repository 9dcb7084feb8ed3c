"""The ``make-corpus`` sub-command: ``ganglion-nlp make-corpus wordnet|fortunes DIR``.

Builds a text-classification corpus offline from a system package (see
:mod:`ganglion_nlp.corpus`) and prints its counts. :func:`add_parser` registers it on the
``ganglion-nlp`` command's sub-parsers; :func:`run` runs it (errors are
:class:`~ganglion_nlp.corpus.errors.CorpusError`, a ``GanglionError``, for the command to print).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ganglion.command_args import fraction
from ganglion.errors import did_you_mean
from ganglion_nlp.corpus.errors import CorpusError, UnknownCorpusError

__all__ = ["CORPORA", "add_parser", "run"]

CORPORA = {
    "wordnet": "WordNet synset glosses -> lexicographer file (45 classes; wordnet-base)",
    "fortunes": "fortune cookies -> fortune file (fortunes-min, fortunes)",
}
# the options that belong to one corpus only, by their dest
_OPTIONS_OF = {"wordnet_dir": "wordnet", "gloss": "wordnet", "fortunes_dir": "fortunes"}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``make-corpus`` on ``subparsers`` (``set_defaults(func=run)``); returns it."""
    lines = "\n".join(f"  {name:<9} {what}" for name, what in CORPORA.items())
    p = subparsers.add_parser(
        "make-corpus",
        help="build a text-classification corpus (wordnet, fortunes) from system packages",
        description="Build a text-classification corpus offline: train.tsv, validation.tsv "
        "and test.tsv (text<TAB>label, split by source item with a fixed seed, stratified by "
        "label), text.txt (the training texts, for tokenizers and pretraining) and "
        f"corpus.json (counts, classes, seed, source). Corpora:\n{lines}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("corpus", metavar="CORPUS", help=f"one of: {', '.join(CORPORA)}")
    p.add_argument("out_dir", metavar="DIR", type=Path, help="folder to write (new or empty)")
    p.add_argument("--seed", type=int, default=1234, help="split seed (default: 1234)")
    p.add_argument(
        "--validation",
        type=fraction(below_one=True),
        default=0.1,
        help="validation fraction (default: 0.1)",
    )
    p.add_argument(
        "--test", type=fraction(below_one=True), default=0.1, help="test fraction (default: 0.1)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty DIR")
    p.add_argument(
        "--wordnet-dir",
        type=Path,
        default=None,
        help="wordnet: folder holding data.noun, data.verb, data.adj, data.adv "
        "(default: $WNSEARCHDIR or /usr/share/wordnet)",
    )
    p.add_argument(
        "--gloss",
        choices=("full", "definition"),
        default=None,
        help="wordnet: the whole gloss, definition and quoted examples (default), or only "
        "the definition",
    )
    p.add_argument(
        "--fortunes-dir",
        type=Path,
        default=None,
        help="fortunes: folder of fortune files (default: /usr/share/games/fortunes)",
    )
    p.add_argument(
        "--offensive",
        action="store_true",
        help="fortunes: add the off/ files (fortunes-off), labelled off/<name>",
    )
    p.set_defaults(func=run)
    return p


def _check_options(args: argparse.Namespace) -> None:
    if args.corpus not in CORPORA:
        raise UnknownCorpusError(
            f"unknown corpus {args.corpus!r}.{did_you_mean(args.corpus, CORPORA)} "
            f"Known: {', '.join(CORPORA)}."
        )
    wrong = [
        "--" + dest.replace("_", "-")
        for dest, corpus in _OPTIONS_OF.items()
        if corpus != args.corpus and getattr(args, dest) is not None
    ]
    if args.offensive and args.corpus != "fortunes":
        wrong.append("--offensive")
    if wrong:
        verb = "is not an option" if len(wrong) == 1 else "are not options"
        raise CorpusError(f"{', '.join(wrong)} {verb} of the {args.corpus} corpus")
    if args.validation + args.test >= 1:
        raise CorpusError(
            f"--validation {args.validation} and --test {args.test} leave nothing to train on; "
            "their sum must be under 1"
        )


def run(args: argparse.Namespace) -> int:
    """Build the corpus ``args`` name and print its counts; returns the exit status (0)."""
    _check_options(args)
    common = {
        "seed": args.seed,
        "validation": args.validation,
        "test": args.test,
        "overwrite": args.overwrite,
    }
    if args.corpus == "wordnet":
        from ganglion_nlp.corpus.wordnet import build_wordnet_corpus

        summary = build_wordnet_corpus(
            args.out_dir, wordnet_dir=args.wordnet_dir, gloss=args.gloss or "full", **common
        )
    else:
        from ganglion_nlp.corpus.fortunes import build_fortunes_corpus

        summary = build_fortunes_corpus(
            args.out_dir, fortunes_dir=args.fortunes_dir, offensive=args.offensive, **common
        )
    for note in summary["notes"]:
        print(f"note: {note}")
    counts = summary["counts"]
    for split in ("train", "validation", "test"):
        print(f"{split:>10}: {counts[split]:7d} examples -> {args.out_dir / f'{split}.tsv'}")
    print(f"{'text':>10}: {counts['train']:7d} lines    -> {args.out_dir / 'text.txt'}")
    print(
        f"{summary['num_classes']} classes, {sum(counts.values())} examples from "
        f"{summary['source']} (seed {summary['seed']}) -> {args.out_dir / 'corpus.json'}"
    )
    return 0
