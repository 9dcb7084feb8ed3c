"""The ``ganglion-asr`` command (also ``python -m ganglion_asr``).

Sub-commands:

* ``synth-digits OUT`` — synthesise a spoken-digit corpus with espeak-ng;
* ``convert FORMAT SOURCE MANIFEST`` — LibriSpeech / Common Voice / wav+txt folder to manifest;
* ``transcribe MODEL AUDIO...`` — transcribe audio files (or a manifest) with a ``.ganglion``
  model, printing the WER when the manifest has reference transcripts;
* ``export ARCHIVE OUT.onnx`` — the CTC model, preprocessor included, as ONNX (checked
  against PyTorch first); ``--check MANIFEST`` transcribes a manifest with ONNX Runtime and
  prints its WER beside the archive's.

Each sub-command imports what it needs only when it runs, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from ganglion.command_args import whole_number
from ganglion.command_errors import run_reporting_errors
from ganglion.errors import GanglionError


def _pair(kind: type) -> object:
    def parse(text: str) -> tuple:
        parts = text.replace(":", ",").split(",")
        if len(parts) != 2:
            raise argparse.ArgumentTypeError(f"expected LOW,HIGH, got {text!r}")
        return (kind(parts[0]), kind(parts[1]))

    return parse


_positive_int = whole_number(1)  # batch sizes, worker counts
_count = whole_number(0)


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _add_synth(sub: argparse._SubParsersAction) -> None:
    from ganglion_asr.data.synth_digits import DigitCorpusConfig

    d = DigitCorpusConfig()
    p = sub.add_parser(
        "synth-digits",
        help="synthesise a spoken-digit-string corpus with espeak-ng",
        description="Synthesise 1-7 digit strings spoken as words by many espeak-ng English "
        "voices and variants, writing 16 kHz wavs and train/validation/test manifests; "
        "validation and test speakers are never heard in training.",
    )
    p.add_argument("out_dir", type=Path, help="corpus folder to write")
    p.add_argument("--num-train", type=int, default=d.num_train)
    p.add_argument("--num-validation", type=int, default=d.num_validation)
    p.add_argument("--num-test", type=int, default=d.num_test)
    p.add_argument("--min-digits", type=int, default=d.min_digits)
    p.add_argument("--max-digits", type=int, default=d.max_digits)
    p.add_argument("--sample-rate", type=int, default=d.sample_rate)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "--voices",
        type=_names,
        default=[],
        help="comma-separated espeak-ng voices (default: every English voice)",
    )
    p.add_argument(
        "--variants",
        type=lambda s: [v.strip() for v in s.split(",")],
        default=[],
        help="comma-separated variants (default: all but whisper/fast/Demonic); an "
        "empty item is the plain voice",
    )
    p.add_argument(
        "--validation-speakers",
        type=float,
        default=d.validation_speakers,
        help="fraction of speakers held out for validation",
    )
    p.add_argument(
        "--test-speakers",
        type=float,
        default=d.test_speakers,
        help="fraction of speakers held out for test",
    )
    p.add_argument(
        "--holdout",
        choices=("speaker", "variant"),
        default=d.holdout,
        help="hold out voice+variant speakers, or whole variants",
    )
    p.add_argument("--speed", type=_pair(int), default=d.speed, help="words/minute LOW,HIGH")
    p.add_argument("--pitch", type=_pair(int), default=d.pitch, help="pitch LOW,HIGH (0-99)")
    p.add_argument(
        "--word-gap",
        type=_pair(int),
        default=d.word_gap,
        help="pause between words LOW,HIGH in 10 ms units",
    )
    p.add_argument(
        "--level-db", type=_pair(float), default=d.level_db, help="peak level LOW,HIGH in dBFS"
    )
    p.add_argument(
        "--silence",
        type=_pair(float),
        default=d.silence,
        help="leading/trailing silence LOW,HIGH in seconds",
    )
    p.add_argument(
        "--noise-prob",
        type=float,
        default=d.noise_prob,
        help="fraction of utterances with background noise (0: none)",
    )
    p.add_argument("--snr-db", type=_pair(float), default=d.snr_db, help="noise SNR LOW,HIGH")
    p.add_argument(
        "--engines",
        type=_names,
        default=list(d.engines),
        help="comma-separated synthesisers: espeak-ng, festival (default: espeak-ng)",
    )
    p.add_argument(
        "--festival-voices",
        type=_names,
        default=[],
        help="comma-separated festival voices (default: every English one not reserved)",
    )
    p.add_argument(
        "--festival-share",
        type=float,
        default=d.festival_share,
        help="with both engines, the fraction of utterances festival speaks",
    )
    p.add_argument(
        "--festival-stretch",
        type=_pair(float),
        default=d.festival_stretch,
        help="festival duration stretch LOW,HIGH (1: the voice's own speed)",
    )
    p.add_argument(
        "--festival-f0-std",
        type=_pair(int),
        default=d.festival_f0_std,
        help="festival F0 standard deviation LOW,HIGH in Hz",
    )
    p.add_argument(
        "-j", "--jobs", type=_positive_int, default=None, help="worker processes (default: CPUs)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing corpus")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_synth)


def _run_synth(args: argparse.Namespace) -> int:
    from ganglion_asr.data.synth_digits import DigitCorpusConfig, synthesize_digit_corpus

    # the options' dests are the config's field names
    config = DigitCorpusConfig(**{f.name: getattr(args, f.name) for f in fields(DigitCorpusConfig)})
    record = synthesize_digit_corpus(
        args.out_dir, config, jobs=args.jobs, overwrite=args.overwrite, progress=not args.quiet
    )
    for split in ("train", "validation", "test"):
        print(
            f"{split:>10}: {record['counts'][split]:6d} utterances, "
            f"{record['hours'][split]:.2f} h, {len(record['speakers'][split])} speakers -> "
            f"{args.out_dir / f'{split}_manifest.json'}"
        )
    return 0


def _add_convert(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="write a manifest from a LibriSpeech, Common Voice or wav+txt folder corpus",
        description="LibriSpeech: SOURCE is a split folder (speaker/chapter/*.flac + "
        "*.trans.txt). common-voice: SOURCE is a TSV with path and sentence columns, audio in "
        "clips/ beside it. folder: SOURCE holds audio files each with a same-named .txt.",
    )
    p.add_argument("format", choices=("librispeech", "common-voice", "folder"))
    p.add_argument("source", type=Path)
    p.add_argument("manifest", type=Path, help="manifest to write (JSON lines)")
    p.add_argument(
        "--no-normalize",
        action="store_true",
        help="keep transcripts as they are (default: lowercase, no punctuation)",
    )
    p.add_argument(
        "--skip-missing",
        action="store_true",
        help="leave out utterances whose audio or transcript is missing or unreadable",
    )
    p.add_argument("--clips-dir", type=Path, default=None, help="common-voice: the audio folder")
    p.set_defaults(run=_run_convert)


def _run_convert(args: argparse.Namespace) -> int:
    from ganglion_asr.data.convert import convert

    options: dict[str, object] = {
        "normalize": not args.no_normalize,
        "missing": "skip" if args.skip_missing else "error",
    }
    if args.clips_dir is not None:
        if args.format != "common-voice":
            raise GanglionError("--clips-dir applies to the common-voice format only")
        options["clips_dir"] = args.clips_dir
    print(convert(args.format, args.source, args.manifest, **options))
    return 0


def _add_transcribe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "transcribe",
        help="transcribe audio files with a .ganglion model",
        description="Transcribe audio files, or every utterance of a manifest (then the WER "
        "and CER against its transcripts are printed too).",
    )
    p.add_argument("model", type=Path, help="a .ganglion model archive")
    p.add_argument("audio", nargs="*", type=Path, help="audio files to transcribe")
    p.add_argument("--manifest", type=Path, help="transcribe a manifest's utterances")
    p.add_argument(
        "--batch-size", type=_positive_int, default=16, help="utterances decoded at once"
    )
    p.add_argument(
        "--output",
        type=Path,
        help="write JSON lines (audio_filepath, pred_text, and text when known; offset and "
        "duration for a manifest's segments) here",
    )
    p.add_argument(
        "--show",
        type=_count,
        default=None,
        help="print at most this many transcriptions (default: all)",
    )
    g = p.add_argument_group(
        "decoding",
        "default: the model's own decoding (greedy unless it was saved otherwise); beam "
        "options change only what they name, keeping the model's word list and LM",
    )
    g.add_argument(
        "--decoder",
        choices=("greedy", "beam"),
        default=None,
        help="greedy, or CTC beam search (implied by the options below)",
    )
    g.add_argument("--beam-size", type=_positive_int, default=None, help="beam width (8)")
    g.add_argument("--lm", type=Path, default=None, help="an ARPA word n-gram language model")
    g.add_argument("--word-list", type=Path, default=None, help="the words to allow, one a line")
    g.add_argument("--alpha", type=float, default=None, help="LM weight (0.5)")
    g.add_argument("--beta", type=float, default=None, help="bonus per word (1.0)")
    g.add_argument(
        "--lexicon-snap",
        action="store_true",
        help="replace each output word missing from --word-list by the closest listed word",
    )
    p.set_defaults(run=_run_transcribe)


def _decoding_options(args: argparse.Namespace) -> dict | None:
    """The ``decoding`` section the transcribe options ask for (None: keep the model's).

    Files are checked here, before the model is loaded.
    """
    beam_only = {
        "--beam-size": args.beam_size,
        "--lm": args.lm,
        "--alpha": args.alpha,
        "--beta": args.beta,
    }
    given = [k for k, v in beam_only.items() if v is not None]
    if args.decoder is None and not given and args.word_list is None:
        if args.lexicon_snap:
            raise GanglionError("--lexicon-snap needs --word-list FILE")
        return None
    if args.decoder == "greedy" and given:
        raise GanglionError(f"{', '.join(given)} apply to --decoder beam, not greedy")
    if args.lexicon_snap and args.word_list is None:
        raise GanglionError("--lexicon-snap needs --word-list FILE")
    if args.decoder == "greedy" and args.word_list is not None and not args.lexicon_snap:
        raise GanglionError("--word-list with --decoder greedy needs --lexicon-snap")
    for option, path in (("--lm", args.lm), ("--word-list", args.word_list)):
        if path is not None and not path.is_file():
            what = "is a directory" if path.is_dir() else "does not exist"
            raise GanglionError(f"{option} {path} {what}")
    section: dict = {"strategy": args.decoder or "beam"}
    for key, value in (
        ("beam_size", args.beam_size),
        ("lm", args.lm),
        ("word_list", args.word_list),
        ("alpha", args.alpha),
        ("beta", args.beta),
    ):
        if value is not None:
            section[key] = str(value) if isinstance(value, Path) else value
    if args.lexicon_snap:
        section["lexicon_snap"] = True
    return section


def _on_model_decoding(current: Any, options: dict) -> dict:
    """The options over the model's own beam-search settings: ``--beam-size 16`` keeps the
    word list and LM the model was saved with; ``--decoder greedy``, or a model that decodes
    greedily, takes the options alone."""
    if options["strategy"] != "beam" or not current or current.get("strategy") != "beam":
        return options
    from omegaconf import OmegaConf

    return {**OmegaConf.to_container(OmegaConf.create(current), resolve=True), **options}


def check_output_path(path: Path, option: str = "--output") -> None:
    """Refuse an output file that could not be written, before any work is done.

    The file itself need not exist; its directory must, and must be writable (an hour of
    transcription must not end in "No such file or directory").
    """
    if path.is_dir():
        raise GanglionError(
            f"{option} {path} is a directory; give a file name, e.g. {path}/out.json"
        )
    parent = path.parent
    if not parent.exists():
        # a path through a regular file ("notes.txt/out.json") also lands here
        above = next((p for p in parent.parents if p.exists()), None)
        if above is not None and not above.is_dir():
            raise GanglionError(
                f"{option} {path}: {above} is a file, not a directory; choose another path"
            )
        raise GanglionError(
            f"{option} {path}: directory {parent} does not exist; create it first "
            f"(mkdir -p {parent}) or choose another path"
        )
    if not parent.is_dir():
        raise GanglionError(f"{option} {path}: {parent} is not a directory; choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise GanglionError(
            f"{option} {path}: directory {parent} is not writable; choose another path"
        )


def _run_transcribe(args: argparse.Namespace) -> int:
    if not args.audio and args.manifest is None:
        raise GanglionError("give audio files to transcribe, or --manifest MANIFEST")
    # everything that can be checked without the model is checked before it is loaded
    if args.output is not None:
        check_output_path(args.output)
    if not args.model.is_file():
        what = "a directory" if args.model.is_dir() else "no such file"
        raise GanglionError(f"model {args.model}: {what}; give a .ganglion model archive")
    for audio in args.audio:
        if not audio.is_file():
            what = "is a directory" if audio.is_dir() else "does not exist"
            raise GanglionError(f"audio file {audio} {what}")
    decoding = _decoding_options(args)
    files = [str(p) for p in args.audio]
    entries = []
    if args.manifest is not None:
        from ganglion_asr.data.manifest import read_manifest

        entries = read_manifest(args.manifest)
    from ganglion_asr.models import EncDecCTCModel

    # refuses an archive of another kind of model before building it
    model = EncDecCTCModel.restore_from(str(args.model), map_location="cpu")
    if decoding is not None:
        model.change_decoding_strategy(_on_model_decoding(model.cfg.get("decoding"), decoding))
    from ganglion_asr.data.audio import describe_conversion

    # said once for the whole input, before the work starts
    note = describe_conversion(
        [*files, *(e.audio_filepath for e in entries)], int(model.cfg.sample_rate)
    )
    if note:
        print(note, file=sys.stderr)
    # manifest entries go as they are, so segments (offset, duration) are decoded alone
    hypotheses = model.transcribe([*files, *entries], batch_size=args.batch_size)
    rows = [{"audio_filepath": f, "pred_text": h} for f, h in zip(files, hypotheses)]
    for entry, hyp in zip(entries, hypotheses[len(files) :]):
        row: dict[str, object] = {"audio_filepath": entry.audio_filepath}
        if entry.offset is not None:
            row.update(offset=entry.offset, duration=entry.duration)
        row.update(pred_text=hyp, text=entry.text)
        rows.append(row)
    for row in rows[: args.show]:
        print(f"{row['audio_filepath']}\t{row['pred_text']}")
    if args.output is not None:
        from ganglion.archive import atomic_write_text

        atomic_write_text(
            args.output, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        )
    if args.manifest is not None:
        from ganglion_asr.metrics import error_rates

        wer, cer = error_rates(hypotheses[len(files) :], [e.text for e in entries])
        print(f"{args.manifest}: {len(entries)} utterances, WER {wer:.2%}, CER {cer:.2%}")
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a .ganglion CTC model to ONNX (needs the export extra)",
        description="Export the whole CTC model -- mel-spectrogram preprocessor, encoder and "
        "decoder -- to one ONNX file taking raw audio (input_signal [batch, samples] float32 "
        "at the model's sample rate, input_signal_length [batch] int64; batch and length "
        "dynamic) and returning outputs (log-probabilities), encoded_lengths and "
        "greedy_predictions; labels and sample rate are in the file's metadata. ONNX Runtime "
        "must match PyTorch within --rtol/--atol on two batch/length sizes, else nothing is "
        "written. Needs: pip install 'ganglion-core[export]'.",
    )
    p.add_argument("model", type=Path, help="a .ganglion model archive (EncDecCTCModel)")
    p.add_argument("output", type=Path, help="the .onnx file to write")
    p.add_argument(
        "--check",
        type=Path,
        metavar="MANIFEST",
        help="then transcribe this manifest with ONNX Runtime and with the archive, printing "
        "both WERs and how many transcripts differ",
    )
    p.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance of the check")
    p.add_argument("--atol", type=float, default=1e-4, help="absolute tolerance of the check")
    p.add_argument("--batch-size", type=_positive_int, default=16, help="for --check")
    p.set_defaults(run=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    check_output_path(args.output, "OUT")
    if not args.model.is_file():
        what = "a directory" if args.model.is_dir() else "no such file"
        raise GanglionError(f"model {args.model}: {what}; give a .ganglion model archive")
    entries = []
    if args.check is not None:
        from ganglion_asr.data.manifest import read_manifest

        entries = read_manifest(args.check)
    from ganglion.graph.exporting import require_packages

    require_packages("onnx")
    from ganglion_asr.models import EncDecCTCModel
    from ganglion_asr.onnx_export import OnnxCTCTranscriber, export_ctc_model

    model = EncDecCTCModel.restore_from(str(args.model), map_location="cpu")
    export_ctc_model(model, args.output, rtol=args.rtol, atol=args.atol)
    if args.check is not None:
        from ganglion_asr.metrics import error_rates

        refs = [e.text for e in entries]
        onnx_hyps = OnnxCTCTranscriber(args.output).transcribe(entries, args.batch_size)
        torch_hyps = model.transcribe(entries, batch_size=args.batch_size)
        onnx_wer, _ = error_rates(onnx_hyps, refs)
        torch_wer, _ = error_rates(torch_hyps, refs)
        differ = sum(a != b for a, b in zip(onnx_hyps, torch_hyps))
        print(
            f"{args.check}: {len(entries)} utterances, WER ONNX Runtime {onnx_wer:.2%}, "
            f"archive {torch_wer:.2%}; {differ} transcript(s) differ"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``ganglion-asr`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="ganglion-asr", description="ganglion-asr: speech data and transcription tools"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_synth(sub)
    _add_convert(sub)
    _add_transcribe(sub)
    _add_export(sub)
    from ganglion_asr.data import sanity_command

    sanity_command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ganglion-asr``; returns the exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # argparse fills `transcribe`'s AUDIO... only up to the first option: files given
        # after one (`MODEL --batch-size 8 a.wav`) arrive here and are still audio files
        if args.command == "transcribe" and not any(a.startswith("-") for a in extra):
            args.audio.extend(Path(a) for a in extra)
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return run_reporting_errors(f"ganglion-asr {args.command}", args.run, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
