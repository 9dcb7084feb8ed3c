"""Speech manifests: JSON lines of ``audio_filepath``, ``duration``, ``text`` and ``offset``.

One utterance per line::

    {"audio_filepath": "wavs/0001.wav", "duration": 1.92, "text": "three one four"}
    {"audio_filepath": "/data/long.flac", "offset": 12.5, "duration": 3.0, "text": "..."}

Relative ``audio_filepath`` values are resolved against the manifest's own directory, so a
corpus folder can be moved or copied as a whole. ``offset`` (seconds, default 0) and
``duration`` select a segment of a longer file when ``offset`` is given. An optional
``speaker`` (a name or a number, kept as a string) says who speaks the line.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganglion.archive import atomic_write_text
from ganglion_asr.data.text import utf8_lines
from ganglion_asr.errors import ManifestError

REQUIRED_KEYS = ("audio_filepath", "duration", "text")

_ONE_OBJECT = (
    'each line must be one JSON object like {"audio_filepath": "a.wav", "duration": 1.5, '
    '"text": "..."}'
)


@dataclass(frozen=True)
class ManifestEntry:
    """One utterance of a manifest, with its audio path resolved and where it was read."""

    audio_filepath: str
    duration: float
    text: str
    offset: float | None = None
    manifest: str = ""
    line: int = 0
    #: who speaks the utterance (the line's optional ``"speaker"`` key), or ``None``
    speaker: str | None = None

    @property
    def location(self) -> str:
        """``"path/to/manifest.json:LINE"``, for messages."""
        return f"{self.manifest}:{self.line}" if self.manifest else "<memory>"

    def to_json(self, relative_to: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """The manifest line as a dict; ``relative_to`` makes the audio path relative to it."""
        path = self.audio_filepath
        if relative_to is not None:
            path = os.path.relpath(path, relative_to)
        record: dict[str, Any] = {"audio_filepath": path, "duration": round(self.duration, 4)}
        if self.offset is not None:
            record["offset"] = self.offset
        record["text"] = self.text
        if self.speaker is not None:
            record["speaker"] = self.speaker
        return record


def _manifest_paths(manifest_filepath: str | os.PathLike[str] | Sequence[Any]) -> list[Path]:
    """One or many manifests: a path, a comma-separated string of paths, or a list of them."""
    if isinstance(manifest_filepath, (str, os.PathLike)):
        parts = [p.strip() for p in str(manifest_filepath).split(",") if p.strip()]
    else:
        parts = [str(p) for p in manifest_filepath]
    if not parts:
        raise ManifestError("no manifest given: set manifest_filepath to a JSON-lines file")
    return [Path(p).expanduser() for p in parts]


def _shown(value: Any, limit: int = 40) -> str:
    """``repr(value)``, shortened: a 400-digit number must not fill the terminal."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-3:]}"


def _number(record: dict[str, Any], key: str, where: str) -> float:
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ManifestError(f"{where}: '{key}' must be a number of seconds, got {_shown(value)}")
    try:
        seconds = float(value)  # an integer beyond ~1e308 overflows here
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds):
        # JSON's 1e999 parses to inf, and NaN/Infinity are accepted by Python's parser
        raise ManifestError(
            f"{where}: '{key}' must be a finite number of seconds, got {_shown(value)} "
            "(too large for a float, or not a number); fix the value on that line"
        )
    if seconds < 0:
        raise ManifestError(f"{where}: '{key}' must not be negative, got {_shown(value)}")
    return seconds


