"""The plugin manager: finds plugins, loads each one alone, fills the registries lazily.

Plugins come from three places:

* the core's built-ins (torch's optimizers and schedulers, the common element types, the
  file/directory artifact handlers), registered through the same hooks as everyone else;
* installed distributions' ``[project.entry-points.ganglion]`` entries;
* in-process registration: :func:`register` (a module or any object with hook functions).

Each entry point is imported on its own: one that fails (missing dependency, syntax error,
a hook with a wrong signature, a hook that raises, even ``sys.exit()``) is recorded with its
error, shown by the listing, and leaves the other plugins working; only ``KeyboardInterrupt``
gets through, so Ctrl-C still stops the host. Using a name such a plugin might provide gives
an error saying it failed and why. A name that two plugins register is listed as a conflict
and raises :class:`~ganglion.errors.DuplicateNameError` naming both when used.

Environment switches (entry-point names, comma separated):

* ``GANGLION_PLUGINS=asr,optim`` loads only those plugins (empty: none);
* ``GANGLION_DISABLE_PLUGINS=tts`` loads all but those.

No manager exists until something asks for one (:func:`get_plugin_manager`); tests get a
fresh one each (see :mod:`ganglion.testing`).
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pluggy

from ganglion import hookspecs
from ganglion.errors import DuplicateNameError, GanglionError
from ganglion.hookspecs import HOOK_KINDS, KIND_HOOKS
from ganglion.registry import Provider, Registry, describe_exception, singular

ENTRY_POINT_GROUP = "ganglion"
ENV_ALLOW = "GANGLION_PLUGINS"
ENV_BLOCK = "GANGLION_DISABLE_PLUGINS"

#: The core's own plugin modules (each a light module of hook implementations).
BUILTIN_PLUGINS: tuple[str, ...] = (
    "ganglion._builtin.element_types",
    "ganglion._builtin.optim",
    "ganglion._builtin.artifacts",
    "ganglion._builtin.configs",
    "ganglion._builtin.models",
)

KINDS: tuple[str, ...] = tuple(HOOK_KINDS.values())


def _core_version() -> str:
    from ganglion import __version__

    return __version__


@dataclass
class PluginInfo:
    """What is known about one plugin, loaded or failed."""

    name: str
    distribution: str | None = None
    version: str | None = None
    entry_point: str | None = None
    builtin: bool = False
    module: Any = None
    error: str | None = None  # one-line summary when the plugin failed
    error_detail: str | None = None  # full traceback
    disabled: bool = False
    kinds_done: set[str] = field(default_factory=set)

    @property
    def provider(self) -> Provider:
        return Provider(self.name, self.distribution, self.version, self.builtin)

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def error_summary(self) -> str:
        return self.error or ""


def _env_list(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


class PluginManager:
    """Loads plugins and owns one :class:`Registry` per kind.

    ``entry_points=False`` skips installed plugins (built-ins and in-process ones only);
    ``builtins=False`` skips the core's built-ins too.
    """

    def __init__(
        self,
        *,
        entry_points: bool = True,
        builtins: bool = True,
        environ: dict[str, str] | None = None,
    ) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._failed: dict[str, PluginInfo] = {}
        self._disabled: dict[str, PluginInfo] = {}
        self._registries: dict[str, Registry] = {}
        env = os.environ if environ is None else environ
        self._allow = _env_list(env.get(ENV_ALLOW))
        self._block = _env_list(env.get(ENV_BLOCK)) or set()
        if builtins:
            self._load_builtins()
        if entry_points:
            self._load_entry_points()

    # -- discovery --------------------------------------------------------------------
    def _load_builtins(self) -> None:
        import importlib

        version = _core_version()
        for module_name in BUILTIN_PLUGINS:
            short = module_name.rsplit(".", 1)[1]
            info = PluginInfo(
                name=f"ganglion.{short}",
                distribution="ganglion-core",
                version=version,
                entry_point=module_name,
                builtin=True,
            )
            self._add(info, lambda m=module_name: importlib.import_module(m))

    def _load_entry_points(self) -> None:
        from importlib.metadata import entry_points

        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
                entry_point=ep.value,
            )
            if ep.name in self.plugins or ep.name in self._failed:
                other = self.plugins.get(ep.name) or self._failed[ep.name]
                info.error = (
                    f"plugin name '{ep.name}' is also used by {other.provider}; "
                    "entry-point names must be unique"
                )
                self._failed[ep.name] = info
                continue
            if (self._allow is not None and ep.name not in self._allow) or ep.name in self._block:
                info.disabled = True
                self.disabled_plugins[ep.name] = info
                continue
            self._add(info, ep.load)

    @property
    def disabled_plugins(self) -> dict[str, PluginInfo]:
        return self._disabled

    def _add(self, info: PluginInfo, load: Callable[[], Any]) -> PluginInfo:
        try:
            module = load()
            self._pm.register(module, name=info.name)
            info.module = module
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a broken plugin, even one calling sys.exit(), must not
            self._record_failure(info, exc)  # take the host down
            return info
        self.plugins[info.name] = info
        for kind in list(self._registries):  # kinds already filled get this plugin's entries
            self._collect(info, kind)
        return info

    def _record_failure(self, info: PluginInfo, exc: BaseException) -> None:
        info.error = describe_exception(exc)
        info.error_detail = "".join(traceback.format_exception(exc))
        self._failed[info.name] = info
        self.plugins.pop(info.name, None)
        if info.module is not None:
            with contextlib.suppress(Exception):
                self._pm.unregister(info.module)
        for registry in self._registries.values():
            registry.remove_provider(info.name)

    # -- in-process registration ------------------------------------------------------
    def register(
        self,
        plugin: Any,
        name: str | None = None,
        *,
        distribution: str | None = None,
        version: str | None = None,
    ) -> PluginInfo:
        """Register a module or object holding hook implementations, as a plugin.

        Unlike entry-point plugins, errors here are raised at once: the caller is right there.
        """
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if name in self.plugins:
            raise DuplicateNameError(
                f"a plugin named '{name}' is already registered ({self.plugins[name].provider})"
            )
        info = PluginInfo(name=name, distribution=distribution, version=version)
        self._pm.register(plugin, name=name)
        info.module = plugin
        self.plugins[name] = info
        try:
            for kind in list(self._registries):
                self._collect(info, kind, raise_errors=True)
        except Exception:
            self.unregister(name)
            raise
        return info

    def unregister(self, name: str) -> None:
        """Remove a plugin and every name it registered."""
        info = self.plugins.pop(name, None) or self._failed.pop(name, None)
        if info is None:
            raise KeyError(f"no plugin named '{name}'")
        if info.module is not None:
            with contextlib.suppress(ValueError):
                self._pm.unregister(info.module)
        for registry in self._registries.values():
            registry.remove_provider(name)

    # -- registries -------------------------------------------------------------------
    def registry(self, kind: str) -> Registry:
        """The registry of ``kind``, filled from every plugin's hook on first use."""
        registry = self._registries.get(kind)
        if registry is None:
            if kind not in KIND_HOOKS:
                from ganglion.errors import did_you_mean

                raise GanglionError(
                    f"Unknown registry kind {kind!r}.{did_you_mean(kind, KINDS)} "
                    f"Known: {', '.join(KINDS)}."
                )
            registry = Registry(kind, self._failed)
            self._registries[kind] = registry
            for info in list(self.plugins.values()):
                self._collect(info, kind)
        return registry

    def _collect(self, info: PluginInfo, kind: str, raise_errors: bool = False) -> None:
        """Call ``info``'s hook for ``kind`` and add what it registers, all or nothing."""
        if kind in info.kinds_done:
            return
        info.kinds_done.add(kind)
        hook_name = KIND_HOOKS[kind]
        impls = [
            impl
            for impl in getattr(self._pm.hook, hook_name).get_hookimpls()
            if impl.plugin_name == info.name
        ]
        if not impls:
            return
        staged: list[tuple[str, Any, dict[str, Any]]] = []

        def register(name: str, target: Any, /, **metadata: Any) -> None:
            staged.append((name, target, metadata))

        registry = self._registries[kind]
        provider = info.provider
        try:
            for impl in impls:
                impl.function(register=register)
            for name, target, metadata in staged:
                override = bool(metadata.pop("override", False))
                # while loading, a clash is recorded (listed, and raised when the name is
                # used) so that neither plugin's other names are lost
                registry.add(
                    name,
                    target,
                    provider,
                    override=override,
                    record_conflict=not raise_errors,
                    **metadata,
                )
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            if raise_errors:
                raise
            self._record_failure(info, exc)
            info.error += f" (in hook {hook_name})"

    def registries(self) -> dict[str, Registry]:
        """Every registry, each filled."""
        return {kind: self.registry(kind) for kind in KINDS}

    # -- introspection ----------------------------------------------------------------
    @property
    def failed_plugins(self) -> dict[str, PluginInfo]:
        return self._failed

    def describe(self, include_builtins: bool = False) -> dict[str, Any]:
        """A JSON-ready description of every plugin and what it registers."""
        registries = self.registries()
        plugins = []
        for info in sorted(self.plugins.values(), key=lambda i: (not i.builtin, i.name)):
            if info.builtin and not include_builtins:
                continue
            registers = {}
            for kind, registry in registries.items():
                names = registry.by_provider(info.name)
                if names:
                    registers[kind] = {"count": len(names), "names": names}
            plugins.append(
                {
                    "name": info.name,
                    "distribution": info.distribution,
                    "version": info.version,
                    "entry_point": info.entry_point,
                    "builtin": info.builtin,
                    "registers": registers,
                }
            )
        failed = [
            {
                "name": info.name,
                "distribution": info.distribution,
                "version": info.version,
                "entry_point": info.entry_point,
                "error": info.error,
            }
            for info in sorted(self._failed.values(), key=lambda i: i.name)
        ]
        disabled = [
            {"name": info.name, "distribution": info.distribution, "version": info.version}
            for info in sorted(self.disabled_plugins.values(), key=lambda i: i.name)
        ]
        conflicts = [
            {
                "kind": kind,
                "name": name,
                "error": conflict.message,
                "providers": conflict.as_dict()["providers"],
            }
            for kind, registry in registries.items()
            for name, conflict in registry.conflicts().items()
        ]
        return {"plugins": plugins, "failed": failed, "disabled": disabled, "conflicts": conflicts}


