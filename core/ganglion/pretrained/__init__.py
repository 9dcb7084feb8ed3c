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

from ganglion.cache import ENV_CACHE, cache_dir
from ganglion.pretrained.catalogue import PretrainedModelInfo, find_pretrained, list_pretrained
from ganglion.pretrained.download import DownloadError, download
from ganglion.pretrained.resolving import resolve_pretrained

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
