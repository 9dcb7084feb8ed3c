"""What ``from_pretrained`` is given: a catalogue name, a URL or a local path, turned into a
local archive (downloaded when needed)."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import Any

from ganglion.errors import GanglionError
from ganglion.pretrained.catalogue import find_pretrained
from ganglion.pretrained.download import URL_SCHEMES, download

__all__ = ["names_an_archive", "resolve_pretrained"]


def names_an_archive(text: str) -> bool:
    """Whether ``text`` is a URL or a path to an archive rather than a catalogue name."""
    if urllib.parse.urlsplit(text).scheme in URL_SCHEMES:
        return True
    looks_like_path = os.sep in text or "/" in text or text.endswith(".ganglion")
    return looks_like_path or Path(text).expanduser().is_file()


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
    if urllib.parse.urlsplit(text).scheme in URL_SCHEMES:
        return download(text, refresh=refresh_cache, progress=progress)
    local = Path(text).expanduser()
    if names_an_archive(text):
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
