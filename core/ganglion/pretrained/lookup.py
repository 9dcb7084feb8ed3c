"""What ``Model.list_available_models()`` and ``Model.from_pretrained(name)`` look up: the
checkpoints of catalogue files (:mod:`ganglion.pretrained.catalogue_files`) and of plugins'
model metadata (:mod:`ganglion.pretrained.catalogue`), and their archives in the cache.

Archives download into ``<cache>/downloads/<sha256 prefix>/<file>``, streamed, cut off beyond
the entry's ``size`` and renamed into place only once their sha256 matches.

Importing this module imports no torch.
"""

from __future__ import annotations

import os
import urllib.error
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ganglion.errors import GanglionError, UnknownNameError, did_you_mean
from ganglion.pretrained.catalogue import (
    PretrainedModelInfo,
    belongs_to,
    find_pretrained,
    list_pretrained,
)
from ganglion.pretrained.catalogue_files import (
    ENV_CATALOGUE,
    Source,
    catalogue_sources,
    read_catalogue,
)
from ganglion.pretrained.download import DownloadError, download, download_target
from ganglion.pretrained.resolving import names_an_archive, resolve_pretrained

__all__ = [
    "available_models",
    "cached_path",
    "fetch_pretrained",
    "find_model",
    "pretrained_path",
]


def _registered_under(model: str, model_class: Any) -> bool:
    """Whether the registered model called ``model`` is ``model_class`` or a subclass."""
    from ganglion.plugins import registry

    models = registry("models")
    if model not in models:
        return False
    try:
        entry = models.get(model)
    except GanglionError:
        return False  # a model that cannot be looked up provides no checkpoints of this class
    return belongs_to(entry, model_class)


def _from_files(
    model_class: Any, catalogue: Any, refresh: bool = False
) -> list[PretrainedModelInfo]:
    infos: list[PretrainedModelInfo] = []
    for source, who in catalogue_sources(catalogue):
        infos.extend(read_catalogue(source, provider=who, refresh=refresh))
    if model_class is not None:
        infos = [i for i in infos if _registered_under(i.model, model_class)]
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


def cached_path(info: PretrainedModelInfo) -> Path:
    """Where the archive of ``info`` is kept in the cache (named by its sha256)."""
    return download_target(info.url, info.sha256)


def fetch_pretrained(
    info: PretrainedModelInfo, *, refresh: bool = False, progress: bool | None = None
) -> Path:
    """The archive of ``info`` in the cache, downloaded (and checked) when it is not there.

    Raises:
        DownloadError: as :func:`~ganglion.pretrained.download.download`; when the server
            cannot be reached the message also says where to save a copy fetched by hand.
    """
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
    if not isinstance(text, str) or not text or names_an_archive(text):
        # (resolve_pretrained also says what is wrong with an empty name)
        return resolve_pretrained(text, model_class=model_class, refresh_cache=refresh)
    info = find_model(text, model_class, catalogue, refresh=refresh)
    return fetch_pretrained(info, refresh=refresh, progress=progress)
