"""Named registries: one per kind of thing plugins provide.

A :class:`Registry` maps names to :class:`Entry` objects. An entry remembers who registered
it (its :class:`Provider`), its target (an object or a lazy ``"module:attr"`` string,
imported on first :meth:`Entry.load`) and free-form metadata.

Registries are owned by a plugin manager (:mod:`ganglion.plugins`), which fills each one
lazily from the plugins' hooks the first time it is used; nothing here is filled at import.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ganglion.errors import DuplicateNameError, PluginLoadError, UnknownNameError, did_you_mean

#: Kinds whose targets are plain values (not ``module:attr`` strings to import).
VALUE_KINDS = frozenset({"configs"})


def known_provider(kind: str, name: str) -> str | None:
    """The distribution of ganglion's own known to provide ``name`` of ``kind``, so that
    asking for one that is not installed says what to install instead of only "unknown"."""
    from ganglion._known import KNOWN  # small static table, imported on demand

    return KNOWN.get(kind, {}).get(name)


@dataclass(frozen=True)
class Provider:
    """Who registered an entry: a plugin (entry-point name) and its distribution."""

    plugin: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False

    def __str__(self) -> str:
        if self.distribution:
            where = f"{self.distribution} {self.version}" if self.version else self.distribution
            return where if self.builtin else f"{where} (plugin '{self.plugin}')"
        return f"plugin '{self.plugin}' (registered in-process)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
            "builtin": self.builtin,
        }


#: Provider used for registrations made at run time with ``ganglion.register_*``.
RUNTIME = Provider("runtime")


def import_target(target: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the attribute."""
    module_name, sep, attr_path = target.partition(":")
    if not sep or not module_name or not attr_path:
        raise ValueError(f"lazy target {target!r} must look like 'package.module:attribute'")
    obj: Any = importlib.import_module(module_name)
    for part in attr_path.split("."):
        obj = getattr(obj, part)
    return obj


def locate(target: str) -> Any:
    """Import ``"package.module:attr.sub"`` or ``"package.module.attr.sub"`` and return the
    attribute; a dotted path is split after its longest importable module.

    Raises ``ValueError`` for a path that is not of either form, ``ImportError`` or
    ``AttributeError`` when it names nothing. A module that exists but fails to import (a
    missing dependency) raises its own error, not "not found".
    """
    if ":" in target:
        return import_target(target)
    parts = target.split(".")
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"{target!r} is not an import path like 'package.module.Class'")
    not_found: ModuleNotFoundError | None = None
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # only "this prefix is not a module" moves on to a shorter one
            missing = exc.name or ""
            if missing and not (module_name + ".").startswith(missing + "."):
                raise
            not_found = exc
            continue
        for part in parts[split:]:
            obj = getattr(obj, part)
        return obj
    raise not_found or ImportError(f"no importable module in {target!r}")


def qualified_name(obj: Any) -> str:
    """``"module:qualname"`` of a class or function (the inverse of :func:`import_target`)."""
    return f"{obj.__module__}:{obj.__qualname__}"


