"""Catalogue files of pretrained checkpoints: reading and validating them, and where they come
from (see :mod:`ganglion.pretrained`).

A catalogue is a YAML (or JSON) file holding a list of entries::

    - name: QuartzNetDigits
      class: EncDecCTCModel            # a registered model name
      description: spoken digit strings (what a listing shows)
      location: QuartzNetDigits.ganglion   # a URL, or a path relative to the catalogue
      sha256: 9f2c...                  # 64 hex digits
      size: 2355200                    # bytes

``scripts/make_catalogue.py ARCHIVE... --base-url URL -o catalogue.yaml`` writes one from
archives. Catalogues come from three places, all read only when models are listed or looked
up: plugins (the ``register_pretrained`` hook), the ``GANGLION_PRETRAINED_CATALOGUE``
environment variable (paths or URLs separated by ``os.pathsep``) and the ``catalogue=``
argument.

A catalogue at an ``http(s)://`` URL is downloaded into the cache once read and read from
there afterwards (``refresh=True`` reads it again), so a cached model restores with no network.

Importing this module imports no torch.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

from ganglion.archive.format import SHA256_HEX
from ganglion.cache import cache_dir
from ganglion.errors import GanglionError, did_you_mean
from ganglion.pretrained.catalogue import PretrainedModelInfo
from ganglion.pretrained.download import URL_SCHEMES, DownloadError, download

__all__ = [
    "ENTRY_KEYS",
    "ENV_CATALOGUE",
    "CatalogueError",
    "Source",
    "catalogue_sources",
    "read_catalogue",
    "split_sources",
]

#: Environment variable: extra catalogues (paths or URLs), separated by ``os.pathsep``.
ENV_CATALOGUE = "GANGLION_PRETRAINED_CATALOGUE"

#: The keys a catalogue entry may have; all but ``description`` and ``size`` are required.
ENTRY_KEYS = ("name", "class", "description", "location", "sha256", "size")
_REQUIRED = ("name", "class", "location", "sha256")
_MAX_CATALOGUE_BYTES = 4 << 20

Source = Union[str, "os.PathLike[str]"]


class CatalogueError(GanglionError):
    """A catalogue file that cannot be read or holds a malformed entry."""


def _is_url(text: str) -> bool:
    return urllib.parse.urlsplit(text).scheme in URL_SCHEMES


def _cached_catalogue(url: str) -> Path:
    key = hashlib.sha256(url.encode()).hexdigest()[:24]
    return cache_dir() / "catalogues" / key / "catalogue.yaml"


def _read_remote(url: str, refresh: bool, timeout: float) -> str:
    """The text of the catalogue at an http(s) URL, from the cache when it was read before."""
    cached = _cached_catalogue(url)
    try:
        download(
            url,
            path=cached,
            refresh=refresh,
            progress=False,
            timeout=timeout,
            size=_MAX_CATALOGUE_BYTES,
        )
    except DownloadError as exc:
        cause = exc.__cause__
        if not isinstance(cause, (urllib.error.URLError, OSError)):
            # cut off beyond the size limit, or interrupted
            raise CatalogueError(
                f"cannot read the pretrained catalogue {url} (at most {_MAX_CATALOGUE_BYTES} "
                f"bytes): {exc}"
            ) from exc
        reason = getattr(cause, "reason", cause)
        if cached.is_file():
            import warnings

            warnings.warn(
                f"cannot read the catalogue {url} ({reason}); using the copy read before",
                stacklevel=3,
            )
        else:
            raise CatalogueError(
                f"cannot read the pretrained catalogue {url}: {reason}. Check the network, or "
                f"download it by hand and pass its path (catalogue=PATH or ${ENV_CATALOGUE})."
            ) from cause
    try:
        return _decode(cached.read_bytes(), url)
    except CatalogueError:
        cached.unlink(missing_ok=True)  # not kept: the next read fetches it again
        raise


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogueError(
            f"{where}: not a text file ({exc}); a catalogue is YAML or JSON"
        ) from None


def _read_text(source: str, refresh: bool, timeout: float) -> tuple[str, str]:
    """``(text, base)``: the catalogue's text and the URL relative locations resolve against."""
    scheme = urllib.parse.urlsplit(source).scheme
    if scheme in ("http", "https"):
        return _read_remote(source, refresh, timeout), source
    if scheme == "file":
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(source).path))
    else:
        path = Path(source).expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CatalogueError(
            f"pretrained catalogue {path} does not exist; fix the path "
            f"(catalogue= argument, ${ENV_CATALOGUE} or the plugin that registers it)"
        ) from None
    except OSError as exc:
        raise CatalogueError(f"cannot read the pretrained catalogue {path}: {exc}") from None
    return _decode(data, str(path)), path.resolve().as_uri()


