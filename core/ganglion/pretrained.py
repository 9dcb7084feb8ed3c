"""Pretrained models: the catalogue plugins publish, and downloads into a local cache.

Plugins publish pretrained checkpoints as metadata of the models they register::

    @hookimpl
    def register_models(register):
        register(
            "EncDecCTCModel",
            "ganglion_asr.models:EncDecCTCModel",
            pretrained=[
                {
                    "name": "QuartzNet15x5Base-En",
                    "description": "QuartzNet 15x5 trained on LibriSpeech, English",
                    "url": "https://models.example.org/QuartzNet15x5Base-En.ganglion",
                    "sha256": "9f2c...64 hex digits...",
                },
            ],
        )

``Model.list_available_models()`` lists these entries (as :class:`PretrainedModelInfo`) and
``Model.from_pretrained(name)`` downloads the archive once into the cache, checks its sha256,
and restores it. ``from_pretrained`` also takes a local path or a ``file://``, ``http://`` or
``https://`` URL.

The cache lives in ``$GANGLION_CACHE`` or, when unset, in the user cache directory
(``~/.cache/ganglion`` on Linux). A file in the cache is complete and verified: downloads go to
``<file>.part`` first and are renamed only once their checksum matches, so a cached file is
used as is, with no network access at all. An interrupted download keeps its ``.part`` file and
the next call resumes it with an HTTP ``Range`` request (a server that ignores ranges gets the
whole file fetched again).

Importing this module imports no torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganglion.archive.format import SHA256_HEX, safe_basename
from ganglion.errors import GanglionError, UnknownNameError, did_you_mean

__all__ = [
    "ENV_CACHE",
    "DownloadError",
    "PretrainedModelInfo",
    "cache_dir",
    "download",
    "find_pretrained",
    "list_pretrained",
    "resolve_pretrained",
]

#: Environment variable naming the cache directory (downloads and unpacked artifacts).
ENV_CACHE = "GANGLION_CACHE"

_URL_SCHEMES = ("http", "https", "file")
_CHUNK = 1 << 20


class DownloadError(GanglionError):
    """A download failed, was interrupted, or did not match its checksum."""


def cache_dir() -> Path:
    """The directory ganglion caches downloads and unpacked artifacts in.

    ``$GANGLION_CACHE`` when set, else the platform's user cache directory
    (``platformdirs.user_cache_dir("ganglion")``). It is created on first write, not here.
    """
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("ganglion"))


# -- the catalogue ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PretrainedModelInfo:
    """One pretrained checkpoint a plugin publishes.

    Attributes:
        name: the name ``from_pretrained`` takes (``"QuartzNet15x5Base-En"``).
        description: one line for listings.
        url: where the ``.ganglion`` archive is (``https://``, ``http://`` or ``file://``).
        sha256: the archive's sha256, checked after every download.
        model: the registered model name the checkpoint restores as.
        provider: who published the entry (plugin and distribution).
    """

    name: str
    description: str
    url: str
    sha256: str
    model: str
    provider: str

    @property
    def pretrained_model_name(self) -> str:
        """The name, as NeMo calls it."""
        return self.name

    @property
    def location(self) -> str:
        """The URL, as NeMo calls it."""
        return self.url


@dataclass(frozen=True)
class _CatalogueProblem:
    name: str | None
    model: str
    provider: str
    reason: str


def _parse_entries(entry: Any) -> tuple[list[PretrainedModelInfo], list[_CatalogueProblem]]:
    """The valid catalogue entries of one registered model, and what is wrong with the others."""
    raw = entry.metadata.get("pretrained")
    provider = str(entry.provider)
    if isinstance(raw, dict) or not isinstance(raw, (list, tuple)):
        return [], [
            _CatalogueProblem(None, entry.name, provider, "'pretrained' must be a list of dicts")
        ]
    good: list[PretrainedModelInfo] = []
    bad: list[_CatalogueProblem] = []
    for i, item in enumerate(raw):
        name = item.get("name") if isinstance(item, dict) else None
        reason = _entry_problem(item)
        if reason:
            label = name if isinstance(name, str) else None
            bad.append(_CatalogueProblem(label, entry.name, provider, f"entry {i}: {reason}"))
            continue
        good.append(
            PretrainedModelInfo(
                name=item["name"],
                description=str(item.get("description", "")),
                url=item["url"],
                sha256=item["sha256"].lower(),
                model=entry.name,
                provider=provider,
            )
        )
    return good, bad


def _entry_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return f"expected a dict with name, description, url, sha256, got {item!r}"
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        return f"'name' must be a non-empty string, got {name!r}"
    url = item.get("url")
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in _URL_SCHEMES:
        return f"'url' must be an http://, https:// or file:// URL, got {url!r}"
    sha = item.get("sha256")
    if not isinstance(sha, str) or not SHA256_HEX.match(sha.lower()):
        return f"'sha256' must be 64 hex digits, got {sha!r}"
    return None


def _catalogue(
    model_class: Any = None,
) -> tuple[list[PretrainedModelInfo], list[_CatalogueProblem]]:
    from ganglion.plugins import registry

    infos: list[PretrainedModelInfo] = []
    problems: list[_CatalogueProblem] = []
    for entry in registry("models"):
        if not entry.metadata.get("pretrained"):
            continue
        if model_class is not None and not _belongs_to(entry, model_class):
            continue
        good, bad = _parse_entries(entry)
        infos.extend(good)
        problems.extend(bad)
    return infos, problems


def _belongs_to(entry: Any, model_class: Any) -> bool:
    """Whether the registered model of ``entry`` is ``model_class`` or one of its subclasses."""
    from ganglion.registry import qualified_name

    if entry.target is model_class or entry.target_path == qualified_name(model_class):
        return True
    try:
        target = entry.load()
    except GanglionError:
        return False  # a plugin that fails to import cannot provide this class's checkpoints
    return isinstance(target, type) and issubclass(target, model_class)


def list_pretrained(model_class: Any = None) -> list[PretrainedModelInfo]:
    """Every catalogue entry, or those of ``model_class`` and its subclasses, sorted by name.

    Entries a plugin got wrong (no sha256, a bad URL) are left out with a warning that names the
    plugin and the model; asking for one of them by name raises the same explanation.
    """
    infos, problems = _catalogue(model_class)
    if problems:
        import warnings

        for p in problems:
            warnings.warn(
                f"pretrained catalogue of model '{p.model}' ({p.provider}): {p.reason}; "
                "the entry is ignored",
                stacklevel=2,
            )
    return sorted(infos, key=lambda i: i.name.lower())


def find_pretrained(name: str, model_class: Any = None) -> PretrainedModelInfo:
    """The catalogue entry called ``name`` (for ``model_class`` and its subclasses, if given).

    Raises:
        UnknownNameError: no such entry; lists close matches and every known name.
        GanglionError: the entry exists but is malformed, or two plugins publish the name.
    """
    infos, problems = _catalogue(model_class)
    hits = [i for i in infos if i.name == name]
    if len(hits) > 1:
        where = " and ".join(f"model '{i.model}' ({i.provider})" for i in hits)
        raise GanglionError(f"pretrained model {name!r} is published by both {where}")
    if hits:
        return hits[0]
    for p in problems:
        if p.name == name:
            raise GanglionError(
                f"pretrained model {name!r} of model '{p.model}' ({p.provider}) is malformed: "
                f"{p.reason}"
            )
    known = sorted(i.name for i in infos)
    scope = f" for {model_class.__name__}" if model_class is not None else ""
    raise UnknownNameError(
        f"Unknown pretrained model {name!r}{scope}.{did_you_mean(name, known)} "
        f"Known: {', '.join(known) or 'none'}. from_pretrained also takes a path to a "
        ".ganglion file or an http(s):// or file:// URL."
    )


# -- downloading ------------------------------------------------------------------------------------
def _safe_filename(url: str) -> str:
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    return safe_basename(path.rstrip("/").rsplit("/", 1)[-1], default="model.ganglion")


def _default_target(url: str, sha256: str | None) -> Path:
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

    A file already at the destination is returned at once with no network access: it only
    gets there by an atomic rename after a complete, verified download. An interrupted
    download leaves ``<file>.part``; the next call resumes it with an HTTP ``Range`` request.

    Raises:
        DownloadError: the server could not be reached or answered with an error, the
            connection broke (the partial file is kept for resuming), or the checksum did not
            match (the file is deleted).
    """
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in _URL_SCHEMES:
        raise DownloadError(f"cannot download {url!r}: only http://, https:// and file:// URLs")
    expected = sha256.lower() if sha256 else None
    target = Path(path) if path is not None else _default_target(url, expected)
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
        digest = _fetch(url, part, progress=progress, timeout=timeout, label=description)
        if expected is not None and digest != expected:
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"checksum mismatch for {url}: expected sha256 {expected}, the download has "
                f"{digest}; the file was deleted. The server's copy is corrupt or was replaced."
            )
        os.replace(part, target)
    return target


