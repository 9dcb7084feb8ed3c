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
VALUE_KINDS = frozenset({"configs", "pretrained"})


def known_provider(kind: str, name: str) -> str | None:
    """The distribution of ganglion's own known to provide ``name`` of ``kind``, so that
    asking for one that is not installed says what to install instead of only "unknown"."""
    from ganglion.known_names import KNOWN  # small static table, imported on demand

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
                self._loaded = self._import(self.target, what="points at ")
            else:
                self._loaded = self.target
            self._is_loaded = True
        return self._loaded

    def load_metadata(self, key: str) -> Any:
        """A metadata value, importing it first when it is a lazy ``module:attr`` string."""
        value = self.metadata.get(key)
        if isinstance(value, str) and ":" in value:
            value = self._import(value, what=f"gives {key}=")
            self.metadata[key] = value
        return value

    def _import(self, target: str, what: str) -> Any:
        try:
            return import_target(target)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit too: a plugin's import must not end the host
            raise PluginLoadError(
                f"{singular(self.kind)} '{self.name}' registered by {self.provider} {what}"
                f"{target!r}, which failed to import: {describe_exception(exc)}"
            ) from exc

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


def describe_exception(exc: BaseException) -> str:
    """``"ValueError: bad value"`` on one line; ``SystemExit`` says the code it exited with."""
    if isinstance(exc, SystemExit):
        return f"SystemExit: it called sys.exit({exc.code!r})"
    message = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _joined(items: list[str]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


@dataclass
class Conflict:
    """A name that several plugins registered while loading: unusable until all but one go.

    ``entries`` are the registrations in the order they were made (the first one is what a
    listing shows as the name's entry).
    """

    kind: str
    name: str
    entries: list[Entry]

    @property
    def providers(self) -> list[Provider]:
        return [entry.provider for entry in self.entries]

    def _registered_once(self) -> bool:
        return len({str(p) for p in self.providers}) == 1

    @property
    def advice(self) -> str:
        """What settles the conflict (the part of :attr:`message` after the ``;``)."""
        if self._registered_once():
            return "register it once"
        plugins = dict.fromkeys(p.plugin for p in self.providers if not p.builtin)
        disable = " or ".join(f"GANGLION_DISABLE_PLUGINS={plugin}" for plugin in plugins)
        return "uninstall or disable all but one of them" + (f" ({disable})" if disable else "")

    @property
    def message(self) -> str:
        what = f"{singular(self.kind)} '{self.name}'"
        providers = [str(p) for p in self.providers]
        if self._registered_once():
            return f"{what} is registered more than once by {providers[0]}; {self.advice}"
        both = "both " if len(providers) == 2 else ""
        return f"{what} is registered by {both}{_joined(providers)}; {self.advice}"

    def error(self) -> DuplicateNameError:
        """The error that using the name raises."""
        return DuplicateNameError(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "providers": [
                {**entry.provider.as_dict(), "target": entry.target_path} for entry in self.entries
            ],
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
        #: names that two plugins registered while loading; using one raises
        self._conflicts: dict[str, Conflict] = {}
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
        record_conflict: bool = False,
        **metadata: Any,
    ) -> Entry:
        """Register ``name``; an existing name from a provider is an error unless ``override``.

        With ``record_conflict`` (the plugin manager's choice while loading plugins) a taken
        name is not an error here: both registrations are kept as a :class:`Conflict`, listed
        as such, and every use of the name raises :class:`DuplicateNameError` naming them.
        """
        if not isinstance(name, str) or not name:
            raise TypeError(f"{singular(self.kind)} names must be non-empty strings, got {name!r}")
        if isinstance(target, str) and self.kind not in VALUE_KINDS and ":" not in target:
            raise ValueError(
                f"{singular(self.kind)} '{name}' from {provider}: lazy target {target!r} must "
                "look like 'package.module:attribute'"
            )
        entry = Entry(self.kind, name, target, provider, dict(metadata))
        existing = self._entries.get(name)
        if existing is not None and not override:
            if record_conflict:
                conflict = self._conflicts.setdefault(name, Conflict(self.kind, name, [existing]))
                conflict.entries.append(entry)
                return entry
            raise DuplicateNameError(
                f"{singular(self.kind)} '{name}' is registered by both {existing.provider} and "
                f"{provider}; uninstall or disable one of them (GANGLION_DISABLE_PLUGINS), or "
                "pass override=True to replace it on purpose"
            )
        self._entries[name] = entry
        self._conflicts.pop(name, None)  # an override settles a conflict on purpose
        return entry

    def conflicts(self) -> dict[str, Conflict]:
        """Names that several plugins registered while loading, sorted by name."""
        return dict(sorted(self._conflicts.items()))

    def conflict(self, name: str) -> Conflict | None:
        """The conflict over ``name``, or ``None`` when at most one provider registered it."""
        return self._conflicts.get(name)

    def remove(self, name: str) -> None:
        """Forget ``name`` (every registration of it)."""
        self._entries.pop(name, None)
        self._conflicts.pop(name, None)

    def remove_provider(self, plugin: str) -> list[str]:
        """Forget what the plugin called ``plugin`` registered; returns those names.

        A conflict that this leaves with one registration is settled: that one is the entry.
        """
        removed = self.by_provider(plugin)
        for name in removed:
            conflict = self._conflicts.get(name)
            if conflict is None:
                del self._entries[name]
                continue
            conflict.entries = [e for e in conflict.entries if e.provider.plugin != plugin]
            if len(conflict.entries) > 1:
                self._entries[name] = conflict.entries[0]
            else:
                del self._conflicts[name]
                if conflict.entries:
                    self._entries[name] = conflict.entries[0]
                else:
                    del self._entries[name]
        return removed

    # -- looking up -------------------------------------------------------------------
    def get(self, name: str, *, key: str | None = None) -> Entry:
        """The entry for ``name``; ``key`` (e.g. ``"model.optim.name"``) goes in errors."""
        conflict = self._conflicts.get(name)
        if conflict is not None:
            raise conflict.error()
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
        """Names registered by the plugin called ``plugin`` (conflicting ones included)."""
        names = {e.name for e in self._entries.values() if e.provider.plugin == plugin}
        names.update(
            name
            for name, conflict in self._conflicts.items()
            if any(p.plugin == plugin for p in conflict.providers)
        )
        return sorted(names, key=str.lower)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} names)"
