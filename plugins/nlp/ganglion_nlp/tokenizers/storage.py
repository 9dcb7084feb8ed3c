"""How a tokenizer sits on disk: its directory, the ``ganglion_tokenizer.json`` meta file, the
atomic replacement of a directory, and the checked reading of training text.

A tokenizer directory holds ``ganglion_tokenizer.json``::

    {"format": "ganglion-tokenizer", "version": 1, "type": "sentencepiece-bpe",
     "lowercase": true, "vocab_size": 8000, "files": {"model": "spm.model"}, ...}

and the files named in ``files`` (the library's own: a sentencepiece ``.model``, a Hugging
Face ``tokenizer.json``, a ``vocab.json``). Nothing in it names a path of the machine it was
trained on, so the directory can be copied or packed into an archive as it is.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ganglion.archive.atomic import remove_stale_temps, temp_path
from ganglion_nlp.tokenizers.errors import (
    TokenizerError,
    TokenizerLoadError,
    TokenizerTrainingError,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "META_FILE",
    "atomic_directory",
    "check_training_files",
    "library_file",
    "read_meta",
    "read_training_text",
    "write_meta",
]

META_FILE = "ganglion_tokenizer.json"
FORMAT = "ganglion-tokenizer"
FORMAT_VERSION = 1


# -- the meta file ------------------------------------------------------------------------------
def write_meta(directory: Path, meta: dict[str, Any]) -> Path:
    """Write ``meta`` (with the format and version added) as ``directory/ganglion_tokenizer.json``."""
    path = directory / META_FILE
    body = {"format": FORMAT, "version": FORMAT_VERSION, **meta}
    path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_meta(directory: Path) -> dict[str, Any]:
    """The checked ``ganglion_tokenizer.json`` of the tokenizer directory ``directory``."""
    directory = Path(directory)
    if not directory.exists():
        raise TokenizerLoadError(
            f"tokenizer directory {directory} does not exist; train one with "
            "`ganglion-nlp train-tokenizer --type TYPE --vocab-size N -o DIR FILE...` "
            "or point tokenizer.dir at an existing one"
        )
    if not directory.is_dir():
        raise TokenizerLoadError(
            f"{directory} is a file, not a tokenizer directory; give the directory holding "
            f"{META_FILE} (and the tokenizer's own files)"
        )
    path = directory / META_FILE
    if not path.is_file():
        raise TokenizerLoadError(
            f"{directory} is not a tokenizer directory: {path} is missing; train one with "
            "`ganglion-nlp train-tokenizer` (it writes that file beside the library's files)"
        )
    try:
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise TokenizerLoadError(
            f"{path} is corrupt: not UTF-8 at byte {exc.start}; re-save or retrain the tokenizer"
        ) from None
    except json.JSONDecodeError as exc:
        raise TokenizerLoadError(
            f"{path} is corrupt: not valid JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}); re-save or retrain the tokenizer"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise TokenizerLoadError(
            f'{path} is not a ganglion tokenizer file (no "format": "{FORMAT}"); '
            "re-save or retrain the tokenizer"
        )
    version = meta.get("version")
    if version != FORMAT_VERSION:
        raise TokenizerLoadError(
            f"{path} has format version {version!r}; this ganglion-nlp reads version "
            f"{FORMAT_VERSION}: retrain the tokenizer or use the ganglion-nlp that wrote it"
        )
    expected = {"type": str, "lowercase": bool, "vocab_size": int, "files": dict}
    for key, kind in expected.items():
        value = meta.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TokenizerLoadError(
                f"{path}: key {key!r} is {value!r}, expected a {kind.__name__}; the file is "
                "corrupt: re-save or retrain the tokenizer"
            )
    for role, name in meta["files"].items():
        if not isinstance(name, str) or not name or Path(name).name != name:
            raise TokenizerLoadError(
                f"{path}: files.{role} is {name!r}, expected a file name inside the tokenizer "
                "directory; the file is corrupt: re-save or retrain the tokenizer"
            )
    return meta


def library_file(directory: Path, meta: dict[str, Any], role: str) -> Path:
    """The path of the library file ``meta["files"][role]``; missing is a TokenizerLoadError."""
    name = meta["files"].get(role)
    if name is None:
        raise TokenizerLoadError(
            f'{directory / META_FILE} names no {role!r} file under "files"; the file is '
            "corrupt: re-save or retrain the tokenizer"
        )
    path = Path(directory) / name
    if not path.is_file():
        raise TokenizerLoadError(
            f"{meta['type']} tokenizer file {path} is missing (named by {META_FILE}); "
            "copy the whole tokenizer directory, or retrain the tokenizer"
        )
    return path


def corrupt_library_file(path: Path, kind: str, exc: BaseException) -> TokenizerLoadError:
    """The error for a library file that exists but the library cannot read."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return TokenizerLoadError(
        f"{path} is not a readable {kind} file ({reason}); the tokenizer directory is corrupt: "
        "retrain the tokenizer or copy it again from where it was saved"
    )


