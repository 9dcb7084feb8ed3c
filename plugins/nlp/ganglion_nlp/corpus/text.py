"""Reading source files and turning their texts into one-line examples."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ganglion_nlp.corpus.errors import CorpusFormatError

__all__ = ["Example", "decode_utf8", "normalise_text"]


@dataclass(frozen=True)
class Example:
    """One labelled text; ``source`` says where it came from (``file:line``), for messages."""

    text: str
    label: str
    source: str


# a run of characters each overstruck by a backspace: "_\bI" (underlined I), "___\b\b\bfoo"
_OVERSTRIKE = re.compile(r"[^\x08\n]\x08")


def _undo_overstrike(text: str) -> str:
    # terminal-style overstrike (underlining, bold) in old text files: a backspace removes the
    # character before it, so what is left is what was written last, the visible letter
    while "\x08" in text:
        reduced = _OVERSTRIKE.sub("", text, count=0)
        if reduced == text:  # a backspace with nothing before it on its line
            return text.replace("\x08", "")
        text = reduced
    return text


def normalise_text(text: str) -> str:
    """``text`` as one line: backspace overstrikes undone, control characters dropped, every
    run of whitespace (tabs, newlines, Unicode line separators) made one space, ends stripped.

    Example::

        >>> normalise_text("two\\tlines\\n  of _\\bt_\\be_\\bx_\\bt\\a")
        'two lines of text'
    """
    if "\x08" in text:
        text = _undo_overstrike(text)
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in text):
        text = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) != "Cc")
    return " ".join(text.split())


def decode_utf8(data: bytes, path: Path) -> str:
    """``data`` (the contents of ``path``) decoded as UTF-8; bytes that are not UTF-8 raise a
    :class:`CorpusFormatError` naming the file, the byte offset and the line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.end].hex(" ")
        raise CorpusFormatError(
            f"{path}, byte {exc.start} (line {line}): not UTF-8 (bytes {bad}: {exc.reason}). "
            "Convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)."
        ) from None
