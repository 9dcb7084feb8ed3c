"""Looking up optimizers and schedulers by their registered names.

Names go through the ``optimizers`` / ``schedulers`` registries, so torch's classes (the core's
built-in plugin), a plugin's (``novograd`` from ganglion-optim) and ones registered at run time
with :func:`ganglion.register_optimizer` are found the same way. An unknown name raises
:class:`~ganglion.errors.UnknownNameError` naming the config key, with close matches, the known
names and, for names of ganglion's own plugins, the distribution to install.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ganglion.errors import ConfigError
from ganglion.optim.argspec import MISSING, ArgSpec
from ganglion.registry import singular

if TYPE_CHECKING:  # pragma: no cover
    from ganglion.registry import Entry

__all__ = [
    "get_optimizer",
    "get_scheduler",
    "lookup_class",
    "optimizer_params",
    "registered_entry",
    "scheduler_params",
]


def get_optimizer(name: str, *, key: str = "model.optim.name") -> type:
    """The optimizer class registered as ``name`` (an error naming ``key`` if unknown)."""
    return registered_entry("optimizers", name, key).load()


def get_scheduler(name: str, *, key: str = "model.optim.sched.name") -> type:
    """The scheduler class registered as ``name`` (an error naming ``key`` if unknown)."""
    return registered_entry("schedulers", name, key).load()


def optimizer_params(name: str, *, key: str = "model.optim.name") -> type | None:
    """The params dataclass registered with optimizer ``name`` (``None`` if it has none).

    Example::

        >>> optimizer_params("novograd")()
        NovogradParams(lr='???', betas=(0.95, 0.98), eps=1e-08, weight_decay=0.0, ...)
    """
    return registered_entry("optimizers", name, key).load_metadata("params")


def scheduler_params(name: str, *, key: str = "model.optim.sched.name") -> type | None:
    """The params dataclass registered with scheduler ``name`` (``None`` if it has none)."""
    return registered_entry("schedulers", name, key).load_metadata("params")


def registered_entry(kind: str, name: Any, key: str) -> Entry:
    """The ``kind`` registry's entry of ``name``, which the config at ``key`` gives.

    Raises:
        ConfigError: ``name`` is missing (``None``, empty, ``'???'``); lists the known names.
        UnknownNameError: no such name; with close matches and the known names.
    """
    from ganglion.plugins import registry

    if not isinstance(name, str) or not name or name == MISSING:
        known = ", ".join(registry(kind).names()) or "none"
        raise ConfigError(
            f"{key} is required: the name of a registered {singular(kind)}, got {name!r}. "
            f"Known: {known}."
        )
    return registry(kind).get(name, key=key)


def lookup_class(kind: str, cfg: Mapping[str, Any], key: str) -> tuple[Any, ArgSpec, str]:
    """``(class, spec, what)`` of the class that ``cfg`` (the node at ``key``) names by its
    ``name``; ``what`` (``"optimizer 'adam'"``) is how messages refer to it."""
    entry = registered_entry(kind, cfg.get("name"), f"{key}.name")
    cls = entry.load()
    spec = ArgSpec.of(cls, entry.load_metadata("params"), skip_first=True)
    return cls, spec, f"{singular(kind)} '{entry.name}'"
