"""Where Hydra finds configs: the core's own and what plugins register with
``register_configs``.

A registration is a config directory (``pkg://package.conf`` or ``file:///abs/dir``), which
joins Hydra's search path, or a dataclass or mapping, which is stored in Hydra's ConfigStore
under its registered name (``--config-name <name>`` then finds it without a YAML).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping

__all__ = ["CORE_CONFIGS_SEARCH_PATH", "config_search_path"]

#: The core's Hydra config source (its optimizer presets: ``model/optim/adam.yaml``, ...).
CORE_CONFIGS_SEARCH_PATH = "pkg://ganglion.conf"


def config_search_path() -> list[str]:
    """Hydra search-path entries from ``register_configs``, the core's last (a plugin's config
    of the same name comes first); dataclass or mapping entries are stored in Hydra's
    ConfigStore under their registered name instead. A registration that cannot be used is
    left out with a warning naming it and its plugin."""
    from hydra.core.config_store import ConfigStore

    from ganglion.plugins import registry
    from ganglion.registry import import_target

    sources: list[str] = []
    store = ConfigStore.instance()
    for entry in registry("configs"):
        target = entry.target
        if isinstance(target, str) and target.startswith(("pkg://", "file://")):
            if target not in sources and target != CORE_CONFIGS_SEARCH_PATH:
                sources.append(target)
            continue
        problem = None
        if isinstance(target, str) and ":" in target:
            try:
                target = import_target(target)
            except Exception as exc:  # one broken plugin must not stop every training run
                problem = f"points at {entry.target!r}, which failed to import: {exc}"
        if problem is None and (
            (isinstance(target, type) and dataclasses.is_dataclass(target))
            or isinstance(target, Mapping)
        ):
            store.store(name=entry.name, node=target)
            continue
        warnings.warn(
            f"config '{entry.name}' registered by {entry.provider} is left out: "
            + (
                problem
                or f"{target!r} is not 'pkg://package.conf', 'file:///abs/dir', a dataclass "
                "or a mapping"
            ),
            stacklevel=2,
        )
    sources.append(CORE_CONFIGS_SEARCH_PATH)
    return sources
