"""The ``ganglion-nlp`` command (also ``python -m ganglion_nlp``).

Sub-commands:

* ``classify ARCHIVE "text" ...`` or ``--file texts.txt`` — the label and probability of each
  text by a ``.ganglion`` text classifier (``--top K``: the K most likely labels);
* ``evaluate ARCHIVE --data test.tsv`` — accuracy, macro-F1 and a confusion summary (the most
  confused label pairs, the classes of lowest recall) on labelled data;
* ``train-tokenizer`` — train a tokenizer on text files (:mod:`ganglion_nlp.tokenizers.command`);
* ``make-corpus wordnet|fortunes DIR`` — build a classification corpus offline
  (:mod:`ganglion_nlp.corpus.command`).

Each sub-command imports what it needs only when it runs, so ``--help`` is instant. Errors
reach the user as one line (exit status 2; 1 when the file system refuses).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from ganglion.command_args import whole_number
from ganglion.command_errors import run_reporting_errors
from ganglion.errors import GanglionError

__all__ = ["build_parser", "main"]

#: Sub-commands other parts of the package provide: module with ``add_parser(subparsers)``.
_PROVIDED = ("ganglion_nlp.tokenizers.command", "ganglion_nlp.corpus.command")


_positive_int = whole_number(1)
_count = whole_number(0)


def _check_archive(path: Path) -> None:
    if not path.is_file():
        what = "a directory" if path.is_dir() else "no such file"
        raise GanglionError(f"model {path}: {what}; give a .ganglion text classifier archive")


def _restore(path: Path):
    from ganglion_nlp.models import TextClassificationModel

    _check_archive(path)
    # refuses an archive of another kind of model before building it
    return TextClassificationModel.restore_from(str(path), map_location="cpu")


# -- classify -----------------------------------------------------------------------------------
def _add_classify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "classify",
        help="classify texts with a .ganglion text classifier",
        description="Print the most likely label of each text and its probability (label, "
        "probability and text, tab-separated; with --top K the K most likely labels).",
    )
    p.add_argument("model", type=Path, help="a .ganglion archive (TextClassificationModel)")
    p.add_argument("texts", nargs="*", help="texts to classify (quote each one)")
    p.add_argument(
        "--file",
        type=Path,
        help="classify every line of this file too (.txt: one text per line; .tsv/.jsonl: "
        "the text column)",
    )
    p.add_argument("--batch-size", type=_positive_int, default=64, help="texts run at once")
    p.add_argument("--top", type=_positive_int, default=1, help="labels shown per text")
    p.set_defaults(func=_run_classify)


def _run_classify(args: argparse.Namespace) -> int:
    texts = list(args.texts)
    if args.file is not None:
        from ganglion_nlp.data.readers import read_texts

        texts += read_texts(args.file)
    if not texts:
        raise GanglionError('give texts to classify ("some text" ...) or --file texts.txt')
    model = _restore(args.model)
    results = model.classify(texts, batch_size=args.batch_size)
    for text, result in zip(texts, results):
        if args.top == 1:
            print(f"{result.label}\t{result.probability:.4f}\t{text}")
            continue
        best = sorted(result.probabilities.items(), key=lambda item: -item[1])[: args.top]
        print("\t".join([*(f"{label} {p:.4f}" for label, p in best), text]))
    return 0


# -- evaluate -----------------------------------------------------------------------------------
def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="accuracy, macro-F1 and a confusion summary of a classifier on labelled data",
        description="Classify every row of a labelled file (.tsv text<TAB>label, or .jsonl) "
        "and print accuracy, macro-F1, the most confused label pairs and the classes of "
        "lowest recall.",
    )
    p.add_argument("model", type=Path, help="a .ganglion archive (TextClassificationModel)")
    p.add_argument("--data", type=Path, required=True, help="labelled data (.tsv, .jsonl, .json)")
    p.add_argument("--batch-size", type=_positive_int, default=64, help="texts run at once")
    p.add_argument(
        "--unknown-labels",
        choices=("error", "skip"),
        default="error",
        help="rows whose label the model does not know: an error (default), or left out",
    )
    p.add_argument("--confused", type=_count, default=10, help="label pairs shown (default 10)")
    p.add_argument("--worst", type=_count, default=10, help="lowest-recall classes shown")
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from ganglion_nlp.data.readers import read_labelled_texts

    rows = read_labelled_texts(args.data)  # a bad file is reported before the model loads
    model = _restore(args.model)
    report = model.evaluate(
        rows,
        batch_size=args.batch_size,
        unknown_labels=args.unknown_labels,
        skip_hint="pass --unknown-labels skip",
    )
    print(f"{args.data}:")
    print(report.summary(worst=args.worst, confused=args.confused))
    return 0


# -- the command --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The ``ganglion-nlp`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="ganglion-nlp",
        description="ganglion-nlp: text classification, tokenizers and corpora",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_classify(sub)
    _add_evaluate(sub)
    for module in _PROVIDED:
        try:
            provider = importlib.import_module(module)
        except ImportError:  # that part of the package is not installed: no such sub-command
            continue
        provider.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ganglion-nlp``; returns the exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # argparse fills `classify`'s TEXT... only up to the first option: texts given after
        # one (`MODEL --top 3 "a text"`) arrive here and are still texts
        if args.command == "classify" and not any(a.startswith("-") for a in extra):
            args.texts.extend(extra)
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return run_reporting_errors(f"ganglion-nlp {args.command}", args.func, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
