"""Catalogue files of pretrained checkpoints, and what ``Model.list_available_models()`` and
``Model.from_pretrained(name)`` look up.

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
argument. Entries plugins publish as ``pretrained=`` metadata of ``register_models`` are
listed too (:mod:`ganglion.pretrained`).

A catalogue at an ``http(s)://`` URL is kept in the cache once read and read from there
afterwards (``refresh=True`` reads it again), so a cached model restores with no network.
Archives download into ``<cache>/downloads/<sha256 prefix>/<file>``, streamed, cut off
beyond the entry's ``size`` and renamed into place only once their sha256 matches.

Importing this module imports no torch.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Union

from ganglion.archive.format import SHA256_HEX, safe_basename
from ganglion.cache import cache_dir
from ganglion.errors import GanglionError, UnknownNameError, did_you_mean
from ganglion.pretrained.catalogue import PretrainedModelInfo, list_pretrained
from ganglion.pretrained.download import URL_SCHEMES, DownloadError, download
from ganglion.pretrained.resolving import resolve_pretrained

__all__ = [
    "ENV_CATALOGUE",
    "CatalogueError",
    "PretrainedModelInfo",
    "available_models",
    "add_arguments",
    "cached_path",
    "catalogue_sources",
    "describe",
    "find_model",
    "pretrained_path",
    "read_catalogue",
    "run",
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


# -- reading catalogues ---------------------------------------------------------------------
def _is_url(text: str) -> bool:
    return urllib.parse.urlsplit(text).scheme in URL_SCHEMES


def _cached_catalogue(url: str) -> Path:
    key = hashlib.sha256(url.encode()).hexdigest()[:24]
    return cache_dir() / "catalogues" / key / "catalogue.yaml"


def _read_remote(url: str, refresh: bool, timeout: float) -> str:
    """The text of the catalogue at an http(s) URL, from the cache when it was read before."""
    from ganglion.archive.atomic import atomic_write_text

    cached = _cached_catalogue(url)
    if cached.is_file() and not refresh:
        return cached.read_text(encoding="utf-8")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read(_MAX_CATALOGUE_BYTES + 1)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if cached.is_file():
            import warnings

            warnings.warn(
                f"cannot read the catalogue {url} ({reason}); using the copy read before",
                stacklevel=3,
            )
            return cached.read_text(encoding="utf-8")
        raise CatalogueError(
            f"cannot read the pretrained catalogue {url}: {reason}. Check the network, or "
            f"download it by hand and pass its path (catalogue=PATH or ${ENV_CATALOGUE})."
        ) from exc
    if len(data) > _MAX_CATALOGUE_BYTES:
        raise CatalogueError(
            f"the pretrained catalogue {url} is larger than {_MAX_CATALOGUE_BYTES} bytes; "
            "it is not a catalogue"
        )
    text = _decode(data, url)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(cached, text)
    except OSError:  # a read-only cache only costs the offline copy
        pass
    return text


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


# -- listing and finding --------------------------------------------------------------------
def _belongs_to(model: str, model_class: Any) -> bool:
    """Whether the registered model called ``model`` is ``model_class`` or a subclass."""
    from ganglion.plugins import registry
    from ganglion.registry import qualified_name

    models = registry("models")
    if model not in models:
        return False
    try:
        entry = models.get(model)
        if entry.target is model_class or entry.target_path == qualified_name(model_class):
            return True
        target = entry.load()
    except GanglionError:
        return False  # a model that cannot be imported provides no checkpoints of this class
    return isinstance(target, type) and issubclass(target, model_class)


def _from_files(
    model_class: Any, catalogue: Any, refresh: bool = False
) -> list[PretrainedModelInfo]:
    infos: list[PretrainedModelInfo] = []
    for source, who in catalogue_sources(catalogue):
        infos.extend(read_catalogue(source, provider=who, refresh=refresh))
    if model_class is not None:
        infos = [i for i in infos if _belongs_to(i.model, model_class)]
    return infos


def _scope(model_class: Any) -> Any:
    if model_class is None:
        return None  # (no import of torch for a listing of everything)
    from ganglion.model.base import ModelPT

    return None if model_class is ModelPT else model_class


def available_models(
    model_class: Any = None, catalogue: Source | Sequence[Source] | None = None
) -> list[PretrainedModelInfo]:
    """Every pretrained checkpoint for ``model_class`` and its subclasses (all of them for
    ``None`` or ``ModelPT``), from catalogue files and plugins' model metadata, by name."""
    scope = _scope(model_class)
    infos = list_pretrained(scope) + _from_files(scope, catalogue)
    return sorted(infos, key=lambda i: i.name.lower())


