"""The fortunes corpus: every fortune cookie, labelled with the file (category) it comes from.

Source: the ``fortune`` databases of Debian's ``fortunes-min`` and ``fortunes`` packages in
``/usr/share/games/fortunes`` (``--fortunes-dir`` for another folder); with ``offensive`` also
those of ``fortunes-off`` in its ``off/`` subfolder, labelled ``off/<name>``. A category is a
file without an extension that has a ``.dat`` index beside it (made by ``strfile``). In the
file, fortunes are separated by lines holding only the delimiter (``%``); the index header says
which delimiter, and whether the file is ROT13-encoded (as offensive ones may be) or holds
``%%`` comment lines; both are undone.

Encoding: the ``<name>.u8`` variant is read when it exists, and must be UTF-8 (bytes that are
not are an error naming the file and byte offset). A file without one is read as UTF-8, or,
when it is not UTF-8, as Latin-1 (the encoding of the classic fortune files), which is noted in
``corpus.json``.

Texts are made one line (see :func:`~ganglion_nlp.corpus.text.normalise_text`: line breaks
and indentation become single spaces, backspace overstrikes are undone), so poems and ASCII
art lose their layout. Empty fortunes are dropped.
"""

from __future__ import annotations

import codecs
import struct
from pathlib import Path
from typing import Any

from ganglion_nlp.corpus.errors import CorpusSourceError
from ganglion_nlp.corpus.output import check_output_dir, summarise, write_corpus
from ganglion_nlp.corpus.splits import split_examples
from ganglion_nlp.corpus.text import Example, decode_utf8, normalise_text

__all__ = ["FORTUNES_DIR", "build_fortunes_corpus", "find_categories", "read_fortunes"]

FORTUNES_DIR = Path("/usr/share/games/fortunes")

# strfile(1)'s index header: version, count, longest, shortest, flags (big-endian u32), delimiter
_HEADER = struct.Struct(">IIIII c")
_ROTATED, _COMMENTS = 0x4, 0x8


def _index_header(dat: Path, notes: list[str]) -> tuple[str, bool, bool]:
    """(delimiter, rotated, has comments) from a ``.dat`` index; the defaults with a note when
    the header cannot be read."""
    data = dat.read_bytes()[: _HEADER.size]
    if len(data) == _HEADER.size:
        version, _count, _longest, _shortest, flags, delimiter = _HEADER.unpack(data)
        if version in (1, 2) and delimiter.isascii() and delimiter.strip():
            return delimiter.decode("ascii"), bool(flags & _ROTATED), bool(flags & _COMMENTS)
    notes.append(f"{dat}: not a strfile index header; assumed '%' delimiters, not ROT13")
    return "%", False, False


def find_categories(directory: Path, *, offensive: bool = False) -> list[tuple[str, Path]]:
    """``(label, data file)`` of every fortune file in ``directory`` (and ``off/`` with
    ``offensive``), sorted by label; see the module docstring."""
    folders = [("", Path(directory))]
    if offensive:
        folders.append(("off/", Path(directory) / "off"))
    found: list[tuple[str, Path]] = []
    for prefix, folder in folders:
        if not folder.is_dir():
            continue
        for dat in sorted(folder.glob("*.dat")):
            data_file = dat.with_suffix("")
            if data_file.is_file() and "." not in data_file.name:
                found.append((prefix + data_file.name, data_file))
    return sorted(found)


def _read_text(data_file: Path, notes: list[str]) -> tuple[str, Path]:
    utf8 = data_file.with_name(data_file.name + ".u8")
    if utf8.is_file():
        return decode_utf8(utf8.read_bytes(), utf8), utf8
    data = data_file.read_bytes()
    try:
        return data.decode("utf-8"), data_file
    except UnicodeDecodeError as exc:
        notes.append(
            f"{data_file}: not UTF-8 (byte {exc.start}) and no {utf8.name} beside it; "
            "read as Latin-1"
        )
        return data.decode("latin-1"), data_file


def read_fortune_file(data_file: Path, label: str, notes: list[str]) -> list[Example]:
    """The fortunes of one file as examples labelled ``label``; what was assumed is appended
    to ``notes``."""
    delimiter, rotated, comments = _index_header(
        data_file.with_name(data_file.name + ".dat"), notes
    )
    text, path = _read_text(data_file, notes)
    if rotated:
        text = codecs.decode(text, "rot13")
    examples: list[Example] = []
    lines: list[str] = []
    start = 1

    def flush(end: int) -> None:
        fortune = normalise_text("\n".join(lines))
        if fortune:
            examples.append(Example(fortune, label, f"{path}:{start}-{end}"))
        lines.clear()

    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.rstrip("\r")
        if stripped == delimiter:
            flush(number - 1)
            start = number + 1
        elif not (comments and stripped.startswith(delimiter * 2)):
            lines.append(stripped)
    flush(number)
    return examples


def read_fortunes(
    directory: Path | None = None, *, offensive: bool = False
) -> tuple[list[Example], list[str]]:
    """``(examples, notes)``: every non-empty fortune of every category (see the module
    docstring), in file order, and what was assumed while reading (encodings, indexes)."""
    directory = Path(directory) if directory is not None else FORTUNES_DIR
    categories = find_categories(directory, offensive=offensive)
    if not any(not label.startswith("off/") for label, _ in categories):
        where = "does not exist" if not directory.is_dir() else "holds no fortune files (X + X.dat)"
        raise CorpusSourceError(
            f"fortune files not found: {directory} {where}. Install them with "
            "`sudo apt-get install fortunes-min fortunes` (Debian/Ubuntu), or pass "
            "--fortunes-dir to a folder of fortune files, each with its strfile .dat index."
        )
    if offensive and not (directory / "off").is_dir():
        raise CorpusSourceError(
            f"offensive fortunes asked for, but {directory / 'off'} does not exist. Install them "
            "with `sudo apt-get install fortunes-off`, or leave out --offensive."
        )
    notes: list[str] = []
    examples: list[Example] = []
    for label, data_file in categories:
        found = read_fortune_file(data_file, label, notes)
        if not found:
            notes.append(f"{data_file}: no fortunes in it; category {label!r} left out")
        examples.extend(found)
    return examples, notes


def build_fortunes_corpus(
    out_dir: Path,
    *,
    fortunes_dir: Path | None = None,
    offensive: bool = False,
    seed: int = 1234,
    validation: float = 0.1,
    test: float = 0.1,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Build the fortune -> category corpus at ``out_dir`` (see
    :mod:`ganglion_nlp.corpus.output` for the files); returns the ``corpus.json`` summary."""
    check_output_dir(Path(out_dir), overwrite=overwrite)
    directory = Path(fortunes_dir) if fortunes_dir is not None else FORTUNES_DIR
    examples, notes = read_fortunes(directory, offensive=offensive)
    splits = split_examples(examples, seed=seed, validation=validation, test=test)
    summary = summarise(
        splits,
        name="fortunes",
        source=str(directory.absolute()),
        description="fortune cookies labelled with their fortune file (category)",
        text="the fortune as one line (line breaks and indentation made single spaces)",
        seed=seed,
        offensive=offensive,
        fractions={
            "train": round(1 - validation - test, 6),
            "validation": validation,
            "test": test,
        },
        split_by="fortune; identical fortunes share a split, stratified by label",
        notes=notes,
    )
    write_corpus(Path(out_dir), splits, summary, overwrite=overwrite)
    return summary
