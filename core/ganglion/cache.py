"""Where ganglion caches downloads and unpacked artifacts: ``$GANGLION_CACHE`` or the user
cache directory. Importing this module imports no torch."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_CACHE", "cache_dir"]

#: Environment variable naming the cache directory (downloads and unpacked artifacts).
ENV_CACHE = "GANGLION_CACHE"


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
