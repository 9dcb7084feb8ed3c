"""The ``make-corpus`` sub-command: ``ganglion-tts make-corpus DIR``.

Synthesises a single-voice corpus with espeak-ng (:mod:`ganglion_tts.data.corpus`) and prints
its counts. :func:`add_parser` registers it on the ``ganglion-tts`` command's sub-parsers;
:func:`run` runs it (errors are ``GanglionError``\\ s, which the command prints as one line).
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from ganglion.command_args import fraction, whole_number

__all__ = ["add_parser", "run"]


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``make-corpus`` on ``subparsers`` (``set_defaults(func=run)``); returns it."""
    from ganglion_tts.data.corpus import SOURCES, TTSCorpusConfig

    d = TTSCorpusConfig()
    count, positive = whole_number(0), whole_number(1)
    sources = "\n".join(f"  {name:<9} {what}" for name, what in SOURCES.items())
    p = subparsers.add_parser(
        "make-corpus",
        help="synthesise a single-voice TTS corpus with espeak-ng",
        description="Synthesise a single-voice corpus with espeak-ng: digit strings read as "
        "words and short sentences of real text, as 16 kHz mono wavs with train, validation "
        "and test manifests (with a speaker key) and corpus.json. No validation or test text "
        "occurs in training; the same settings and seed write the same corpus; an interrupted "
        f"build resumes when run again. Sentence sources:\n{sources}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "out_dir",
        metavar="DIR",
        type=Path,
        help="corpus folder (new, empty, or holding an unfinished corpus of the same settings)",
    )
    p.add_argument("--num-train", type=positive, default=d.num_train)
    p.add_argument("--num-validation", type=count, default=d.num_validation)
    p.add_argument("--num-test", type=count, default=d.num_test)
    p.add_argument(
        "--digit-fraction",
        type=fraction(),
        default=d.digit_fraction,
        help=f"fraction of training utterances that are digit strings ({d.digit_fraction})",
    )
    p.add_argument(
        "--held-out-digit-fraction",
        type=fraction(),
        default=d.held_out_digit_fraction,
        help="fraction of validation and of test utterances that are digit strings "
        f"({d.held_out_digit_fraction})",
    )
    p.add_argument("--min-digits", type=positive, default=d.min_digits)
    p.add_argument("--max-digits", type=positive, default=d.max_digits)
    p.add_argument(
        "--held-out-min-digits",
        type=positive,
        default=d.held_out_min_digits,
        help="validation and test digit strings have at least this many digits "
        f"({d.held_out_min_digits}), so every short string stays in training",
    )
    p.add_argument("--min-words", type=positive, default=d.min_words, help="shortest sentence")
    p.add_argument("--max-words", type=positive, default=d.max_words, help="longest sentence")
    p.add_argument(
        "--sources",
        type=_names,
        default=list(d.sources),
        help=f"comma-separated sentence sources ({','.join(d.sources)})",
    )
    p.add_argument("--fortunes-dir", default=d.fortunes_dir, help="folder of fortune files")
    p.add_argument("--wordnet-dir", default=d.wordnet_dir, help="folder of WordNet's data.*")
    p.add_argument(
        "--voice",
        default=d.voice,
        help=f"espeak-ng English voice, optionally +variant ({d.voice}; e.g. en-gb, en-us+f3)",
    )
    p.add_argument("--speed", type=int, default=d.speed, help=f"words per minute ({d.speed})")
    p.add_argument("--pitch", type=int, default=d.pitch, help=f"espeak-ng pitch 0-99 ({d.pitch})")
    p.add_argument(
        "--word-gap", type=count, default=d.word_gap, help="extra pause between words, 10 ms units"
    )
    p.add_argument(
        "--level-db", type=float, default=d.level_db, help=f"peak level, dBFS ({d.level_db})"
    )
    p.add_argument("--sample-rate", type=positive, default=d.sample_rate)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "-j", "--jobs", type=positive, default=None, help="worker processes (default: CPUs)"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace what DIR holds (its wavs and manifests)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Build the corpus ``args`` describe and print its counts; returns 0."""
    from ganglion_tts.data.corpus import TTSCorpusConfig, build_tts_corpus

    # the options' dests are the config's field names
    config = TTSCorpusConfig(**{f.name: getattr(args, f.name) for f in fields(TTSCorpusConfig)})
    record = build_tts_corpus(
        args.out_dir, config, jobs=args.jobs, overwrite=args.overwrite, progress=not args.quiet
    )
    for split in ("train", "validation", "test"):
        counts = record["counts"][split]
        total = counts["digits"] + counts["sentences"]
        print(
            f"{split:>10}: {total:6d} utterances ({counts['digits']} digit strings, "
            f"{counts['sentences']} sentences), {record['hours'][split]:.2f} h -> "
            f"{args.out_dir / f'{split}_manifest.json'}"
        )
    print(f"speaker {record['speaker']}; settings in {args.out_dir / 'corpus.json'}")
    return 0