def parse_manifest_line(line: str, manifest: Path, lineno: int) -> ManifestEntry:
    """One manifest line as an entry; a malformed line raises naming the file and line."""
    where = f"{manifest}:{lineno}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); {_ONE_OBJECT}"
        ) from None
    except ValueError as exc:  # an integer of more digits than Python converts (4300)
        raise ManifestError(f"{where}: not a usable JSON line ({exc}); {_ONE_OBJECT}") from None
    except RecursionError:
        raise ManifestError(f"{where}: JSON nested too deeply; {_ONE_OBJECT}") from None
    if not isinstance(record, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(record).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in record]
    if missing:
        raise ManifestError(
            f"{where}: missing key(s) {', '.join(missing)} (every line needs "
            f"{', '.join(REQUIRED_KEYS)}); keys present: {', '.join(sorted(record)) or 'none'}"
        )
    audio = record["audio_filepath"]
    if not isinstance(audio, str) or not audio:
        raise ManifestError(f"{where}: 'audio_filepath' must be a non-empty string, got {audio!r}")
    text = record["text"]
    if not isinstance(text, str):
        raise ManifestError(f"{where}: 'text' must be a string, got {text!r}")
    duration = _number(record, "duration", where)
    offset = _number(record, "offset", where) if record.get("offset") is not None else None
    speaker = record.get("speaker")
    if speaker is not None:
        # speaker ids are names ("en-us") or numbers (LibriTTS's 1034): both kept as strings
        if isinstance(speaker, bool) or not isinstance(speaker, (str, int)) or speaker == "":
            raise ManifestError(
                f"{where}: 'speaker' must be a non-empty string or an integer id, got "
                f"{_shown(speaker)}; fix the value on that line or leave the key out"
            )
        speaker = str(speaker)
    path = Path(audio).expanduser()
    if not path.is_absolute():
        path = manifest.parent / path  # relative to the manifest, not the working directory
    return ManifestEntry(str(path), duration, text, offset, str(manifest), lineno, speaker=speaker)


def iter_manifest(path: str | os.PathLike[str]) -> Iterator[ManifestEntry]:
    """Every entry of one manifest file, in order (blank lines are skipped)."""
    manifest = Path(path).expanduser()
    try:
        handle = manifest.open("rb")  # decoded line by line, so a bad byte is located
    except FileNotFoundError:
        raise ManifestError(
            f"manifest {manifest} does not exist; check manifest_filepath (relative paths are "
            f"taken from the working directory {os.getcwd()})"
        ) from None
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {manifest}: {exc}") from None
    with handle:
        for lineno, line in utf8_lines(handle, manifest, error=ManifestError):
            if line.strip():
                yield parse_manifest_line(line, manifest, lineno)


def read_manifest(
    manifest_filepath: str | os.PathLike[str] | Sequence[Any],
    *,
    min_duration: float | None = None,
    max_duration: float | None = None,
) -> list[ManifestEntry]:
    """Entries of one or more manifests, keeping utterances within the duration bounds.

    ``manifest_filepath`` is a path, a comma-separated string of paths or a list of paths.
    An empty manifest, or one whose every utterance the filters remove, is an error that
    says so (training on nothing is never what was meant).
    """
    entries: list[ManifestEntry] = []
    dropped_short = dropped_long = 0
    paths = _manifest_paths(manifest_filepath)
    for path in paths:
        count = 0
        for entry in iter_manifest(path):
            count += 1
            if min_duration is not None and entry.duration < min_duration:
                dropped_short += 1
                continue
            if max_duration is not None and entry.duration > max_duration:
                dropped_long += 1
                continue
            entries.append(entry)
        if count == 0:
            raise ManifestError(
                f"manifest {path} holds no utterances; it needs one JSON line per utterance "
                '({"audio_filepath": ..., "duration": ..., "text": ...})'
            )
    if not entries:
        raise ManifestError(
            f"every utterance of {', '.join(map(str, paths))} was filtered out by the duration "
            f"bounds ({dropped_short} shorter than min_duration={min_duration}, {dropped_long} "
            f"longer than max_duration={max_duration}); widen the bounds"
        )
    return entries


def write_manifest(
    path: str | os.PathLike[str],
    entries: Iterable[ManifestEntry | dict[str, Any]],
    *,
    relative_paths: bool = True,
) -> int:
    """Write entries as a JSON-lines manifest, atomically; returns the number of lines.

    With ``relative_paths`` (the default), audio paths under the manifest's directory are
    written relative to it, so the corpus folder stays relocatable.
    """
    target = Path(path).expanduser()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ManifestError(
            f"cannot write manifest {target}: a file stands where its folder should be "
            f"({target.parent} or a folder above it); choose another path"
        ) from None
    except OSError as exc:
        raise ManifestError(
            f"cannot create the folder {target.parent} for manifest {target}: {exc.strerror}; "
            "choose another path"
        ) from None
    base = target.resolve().parent
    lines = []
    for entry in entries:
        if isinstance(entry, ManifestEntry):
            audio = Path(entry.audio_filepath).resolve()
            inside = relative_paths and audio.is_relative_to(base)
            record = entry.to_json(relative_to=base if inside else None)
            if not inside:
                record["audio_filepath"] = str(audio)
        else:
            record = dict(entry)
        lines.append(json.dumps(record, ensure_ascii=False))
    atomic_write_text(target, "".join(line + "\n" for line in lines))
    return len(lines)
