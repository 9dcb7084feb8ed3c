"""Reading labelled and unlabelled text files: TSV, JSON lines, plain text.

Formats, chosen by the file's extension:

* ``.tsv``: one example per line, ``text<TAB>label``; a first line that is exactly
  ``text<TAB>label`` is a header and skipped. A text cannot hold a tab (use JSON lines for
  such texts).
* ``.jsonl`` / ``.json``: one JSON object per line, ``{"text": "...", "label": "..."}`` (other
  keys are ignored; an integer label is read as its decimal text). A ``.json`` file whose
  content starts with ``[`` is one JSON array of such objects.
* ``.txt`` (unlabelled reading only): one text per line.

Files are read as UTF-8 (a byte-order mark is allowed); ``\\r\\n`` line ends are accepted.

Every problem names the file and the line (a JSON array: the item), and all of a file's
problems are reported at once (the first few of each kind, with counts), so one run finds
them all:

* empty lines (blank or whitespace only): an error by default that lists their line numbers;
  with ``empty_lines="skip"`` they are skipped and counted in one warning per file;
* a TSV row without a tab (no label), with more than one tab, or with an empty text or label;
* a non-UTF-8 file: the byte offset (and line) of the first bad byte;
* bad JSON (line and column), a line that is not an object, a missing ``text`` or ``label``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ganglion_nlp.errors import TextFileError

__all__ = [
    "EMPTY_LINE_POLICIES",
    "LABELLED_SUFFIXES",
    "TEXT_SUFFIXES",
    "LabelledText",
    "file_paths",
    "read_labelled_texts",
    "read_texts",
]

log = logging.getLogger(__name__)

#: Extensions of labelled files (classification data).
LABELLED_SUFFIXES = (".tsv", ".jsonl", ".json")
#: Extensions of unlabelled text files (masked-LM data): plain text or the text of labelled files.
TEXT_SUFFIXES = (".txt", *LABELLED_SUFFIXES)
#: What to do with empty lines.
EMPTY_LINE_POLICIES = ("error", "skip")

_HEADER = ("text", "label")
#: How many problems of one kind an error lists before "and N more".
_SHOWN = 5


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One example of a labelled file: its text, its label, and where it came from."""

    text: str
    label: str
    path: str
    line: int  # 1-based line number; for a JSON array, the 1-based item number

    @property
    def location(self) -> str:
        """``file:line``, for messages."""
        return f"{self.path}:{self.line}"


