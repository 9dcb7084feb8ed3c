"""Reading a TTS model's config: plain data, one section at a time, written back.

The models work out sizes (vocabulary, mel bands, widths) and statistics (pitch) and write
them into their config (:func:`ganglion.conf.values.fill`), so an archive holds the complete
model; these helpers give them the config as plain, mutable data to do it on.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from ganglion.conf.values import to_plain
from ganglion.errors import ConfigError

__all__ = ["plain", "section"]


def plain(cfg: Any, key: str = "model") -> dict[str, Any]:
    """``cfg`` (a ``DictConfig`` or a mapping) as a plain ``dict`` with interpolations
    resolved; ``key`` names it in errors."""
    value = to_plain(cfg, key=key)
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping, got {value!r}")
    return dict(value)


def section(
    cfg: MutableMapping[str, Any], key: str, default: Any = None, *, layout: str | None = None
) -> Any:
    """``cfg[key]`` as a plain ``dict``, stored back into ``cfg`` (so what is filled into it
    is kept). Absent or null: ``default`` (``None`` stays ``None``), or, when ``layout``
    names the shipped config that shows the section, an error saying it is missing."""
    value = cfg.get(key)
    if value is None:
        if layout is not None:
            raise ConfigError(f"model.{key} is missing; see {layout} for the layout")
        if default is None:
            return None
        value = default
    if not isinstance(value, Mapping):
        raise ConfigError(f"model.{key}: expected a mapping, got {value!r}")
    cfg[key] = dict(value)
    return cfg[key]
