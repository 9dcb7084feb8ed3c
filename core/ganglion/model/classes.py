"""The classes a model config names with ``_target_``: a model, or a dataset of a data section.

A ``_target_`` is a registered name (models, modules, losses … see
:data:`ganglion.archive.TARGET_KINDS`) or an import path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganglion.errors import ConfigError
from ganglion.registry import locate

if TYPE_CHECKING:  # pragma: no cover
    from ganglion.model.base import ModelPT

__all__ = ["resolve_class", "resolve_model_class"]


def resolve_class(target: str, *, key: str) -> type:
    """The class ``target`` names: a registered name (looked up first) or an import path.

    ``key`` is the config key holding ``target``, named in every error.
    """
    from ganglion.archive import TARGET_KINDS
    from ganglion.plugins import registry

    for kind in TARGET_KINDS:
        reg = registry(kind)
        if target in reg:
            obj = reg.resolve(target, key=key)
            break
    else:
        try:
            obj = locate(target)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError(f"{key}: cannot import {target!r}: {exc}") from exc
    if not isinstance(obj, type):
        raise ConfigError(f"{key}: {target!r} is a {type(obj).__name__}, not a class")
    return obj


def resolve_model_class(target: str, *, key: str) -> type[ModelPT]:
    """The ``ModelPT`` subclass ``target`` names (see :func:`resolve_class`)."""
    from ganglion.model.base import ModelPT

    obj = resolve_class(target, key=key)  # registered models are looked up first
    if not (isinstance(obj, type) and issubclass(obj, ModelPT)):
        raise ConfigError(f"{key}: {target!r} is not a ModelPT subclass")
    return obj