def file_paths(value: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """One path, a comma-separated string of paths, or a list of them, as a list of paths."""
    if isinstance(value, (str, os.PathLike)):
        parts = [p.strip() for p in os.fspath(value).split(",")]
        return [Path(p).expanduser() for p in parts if p]
    return [Path(os.fspath(p)).expanduser() for p in value]


def read_labelled_texts(
    path: str | os.PathLike[str], *, empty_lines: str = "error"
) -> list[LabelledText]:
    """The examples of a labelled ``.tsv``, ``.jsonl`` or ``.json`` file, in file order.

    Raises :class:`~ganglion_nlp.errors.TextFileError` naming every malformed line (see the
    module docstring).

    Example::

        rows = read_labelled_texts("data/nlp_wordnet/train.tsv")
        rows[0].text, rows[0].label       # ('a domesticated carnivorous mammal', 'noun.animal')
    """
    path = Path(path)
    suffix = _suffix(path, LABELLED_SUFFIXES, "labelled")
    text = _decode(path)
    if _is_json_array(suffix, text):
        rows = _check_json_items(path, _json_array(path, text), need_label=True, unit="item")
    elif suffix == ".tsv":
        rows = _parse_tsv(path, _lines(path, text, empty_lines), need_label=True)
    else:
        rows = _parse_json(path, _lines(path, text, empty_lines), need_label=True)
    if not rows:
        raise TextFileError(f"{path}: no examples in the file; it is empty")
    return [LabelledText(t, label, str(path), n) for t, label, n in rows]  # type: ignore[arg-type]


def read_texts(path: str | os.PathLike[str], *, empty_lines: str = "error") -> list[str]:
    """The texts of a ``.txt`` file (one per line), or the ``text`` column of a ``.tsv``,
    ``.jsonl`` or ``.json`` file (labels optional, ignored): masked-LM training data."""
    path = Path(path)
    suffix = _suffix(path, TEXT_SUFFIXES, "text")
    content = _decode(path)
    if _is_json_array(suffix, content):
        items = _json_array(path, content)
        rows = _check_json_items(path, items, need_label=False, unit="item")
    else:
        lines = _lines(path, content, empty_lines)
        if suffix == ".txt":
            return _nonempty(path, [line.strip() for _, line in lines])
        parse = _parse_tsv if suffix == ".tsv" else _parse_json
        rows = parse(path, lines, need_label=False)
    return _nonempty(path, [text for text, _, _ in rows])


def _nonempty(path: Path, texts: list[str]) -> list[str]:
    if not texts:
        raise TextFileError(f"{path}: no texts in the file; it is empty")
    return texts


# -- reading ----------------------------------------------------------------------------------
def _suffix(path: Path, allowed: tuple[str, ...], kind: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise TextFileError(
            f"{path}: unknown {kind} file type {suffix or '(no extension)'!r}; name the file "
            f"with one of {', '.join(allowed)} (TSV: text<TAB>label per line; JSON lines: "
            '{"text": ..., "label": ...} per line)'
        )
    if not path.exists():
        raise TextFileError(f"{path}: no such file")
    if not path.is_file():
        raise TextFileError(f"{path}: not a file")
    return suffix


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 1].hex().upper()
        raise TextFileError(
            f"{path}: not UTF-8 text: byte 0x{bad} at byte offset {exc.start} (line {line}) "
            f"is not valid UTF-8 ({exc.reason}); convert the file to UTF-8, e.g. "
            f"iconv -f latin1 -t utf-8 {path.name} > fixed{path.suffix}"
        ) from None


def _is_json_array(suffix: str, text: str) -> bool:
    return suffix == ".json" and text.lstrip().startswith("[")


def _lines(path: Path, text: str, empty_lines: str) -> list[tuple[int, str]]:
    """``(line number, line)`` of the file's non-empty lines, after the empty-line policy."""
    if empty_lines not in EMPTY_LINE_POLICIES:
        raise ValueError(
            f"empty_lines must be one of {', '.join(EMPTY_LINE_POLICIES)}, got {empty_lines!r}"
        )
    raw = text.split("\n")  # not splitlines(): it also splits on \x1c, \u2028 ... inside texts
    if raw and raw[-1] == "":
        raw.pop()  # the newline that ends the last line
    kept: list[tuple[int, str]] = []
    empty: list[int] = []
    for number, line in enumerate(raw, start=1):
        if line.endswith("\r"):
            line = line[:-1]
        if line.strip():
            kept.append((number, line))
        else:
            empty.append(number)
    if empty:
        where = _listed([str(n) for n in empty])
        if empty_lines == "error":
            raise TextFileError(
                f"{path}: {len(empty)} empty line(s): line {where}; remove them, or set the "
                "dataset's empty_lines: skip to leave them out"
            )
        log.warning("%s: skipped %d empty line(s) (line %s)", path, len(empty), where)
    return kept


def _parse_tsv(
    path: Path, lines: list[tuple[int, str]], *, need_label: bool
) -> list[tuple[str, str | None, int]]:
    rows: list[tuple[str, str | None, int]] = []
    problems: dict[str, list[str]] = {}
    for index, (number, line) in enumerate(lines):
        fields = line.split("\t")
        if index == 0 and tuple(f.strip().lower() for f in fields) == _HEADER:
            continue
        if len(fields) == 1:
            if need_label:
                problems.setdefault("no tab, so no label (a row is text<TAB>label)", []).append(
                    str(number)
                )
                continue
            fields.append("")
        elif len(fields) > 2:
            problems.setdefault(
                "more than one tab (a row is text<TAB>label; a text holding a tab needs JSON "
                "lines, or the tab replaced by a space)",
                [],
            ).append(f"{number} ({len(fields) - 1} tabs)")
            continue
        text, label = fields[0].strip(), fields[1].strip()
        if not text:
            problems.setdefault("an empty text before the tab", []).append(str(number))
            continue
        if need_label and not label:
            problems.setdefault("an empty label after the tab", []).append(str(number))
            continue
        rows.append((text, label or None, number))
    _raise_problems(path, problems)
    return rows


def _parse_json(
    path: Path, lines: list[tuple[int, str]], *, need_label: bool
) -> list[tuple[str, str | None, int]]:
    problems: dict[str, list[str]] = {}
    items = []
    for number, line in lines:
        try:
            items.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            problems.setdefault("not valid JSON", []).append(
                f"{number} (column {exc.colno}: {exc.msg})"
            )
    return _check_json_items(path, items, need_label=need_label, problems=problems)


def _check_json_items(
    path: Path,
    items: list[tuple[int, object]],
    *,
    need_label: bool,
    problems: dict[str, list[str]] | None = None,
    unit: str = "line",
) -> list[tuple[str, str | None, int]]:
    problems = {} if problems is None else problems
    rows: list[tuple[str, str | None, int]] = []
    for number, item in items:
        if not isinstance(item, dict):
            problems.setdefault(
                'not a JSON object (each is {"text": ..., "label": ...})', []
            ).append(f"{number} ({type(item).__name__})")
            continue
        text, label = item.get("text"), item.get("label")
        if text is None:
            keys = ", ".join(map(repr, item)) or "none"
            problems.setdefault('no "text" key', []).append(f"{number} (keys: {keys})")
            continue
        if not isinstance(text, str):
            problems.setdefault('a "text" that is not a string', []).append(
                f"{number} ({type(text).__name__})"
            )
            continue
        if not text.strip():
            problems.setdefault('an empty "text"', []).append(str(number))
            continue
        if label is None:
            if need_label:
                problems.setdefault('no "label" key (or a null one)', []).append(str(number))
                continue
        elif isinstance(label, bool) or not isinstance(label, (str, int)):
            problems.setdefault('a "label" that is neither a string nor an integer', []).append(
                f"{number} ({type(label).__name__})"
            )
            continue
        else:
            label = str(label).strip()
            if not label and need_label:
                problems.setdefault('an empty "label"', []).append(str(number))
                continue
        rows.append((text.strip(), label or None, number))
    _raise_problems(path, problems, unit=unit)
    return rows


def _json_array(path: Path, text: str) -> list[tuple[int, object]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TextFileError(
            f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, list):
        raise TextFileError(f"{path}: a .json file holds JSON lines or one array of objects")
    return list(enumerate(data, start=1))


def _raise_problems(path: Path, problems: dict[str, list[str]], *, unit: str = "line") -> None:
    if not problems:
        return
    total = sum(len(where) for where in problems.values())
    parts = [f"{unit} {_listed(where)}: {what}" for what, where in problems.items()]
    raise TextFileError(f"{path}: {total} malformed row(s): " + "; ".join(parts))


def _listed(items: Iterable[str]) -> str:
    items = list(items)
    shown = ", ".join(items[:_SHOWN])
    more = len(items) - _SHOWN
    return shown + (f" and {more} more" if more > 0 else "")