def find_model(
    name: str,
    model_class: Any = None,
    catalogue: Source | Sequence[Source] | None = None,
    *,
    refresh: bool = False,
) -> PretrainedModelInfo:
    """The checkpoint called ``name``; the first catalogue that has it wins (the argument,
    then the environment variable, then plugins), before plugins' model metadata.

    Raises:
        UnknownNameError: no such checkpoint; says which names are close and lists them all.
    """
    scope = _scope(model_class)
    files = _from_files(scope, catalogue, refresh=refresh)
    for info in files:
        if info.name == name:
            return info
    from ganglion.pretrained.catalogue import find_pretrained

    try:
        return find_pretrained(name, scope)
    except UnknownNameError:
        pass
    known = sorted({i.name for i in files} | {i.name for i in list_pretrained(scope)})
    what = f" for {scope.__name__}" if scope is not None else ""
    raise UnknownNameError(
        f"Unknown pretrained model {name!r}{what}.{did_you_mean(name, known)} "
        f"Known: {', '.join(known) or 'none'}. Add a catalogue with catalogue=PATH or "
        f"${ENV_CATALOGUE}; from_pretrained also takes a .ganglion path or URL."
    )


# -- downloading ----------------------------------------------------------------------------
def cached_path(info: PretrainedModelInfo) -> Path:
    """Where the archive of ``info`` is kept in the cache (named by its sha256)."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(info.url).path)
    filename = safe_basename(path.rstrip("/").rsplit("/", 1)[-1], default="model.ganglion")
    return cache_dir() / "downloads" / info.sha256[:24] / filename


def _fetch(info: PretrainedModelInfo, refresh: bool, progress: bool | None) -> Path:
    target = cached_path(info)
    try:
        return download(
            info.url,
            sha256=info.sha256,
            path=target,
            refresh=refresh,
            progress=progress,
            description=info.name,
            size=info.size,
        )
    except DownloadError as exc:
        if not isinstance(exc.__cause__, (urllib.error.URLError, OSError)):
            raise  # a checksum or size mismatch: fetching by hand would not help
        raise DownloadError(
            f"{exc}. To fetch '{info.name}' by hand, download {info.url} and save it as "
            f"{target} (sha256 {info.sha256}); it is then used without any network."
        ) from exc.__cause__


def pretrained_path(
    name: Source,
    *,
    model_class: Any = None,
    catalogue: Source | Sequence[Source] | None = None,
    refresh: bool = False,
    progress: bool | None = None,
) -> Path:
    """The local archive ``from_pretrained(name)`` restores, downloaded when needed: a
    catalogue name, or a ``.ganglion`` path or URL (no catalogue needed for those)."""
    text = os.fspath(name)
    if not isinstance(text, str) or not text:
        raise GanglionError(f"from_pretrained needs a model name, a path or a URL, got {text!r}")
    looks_like_path = _is_url(text) or os.sep in text or "/" in text or text.endswith(".ganglion")
    if looks_like_path or Path(text).expanduser().is_file():
        return resolve_pretrained(text, model_class=model_class, refresh_cache=refresh)
    info = find_model(text, model_class, catalogue, refresh=refresh)
    return _fetch(info, refresh, progress)


# -- the `ganglion pretrained` command ------------------------------------------------------
def add_arguments(parser: Any) -> None:
    """``ganglion pretrained [list|fetch NAME]``'s arguments."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    for action, help_text in (
        ("list", "list the pretrained models of every catalogue (the default)"),
        ("fetch", "download a pretrained model into the cache and print its path"),
    ):
        p = sub.add_parser(action, help=help_text)
        if action == "fetch":
            p.add_argument("name", help="a name that `ganglion pretrained list` shows")
            p.add_argument("--refresh", action="store_true", help="download it again")
        else:
            p.add_argument("--json", action="store_true", help="print JSON")
        p.add_argument(
            "--class",
            dest="model_class",
            metavar="MODEL",
            help="only this registered model (and its subclasses)",
        )
        p.add_argument(
            "--catalogue",
            action="append",
            metavar="PATH_OR_URL",
            help=f"another catalogue to read (repeatable; also ${ENV_CATALOGUE})",
        )


def run(args: Any) -> int:
    """Run ``ganglion pretrained``; errors are printed, not raised."""
    from ganglion.command_errors import run_reporting_errors

    return run_reporting_errors("ganglion pretrained", _run, args)


def _run(args: Any) -> int:
    model_class = None
    if getattr(args, "model_class", None):
        from ganglion.plugins import registry

        model_class = registry("models").resolve(args.model_class, key="--class")
    catalogue = getattr(args, "catalogue", None)
    if getattr(args, "action", None) == "fetch":
        info = find_model(args.name, model_class, catalogue, refresh=args.refresh)
        print(_fetch(info, args.refresh, progress=None))
        return 0
    infos = available_models(model_class, catalogue)
    if getattr(args, "json", False):
        import dataclasses
        import json

        print(json.dumps([dataclasses.asdict(i) for i in infos], indent=2, sort_keys=True))
    elif not infos:
        print(f"No pretrained models. Add a catalogue with --catalogue or ${ENV_CATALOGUE}.")
    else:
        print(describe(infos))
    return 0


def describe(infos: Iterable[PretrainedModelInfo]) -> str:
    """A listing of ``infos``: name, class, size and description, one model a line."""
    rows = [("NAME", "CLASS", "SIZE", "DESCRIPTION")]
    for i in infos:
        rows.append((i.name, i.model, f"{i.size / 1e6:.1f} MB" if i.size else "-", i.description))
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    return "\n".join(
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip()
        for r in rows
    )
