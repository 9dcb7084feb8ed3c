"""The classes a model config names with ``_target_``: a model, or a dataset of a data section.

Both go through the one ``_target_`` policy (:mod:`ganglion.targets`): a registered name, a
registered class's import path, a class of an installed plugin, or an explicitly allowed one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganglion.targets import kinds_first, resolve_target

if TYPE_CHECKING:  # pragma: no cover
    from ganglion.model.base import ModelPT

__all__ = ["resolve_class", "resolve_model_class"]

#: Registries searched for a model's name, models first (unknown names list models).
MODEL_KINDS = kinds_first("models")


def resolve_class(target: str, *, key: str) -> type:
    """The class ``target`` names (a dataset's, say); ``key`` is named in every error."""
    return resolve_target(target, key=key, base=object)


def resolve_model_class(target: str, *, key: str) -> type[ModelPT]:
    """The ``ModelPT`` subclass ``target`` names; an unknown short name lists the models."""
    from ganglion.model.base import ModelPT

    return resolve_target(target, key=key, base=ModelPT, kinds=MODEL_KINDS)