# -- training text --------------------------------------------------------------------------------
def read_training_text(path: Path) -> str:
    """The text of the training file ``path``, decoded as UTF-8 (checked: a bad byte is a
    TokenizerTrainingError naming the byte offset and line)."""
    path = Path(path)
    if not path.exists():
        raise TokenizerTrainingError(f"training file {path} does not exist")
    if not path.is_file():
        raise TokenizerTrainingError(
            f"training file {path} is not a file; give the text files themselves"
        )
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TokenizerTrainingError(
            f"training file {path} is not UTF-8: byte {exc.start} (line {line}) is "
            f"{data[exc.start : exc.start + 1].hex(' ')!r} ({exc.reason}); convert it, e.g. "
            f"`iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}`"
        ) from None


def check_training_files(files: Sequence[Path]) -> list[Path]:
    """``files`` as paths, each checked to exist and be UTF-8, and together to hold some text."""
    paths = [Path(f) for f in files]
    if not paths:
        raise TokenizerTrainingError("no training files given; name one or more text files")
    has_text = False
    for path in paths:
        text = read_training_text(path)
        has_text = has_text or (bool(text) and not text.isspace())
    if not has_text:
        names = ", ".join(str(p) for p in paths)
        raise TokenizerTrainingError(
            f"the training data is empty: {names} hold no text (only blank lines or nothing); "
            "give files with one text per line"
        )
    return paths


# -- atomic directories ---------------------------------------------------------------------------
def check_output_directory(out_dir: Path, *, overwrite: bool) -> None:
    """Refuse an ``out_dir`` that is a file, or a non-empty directory without ``overwrite``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise TokenizerError(f"cannot write a tokenizer to {out_dir}: it is a file")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise TokenizerError(
            f"{out_dir} already exists and is not empty; choose another directory or allow "
            "replacing it (overwrite=True, --overwrite)"
        )


@contextlib.contextmanager
def atomic_directory(out_dir: Path, *, overwrite: bool) -> Iterator[Path]:
    """A temp directory beside ``out_dir`` that becomes ``out_dir`` when the block completes.

    On any error the temp directory is removed and ``out_dir`` left as it was. An existing
    non-empty ``out_dir`` is refused unless ``overwrite`` (it is then replaced as a whole).
    """
    out_dir = Path(out_dir)
    check_output_directory(out_dir, overwrite=overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out_dir.parent)
    tmp = temp_path(out_dir)
    tmp.mkdir()
    try:
        yield tmp
        _sync_tree(tmp)
        check_output_directory(out_dir, overwrite=overwrite)  # may have changed meanwhile
        old = None
        if out_dir.is_dir():
            old = temp_path(out_dir)
            os.rename(out_dir, old)
        try:
            os.rename(tmp, out_dir)
        except BaseException:
            if old is not None:
                os.rename(old, out_dir)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _sync(out_dir.parent)


def _sync(path: Path) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot sync a directory; then it is as durable as they allow
    finally:
        os.close(fd)


def _sync_tree(directory: Path) -> None:
    """fsync every file in ``directory`` and the directory itself, before it is renamed."""
    for path in directory.iterdir():
        if path.is_file():
            _sync(path)
    _sync(directory)
