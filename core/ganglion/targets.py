"""The one ``_target_`` policy: what a config may name, for archives, configs, training and graphs.

A config's ``_target_`` makes ganglion import and build something, so every place that reads
one (restoring an archive, building a model or module from its config, the dataset of a data
section, a Trainer's callbacks and loggers, a serialised graph) asks :func:`resolve_target`,
and that function applies one allow-list:

1. a name registered by a plugin as a model, module, loss, optimizer, scheduler or artifact
   handler (``ganglion list modules`` …), or the exact import path of such a registered
   object (``pkg.mod.Class`` or ``pkg.mod:Class``);
2. a class whose top-level package is ganglion's or an installed (loaded) ganglion plugin's;
3. a class under a prefix that is explicitly allowed: the core's short list of libraries whose
   classes run no foreign code when built (:data:`BUILTIN_ALLOWED`: PyTorch layers and
   datasets, Lightning's callbacks, loggers and profilers), the prefixes in the
   ``GANGLION_ALLOW_TARGETS`` environment variable (comma separated), and those allowed in the
   current context with :func:`allow_targets`.

Anything else — ``os.system``, ``subprocess.Popen``, ``builtins.eval``, a class of a package no
plugin provides — is refused *before its module is imported*, with the config key in the
message and what would make it allowed. Outside rule 1 only classes are accepted, never
functions. A caller that needs a particular kind of class passes ``base`` (``ModelPT``,
``NeuralModule``, ``Callback`` …) and gets a clear error for anything else.

Example::

    from ganglion.targets import allow_targets, resolve_target

    cls = resolve_target("my_project.models.Tagger", key="model._target_")  # refused
    with allow_targets("my_project"):
        cls = resolve_target("my_project.models.Tagger", key="model._target_")  # a class
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import types
from collections.abc import Iterator, Mapping
from typing import Any

from ganglion.errors import ConfigError

__all__ = [
    "BUILTIN_ALLOWED",
    "ENV_ALLOW_TARGETS",
    "TARGET_KINDS",
    "TargetRefusedError",
    "allow_targets",
    "allowed_prefixes",
    "check_targets",
    "kinds_first",
    "normalise_path",
    "plugin_packages",
    "resolve_target",
]

#: Registry kinds whose names (and registered targets) a config's ``_target_`` may use.
TARGET_KINDS: tuple[str, ...] = (
    "models",
    "modules",
    "losses",
    "optimizers",
    "schedulers",
    "artifact_handlers",
)

#: Environment variable: extra allowed prefixes, comma separated (``my_project,other.layers``).
ENV_ALLOW_TARGETS = "GANGLION_ALLOW_TARGETS"

#: Prefixes the core allows: classes there are built from plain arguments and run no code
#: of the config's choosing. Lightning is listed under both of its import names.
BUILTIN_ALLOWED: tuple[str, ...] = (
    "torch.nn",
    "torch.utils.data",
    *(
        f"{package}.{part}"
        for package in ("lightning.pytorch", "pytorch_lightning")
        for part in ("callbacks", "loggers", "profilers")
    ),
)

_ALLOWED: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "ganglion_allowed_targets", default=()
)


class TargetRefusedError(ConfigError):
    """A ``_target_`` that the policy does not allow, or that names the wrong kind of object."""


def normalise_path(path: str) -> str:
    """An import path in dotted form: ``pkg.mod:Class`` and ``pkg.mod.Class`` compare equal."""
    return path.strip().replace(":", ".").rstrip(".")


def kinds_first(kind: str) -> tuple[str, ...]:
    """:data:`TARGET_KINDS` with ``kind`` first (its registry names an unknown short name)."""
    return (kind, *(k for k in TARGET_KINDS if k != kind))


@contextlib.contextmanager
def allow_targets(*prefixes: str) -> Iterator[tuple[str, ...]]:
    """Allow classes under ``prefixes`` (packages, modules or single classes) inside a ``with``
    block. The allowance belongs to the current thread or asyncio task (a context variable).
    Registering a class (``ganglion.register_module`` …) is the better way for code you own."""
    for prefix in prefixes:
        if not isinstance(prefix, str) or not normalise_path(prefix):
            raise TypeError(f"allow_targets takes import-path prefixes, got {prefix!r}")
    token = _ALLOWED.set(_ALLOWED.get() + tuple(normalise_path(p) for p in prefixes))
    try:
        yield allowed_prefixes()
    finally:
        _ALLOWED.reset(token)


def allowed_prefixes(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Every explicitly allowed prefix: the core's, the environment's, the context's."""
    env = os.environ if environ is None else environ
    from_env = tuple(
        normalise_path(part) for part in env.get(ENV_ALLOW_TARGETS, "").split(",") if part.strip()
    )
    return BUILTIN_ALLOWED + from_env + _ALLOWED.get()