def _fetch(
    url: str, part: Path, *, progress: bool | None, timeout: float, label: str | None
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
            return _fetch(url, part, progress=progress, timeout=timeout, label=label)
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
                    out.write(chunk)
                    hasher.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (OSError, ValueError, _incomplete_read_error()) as exc:
                raise _interrupted(url, part, offset + received, total, exc) from exc
        if remaining is not None and received < remaining:
            raise _interrupted(url, part, offset + received, total, None)
    return hasher.hexdigest()


def _incomplete_read_error() -> type[Exception]:
    import http.client

    return http.client.IncompleteRead


def _range_start(response: Any) -> int | None:
    match = re.match(r"bytes\s+(\d+)-", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def _interrupted(url: str, part: Path, have: int, total: int | None, exc: Any) -> DownloadError:
    of = f" of {total}" if total is not None else ""
    why = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
    return DownloadError(
        f"download of {url} was interrupted after {have}{of} bytes{why}; the partial file is "
        f"kept at {part} and the next call resumes it"
    )


# -- from_pretrained's argument ----------------------------------------------------------------
def resolve_pretrained(
    name_or_path_or_url: str | os.PathLike[str],
    *,
    model_class: Any = None,
    refresh_cache: bool = False,
    progress: bool | None = None,
) -> Path:
    """The local archive that ``from_pretrained`` restores, downloading it when needed.

    Tries, in order: a catalogue name (for ``model_class`` and its subclasses), an
    ``http(s)://`` or ``file://`` URL (downloaded into the cache; there is no checksum to check
    but the archive's own), and a local path.
    """
    text = os.fspath(name_or_path_or_url)
    if not isinstance(text, str) or not text:
        raise GanglionError(f"from_pretrained needs a model name, a path or a URL, got {text!r}")
    if urllib.parse.urlsplit(text).scheme in _URL_SCHEMES:
        return download(text, refresh=refresh_cache, progress=progress)
    local = Path(text).expanduser()
    looks_like_path = os.sep in text or "/" in text or text.endswith(".ganglion")
    if looks_like_path or local.is_file():
        if not local.is_file():
            raise GanglionError(f"from_pretrained: no archive at {local}")
        return local
    info = find_pretrained(text, model_class)
    return download(
        info.url,
        sha256=info.sha256,
        refresh=refresh_cache,
        progress=progress,
        description=info.name,
    )
