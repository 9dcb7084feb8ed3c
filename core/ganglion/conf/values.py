"""Config values in the two shapes the core passes around: OmegaConf nodes and plain data.

One place turns a user's config (a ``DictConfig``, a plain mapping or a dataclass instance)
into a ``DictConfig``, and a node back into plain ``dict``/``list`` data, so the model, the
optimizer assembly and training agree on interpolations, enums and error messages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ganglion.errors import ConfigError, omegaconf_error_message


def is_node(value: Any) -> bool:
    """True for an OmegaConf ``DictConfig`` or ``ListConfig`` (without importing omegaconf)."""
    cls = type(value)
    return cls.__name__ in ("DictConfig", "ListConfig") and cls.__module__.startswith("omegaconf")


def as_dictconfig(cfg: Any, *, key: str = "config") -> Any:
    """``cfg`` as a ``DictConfig``: a DictConfig as is, a dataclass instance through
    ``OmegaConf.structured``, a mapping copied. Anything else is a :class:`ConfigError`
    naming ``key``."""
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(cfg, DictConfig):
        return cfg
    try:
        if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
            return OmegaConf.structured(cfg)
        if isinstance(cfg, Mapping):
            return OmegaConf.create(dict(cfg))
    except OmegaConfBaseException as exc:
        raise ConfigError(omegaconf_error_message(exc, key)) from None
    raise ConfigError(f"{key} must be a mapping (DictConfig, dict or dataclass), got {cfg!r}")


def to_plain(value: Any, *, key: str = "config", lenient: bool = False) -> Any:
    """``value`` as plain ``dict``/``list`` data with interpolations resolved and enums as
    strings; plain mappings are converted recursively, other values returned as they are.

    A missing value (``???``) stays as the string ``"???"``. An interpolation that cannot be
    resolved is a :class:`ConfigError` naming ``key``, or, with ``lenient=True``, is kept as
    written (for configs stored before everything they refer to exists).
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = as_dictconfig(value, key=key)
    if is_node(value):
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        try:
            return OmegaConf.to_container(
                value, resolve=True, throw_on_missing=False, enum_to_str=True
            )
        except OmegaConfBaseException as exc:
            if lenient:
                return OmegaConf.to_container(value, resolve=False, enum_to_str=True)
            raise ConfigError(omegaconf_error_message(exc, key)) from None
    if isinstance(value, Mapping):
        return {k: to_plain(v, key=f"{key}.{k}", lenient=lenient) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v, key=f"{key}[{i}]", lenient=lenient) for i, v in enumerate(value)]
    return value


def fill(section: Any, key: str, value: Any, *, where: str, source: str) -> None:
    """Set ``section[key]`` to ``value`` (worked out from the data, the tokenizer, another
    section ...) when it is absent or null; a different value given there is a
    :class:`ConfigError`.

    ``where`` is the section's config key and ``source`` what the value comes from, both
    named in the error. Models write what they work out back into their config this way, so
    an archive holds the complete model.
    """
    given = section.get(key)
    if given is None:
        section[key] = value
    elif given != value:
        raise ConfigError(
            f"{where}.{key} is {given!r}, but {source} gives {value!r}; remove the key "
            "(it is filled in) or make them agree"
        )