# -- the current manager ------------------------------------------------------------------
_current: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process's plugin manager, created (and plugins discovered) on first call."""
    global _current
    if _current is None:
        _current = PluginManager()
    return _current


def set_plugin_manager(manager: PluginManager | None) -> PluginManager | None:
    """Make ``manager`` current (``None``: rediscover on next use); returns the previous one."""
    global _current
    previous, _current = _current, manager
    return previous


@contextlib.contextmanager
def use_plugin_manager(manager: PluginManager) -> Iterator[PluginManager]:
    """Make ``manager`` current inside a ``with`` block."""
    previous = set_plugin_manager(manager)
    try:
        yield manager
    finally:
        set_plugin_manager(previous)


def registry(kind: str) -> Registry:
    """Shortcut: the current manager's registry of ``kind``."""
    return get_plugin_manager().registry(kind)


def register(plugin: Any, name: str | None = None, **kwargs: Any) -> PluginInfo:
    """Register a whole in-process plugin (a module or object with hook functions).

    Example::

        class MyPlugin:
            @hookimpl
            def register_optimizers(self, register):
                register("mysgd", MySGD)

        ganglion.plugins.register(MyPlugin(), name="mine")
    """
    return get_plugin_manager().register(plugin, name, **kwargs)


def unregister(name: str) -> None:
    """Remove an in-process plugin and its names from the current manager."""
    get_plugin_manager().unregister(name)


