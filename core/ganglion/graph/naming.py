"""Unique names for modules and graphs, and ``AppState``, which lists the live ones.

Every :class:`~ganglion.module.NeuralModule` gets a name when it is created: its class name
in lower case plus the smallest number not in use (``taylornet0``, ``taylornet1``); a graph
likewise (``neuralgraph0``). A name can be set (``module.name = "encoder"``); a name another
live object holds is refused. The registries hold weak references only: a module or graph
that is garbage-collected frees its name, and nothing is kept alive by being named.

No state is created at import: the two registries are made on first use.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["AppState", "NameRegistry", "check_name", "registry_of"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_name(name: object, *, what: str) -> str:
    """``name`` when it is a usable name (a Python identifier), else a clear error."""
    from ganglion.graph.errors import GraphError

    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise GraphError(
            f"{what}: {name!r} is not a valid name; use letters, digits and underscores, not "
            "starting with a digit (names become parameter prefixes and output fields)"
        )
    return name


class NameRegistry(Mapping[str, Any]):
    """Live objects of one kind by name (weak references), with name allocation."""

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "module" or "graph", for messages
        # name -> weak reference whose callback frees the name when the object dies
        self._by_name: dict[str, weakref.ref[Any]] = {}
        self._names: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        # automatic-name prefix -> no free number below this one (so naming the n-th module
        # of a class does not scan the n-1 names before it)
        self._lowest_free: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- allocation ------------------------------------------------------------------
    def add(self, obj: Any, name: str | None = None) -> str:
        """Give ``obj`` ``name`` (refused when another live object holds it), or the next
        free automatic name; returns the name."""
        with self._lock:
            if name is None:
                name = self._free_name(type(obj).__name__.lower())
            else:
                self._check_free(obj, name)
            old = self._names.get(obj)
            if old is not None:
                self._forget(old, obj)
            self._by_name[name] = weakref.ref(obj, self._on_death(name))
            self._names[obj] = name
            return name

    def _on_death(self, name: str) -> Any:
        def freed(ref: weakref.ref[Any]) -> None:
            # may run at any point (garbage collection): plain dict steps, no lock
            if self._by_name.get(name) is ref:
                del self._by_name[name]
                self._lower_hint(name)

        return freed

    def _forget(self, name: str, obj: Any) -> None:
        ref = self._by_name.get(name)
        if ref is not None and ref() is obj:
            del self._by_name[name]
            self._lower_hint(name)

    def _lower_hint(self, name: str) -> None:
        for prefix, lowest in list(self._lowest_free.items()):
            digits = name[len(prefix) :]
            if (
                name.startswith(prefix)
                and digits.isdigit()
                and (digits == "0" or not digits.startswith("0"))
                and int(digits) < lowest
            ):
                self._lowest_free[prefix] = int(digits)

    def release(self, obj: Any) -> None:
        """Forget ``obj`` (its name becomes free) before it is garbage-collected."""
        with self._lock:
            name = self._names.pop(obj, None)
            if name is not None:
                self._forget(name, obj)

    def name_of(self, obj: Any) -> str | None:
        """The name ``obj`` holds, or ``None``."""
        return self._names.get(obj)

    def get(self, name: str, default: Any = None) -> Any:
        """The live object named ``name``, or ``default``."""
        ref = self._by_name.get(name)
        obj = ref() if ref is not None else None
        return default if obj is None else obj

    def is_free(self, name: str) -> bool:
        """Whether no live object holds ``name``."""
        return self.get(name) is None

    def next_free(self, prefix: str) -> str:
        """The automatic name the next object with this lower-case prefix would get."""
        with self._lock:
            return self._free_name(prefix, take=False)

    def _free_name(self, prefix: str, *, take: bool = True) -> str:
        number = self._lowest_free.get(prefix, 0)
        while not self.is_free(f"{prefix}{number}"):
            number += 1
        if take:
            self._lowest_free[prefix] = number + 1
        return f"{prefix}{number}"

    def _check_free(self, obj: Any, name: str) -> None:
        holder = self.get(name)
        if holder is not None and holder is not obj:
            from ganglion.errors import DuplicateNameError

            raise DuplicateNameError(
                f"a {self.kind} named {name!r} already exists ({type(holder).__name__}); "
                f"choose another name, or delete that {self.kind} first"
            )

    # -- the Mapping view --------------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        obj = self.get(name)
        if obj is None:
            from ganglion.errors import UnknownNameError, did_you_mean

            raise UnknownNameError(
                f"no {self.kind} named {name!r}.{did_you_mean(name, self._live())} "
                f"Live {self.kind}s: {', '.join(self._live()) or 'none'}."
            )
        return obj

    def _live(self) -> list[str]:
        return sorted(name for name, ref in list(self._by_name.items()) if ref() is not None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._live())

    def __len__(self) -> int:
        return len(self._live())

    def summary(self) -> str:
        """One line per live object: its name and class (graphs: their mode and size)."""
        lines = [f"{len(self)} {self.kind}(s):"]
        for name in self:
            obj = self.get(name)
            if obj is None:
                continue
            detail = type(obj).__name__
            mode = getattr(obj, "operation_mode", None)
            if mode is not None and self.kind == "graph":
                detail += f", {mode} mode, {len(obj)} module(s), {len(obj.steps)} step(s)"
            lines.append(f"  {name}: {detail}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<{self.kind}s: {', '.join(self) or 'none'}>"


_registries: dict[str, NameRegistry] = {}
_registries_lock = threading.Lock()


def registry_of(kind: str) -> NameRegistry:
    """The process's name registry of ``kind`` (``"module"`` or ``"graph"``), made on first
    use."""
    registry = _registries.get(kind)
    if registry is None:
        with _registries_lock:
            registry = _registries.setdefault(kind, NameRegistry(kind))
    return registry


class AppState:
    """The live modules and graphs of this process, by name (NeMo's ``AppState``).

    ``AppState().modules`` and ``AppState().graphs`` are read-only mappings name -> object
    with a ``summary()``; graphs are listed only under ``graphs``. Every ``AppState()`` shows
    the same process-wide state.
    """

    @property
    def modules(self) -> NameRegistry:
        """Live neural modules (graphs excluded), by name."""
        return registry_of("module")

    @property
    def graphs(self) -> NameRegistry:
        """Live neural graphs, by name."""
        return registry_of("graph")

    def summary(self) -> str:
        """The modules' and the graphs' summaries."""
        return f"{self.modules.summary()}\n{self.graphs.summary()}"

    def __repr__(self) -> str:
        return f"AppState(modules={list(self.modules)}, graphs={list(self.graphs)})"