@dataclass
class Entry:
    """One registered name."""

    kind: str
    name: str
    target: Any
    provider: Provider
    metadata: dict[str, Any] = field(default_factory=dict)
    _loaded: Any = field(default=None, repr=False)
    _is_loaded: bool = field(default=False, repr=False)

    @property
    def is_lazy(self) -> bool:
        return isinstance(self.target, str) and self.kind not in VALUE_KINDS

    @property
    def target_path(self) -> str:
        """The target as a ``module:attr`` string (for listings and saved configs)."""
        if isinstance(self.target, str):
            return self.target
        try:
            return qualified_name(self.target)
        except AttributeError:
            return repr(self.target)

    def load(self) -> Any:
        """The registered object, importing a lazy target the first time."""
        if not self._is_loaded:
            if self.is_lazy:
                try:
                    self._loaded = import_target(self.target)
                except Exception as exc:
                    raise PluginLoadError(
                        f"{singular(self.kind)} '{self.name}' registered by "
                        f"{self.provider} points at {self.target!r}, which failed to import: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
            else:
                self._loaded = self.target
            self._is_loaded = True
        return self._loaded

    def load_metadata(self, key: str) -> Any:
        """A metadata value, importing it first when it is a lazy ``module:attr`` string."""
        value = self.metadata.get(key)
        if isinstance(value, str) and ":" in value:
            value = import_target(value)
            self.metadata[key] = value
        return value

    def as_dict(self) -> dict[str, Any]:
        meta = {
            k: (v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else repr(v))
            for k, v in sorted(self.metadata.items())
        }
        return {
            "name": self.name,
            "target": self.target_path,
            "provider": self.provider.as_dict(),
            "metadata": meta,
        }


def singular(kind: str) -> str:
    """``"element_types"`` -> ``"element type"``, ``"losses"`` -> ``"loss"`` (for messages)."""
    if kind.endswith("sses"):
        kind = kind[:-2]
    elif kind.endswith("s"):
        kind = kind[:-1]
    return kind.replace("_", " ")


class Registry:
    """All names of one kind, with who registered each.

    Lookups of an unknown name raise :class:`UnknownNameError` listing close matches and
    every known name; a name registered by two providers raises
    :class:`DuplicateNameError` naming both.
    """

    def __init__(self, kind: str, failed_plugins: dict[str, Any] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        #: name -> the error to raise when it is used (clashes found while loading plugins)
        self._poisoned: dict[str, Exception] = {}
        # shared with the plugin manager so unknown-name errors can mention broken plugins
        self._failed_plugins = failed_plugins if failed_plugins is not None else {}

    # -- registering ------------------------------------------------------------------
    def add(
        self,
        name: str,
        target: Any,
        provider: Provider = RUNTIME,
        *,
        override: bool = False,
        **metadata: Any,
    ) -> Entry:
        """Register ``name``; an existing name from a provider is an error unless ``override``."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"{singular(self.kind)} names must be non-empty strings, got {name!r}")
        if isinstance(target, str) and self.kind not in VALUE_KINDS and ":" not in target:
            raise ValueError(
                f"{singular(self.kind)} '{name}' from {provider}: lazy target {target!r} must "
                "look like 'package.module:attribute'"
            )
        existing = self._entries.get(name)
        if existing is not None and not override:
            raise DuplicateNameError(
                f"{singular(self.kind)} '{name}' is registered by both {existing.provider} and "
                f"{provider}; uninstall or disable one of them (GANGLION_DISABLE_PLUGINS), or "
                "pass override=True to replace it on purpose"
            )
        entry = Entry(self.kind, name, target, provider, dict(metadata))
        self._entries[name] = entry
        self._poisoned.pop(name, None)
        return entry

    def poison(self, name: str, error: Exception) -> None:
        """Make every later use of ``name`` raise ``error`` (a clash between plugins)."""
        self._poisoned[name] = error

    def conflicts(self) -> dict[str, Exception]:
        """Names registered by two plugins while loading, with the error their use raises."""
        return dict(self._poisoned)

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)

    # -- looking up -------------------------------------------------------------------
    def get(self, name: str, *, key: str | None = None) -> Entry:
        """The entry for ``name``; ``key`` (e.g. ``"model.optim.name"``) goes in errors."""
        if name in self._poisoned:
            raise self._poisoned[name]
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self._unknown_message(name, key)) from None

    def resolve(self, name: str, *, key: str | None = None) -> Any:
        """The object registered as ``name`` (imported on first use)."""
        return self.get(name, key=key).load()

    def find_by_target(self, obj: Any) -> Entry | None:
        """The entry whose target is ``obj`` (or its ``module:attr`` path), if any."""
        path = obj if isinstance(obj, str) else qualified_name(obj)
        for entry in self._entries.values():
            if entry.target is obj or entry.target_path == path:
                return entry
        return None

    def _unknown_message(self, name: str, key: str | None) -> str:
        what = singular(self.kind)
        where = f" ({key})" if key else ""
        msg = f"Unknown {what} {name!r}{where}."
        dist = known_provider(self.kind, name)
        if dist:
            msg += f" It is provided by the '{dist}' distribution: pip install {dist}."
        msg += did_you_mean(name, self._entries)
        known = ", ".join(sorted(self._entries, key=str.lower)) or "none"
        msg += f" Known: {known}."
        if self._failed_plugins:
            broken = "; ".join(
                f"'{p}' ({info.error_summary})" for p, info in sorted(self._failed_plugins.items())
            )
            msg += f" Note: these plugins failed to load and may provide it: {broken}."
        return msg

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name.lower()))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return sorted(self._entries, key=str.lower)

    def by_provider(self, plugin: str) -> list[str]:
        """Names registered by the plugin called ``plugin``."""
        return sorted(
            (e.name for e in self._entries.values() if e.provider.plugin == plugin), key=str.lower
        )

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} names)"
