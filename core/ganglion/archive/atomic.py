"""Atomic output: a file that appears at its path whole, or not at all."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import secrets
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganglion.archive.errors import ArchiveError

__all__ = ["atomic_output", "atomic_write_text", "wait_for_saves"]


@functools.cache
def _libc_function(name: str, *argtypes: Any) -> Any:
    """A Linux system call's glibc wrapper through ctypes, or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        func = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    func.argtypes = list(argtypes)
    func.restype = ctypes.c_int
    return func


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_SYNC_FILE_RANGE_WRITE = 2  # start writing dirty pages out, without waiting for them
#: threads finishing earlier saves (see :func:`_replace`); joined by :func:`wait_for_saves`
_finishing: list[threading.Thread] = []
_finishing_lock = threading.Lock()


def _exchange(new: Path, path: Path) -> bool:
    """Swap two names in one atomic step; False where the system or the filesystem cannot,
    or ``path`` does not exist."""
    c_int, c_path = ctypes.c_int, ctypes.c_char_p
    func = _libc_function("renameat2", c_int, c_path, c_int, c_path, ctypes.c_uint)
    if func is None:
        return False
    return func(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(path), _RENAME_EXCHANGE) == 0


def _drop_cached(path: Path) -> None:
    """Drop the cached pages of the file about to be replaced (see :func:`atomic_output`)."""
    with contextlib.suppress(OSError, AttributeError):
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return  # a link, a FIFO, a device: nothing of ours to drop, nothing to open
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _finish_save(fd: int, old: Path | None) -> None:
    """Remove the replaced file, if any, and start writing the new one out; then close it."""
    try:
        if old is not None:
            with contextlib.suppress(OSError):
                os.unlink(old)
        c_off = ctypes.c_int64
        func = _libc_function("sync_file_range", ctypes.c_int, c_off, c_off, ctypes.c_uint)
        if func is not None:
            func(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)  # a failure here only loses the head start
    finally:
        os.close(fd)


def _replace(new: Path, path: Path, fd: int) -> None:
    """Put the file ``new`` (open as ``fd``, which this closes) at ``path`` atomically, and
    leave the rest of the work to a background thread.

    ``os.replace`` over an existing file frees the old file's blocks before it returns, and
    on ext4 also starts writing the new file out (``auto_da_alloc``); for a file of a few
    hundred MB that costs as much as writing it. Instead the two names are exchanged
    (``renameat2(RENAME_EXCHANGE)``, one atomic step: ``path`` always names a whole file,
    the old one or the new one), and a thread removes the old file, now under the temp
    name, and starts the new file's write-back, so that its pages are clean, and can be
    dropped (:func:`_drop_cached`), by the time it is replaced in turn. The interpreter
    waits for that thread at exit. Where exchanging is not possible (``path`` is new, not
    Linux, a filesystem without it) this is ``os.replace``.
    """
    try:
        old = new if _exchange(new, path) else None
        if old is None:
            os.replace(new, path)
    except BaseException:
        os.close(fd)
        raise
    thread = threading.Thread(target=_finish_save, args=(fd, old), name="ganglion-save")
    try:
        thread.start()
    except RuntimeError:  # no more threads (or the interpreter is shutting down): do it here
        _finish_save(fd, old)
        return
    with _finishing_lock:
        _finishing[:] = [t for t in _finishing if t.is_alive()]
        _finishing.append(thread)


def wait_for_saves() -> None:
    """Wait for the background work of earlier saves: removing the files they replaced and
    starting their write-back (see :func:`atomic_output`)."""
    with _finishing_lock:
        threads = _finishing[:]
        _finishing.clear()
    for thread in threads:
        thread.join()


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Any]:
    """A binary file that appears at ``path`` only when the ``with`` block completes.

    Written as a hidden temp file in the same directory (same filesystem), then moved to
    ``path`` in one atomic step (:func:`_replace`); on any error, ``KeyboardInterrupt``
    included, the temp file is removed and ``path`` is left as it was. The data is not
    fsync'ed (as with ``torch.save``), so a power cut right after a save may lose the new
    file, not corrupt it into a half file under the old name.

    Before writing, the cached pages of the file being replaced are dropped (its data stays
    on disk and readable; mapped pages, e.g. of a model restored from it, are kept): they
    are garbage once it is replaced, and the new file gets the memory they held instead of
    the page cache holding both versions. ``torch.save`` gets the same by truncating the old
    file before writing, and on a VM that hands freed memory back to its host (free page
    reporting) writing into memory freed moments ago costs several times less than into
    memory the host has to fault in again.
    """
    if path.is_dir():
        raise ArchiveError(f"cannot save to {path}: it is a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    _drop_cached(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies, as usual
    kept = -1  # a second descriptor of the temp file, for the background write-back
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as out:
            yield out
            out.flush()
            kept = os.dup(fd)
        handed, kept = kept, -1
        _replace(tmp, path, handed)  # closes it
    except BaseException:
        if kept >= 0:
            os.close(kept)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_output`; returns the path."""
    path = Path(path)
    with atomic_output(path) as out:
        out.write(text.encode("utf-8"))
    return path
