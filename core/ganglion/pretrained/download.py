"""Downloads into the cache: ``<file>.part`` first, renamed once its checksum matches, resumed
with an HTTP ``Range`` request after an interruption (see :mod:`ganglion.pretrained`)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganglion.archive.format import safe_basename
from ganglion.cache import ENV_CACHE, cache_dir
from ganglion.errors import GanglionError

__all__ = ["URL_SCHEMES", "DownloadError", "download", "download_target"]

#: The URL schemes :func:`download` fetches.
URL_SCHEMES = ("http", "https", "file")
_CHUNK = 1 << 20


class DownloadError(GanglionError):
    """A download failed, was interrupted, or did not match its checksum."""


def _safe_filename(url: str) -> str:
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    return safe_basename(path.rstrip("/").rsplit("/", 1)[-1], default="model.ganglion")


def download_target(url: str, sha256: str | None = None) -> Path:
    """Where :func:`download` puts ``url`` by default: ``<cache>/downloads/<key>/<file name>``.

    The key is the first 24 hex digits of ``sha256`` when given, of the URL's sha256 otherwise.
    """
    # keyed by the content's checksum when known (a new release gets a new file, a moved URL
    # reuses the old one), by the URL otherwise
    key = sha256 or "url-" + hashlib.sha256(url.encode()).hexdigest()
    return cache_dir() / "downloads" / key[:24] / _safe_filename(url)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside ``path`` so two processes do not write the same .part file."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock, downloads are still atomic
        yield
        return
    lock = path.with_name(path.name + ".lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def download(
    url: str,
    *,
    sha256: str | None = None,
    path: str | os.PathLike[str] | None = None,
    refresh: bool = False,
    progress: bool | None = None,
    timeout: float = 60.0,
    description: str | None = None,
    size: int | None = None,
) -> Path:
    """Fetch ``url`` into the cache (or to ``path``) and return where the file is.

    Args:
        url: an ``http://``, ``https://`` or ``file://`` URL.
        sha256: the expected checksum; a download that does not match is deleted and refused.
        path: where to put the file; by default a cache path keyed by ``sha256`` (or the URL).
        refresh: fetch again even when the file is already there.
        progress: show a tqdm progress bar (``None``: only on a terminal).
        timeout: seconds to wait for the server on each network operation.
        description: the progress bar's label (defaults to the file name).
        size: the expected size in bytes; a server announcing more, or sending more, is cut
            off and the partial file deleted (the limit that keeps a bad URL from filling the
            disk).

    A file already at the destination is returned at once with no network access: it only
    gets there by an atomic rename after a complete, verified download. An interrupted
    download leaves ``<file>.part``; the next call resumes it with an HTTP ``Range`` request.

    Raises:
        DownloadError: the server could not be reached or answered with an error, the
            connection broke (the partial file is kept for resuming), or the checksum did not
            match (the file is deleted).
    """
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in URL_SCHEMES:
        raise DownloadError(f"cannot download {url!r}: only http://, https:// and file:// URLs")
    expected = sha256.lower() if sha256 else None
    target = Path(path) if path is not None else download_target(url, expected)
    if target.is_file() and not refresh:
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"cannot create the download directory {target.parent}: {exc}; set {ENV_CACHE} to a "
            "writable directory"
        ) from exc
    with _locked(target):
        if target.is_file() and not refresh:  # another process finished it while we waited
            return target
        part = target.with_name(target.name + ".part")
        digest = _fetch(url, part, progress=progress, timeout=timeout, label=description, size=size)
        if expected is not None and digest != expected:
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"checksum mismatch for {url}: expected sha256 {expected}, the download has "
                f"{digest}; the file was deleted. The server's copy is corrupt or was replaced."
            )
        os.replace(part, target)
    return target


def _fetch(
    url: str,
    part: Path,
    *,
    progress: bool | None,
    timeout: float,
    label: str | None,
    size: int | None = None,
) -> str:
    """Download ``url`` into ``part``, resuming what is already there; returns its sha256."""
    from tqdm.auto import tqdm

    from ganglion import __version__

    offset = part.stat().st_size if part.is_file() else 0
    hasher = hashlib.sha256()
    headers = {"User-Agent": f"ganglion/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout
        )
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the partial file is not a prefix we can extend
            part.unlink(missing_ok=True)
            return _fetch(url, part, progress=progress, timeout=timeout, label=label, size=size)
        raise DownloadError(f"downloading {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"cannot download {url}: {reason}") from exc

    with response:
        status = getattr(response, "status", None)
        resumed = offset > 0 and status == 206 and _range_start(response) == offset
        if resumed:
            with open(part, "rb") as existing:  # the checksum covers the whole file
                while chunk := existing.read(_CHUNK):
                    hasher.update(chunk)
        else:
            offset = 0
        length = response.headers.get("Content-Length")
        remaining = int(length) if length and length.isdigit() else None
        total = None if remaining is None else offset + remaining
        if size is not None and total is not None and total > size:
            part.unlink(missing_ok=True)
            raise _too_big(url, size, f"the server announces {total} bytes")
        received = 0
        bar = tqdm(
            total=total,
            initial=offset,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=label or part.name.removesuffix(".part"),
            disable=None if progress is None else not progress,
            leave=False,
        )
        with bar, open(part, "ab" if resumed else "wb") as out:
            try:
                while chunk := response.read(_CHUNK):
                    received += len(chunk)
                    if size is not None and offset + received > size:
                        break
                    out.write(chunk)
                    hasher.update(chunk)
                    bar.update(len(chunk))
            except (OSError, ValueError, _incomplete_read_error()) as exc:
                raise _interrupted(url, part, offset + received, total, exc) from exc
        if size is not None and offset + received > size:
            part.unlink(missing_ok=True)
            raise _too_big(url, size, f"the server sent more than {size} bytes")
        if remaining is not None and received < remaining:
            raise _interrupted(url, part, offset + received, total, None)
    return hasher.hexdigest()


def _incomplete_read_error() -> type[Exception]:
    import http.client

    return http.client.IncompleteRead


def _range_start(response: Any) -> int | None:
    match = re.match(r"bytes\s+(\d+)-", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def _too_big(url: str, size: int, why: str) -> DownloadError:
    return DownloadError(
        f"download of {url} refused: the catalogue says {size} bytes but {why}; the partial "
        "file was deleted. The server's copy was replaced: fix the catalogue's size and sha256."
    )


def _interrupted(url: str, part: Path, have: int, total: int | None, exc: Any) -> DownloadError:
    of = f" of {total}" if total is not None else ""
    why = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
    return DownloadError(
        f"download of {url} was interrupted after {have}{of} bytes{why}; the partial file is "
        f"kept at {part} and the next call resumes it"
    )
