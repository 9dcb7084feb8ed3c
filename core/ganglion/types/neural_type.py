"""``NeuralType``: the axes and the element type of a tensor, and how two types compare."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from ganglion.types.axes import AxisKind, AxisType
from ganglion.types.comparison import NeuralTypeComparisonResult as R
from ganglion.types.elements import ElementType, VoidType
from ganglion.types.errors import NeuralTypeError

#: A compare cache larger than this is dropped and refilled: it only grows past it when
#: types are built on the fly in a loop, and then old entries are unlikely to be reused.
_CACHE_LIMIT = 1024


class NeuralType:
    """What a tensor holds: the meaning (and optionally the size) of each axis, and the
    meaning of its elements.

    ``axes`` in short notation — ``("B", "D", "T")``, ``tuple("B")`` — or long notation —
    ``(AxisType(AxisKind.Batch, 64), ...)``; ``None`` leaves the layout open (any rank) and
    ``()`` is a scalar. ``elements_type`` is an :class:`ElementType` (its class, or its
    registered name, also work) and defaults to :class:`VoidType`. ``optional`` marks a port
    that may be left out or given ``None``.

    A string is the whole type in compact form (see :mod:`ganglion.types.parsing`)::

        NeuralType(("B", "T"), AudioSignal(16000)) is NeuralType("B,T:AudioSignal(16000)")

    Types are immutable and interned: equal types are the same object, so comparisons are
    cached per pair and cost one dictionary lookup after the first.
    """

    __slots__ = ("axes", "elements_type", "optional", "rank", "sizes", "_results", "__weakref__")

    _interned: ClassVar[weakref.WeakValueDictionary[tuple[Any, ...], NeuralType]] = (
        weakref.WeakValueDictionary()
    )

    axes: tuple[AxisType, ...] | None
    elements_type: ElementType
    optional: bool
    #: Number of axes (``None`` when the layout is open).
    rank: int | None
    #: ``(axis index, size)`` for every axis with an enforced size.
    sizes: tuple[tuple[int, int], ...]

    def __new__(
        cls,
        axes: Iterable[str | AxisKind | AxisType] | str | None = None,
        elements_type: ElementType | type[ElementType] | str | None = None,
        optional: bool = False,
    ) -> NeuralType:
        if isinstance(axes, str):
            from ganglion.types.parsing import parse_neural_type

            parsed = parse_neural_type(axes)
            if elements_type is not None and not isinstance(parsed.elements_type, VoidType):
                raise ValueError(
                    f"NeuralType({axes!r}, {elements_type!r}): the string already names the "
                    "element type; give it once"
                )
            axes_t = parsed.axes
            element = parsed.elements_type if elements_type is None else _element(elements_type)
            optional = optional or parsed.optional
        else:
            axes_t = _axes(axes)
            element = _element(elements_type)
        key = (cls, axes_t, element, bool(optional))
        existing = cls._interned.get(key)
        if existing is not None:
            return existing
        self = object.__new__(cls)
        setter = object.__setattr__
        setter(self, "axes", axes_t)
        setter(self, "elements_type", element)
        setter(self, "optional", bool(optional))
        setter(self, "rank", None if axes_t is None else len(axes_t))
        sizes = (
            ()
            if axes_t is None
            else tuple((i, ax.size) for i, ax in enumerate(axes_t) if ax.size is not None)
        )
        setter(self, "sizes", sizes)
        setter(self, "_results", {})
        cls._interned[key] = self
        return self

    # -- comparing --------------------------------------------------------------------
    def compare(self, second: NeuralType) -> R:
        """How a value of type ``second`` fits a port of this type.

        ``SAME`` or ``GREATER`` means accepted; see :class:`NeuralTypeComparisonResult`
        for the others and :meth:`explain` for the reason in words. The optional flag is
        about the port, not the values, and plays no part. Results are cached.
        """
        result = self._results.get(second)
        if result is None:
            if not isinstance(second, NeuralType):
                raise TypeError(f"can only compare with a NeuralType, got {second!r}")
            result = compare_types(self, second)[0]
            if len(self._results) >= _CACHE_LIMIT:
                self._results.clear()
            self._results[second] = result
        return result

    def explain(self, second: NeuralType) -> tuple[R, str]:
        """``(result, reason)``: :meth:`compare` plus a sentence saying why."""
        if not isinstance(second, NeuralType):
            raise TypeError(f"can only compare with a NeuralType, got {second!r}")
        return compare_types(self, second)

    def accepts(self, second: NeuralType) -> bool:
        """True when a port of this type accepts a value of type ``second``."""
        return self.compare(second).accepted

    def compare_and_raise_error(
        self, parent_type_name: str, port_name: str, second_object: NeuralType
    ) -> None:
        """Raise :class:`NeuralTypeError` unless ``second_object`` fits this port."""
        result = self.compare(second_object)
        if not result.accepted:
            _, reason = self.explain(second_object)
            raise NeuralTypeError(
                f"{parent_type_name}: port '{port_name}' expected {self}, got {second_object} "
                f"({result.name}): {reason}",
                owner=parent_type_name,
                port=port_name,
                expected=self,
                given=second_object,
                result=result,
                reason=reason,
            )

    # -- text form --------------------------------------------------------------------
    @classmethod
    def parse(
        cls,
        text: str,
        *,
        element_types: Mapping[str, type[ElementType]] | None = None,
        where: str | None = None,
    ) -> NeuralType:
        """The type written as ``text`` (``"B,T:AudioSignal(16000)"``); see
        :mod:`ganglion.types.parsing` for the grammar. Element types are looked up in
        ``element_types`` first, then among registered element types; ``where`` (a config
        key or file) is named in errors."""
        from ganglion.types.parsing import parse_neural_type

        return parse_neural_type(text, element_types=element_types, where=where)

    def __str__(self) -> str:
        from ganglion.types.parsing import format_neural_type

        return format_neural_type(self)

    def __repr__(self) -> str:
        return f"NeuralType({str(self)!r})"

    # -- immutability -----------------------------------------------------------------
    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("NeuralType objects are immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.axes, self.elements_type, self.optional))

    def __copy__(self) -> NeuralType:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> NeuralType:
        return self


def _axes(axes: Any) -> tuple[AxisType, ...] | None:
    if axes is None:
        return None
    if isinstance(axes, (AxisType, AxisKind)):
        axes = (axes,)
    try:
        items = tuple(axes)
    except TypeError:
        raise TypeError(
            f"NeuralType axes must be a tuple such as ('B', 'T') or of AxisType, got {axes!r}"
        ) from None
    out = []
    for item in items:
        if isinstance(item, AxisType):
            out.append(item)
        elif isinstance(item, (AxisKind, str)):
            out.append(AxisType(item))
        else:
            raise TypeError(
                f"NeuralType axes: {item!r} is not an axis; use a token such as 'B' or "
                "AxisType(AxisKind.Batch, 64)"
            )
    return tuple(out)


def _element(elements_type: Any) -> ElementType:
    if elements_type is None:
        return VoidType()
    if isinstance(elements_type, ElementType):
        return elements_type
    if isinstance(elements_type, type) and issubclass(elements_type, ElementType):
        return elements_type()
    if isinstance(elements_type, str):
        from ganglion.types.parsing import parse_element_type

        return parse_element_type(elements_type)
    raise TypeError(
        f"elements_type must be an ElementType such as LogitsType(), got {elements_type!r}"
    )


# -- the comparison itself -------------------------------------------------------------------
def compare_types(expected: NeuralType, given: NeuralType) -> tuple[R, str]:
    """``(result, reason)`` for a value of type ``given`` offered where ``expected`` is
    declared. Uncached; :meth:`NeuralType.compare` caches the result."""
    element_result = expected.elements_type.compare(given.elements_type)
    element_ok = element_result.accepted
    if expected.axes is None:
        return element_result, _element_reason(expected, given, element_result)
    if given.axes is None:
        return R.INCOMPATIBLE, f"expected axes {_axes_str(expected)}, the given type declares none"
    a, b = expected.axes, given.axes
    if len(a) != len(b):
        return R.INCOMPATIBLE, (
            f"expected {count_axes(len(a))} ({_axes_str(expected)}), got {len(b)} ({_axes_str(given)})"
        )
    wrong_kind = [i for i, (x, y) in enumerate(zip(a, b)) if not _kind_fits(x, y)]
    if not wrong_kind:
        wrong_size = [i for i, (x, y) in enumerate(zip(a, b)) if not _size_fits(x, y)]
        if not wrong_size:
            return element_result, _element_reason(expected, given, element_result)
        size_reason = "; ".join(_size_mismatch(i, a[i], b[i]) for i in wrong_size)
        if element_ok:
            return R.DIM_INCOMPATIBLE, size_reason
        return R.INCOMPATIBLE, (
            f"{_element_reason(expected, given, element_result)}; also {size_reason}"
        )
    kinds_reason = "; ".join(
        f"axis {i}: expected {a[i].kind.name}, got {b[i].kind.name}" for i in wrong_kind
    )
    if _matching_exists(a, b, sizes=True):
        if not element_ok:
            return R.INCOMPATIBLE, (
                f"{_element_reason(expected, given, element_result)}; also {kinds_reason}"
            )
        target = "SAME" if element_result is R.SAME else "compatible"
        return R.TRANSPOSE_SAME, f"{kinds_reason} — a transpose would make them {target}"
    if element_ok and _matching_exists(a, b, sizes=False):
        return R.DIM_INCOMPATIBLE, (
            f"{kinds_reason}; a transpose would align the axes but their sizes differ "
            f"({_axes_str(expected)} vs {_axes_str(given)})"
        )
    if not element_ok:
        return R.INCOMPATIBLE, (
            f"{_element_reason(expected, given, element_result)}; also {kinds_reason}"
        )
    return R.INCOMPATIBLE, kinds_reason


def count_axes(n: int) -> str:
    """``"1 axis"``, ``"3 axes"``: for messages."""
    return f"{n} axis" if n == 1 else f"{n} axes"


def _kind_fits(x: AxisType, y: AxisType) -> bool:
    return x.kind is AxisKind.Any or x.kind is y.kind


def _size_fits(x: AxisType, y: AxisType) -> bool:
    return x.size is None or x.size == y.size


def _size_mismatch(i: int, x: AxisType, y: AxisType) -> str:
    got = "any size" if y.size is None else f"{y.size}"
    return f"axis {i} ({y.kind.name}): expected size {x.size}, got {got}"


def _matching_exists(a: tuple[AxisType, ...], b: tuple[AxisType, ...], *, sizes: bool) -> bool:
    """Whether some ordering of ``b`` fits ``a`` axis by axis (a small bipartite matching)."""
    used = [False] * len(b)

    def fits(x: AxisType, y: AxisType) -> bool:
        return _kind_fits(x, y) and (not sizes or _size_fits(x, y))

    def assign(i: int) -> bool:
        if i == len(a):
            return True
        for j, y in enumerate(b):
            if not used[j] and fits(a[i], y):
                used[j] = True
                if assign(i + 1):
                    return True
                used[j] = False
        return False

    return assign(0)


def _axes_str(t: NeuralType) -> str:
    if t.axes is None:
        return "*"
    return ",".join(str(ax) for ax in t.axes) if t.axes else "()"


def _element_reason(expected: NeuralType, given: NeuralType, result: R) -> str:
    a, b = expected.elements_type, given.elements_type
    if result is R.SAME:
        if isinstance(a, VoidType) and not isinstance(b, VoidType):
            return f"VoidType accepts any elements ({b})"
        return "same type"
    if result is R.GREATER:
        return f"{type(b).__name__} is a kind of {type(a).__name__}"
    if result is R.LESS:
        return (
            f"{type(b).__name__} is more general than {type(a).__name__}: the port needs "
            f"{type(a).__name__} or one of its subtypes"
        )
    if result is R.SAME_TYPE_INCOMPATIBLE_PARAMS:
        mine, theirs = a.type_parameters, b.type_parameters
        diffs = [
            f"{k}: expected {mine[k]!r}, got {theirs.get(k)!r}"
            for k in mine
            if mine[k] is not None and theirs.get(k) is not None and mine[k] != theirs.get(k)
        ]
        if mine.keys() != theirs.keys():
            diffs.append(f"parameters {sorted(mine)} vs {sorted(theirs)}")
        return f"{a} vs {b}: same type, incompatible parameters ({'; '.join(diffs)})"
    if isinstance(b, VoidType):
        return (
            f"expected {a} elements, got VoidType (elements of unknown meaning); only a "
            "VoidType port accepts those"
        )
    return f"{type(b).__name__} is not a kind of {type(a).__name__}"
