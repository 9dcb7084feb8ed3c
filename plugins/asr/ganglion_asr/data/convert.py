"""Converters from common corpus layouts to manifests.

* LibriSpeech: ``<root>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac`` with one
  ``<speaker>-<chapter>.trans.txt`` per chapter (``ID TRANSCRIPT`` lines);
* Common Voice: a TSV (``train.tsv``, ``dev.tsv``, ``test.tsv`` …) with ``path`` and
  ``sentence`` columns, the audio in ``clips/`` beside it;
* a folder of audio files, each with a same-named ``.txt`` transcript beside it.

Durations are read from the audio headers; transcripts are normalised with
:func:`~ganglion_asr.data.vocab.normalize_text` (lowercase, punctuation removed) unless
``normalize=False``. Manifests are written atomically, with audio paths relative to the
manifest when the audio lies under its folder.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ganglion_asr.data.audio import audio_duration
from ganglion_asr.data.manifest import ManifestEntry, write_manifest
from ganglion_asr.data.text import read_utf8_text, utf8_lines
from ganglion_asr.data.vocab import normalize_text
from ganglion_asr.errors import AudioLoadError, DataError

#: The layouts :func:`convert` knows, by name.
FORMATS = ("librispeech", "common_voice", "folder")


@dataclass
class ConversionSummary:
    """What a converter wrote."""

    manifest: Path
    utterances: int
    seconds: float
    #: ``"where: why"`` for each utterance left out (only with ``missing="skip"``)
    skipped: list[str] = field(default_factory=list)

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0

    def __str__(self) -> str:
        text = f"{self.manifest}: {self.utterances} utterances, {self.hours:.2f} h"
        if self.skipped:
            text += f" ({len(self.skipped)} skipped, e.g. {self.skipped[0]})"
        return text


def _check_missing(missing: str) -> None:
    if missing not in ("error", "skip"):
        raise DataError(f"missing={missing!r} must be 'error' or 'skip'")


def _entry(
    audio: Path, text: str, where: str, normalize: bool, missing: str, skipped: list[str]
) -> ManifestEntry | None:
    """A manifest entry for one audio file, or ``None`` when it is skipped."""
    try:
        duration = audio_duration(audio)
    except AudioLoadError as exc:
        if missing == "skip":
            skipped.append(f"{where}: {exc}")
            return None
        raise AudioLoadError(
            f"{where}: {exc} (pass missing='skip', or --skip-missing, to leave it out)"
        ) from None
    text = normalize_text(text) if normalize else text.strip()
    return ManifestEntry(str(audio.resolve()), duration, text)


def _write(
    manifest: str | os.PathLike[str], entries: list[ManifestEntry], source: str, skipped: list[str]
) -> ConversionSummary:
    if not entries:
        raise DataError(f"{source}: no utterances found to convert")
    write_manifest(manifest, entries)
    return ConversionSummary(
        Path(manifest), len(entries), sum(e.duration for e in entries), skipped
    )


def librispeech_to_manifest(
    root: str | os.PathLike[str],
    manifest: str | os.PathLike[str],
    *,
    audio_ext: str = ".flac",
    normalize: bool = True,
    missing: str = "error",
) -> ConversionSummary:
    """Write a manifest of every utterance under a LibriSpeech split folder.

    ``root`` is a split (``LibriSpeech/dev-clean``) or any folder above the speaker folders;
    every ``*.trans.txt`` under it is read. ``missing="skip"`` leaves out utterances whose
    audio is missing or unreadable instead of raising.
    """
    _check_missing(missing)
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"LibriSpeech folder {root} does not exist")
    transcripts = sorted(root.rglob("*.trans.txt"))
    if not transcripts:
        raise DataError(
            f"{root}: no *.trans.txt found; expected <speaker>/<chapter>/"
            "<speaker>-<chapter>.trans.txt files (a LibriSpeech split such as dev-clean)"
        )
    entries: list[ManifestEntry] = []
    skipped: list[str] = []
    for trans in transcripts:
        for lineno, line in enumerate(read_utf8_text(trans).splitlines(), start=1):
            if not line.strip():
                continue
            utt_id, sep, text = line.strip().partition(" ")
            if not sep:
                raise DataError(
                    f"{trans}:{lineno}: expected 'UTTERANCE-ID TRANSCRIPT', got {line!r}"
                )
            entry = _entry(
                trans.parent / f"{utt_id}{audio_ext}",
                text,
                f"{trans}:{lineno}",
                normalize,
                missing,
                skipped,
            )
            if entry is not None:
                entries.append(entry)
    return _write(manifest, entries, str(root), skipped)


def common_voice_to_manifest(
    tsv: str | os.PathLike[str],
    manifest: str | os.PathLike[str],
    *,
    clips_dir: str | os.PathLike[str] | None = None,
    normalize: bool = True,
    missing: str = "error",
) -> ConversionSummary:
    """Write a manifest from a Common Voice TSV (``path`` and ``sentence`` columns).

    Audio is looked up in ``clips_dir`` (default: ``clips/`` beside the TSV). Common Voice
    ships MP3, which soundfile decodes; training resamples it to the model's rate.
    """
    _check_missing(missing)
    tsv = Path(tsv)
    clips = Path(clips_dir) if clips_dir is not None else tsv.parent / "clips"
    if not tsv.is_file():
        raise DataError(f"Common Voice TSV {tsv} does not exist")
    entries: list[ManifestEntry] = []
    skipped: list[str] = []
    with tsv.open("rb") as handle:
        # sentences hold quotes of their own: no CSV quoting
        lines = (line for _, line in utf8_lines(handle, tsv))
        reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            raise DataError(f"{tsv} is empty; expected a header with 'path' and 'sentence'")
        columns = {name.strip(): i for i, name in enumerate(header)}
        lacking = [c for c in ("path", "sentence") if c not in columns]
        if lacking:
            raise DataError(
                f"{tsv}:1: header lacks column(s) {', '.join(lacking)}; found {', '.join(header)}"
            )
        p_col, s_col = columns["path"], columns["sentence"]
        for lineno, row in enumerate(reader, start=2):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(p_col, s_col):
                raise DataError(
                    f"{tsv}:{lineno}: expected {len(header)} tab-separated fields, got {len(row)}"
                )
            entry = _entry(
                clips / row[p_col], row[s_col], f"{tsv}:{lineno}", normalize, missing, skipped
            )
            if entry is not None:
                entries.append(entry)
    return _write(manifest, entries, str(tsv), skipped)


def folder_to_manifest(
    folder: str | os.PathLike[str],
    manifest: str | os.PathLike[str],
    *,
    audio_exts: Iterable[str] = (".wav", ".flac"),
    normalize: bool = True,
    missing: str = "error",
) -> ConversionSummary:
    """Write a manifest from a folder (searched recursively) of audio files and ``.txt`` files.

    ``a/b.wav`` is transcribed by ``a/b.txt``. An audio file without a transcript, or an
    unreadable one, is an error unless ``missing="skip"``.
    """
    _check_missing(missing)
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"folder {folder} does not exist")
    exts = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in audio_exts}
    audios = sorted(p for p in folder.rglob("*") if p.suffix.lower() in exts and p.is_file())
    if not audios:
        raise DataError(f"{folder}: no audio files with extension {', '.join(sorted(exts))}")
    entries: list[ManifestEntry] = []
    skipped: list[str] = []
    for audio in audios:
        txt = audio.with_suffix(".txt")
        if not txt.is_file():
            if missing == "skip":
                skipped.append(f"{audio}: no transcript {txt.name}")
                continue
            raise DataError(
                f"{audio} has no transcript: expected {txt} "
                "(pass missing='skip', or --skip-missing, to leave such files out)"
            )
        text = " ".join(read_utf8_text(txt).split())
        entry = _entry(audio, text, str(audio), normalize, missing, skipped)
        if entry is not None:
            entries.append(entry)
    return _write(manifest, entries, str(folder), skipped)


CONVERTERS: dict[str, Callable[..., ConversionSummary]] = {
    "librispeech": librispeech_to_manifest,
    "common_voice": common_voice_to_manifest,
    "folder": folder_to_manifest,
}


def convert(
    fmt: str, source: str | os.PathLike[str], manifest: str | os.PathLike[str], **options
) -> ConversionSummary:
    """Run the converter for ``fmt`` (one of :data:`FORMATS`)."""
    try:
        converter = CONVERTERS[fmt.replace("-", "_")]
    except KeyError:
        raise DataError(f"unknown corpus format {fmt!r}; known: {', '.join(FORMATS)}") from None
    return converter(source, manifest, **options)