def _parse(text: str, where: str, origin: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise CatalogueError(
            f"{where}{at}{origin}: not valid YAML or JSON: {exc.problem or exc}. Fix the syntax "
            "there."
        ) from None
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{where}{origin}: not valid YAML or JSON: {exc}") from None


def _entry_problem(item: dict[str, Any]) -> str | None:
    unknown = sorted(str(k) for k in item if k not in ENTRY_KEYS)
    if unknown:
        hints = "".join(did_you_mean(k, ENTRY_KEYS) for k in unknown)
        return f"unknown key(s) {', '.join(unknown)}.{hints} Known: {', '.join(ENTRY_KEYS)}"
    for key in _REQUIRED:
        if key not in item:
            return f"key '{key}' is missing"
    for key in ("name", "class", "location"):
        if not isinstance(item[key], str) or not item[key].strip():
            return f"key '{key}' must be a non-empty string, got {item[key]!r}"
    if not isinstance(item.get("description", ""), str):
        return f"key 'description' must be a string, got {item['description']!r}"
    sha = item["sha256"]
    if not isinstance(sha, str) or not SHA256_HEX.match(sha.lower()):
        return f"key 'sha256' must be 64 hex digits, got {sha!r}"
    size = item.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
        return f"key 'size' must be a positive number of bytes, got {size!r}"
    location = item["location"]
    scheme = urllib.parse.urlsplit(location).scheme
    if scheme and len(scheme) > 1 and scheme not in URL_SCHEMES:
        return f"key 'location' must be an http(s):// or file:// URL or a path, got {location!r}"
    return None


def read_catalogue(
    source: Source, *, provider: str | None = None, refresh: bool = False, timeout: float = 30.0
) -> list[PretrainedModelInfo]:
    """The entries of one catalogue file (a path, or an ``http(s)://`` / ``file://`` URL).

    Relative ``location`` values resolve against the catalogue's own location.

    Raises:
        CatalogueError: the file cannot be read, is not YAML/JSON, or an entry is malformed
            (the message names the file, the entry and the key).
    """
    text_source = os.fspath(source)
    origin = f" (from {provider})" if provider else ""
    text, base = _read_text(text_source, refresh, timeout)
    data = _parse(text, f"pretrained catalogue {text_source}", origin)
    where = f"pretrained catalogue {text_source}{origin}"
    if data is None:
        return []
    if not isinstance(data, list):
        raise CatalogueError(
            f"{where}: expected a list of entries (each with {', '.join(_REQUIRED)}), got "
            f"{type(data).__name__}"
        )
    infos: list[PretrainedModelInfo] = []
    seen: set[str] = set()
    for i, item in enumerate(data):
        label = f"{where}: entry {i + 1}"
        if not isinstance(item, dict):
            raise CatalogueError(f"{label}: expected a mapping with {', '.join(ENTRY_KEYS)}")
        if isinstance(item.get("name"), str):
            label += f" ({item['name']})"
        problem = _entry_problem(item)
        if problem:
            raise CatalogueError(f"{label}: {problem}. Fix the entry.")
        if item["name"] in seen:
            raise CatalogueError(f"{label}: key 'name': the name is used twice in this file")
        seen.add(item["name"])
        location = item["location"]
        url = location if _is_url(location) else urllib.parse.urljoin(base, location)
        infos.append(
            PretrainedModelInfo(
                name=item["name"],
                description=item.get("description") or "",
                url=url,
                sha256=item["sha256"].lower(),
                model=item["class"],
                provider=provider or text_source,
                size=item.get("size"),
            )
        )
    return infos


def split_sources(value: str, sep: str = os.pathsep) -> list[str]:
    """``$GANGLION_PRETRAINED_CATALOGUE``'s paths and URLs: split at ``sep``, except where a
    ``:`` belongs to a URL (``http://host:8080/cat.yaml`` stays whole on POSIX)."""
    parts: list[str] = []
    for piece in value.split(sep):
        if parts and sep == ":":
            joins_scheme = parts[-1].lower() in URL_SCHEMES and piece.startswith("//")
            joins_port = _is_url(parts[-1]) and piece[:1].isdigit()
            if joins_scheme or joins_port:
                parts[-1] += ":" + piece
                continue
        parts.append(piece)
    return [p.strip() for p in parts if p.strip()]


def catalogue_sources(catalogue: Source | Sequence[Source] | None = None) -> list[tuple[Any, str]]:
    """Every catalogue to read, as ``(path or URL, who named it)``: the ``catalogue``
    argument first, then ``$GANGLION_PRETRAINED_CATALOGUE``, then plugins' catalogues."""
    from ganglion.plugins import registry

    sources: list[tuple[Any, str]] = []
    if catalogue is not None:
        given = [catalogue] if isinstance(catalogue, (str, os.PathLike)) else list(catalogue)
        sources.extend((c, "the catalogue argument") for c in given)
    env = os.environ.get(ENV_CATALOGUE, "")
    sources.extend((part, f"${ENV_CATALOGUE}") for part in split_sources(env))
    for entry in registry("pretrained"):
        sources.append((entry.target, f"catalogue '{entry.name}' of {entry.provider}"))
    return sources
