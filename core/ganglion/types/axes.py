"""Axes of a neural type: what each dimension of a tensor means, and optionally its size.

Two classes:

* :class:`AxisKind` — the meaning of an axis (``AxisKind.Batch``, ``AxisKind.Time`` …).
  Unlike a closed enum, plugins add their own kinds with :meth:`AxisKind.add`.
* :class:`AxisType` — one axis of a type: a kind plus an optional enforced size.

Both are immutable and hashable; an axis kind is a singleton per name, so ``is`` and ``==``
agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from ganglion.errors import did_you_mean


class AxisKind:
    """The meaning of a tensor axis.

    Built-in kinds (short token in parentheses): ``Batch`` (``B``), ``Time`` (``T``),
    ``Dimension`` (``D``), ``Channel`` (``C``), ``Width`` (``W``), ``Height`` (``H``),
    ``Sequence`` (``S``) and ``Any``, which matches every kind on the receiving side.

    ``AxisKind("T")``, ``AxisKind("time")`` and ``AxisKind.Time`` are the same object: the
    constructor looks a kind up by name, short token or alias (case-insensitive).

    Plugins add kinds with :meth:`add`, usually at the top of the module that defines their
    element types::

        Frequency = AxisKind.add("Frequency", short="F", description="frequency bins")

    For ``"B,F,T"`` strings in configs to find such a kind before that module was imported,
    the plugin names its kinds in the metadata of one of its element-type registrations
    (``register("PitchType", "pkg.types:PitchType", axis_kinds=["Frequency"])``): parsing
    an unknown axis name imports the modules of registrations that declare ``axis_kinds``
    and looks again.
    """

    __slots__ = ("name", "short", "aliases", "description")

    # name -> kind, and lower-cased token (name, short, alias) -> kind
    _by_name: ClassVar[dict[str, AxisKind]] = {}
    _by_token: ClassVar[dict[str, AxisKind]] = {}

    # the built-ins, set below the class (declared here for type checkers and readers)
    Batch: ClassVar[AxisKind]
    Time: ClassVar[AxisKind]
    Dimension: ClassVar[AxisKind]
    Channel: ClassVar[AxisKind]
    Width: ClassVar[AxisKind]
    Height: ClassVar[AxisKind]
    Sequence: ClassVar[AxisKind]
    Any: ClassVar[AxisKind]

    name: str
    short: str | None
    aliases: tuple[str, ...]
    description: str

    def __new__(cls, token: str | AxisKind) -> AxisKind:
        if isinstance(token, AxisKind):
            return token
        found = cls.lookup(token)
        if found is None:
            failures = _load_declared_axis_kinds()
            found = cls.lookup(token)
            if found is None:
                raise ValueError(cls._unknown_message(token) + failures)
        return found

    @classmethod
    def lookup(cls, token: str) -> AxisKind | None:
        """The kind called ``token`` (name, short token or alias, any case), or ``None``."""
        if not isinstance(token, str):
            raise TypeError(f"an axis kind is named by a string, got {token!r}")
        return cls._by_token.get(token.strip().lower())

    @classmethod
    def _unknown_message(cls, token: str) -> str:
        tokens = [k.short or k.name for k in cls._by_name.values()]
        names = list(cls._by_name)
        hint = did_you_mean(token, names + [t for t in tokens if t])
        known = ", ".join(f"{k.short} ({k.name})" if k.short else k.name for k in cls.kinds())
        return f"Unknown axis kind {token!r}.{hint} Known: {known}."

    @classmethod
    def add(
        cls,
        name: str,
        short: str | None = None,
        *,
        aliases: Iterable[str] = (),
        description: str = "",
    ) -> AxisKind:
        """Define a new axis kind and return it; it becomes ``AxisKind.<name>`` too.

        ``name`` must be an identifier; ``short`` is the token used in compact type strings
        (``"F"`` in ``"B,F,T"``). Adding a kind that exists with the same definition returns
        the existing one (so a module may be imported twice); a different definition, or a
        token another kind already uses, is an error naming both.
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"axis kind names must be identifiers, got {name!r}")
        aliases = tuple(aliases)
        existing = cls._by_name.get(name)
        if existing is not None:
            if existing.short == short and set(existing.aliases) >= set(aliases):
                return existing
            raise ValueError(
                f"axis kind {name!r} already exists with short={existing.short!r}, "
                f"aliases={existing.aliases!r}; it cannot be redefined"
            )
        if name.startswith("_") or name in cls.__dict__:
            raise ValueError(f"{name!r} cannot be an axis kind: it clashes with AxisKind.{name}")
        tokens = [name, *([short] if short else []), *aliases]
        for token in tokens:
            if not isinstance(token, str) or not token.strip() or not _is_token(token):
                raise ValueError(
                    f"axis kind {name!r}: token {token!r} must be letters, digits or '_'"
                )
            clash = cls._by_token.get(token.lower())
            if clash is not None:
                raise ValueError(
                    f"axis kind {name!r}: token {token!r} is already used by AxisKind."
                    f"{clash.name}; choose another short name or alias"
                )
        kind = object.__new__(cls)
        object.__setattr__(kind, "name", name)
        object.__setattr__(kind, "short", short)
        object.__setattr__(kind, "aliases", aliases)
        object.__setattr__(kind, "description", description)
        cls._by_name[name] = kind
        for token in tokens:
            cls._by_token[token.lower()] = kind
        type.__setattr__(cls, name, kind)
        return kind

    @classmethod
    def kinds(cls) -> tuple[AxisKind, ...]:
        """Every known kind, built-ins first, in the order they were added."""
        return tuple(cls._by_name.values())

    @classmethod
    def from_str(cls, token: str) -> AxisKind:
        """The kind called ``token`` (``"B"``, ``"batch"``, ``"Batch"`` …); NeMo's spelling."""
        return cls(token)

    @property
    def token(self) -> str:
        """How this kind is written in compact type strings: its short token, else its name."""
        return self.short or self.name

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("AxisKind objects are immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (AxisKind, (self.name,))

    def __copy__(self) -> AxisKind:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> AxisKind:
        return self

    def __repr__(self) -> str:
        return f"AxisKind.{self.name}"

    def __str__(self) -> str:
        return self.name


def _load_declared_axis_kinds() -> str:
    """Import the element-type modules whose registrations declare ``axis_kinds``.

    Returns a note on registrations that failed to import ("" when none did), for the
    unknown-kind message.
    """
    from ganglion.plugins import registry

    notes = []
    for entry in registry("element_types"):
        if entry.metadata.get("axis_kinds"):
            try:
                entry.load()
            except Exception as exc:  # the unknown-kind error says which plugin broke
                notes.append(str(exc))
    return (" Note: " + "; ".join(notes)) if notes else ""


def _is_token(token: str) -> bool:
    return all(ch.isalnum() or ch == "_" for ch in token)


# The built-in kinds: like the members of an enum, part of the class's definition.
for _name, _short, _aliases in (
    ("Batch", "B", ()),
    ("Time", "T", ()),
    ("Dimension", "D", ("dim",)),
    ("Channel", "C", ()),
    ("Width", "W", ()),
    ("Height", "H", ()),
    ("Sequence", "S", ("seq",)),
    ("Any", None, ()),
):
    AxisKind.add(_name, _short, aliases=_aliases)
del _name, _short, _aliases


class AxisType:
    """One axis of a neural type: its kind and, optionally, an enforced size.

    ``AxisType(AxisKind.Batch, 64)`` is a batch axis of exactly 64; ``AxisType("T")`` a time
    axis of any length. ``kind`` may be an :class:`AxisKind` or any token it accepts.
    """

    __slots__ = ("kind", "size", "_hash")

    kind: AxisKind
    size: int | None

    def __init__(self, kind: AxisKind | str, size: int | None = None) -> None:
        kind = AxisKind(kind)
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise ValueError(
                f"axis {kind.name}: size must be a non-negative int or None, got {size!r}"
            )
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "_hash", hash((kind, size)))

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("AxisType objects are immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AxisType):
            return NotImplemented
        return self.kind is other.kind and self.size == other.size

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[Any, ...]:
        return (AxisType, (self.kind, self.size))

    def __repr__(self) -> str:
        size = "" if self.size is None else f", {self.size}"
        return f"AxisType({self.kind!r}{size})"

    def __str__(self) -> str:
        return self.kind.token if self.size is None else f"{self.kind.token}={self.size}"
