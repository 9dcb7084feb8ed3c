"""A small human sanity set: the spoken-digit recordings of Debian's ``pocketsphinx-testdata``.

The digit model is trained on synthetic voices only; these few recordings of real people
saying digits tell whether it has learnt anything that carries over to human speech. They
are found in the package's data folder (``/usr/share/pocketsphinx/test/data``):

* ``tidigits/*.raw``: TIDIGITS recordings, whose file names spell their digits
  (``dhd.2934z.raw`` is "two nine three four zero": ``z`` is "zero", ``o`` is "oh", a final
  ``a``/``b`` only tells takes apart, as the package's own ``tidigits.lsn`` shows);
* every recording listed in a Sphinx transcription file (``<s> five five </s> (004)``,
  ``cards/cards.transcription``, ``librivox/transcription``) whose transcript is only digit
  words;
* :data:`KNOWN_TRANSCRIPTS`: recordings the package ships without a transcript, with one
  given here (and marked in the manifest as not from the package).

Each is converted to a 16 kHz mono PCM16 wav (``.raw`` files are headerless 16 kHz 16-bit
little-endian mono PCM) and listed, whole, in ``sanity_manifest.json`` with its transcript in
the corpus's words: "oh" becomes "zero" (the synthetic corpus says only "zero").
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganglion.archive import atomic_output
from ganglion_asr.data.manifest import write_manifest
from ganglion_asr.data.synth_digits import DIGIT_WORDS
from ganglion_asr.data.text import read_utf8_text
from ganglion_asr.errors import DataError

#: where Debian's pocketsphinx-testdata puts its recordings
POCKETSPHINX_TESTDATA = Path("/usr/share/pocketsphinx/test/data")
DEBIAN_PACKAGE = "pocketsphinx-testdata"
#: the rate and format of the package's headerless ``.raw`` recordings
RAW_SAMPLE_RATE = 16000
SAMPLE_RATE = 16000
MANIFEST_NAME = "sanity_manifest.json"

#: Recordings the package ships without a transcript: path under the data folder ->
#: (transcript, where it comes from). ``numbers.raw`` (4 s, seven digits) is transcribed by
#: the package's own TIDIGITS recogniser (pocketsphinx_continuous with tidigits/hmm,
#: tidigits.dic and tidigits.fsg); nobody has checked it by ear, so the manifest says so.
KNOWN_TRANSCRIPTS: dict[str, tuple[str, str]] = {
    "numbers.raw": (
        "three three four six nine eight two",
        "pocketsphinx TIDIGITS decode, not checked by ear",
    ),
}

#: TIDIGITS file-name letters that are digits besides 1-9
_TIDIGITS_LETTERS = {"z": "zero", "o": "oh"}
_TRANSCRIPTION_LINE = re.compile(r"^(?P<words>.*?)\s*\((?P<id>[^()\s]+)\)\s*$")
_MARKERS = frozenset({"<s>", "</s>", "<sil>"})
_SPOKEN_DIGITS = frozenset(DIGIT_WORDS) | {"oh"}


@dataclass(frozen=True)
class SanityRecording:
    """One human recording of digits, before conversion."""

    name: str  # the utterance id: "tidigits-dhd.2934z"
    source: Path  # the recording (.raw or .wav)
    text: str  # the transcript as found: "two nine three four zero"
    transcript_from: str  # where the transcript comes from, for the manifest
    speaker: str


def normalize_digit_text(text: str) -> str:
    """A transcript in the digit corpus's words: lowercase, markers dropped, "oh" -> "zero".

    A word that is not a digit word raises :class:`DataError`.
    """
    words = [w for w in text.lower().split() if w not in _MARKERS]
    bad = [w for w in words if w not in _SPOKEN_DIGITS]
    if bad or not words:
        raise DataError(
            f"transcript {text!r} is not only digit words ({', '.join(bad) or 'it is empty'}); "
            f"the digit model knows {', '.join(DIGIT_WORDS)} (and 'oh')"
        )
    return " ".join("zero" if w == "oh" else w for w in words)


def _is_digit_text(text: str) -> bool:
    try:
        normalize_digit_text(text)
    except DataError:
        return False
    return True


def _tidigits_text(stem: str) -> str | None:
    """``"dhd.2934z"`` -> ``"two nine three four zero"``; ``None`` if not a TIDIGITS name."""
    parts = stem.split(".")
    if len(parts) != 2 or not parts[1]:
        return None
    digits = parts[1]
    if digits[-1] in "ab" and len(digits) > 1:
        digits = digits[:-1]
    words = []
    for char in digits:
        if char.isdigit() and char != "0":
            words.append(DIGIT_WORDS[int(char)])
        elif char in _TIDIGITS_LETTERS:
            words.append(_TIDIGITS_LETTERS[char])
        else:
            return None
    return " ".join(words)


def _transcription_files(data_dir: Path) -> Iterator[Path]:
    for path in sorted(data_dir.rglob("*")):
        if path.is_file() and (path.name == "transcription" or path.suffix == ".transcription"):
            yield path


def _audio_for(folder: Path, utt_id: str) -> Path | None:
    for suffix in (".wav", ".raw"):
        candidate = folder / f"{utt_id}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def find_sanity_recordings(
    data_dir: str | os.PathLike[str] = POCKETSPHINX_TESTDATA,
) -> list[SanityRecording]:
    """The digit recordings in ``data_dir`` with their transcripts, in a fixed order."""
    data = Path(data_dir)
    if not data.is_dir():
        raise DataError(
            f"{data} does not exist: the human sanity set is made from Debian's "
            f"{DEBIAN_PACKAGE}; install it with 'apt-get install {DEBIAN_PACKAGE}', or pass "
            "the folder holding its recordings (--data-dir)"
        )
    found: dict[Path, SanityRecording] = {}

    def add(source: Path, text: str, transcript_from: str, speaker: str) -> None:
        relative = source.relative_to(data)
        name = str(relative.with_suffix("")).replace(os.sep, "-")
        found.setdefault(
            source, SanityRecording(name, source, text, transcript_from, f"pocketsphinx:{speaker}")
        )

    for relative, (text, origin) in KNOWN_TRANSCRIPTS.items():
        source = data / relative
        if source.is_file():
            add(source, text, origin, source.stem)
    for source in sorted(data.rglob("*.raw")):
        if source.parent.name == "tidigits":
            text = _tidigits_text(source.stem)
            if text is not None:
                add(source, text, "TIDIGITS file name", source.stem.split(".")[0])
    for listing in _transcription_files(data):
        content = read_utf8_text(listing)
        for lineno, line in enumerate(content.splitlines(), start=1):
            match = _TRANSCRIPTION_LINE.match(line.strip())
            if match is None or not _is_digit_text(match["words"]):
                continue
            audio = _audio_for(listing.parent, match["id"])
            if audio is not None:
                where = f"{listing.relative_to(data)}:{lineno}"
                words = " ".join(w for w in match["words"].split() if w not in _MARKERS)
                add(audio, words, where, listing.parent.name)
    return sorted(found.values(), key=lambda r: r.name)


def _read_recording(source: Path) -> Any:
    """Mono float32 samples of ``source`` at :data:`SAMPLE_RATE`."""
    import numpy as np

    from ganglion_asr.data.audio import load_audio, resample

    if source.suffix != ".raw":
        return load_audio(source, SAMPLE_RATE)
    data = source.read_bytes()
    if not data or len(data) % 2:
        raise DataError(
            f"{source} holds {len(data)} bytes: not 16-bit PCM samples (a .raw recording here "
            "must be headerless 16 kHz 16-bit little-endian mono); reinstall "
            f"{DEBIAN_PACKAGE}"
        )
    samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    return resample(samples, RAW_SAMPLE_RATE, SAMPLE_RATE)


def make_sanity_set(
    out_dir: str | os.PathLike[str],
    data_dir: str | os.PathLike[str] = POCKETSPHINX_TESTDATA,
    *,
    log: Callable[[str], None] = print,
) -> Path:
    """Write the human sanity set to ``out_dir``; returns its manifest's path.

    ``out_dir/wavs/<name>.wav`` (16 kHz mono PCM16) and ``out_dir/sanity_manifest.json``
    (``audio_filepath``, ``duration``, ``text``, ``speaker``, plus ``source`` and
    ``transcript_from`` saying where each came from). Files are written under temporary names
    and renamed, the manifest last, so an interrupted run leaves no half-written file.
    """
    import soundfile as sf

    recordings = find_sanity_recordings(data_dir)
    if not recordings:
        raise DataError(
            f"{data_dir} holds no recording whose transcript is only digit words; is it "
            f"{DEBIAN_PACKAGE}'s data folder?"
        )
    out = Path(out_dir)
    blocker = next((p for p in (out, *out.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise DataError(f"{blocker} is a file, not a folder; choose another folder")
    wavs = out / "wavs"
    wavs.mkdir(parents=True, exist_ok=True)
    rows = []
    for rec in recordings:
        text = normalize_digit_text(rec.text)
        audio = _read_recording(rec.source)
        target = wavs / f"{rec.name}.wav"
        with atomic_output(target) as stream:
            sf.write(stream, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        rows.append(
            {
                "audio_filepath": f"wavs/{rec.name}.wav",
                "duration": round(audio.shape[0] / SAMPLE_RATE, 4),
                "text": text,
                "speaker": rec.speaker,
                "source": str(rec.source),
                "transcript_from": rec.transcript_from,
            }
        )
    manifest = out / MANIFEST_NAME
    write_manifest(manifest, rows)
    log(f"{len(rows)} human recordings, {sum(r['duration'] for r in rows):.1f} s -> {manifest}")
    return manifest
