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

Catalogue files list checkpoints too: plugins name them with the ``register_pretrained``
hook, users with ``$GANGLION_PRETRAINED_CATALOGUE`` or ``catalogue=`` (the format is in
:mod:`ganglion.pretrained.catalogue_files`).

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

Modules: ``catalogue`` (plugins' model metadata), ``catalogue_files`` (catalogue files and
where they come from), ``lookup`` (listing, finding and fetching across both), ``download``
(the cache), ``resolving`` (names, URLs and paths), ``command`` (``ganglion pretrained``).

Importing this module imports no torch.
"""

from ganglion.cache import ENV_CACHE, cache_dir
from ganglion.pretrained.catalogue import PretrainedModelInfo, find_pretrained, list_pretrained
from ganglion.pretrained.catalogue_files import ENV_CATALOGUE, CatalogueError, read_catalogue
from ganglion.pretrained.download import DownloadError, download
from ganglion.pretrained.lookup import (
    available_models,
    cached_path,
    fetch_pretrained,
    find_model,
    pretrained_path,
)
from ganglion.pretrained.resolving import resolve_pretrained

__all__ = [
    "ENV_CACHE",
    "ENV_CATALOGUE",
    "CatalogueError",
    "DownloadError",
    "PretrainedModelInfo",
    "available_models",
    "cache_dir",
    "cached_path",
    "download",
    "fetch_pretrained",
    "find_model",
    "find_pretrained",
    "list_pretrained",
    "pretrained_path",
    "read_catalogue",
    "resolve_pretrained",
]
