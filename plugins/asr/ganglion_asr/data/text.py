"""Reading UTF-8 text files (manifests, transcripts, TSVs) with errors that locate a bad byte.

Python's own ``UnicodeDecodeError`` names neither the file nor the line; these helpers read
bytes and decode them here, so a Latin-1 transcript or a binary file given as a manifest is
reported as ``corpus/train.json:12: byte 0xe9 at byte offset 4711 is not UTF-8``. A UTF-8
byte-order mark at the start of a file is accepted and dropped (spreadsheet exports add one).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ganglion_asr.errors import DataError

_BOM = "\ufeff"


def not_utf8_message(path: str | os.PathLike[str], lineno: int, offset: int, bad: bytes) -> str:
    """The message for a byte sequence ``bad`` at byte ``offset`` (line ``lineno``) of ``path``
    that is not UTF-8."""
    shown = " ".join(f"0x{b:02x}" for b in bad[:4]) or "end of file"
    what = "byte" if len(bad) == 1 else "bytes"
    return (
        f"{path}:{lineno}: {what} {shown} at byte offset {offset} is not valid UTF-8; "
        "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8 OLD > NEW)"
    )


def utf8_lines(
    raw_lines: Iterable[bytes],
    path: str | os.PathLike[str],
    *,
    error: type[DataError] = DataError,
) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` for each line of a file opened in binary mode.

    Lines keep their line ending. A line that is not UTF-8 raises ``error`` naming ``path``,
    the line and the byte offset of the first bad byte in the file.
    """
    offset = 0
    for lineno, raw in enumerate(raw_lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            message = not_utf8_message(path, lineno, offset + exc.start, raw[exc.start : exc.end])
            raise error(message) from None
        yield lineno, (line.removeprefix(_BOM) if lineno == 1 else line)
        offset += len(raw)


def read_utf8_text(path: str | os.PathLike[str], *, error: type[DataError] = DataError) -> str:
    """The whole of a UTF-8 text file; bytes that are not UTF-8 raise ``error`` saying where.

    ``OSError`` (a missing or unreadable file) is left to the caller, who knows what the
    file was meant to be.
    """
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8").removeprefix(_BOM)
    except UnicodeDecodeError as exc:
        lineno = data.count(b"\n", 0, exc.start) + 1
        raise error(not_utf8_message(path, lineno, exc.start, data[exc.start : exc.end])) from None
