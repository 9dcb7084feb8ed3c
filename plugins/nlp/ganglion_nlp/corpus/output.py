"""Writing a corpus folder whole or not at all.

The files are written into a hidden temp folder beside the destination (same filesystem),
each one fsync'ed, and the folder is renamed into place at the end: an interrupted build
leaves no half corpus under the real name (the next build into the same parent removes the
temp folder of a writer that was killed). ``overwrite`` moves the old folder aside, renames
the new one in and only then deletes the old one.

A corpus folder holds::

    train.tsv, validation.tsv, test.tsv   text<TAB>label, one example a line, UTF-8
    text.txt                              the training split's texts, one a line (tokenizer
                                          training and masked-LM pretraining: never a test text)
    corpus.json                           what was built: counts per split and class, seed, source
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from ganglion.archive.atomic import remove_stale_temps, temp_path
from ganglion_nlp.corpus.errors import CorpusOutputError
from ganglion_nlp.corpus.splits import SPLITS
from ganglion_nlp.corpus.text import Example

__all__ = ["check_output_dir", "write_corpus"]


def check_output_dir(out_dir: Path, *, overwrite: bool = False) -> None:
    """Raise :class:`CorpusOutputError` unless ``out_dir`` is absent, an empty folder, or a
    folder that ``overwrite`` allows replacing."""
    out_dir = Path(out_dir)
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise CorpusOutputError(
            f"{out_dir} exists and is not a folder; choose another output folder"
        )
    if out_dir.is_dir() and not overwrite:
        entries = sorted(entry.name for entry in out_dir.iterdir())
        if entries:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise CorpusOutputError(
                f"{out_dir} is not empty ({len(entries)} entries: {shown}); choose an empty or "
                "new folder, or pass --overwrite to replace it"
            )


def _write_file(path: Path, lines: list[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.writelines(lines)
        out.flush()
        os.fsync(out.fileno())


def _sync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        with contextlib.suppress(OSError):  # not every filesystem can sync a folder
            os.fsync(fd)
    finally:
        os.close(fd)


def _row(example: Example) -> str:
    # the readers split on the tab: a text or label holding one would shift the columns
    if any(ch in example.text for ch in "\t\n\r") or not example.text:
        raise ValueError(f"{example.source}: text is empty or not normalised: {example.text!r}")
    if any(ch in example.label for ch in "\t\n\r") or not example.label:
        raise ValueError(f"{example.source}: bad label {example.label!r}")
    return f"{example.text}\t{example.label}\n"


def summarise(splits: dict[str, list[Example]], **details: Any) -> dict[str, Any]:
    """The ``corpus.json`` summary: ``details`` (name, source, seed, ...) plus counts per split,
    the sorted class names and each class's count per split."""
    per_class: dict[str, dict[str, int]] = {}
    for name in SPLITS:
        for label, count in Counter(example.label for example in splits[name]).items():
            per_class.setdefault(label, dict.fromkeys(SPLITS, 0))[name] = count
    return {
        **details,
        "counts": {name: len(splits[name]) for name in SPLITS},
        "num_classes": len(per_class),
        "classes": sorted(per_class),
        "class_counts": {label: per_class[label] for label in sorted(per_class)},
        "files": {
            "train": "train.tsv",
            "validation": "validation.tsv",
            "test": "test.tsv",
            "text": "text.txt",
        },
    }


def write_corpus(
    out_dir: Path,
    splits: dict[str, list[Example]],
    summary: dict[str, Any],
    *,
    overwrite: bool = False,
) -> Path:
    """Write ``splits`` and ``summary`` (see :func:`summarise`) as a corpus folder at
    ``out_dir`` (see the module docstring); returns ``out_dir``."""
    out_dir = Path(out_dir)
    check_output_dir(out_dir, overwrite=overwrite)
    parent = out_dir.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(parent)
    building = temp_path(out_dir)
    building.mkdir()
    try:
        for name in SPLITS:
            _write_file(building / f"{name}.tsv", [_row(example) for example in splits[name]])
        _write_file(building / "text.txt", [example.text + "\n" for example in splits["train"]])
        text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
        _write_file(building / "corpus.json", [text])
        _sync_folder(building)
        _move_into_place(building, out_dir, overwrite=overwrite)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    _sync_folder(parent)
    return out_dir


def _move_into_place(building: Path, out_dir: Path, *, overwrite: bool) -> None:
    check_output_dir(out_dir, overwrite=overwrite)  # again: it may have changed meanwhile
    if not out_dir.exists():
        os.rename(building, out_dir)
        return
    if not any(out_dir.iterdir()):
        os.replace(building, out_dir)  # POSIX rename replaces an empty folder in one step
        return
    old = temp_path(out_dir)
    os.rename(out_dir, old)
    try:
        os.rename(building, out_dir)
    except BaseException:
        os.rename(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
