"""Which classes a restored config's ``_target_`` may name (the archive's allow-list).

Kept as it was when the archive was one module; the core's single ``_target_`` resolver
(:mod:`ganglion.targets`) replaces it.
"""

from __future__ import annotations

import types
from typing import Any

from ganglion.archive.errors import ArchiveError, UnsafeArchiveError
from ganglion.registry import locate

__all__ = ["TARGET_KINDS", "resolve_config_target"]


#: Registry kinds whose names (and registered targets) a config's ``_target_`` may use.
TARGET_KINDS = ("models", "modules", "losses", "optimizers", "schedulers", "artifact_handlers")


def _plugin_packages() -> set[str]:
    """Top-level packages of every loaded plugin (and ganglion's own)."""
    from ganglion.plugins import get_plugin_manager

    roots = {"ganglion"}
    for info in get_plugin_manager().plugins.values():
        if info.entry_point:
            roots.add(info.entry_point.split(":")[0].split(".")[0])
        elif info.module is not None:
            module = info.module
            if isinstance(module, types.ModuleType):
                name = module.__name__
            elif isinstance(module, type):
                name = module.__module__
            else:
                name = type(module).__module__
            roots.add(name.split(".")[0])
    return roots


def _colon_forms(target: str) -> set[str]:
    """``a.b.C`` -> {``a.b:C``, ``a:b.C``}; a ``module:attr`` target is kept as is."""
    if ":" in target:
        return {target}
    parts = target.split(".")
    return {".".join(parts[:i]) + ":" + ".".join(parts[i:]) for i in range(1, len(parts))}


def resolve_config_target(target: Any, *, where: str) -> Any:
    """The class a restored config's ``_target_`` names, if an archive may name it at all.

    Allowed, in this order:

    1. a name registered by any plugin as a model, module, loss, optimizer, scheduler or
       artifact handler (``ganglion list modules`` …);
    2. the exact import path of such a registered class (``pkg.mod.Class`` or ``pkg.mod:Class``);
    3. a class (not a function) whose top-level package is an installed plugin's package or
       ganglion's, or a ``torch.nn`` module class (building a layer runs no foreign code).

    Anything else — ``os.system``, ``subprocess.Popen``, ``builtins.eval`` — is refused with
    :class:`UnsafeArchiveError` before its module is imported. ``where`` names the config key
    for the message.
    """
    from ganglion.plugins import registry

    if not isinstance(target, str) or not target.strip():
        raise UnsafeArchiveError(
            f"{where}: _target_ must be a name or an import path, got {target!r}"
        )
    registries = [registry(kind) for kind in TARGET_KINDS]
    for reg in registries:
        if target in reg:
            return reg.resolve(target, key=where)
    forms = _colon_forms(target)
    for reg in registries:
        for entry in reg:
            if entry.target_path in forms:
                return entry.load()
    roots = _plugin_packages()
    root = target.split(":")[0].split(".")[0]
    torch_layer = target.startswith(("torch.nn.", "torch.nn:"))
    if root in roots or torch_layer:
        try:
            obj = locate(target)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ArchiveError(f"{where}: cannot import {target!r}: {exc}") from exc
        if not isinstance(obj, type):
            raise UnsafeArchiveError(
                f"{where}: {target!r} is a {type(obj).__name__}, not a class; an archive's config "
                "may only name classes"
            )
        if torch_layer:
            import torch

            if not issubclass(obj, torch.nn.Module):
                raise UnsafeArchiveError(
                    f"{where}: {target!r} is not a torch.nn.Module; of torch, an archive's "
                    "config may only name layers"
                )
        return obj
    raise UnsafeArchiveError(
        f"{where}: {target!r} is neither a registered name nor a class of an installed plugin, "
        "so it was refused without being imported or called. Allowed: names listed by "
        "`ganglion list modules` (and models, losses, optimizers, schedulers), or classes in "
        f"the packages {', '.join(sorted(roots))}; a plugin adds names with its "
        "register_modules hook (ganglion.register_module at run time)"
    )
