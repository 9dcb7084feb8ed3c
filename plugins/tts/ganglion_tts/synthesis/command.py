"""``ganglion-tts synthesize``: text -> wav with a generator archive and an optional vocoder.

::

    ganglion-tts synthesize FastPitch.ganglion "call five one two" -o call.wav
    ganglion-tts synthesize FastPitch.ganglion HifiGan.ganglion "call five one two" -o call.wav
    ganglion-tts synthesize FastPitch.ganglion --file lines.txt -o out_dir/

Without a vocoder archive, Griffin-Lim turns the spectrogram into audio. A vocoder whose mel
settings differ from the generator's is refused before anything is synthesised; words the
frontend had to guess and characters it dropped are said once per text, on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ganglion.errors import GanglionError

__all__ = ["add_parser", "run"]


def _pace(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``synthesize`` on ``subparsers`` (``set_defaults(func=run)``); returns it."""
    p = subparsers.add_parser(
        "synthesize",
        help="speak text with a spectrogram generator and a vocoder, into wav files",
        description="Synthesise speech: GEN is a spectrogram generator archive (FastPitch), "
        "VOC an optional vocoder archive (HiFi-GAN; without it, Griffin-Lim follows the "
        "generator's mel settings). With one TEXT, -o names the wav; with --file (one text "
        "per line), -o names a folder that gets 0001.wav, 0002.wav, ...",
        usage="ganglion-tts synthesize GEN [VOC] (TEXT | --file FILE) -o OUT [options]",
    )
    p.add_argument(
        "items", nargs="+", metavar="GEN [VOC] TEXT", help="archive(s), then the text to say"
    )
    p.add_argument("--file", type=Path, help="say every non-empty line of this UTF-8 file")
    p.add_argument("-o", "--output", type=Path, required=True, help="the wav (or folder)")
    p.add_argument(
        "--pace", type=_pace, default=1.0, help="speaking rate (2.0: twice as fast; default 1.0)"
    )
    p.set_defaults(func=run)
    return p


def _read_lines(path: Path) -> list[str]:
    """The non-empty lines of a UTF-8 text file (a bad byte is named by line and offset)."""
    from ganglion_asr.data.text import utf8_lines

    if not path.is_file():
        raise GanglionError(f"--file {path}: {'a directory' if path.is_dir() else 'no such file'}")
    with path.open("rb") as handle:
        texts = [line.strip() for _, line in utf8_lines(handle, path)]
    texts = [text for text in texts if text]
    if not texts:
        raise GanglionError(f"--file {path}: no text in it (every line is empty)")
    return texts


def _split_items(args: argparse.Namespace) -> tuple[Path, Path | None, list[str]]:
    """``(generator, vocoder or None, texts)`` from the positional items and --file."""
    items = list(args.items)
    if args.file is None:
        if len(items) < 2:
            raise GanglionError(
                'give the text to say after the archive(s): synthesize GEN [VOC] "some text" '
                "-o out.wav (or --file lines.txt -o out_dir)"
            )
        texts = [items.pop()]
    else:
        texts = _read_lines(args.file)
    if len(items) > 2:
        raise GanglionError(
            f"too many arguments ({len(args.items)}): give GEN [VOC] and one text in quotes, "
            "or --file for several"
        )
    paths = [Path(item) for item in items]
    for path, what in zip(paths, ("generator", "vocoder")):
        if not path.is_file():
            found = "a directory" if path.is_dir() else "no such file"
            raise GanglionError(f"{what} {path}: {found}; give a .ganglion archive")
    for text in texts:
        if not text.strip():
            raise GanglionError("empty text: there is nothing to say")
    return paths[0], (paths[1] if len(paths) > 1 else None), texts


def _outputs(output: Path, count: int, from_file: bool) -> list[Path]:
    if not from_file:
        if output.is_dir():
            raise GanglionError(f"-o {output} is a folder; give a .wav file name for one text")
        return [output]
    if output.suffix.lower() == ".wav" or output.is_file():
        raise GanglionError(f"-o {output}: with --file, give a folder for the wav files")
    width = max(4, len(str(count)))
    return [output / f"{n:0{width}d}.wav" for n in range(1, count + 1)]


def _say_frontend_notes() -> logging.Handler:
    """Print what the text frontend guessed or dropped on stderr (once per text)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("ganglion-tts synthesize: %(message)s"))
    text_logger = logging.getLogger("ganglion_tts.text")
    text_logger.addHandler(handler)
    text_logger.setLevel(logging.INFO)
    text_logger.propagate = False
    return handler


def run(args: argparse.Namespace) -> int:
    """Synthesise the texts ``args`` give; prints each wav written. Returns 0."""
    generator_path, vocoder_path, texts = _split_items(args)
    outputs = _outputs(args.output, len(texts), args.file is not None)
    if args.output.suffix.lower() != ".wav" and args.file is None:
        raise GanglionError(f"-o {args.output}: give a .wav file name")

    from ganglion_tts.models.base import SpectrogramGenerator, Vocoder
    from ganglion_tts.synthesis.pipeline import default_vocoder, synthesize, write_wav
    from ganglion_tts.synthesis.settings import check_mel_settings

    generator = SpectrogramGenerator.restore_from(str(generator_path), map_location="cpu")
    if vocoder_path is None:
        vocoder, vocoder_name = default_vocoder(generator), "Griffin-Lim"
    else:
        vocoder = Vocoder.restore_from(str(vocoder_path), map_location="cpu")
        vocoder_name = vocoder_path.name
    check_mel_settings(generator.mel_settings, vocoder.mel_settings)  # before any output
    handler = _say_frontend_notes()
    try:
        for text, out in zip(texts, outputs):
            audio, rate = synthesize(generator, text, vocoder=vocoder, pace=args.pace)
            write_wav(out, audio, rate)
            print(f"{out}\t{len(audio) / rate:.2f} s at {rate} Hz ({vocoder_name})\t{text}")
    finally:
        logging.getLogger("ganglion_tts.text").removeHandler(handler)
    return 0
