"""Atomic, durable output: a file appears at its path whole, or not at all, and survives a
power cut once the write returned.

The data goes to a hidden temp file in the destination's directory (same filesystem), which is
fsync'ed, renamed over the destination (``os.replace``: one atomic step, so the path always
names a whole file, the old one or the new one), and then the directory is fsync'ed, so the
rename itself is on disk. A crash at any point leaves the old file or the new one, never
neither, and never a half file under the real name.

A temp file is named ``.<name>.<pid>@<host>.<random>.tmp``. A writer killed outright (SIGKILL,
the OOM killer) cannot remove its own; the next write into the same directory removes the temp
files of processes of this host that no longer exist (:func:`remove_stale_temps`). The host
is in the name because a directory may be shared (NFS, containers) with machines whose process
ids mean nothing here. A temp *directory* named the same way (the artifact cache unpacks into
one before renaming it into place) is removed the same way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganglion.archive.errors import ArchiveError

__all__ = ["atomic_output", "atomic_write_text", "remove_stale_temps", "temp_path"]

_TEMP_NAME = re.compile(r"^\..+\.(?P<pid>[0-9]{1,10})@(?P<host>[A-Za-z0-9_-]*)\.[0-9a-f]{8}\.tmp$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())


def temp_path(path: Path) -> Path:
    """A fresh temp file name beside ``path``, carrying this process's id and host."""
    return path.with_name(f".{path.name}.{os.getpid()}@{_host()}.{secrets.token_hex(4)}.tmp")


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, and belongs to another user
    except (OverflowError, OSError):
        return False  # not a process id this system can have
    return True


def remove_stale_temps(directory: Path) -> list[Path]:
    """Remove the temp files and directories (see the module docstring) in ``directory`` left
    by processes of this host that no longer exist; returns what was removed. Temps of running
    processes (this one included), of other hosts, links, and everything else are left alone.
    Does nothing where process ids cannot be checked without side effects (not POSIX)."""
    if os.name != "posix":  # pragma: no cover - os.kill(pid, 0) is not a probe on Windows
        return []
    host, own = _host(), os.getpid()
    removed: list[Path] = []
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            match = _TEMP_NAME.match(entry.name)
            if match is None or match["host"] != host:
                continue
            pid = int(match["pid"])
            if pid <= 0 or pid == own or _process_exists(pid):
                continue
            with contextlib.suppress(OSError):  # another writer removed it first
                if entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
                elif entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    continue
                removed.append(Path(entry.path))
    return removed


def _sync_directory(directory: Path) -> None:
    """fsync ``directory``, so that a rename in it is on disk."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        # some filesystems cannot sync a directory; the rename is then as durable as they allow
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path: Path, *, durable: bool = True) -> Iterator[Any]:
    """A binary file that appears at ``path`` only when the ``with`` block completes.

    Written as a hidden temp file beside ``path``, then renamed over it (see the module
    docstring); on any error, ``KeyboardInterrupt`` included, the temp file is removed and
    ``path`` is left as it was. ``durable`` (the default) fsyncs the file before the rename
    and the directory after it; ``durable=False`` skips both, for files that are only a cache
    (a power cut may then lose the new file, never leave a half one). A link at ``path`` is
    replaced, not followed. Stale temp files of dead writers in the directory are removed
    first (:func:`remove_stale_temps`).

    Example::

        with atomic_output(Path("out/table.bin")) as out:
            out.write(data)
    """
    path = Path(path)
    if path.is_dir():
        raise ArchiveError(f"cannot save to {path}: it is a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent)
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies, as usual
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as out:
            yield out
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        try:
            _sync_directory(path.parent)
        except OSError as exc:
            raise ArchiveError(
                f"{path} was written, but its directory could not be synced to disk ({exc}); "
                "a power cut now may leave the previous file"
            ) from exc


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_output`; returns the path."""
    path = Path(path)
    with atomic_output(path) as out:
        out.write(text.encode("utf-8"))
    return path