def plugin_packages() -> set[str]:
    """Top-level import packages of ganglion and of every loaded plugin."""
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


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".")


def _registered(target: str, kinds: tuple[str, ...], key: str) -> tuple[bool, Any]:
    """``(True, object)`` when ``target`` is a registered name or a registered object's path."""
    from ganglion.plugins import registry

    registries = [registry(kind) for kind in kinds]
    for reg in registries:
        if target in reg:
            return True, reg.resolve(target, key=key)
    path = normalise_path(target)
    for reg in registries:
        for entry in reg:
            if normalise_path(entry.target_path) == path:
                return True, entry.load()
    return False, None


def _describe(obj: Any) -> str:
    if isinstance(obj, type):
        return f"the class {obj.__module__}.{obj.__qualname__}"
    return f"a {type(obj).__name__}"


def _check_base(obj: Any, target: str, key: str, base: Any, error: type[Exception]) -> Any:
    if base is None:
        return obj
    bases = base if isinstance(base, tuple) else (base,)
    if isinstance(obj, type) and issubclass(obj, bases):
        return obj
    kinds = " or ".join(dict.fromkeys(b.__name__ for b in bases))
    raise error(f"{key}: {target!r} is {_describe(obj)}, not a {kinds}")


def resolve_target(
    target: Any,
    *,
    key: str,
    base: type | tuple[type, ...] | None = None,
    kinds: tuple[str, ...] = TARGET_KINDS,
    error: type[Exception] = TargetRefusedError,
) -> Any:
    """The object a config's ``_target_`` names, if the policy allows it (see the module doc).

    ``key`` is the config key for messages (``model.encoder._target_``); ``base`` the class(es)
    the result must subclass; ``kinds`` the registries searched by name, the first one naming
    the kind in an unknown-name error (callers put the kind they expect first); ``error`` the
    exception class for a refusal (archives raise their own). An unknown short name (no dot)
    is an :class:`~ganglion.errors.UnknownNameError` listing close matches.
    """
    from ganglion.registry import locate

    if not isinstance(target, str) or not target.strip():
        raise error(f"{key}: _target_ must be a registered name or an import path, got {target!r}")
    target = target.strip()
    found, obj = _registered(target, kinds, key)
    if found:
        return _check_base(obj, target, key, base, error)
    path = normalise_path(target)
    if "." not in path:
        from ganglion.plugins import registry

        # an unknown short name: the first kind's registry lists close matches and known names
        registry(kinds[0]).get(target, key=key)
    roots = plugin_packages()
    allowed = allowed_prefixes()
    if path.split(".")[0] not in roots and not any(_under(path, p) for p in allowed):
        raise error(
            f"{key}: {target!r} is neither a registered name nor a class of an installed ganglion "
            "plugin, so it was refused without being imported. Register it "
            "(ganglion.register_module / register_model …, or a plugin's hook), or allow its "
            f"package: {ENV_ALLOW_TARGETS}=<package> in the environment, or "
            "`with ganglion.targets.allow_targets('<package>'):` in Python. Packages allowed now: "
            f"{', '.join(sorted(roots))}, and {', '.join(allowed)}"
        )
    try:
        obj = locate(target)
    except (ImportError, AttributeError, ValueError) as exc:
        raise error(f"{key}: cannot import {target!r}: {type(exc).__name__}: {exc}") from None
    if not isinstance(obj, type):
        raise error(
            f"{key}: {target!r} is {_describe(obj)}, not a class; a config's _target_ may name "
            "only classes (or registered names)"
        )
    if _under(path, "torch.nn"):
        import torch

        if not issubclass(obj, torch.nn.Module):
            raise error(f"{key}: {target!r} is not a torch.nn.Module; of torch.nn, only layers")
    return _check_base(obj, target, key, base, error)


def check_targets(
    config: Any, *, source: str, error: type[Exception] = TargetRefusedError
) -> list[tuple[str, Any]]:
    """Resolve every ``_target_`` in a plain nested config; returns ``(key, object)`` pairs.

    ``source`` (an archive member, a file) prefixes the keys in messages. Used to vet a whole
    config before anything in it is built.
    """
    found: list[tuple[str, Any]] = []
    stack: list[tuple[Any, str]] = [(config, "")]
    while stack:  # iterative: a deeply nested config cannot exhaust the recursion limit
        node, key = stack.pop()
        if isinstance(node, Mapping):
            for k, value in node.items():
                child = f"{key}.{k}" if key else str(k)
                if k == "_target_":
                    where = f"{source}: {child}" if source else child
                    found.append((child, resolve_target(value, key=where, error=error)))
                else:
                    stack.append((value, child))
        elif isinstance(node, list | tuple):
            stack.extend((value, f"{key}[{i}]") for i, value in enumerate(node))
    return found