def _register_one(kind: str) -> Callable[..., Any]:
    def register_one(name: str, target: Any, *, override: bool = False, **metadata: Any) -> Any:
        get_plugin_manager().registry(kind).add(name, target, override=override, **metadata)
        return target

    what = singular(kind)
    register_one.__name__ = f"register_{what.replace(' ', '_')}"
    register_one.__doc__ = (
        f"Register {'an' if what[0] in 'aeiou' else 'a'} {what} by name at run time, "
        "without packaging.\n\n"
        "``target`` is the object or a lazy ``'module:attr'`` string; ``metadata`` is stored with\n"
        "the entry. A name another provider registered is an error unless ``override=True``.\n"
        "Returns ``target`` so it can be used as a decorator helper."
    )
    return register_one


register_module = _register_one("modules")
register_model = _register_one("models")
register_element_type = _register_one("element_types")
register_loss = _register_one("losses")
register_artifact_handler = _register_one("artifact_handlers")
register_config = _register_one("configs")


def register_optimizer(
    name: str, cls: Any, params: Any = None, *, override: bool = False, **metadata: Any
) -> Any:
    """Register an optimizer class (and its params dataclass) at run time.

    Example::

        ganglion.register_optimizer("mysgd", MySGD, params=MySGDParams)
    """
    registry("optimizers").add(name, cls, override=override, params=params, **metadata)
    return cls


def register_scheduler(
    name: str, cls: Any, params: Any = None, *, override: bool = False, **metadata: Any
) -> Any:
    """Register a learning-rate scheduler class (and its params dataclass) at run time."""
    registry("schedulers").add(name, cls, override=override, params=params, **metadata)
    return cls
