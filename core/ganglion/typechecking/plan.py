"""Plans: what one object's ports mean for one decorated method, ready for the per-call checks.

A :class:`Plan` is built on the first checked call of a method on an object (ports may be
properties that depend on the instance, and element types may come from plugins loaded
later) and cached in the object's ``__dict__`` under :data:`PLAN_PREFIX` + the method's
qualified name. :class:`Layout` is what the plan needs of the method's parameters; it is
computed once, when the method is decorated.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from ganglion.types.axes import AxisType
from ganglion.types.errors import NeuralTypeError
from ganglion.types.neural_type import NeuralType
from ganglion.types.parsing import parse_port_type
from ganglion.types.ports import split_port_type

if TYPE_CHECKING:  # pragma: no cover
    from ganglion.typechecking.decorator import typecheck

__all__ = [
    "KEYWORD_ONLY",
    "MISSING",
    "PLAN_PREFIX",
    "Layout",
    "Plan",
    "Port",
    "build_plan",
    "normalize_ports",
]

#: Key prefix of the plans cached in an object's ``__dict__``.
PLAN_PREFIX = "_typecheck_plan:"

#: A parameter's default when it has none (Python's own binding reports it missing).
MISSING: Any = inspect.Parameter.empty

#: How many accepted types a port remembers before it forgets them all (types are interned;
#: a port meets a handful, but a long-lived process must not grow without bound).
ACCEPTED_LIMIT = 64

#: The "index among positional parameters" of a keyword-only one: never below len(args).
KEYWORD_ONLY = sys.maxsize


class Port:
    """One port, precomputed for the hot path."""

    __slots__ = (
        "name",
        "type",
        "semantic",
        "depth",
        "rank",
        "sizes",
        "optional",
        "position",
        "item",
        "spec",
        "plain",
        "accepted",
    )

    def __init__(self, name: str, spec: Any, owner: str, direction: str) -> None:
        depth, leaf = split_port_type(
            spec, where=f"{owner}: {direction} port '{name}'", owner=owner, port=name
        )
        self.name = name
        self.spec = spec
        self.type = leaf
        self.depth = depth
        self.rank = leaf.rank
        self.sizes = leaf.sizes
        self.optional = leaf.optional
        self.position: int | None = None
        self.plain = depth == 0  # a tensor port (not a list port): the fast path
        # with enforced sizes, a typed tensor's semantics are compared without them and the
        # sizes are checked on the tensor itself (its type may not record them)
        self.semantic = (
            leaf
            if not leaf.sizes
            else NeuralType(
                tuple(AxisType(ax.kind) for ax in leaf.axes or ()),
                leaf.elements_type,
                leaf.optional,
            )
        )
        #: the given types this port accepted (SAME or GREATER): one set lookup per call
        self.accepted: set[NeuralType] = set()
        # the port of one item of a list port
        self.item: Port | None = None
        if depth:
            self.item = Port(name, spec[0], owner, direction)

    def accept(self, given: NeuralType) -> None:
        """Remember that ``given`` fits this port."""
        if len(self.accepted) >= ACCEPTED_LIMIT:
            self.accepted.clear()
        self.accepted.add(given)


class Layout(NamedTuple):
    """What a plan needs of the decorated method's parameters (``self`` excluded)."""

    #: per named parameter: (name, its index in the call's positional arguments counting
    #: ``self`` as 0, or KEYWORD_ONLY; the name it is passed by as a keyword, or None for a
    #: positional-only one; its default, or MISSING)
    named: tuple[tuple[str, int, str | None, Any], ...]
    #: how many parameters can be passed by position (before ``*args``), ``self`` excluded
    n_positional: int
    var_positional: bool
    var_keyword: bool

    @classmethod
    def of(cls, params: list[inspect.Parameter]) -> Layout:
        """The layout of ``params`` (a method's parameters without ``self``)."""
        named = []
        n_positional = 0
        for p in params:
            if p.kind is inspect.Parameter.POSITIONAL_ONLY:
                n_positional += 1
                named.append((p.name, n_positional, None, p.default))
            elif p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
                n_positional += 1
                named.append((p.name, n_positional, p.name, p.default))
            elif p.kind is inspect.Parameter.KEYWORD_ONLY:
                named.append((p.name, KEYWORD_ONLY, p.name, p.default))
        return cls(
            tuple(named),
            n_positional,
            any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params),
            any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params),
        )


class Plan:
    """The checks of one decorated method on one object."""

    __slots__ = (
        "owner",
        "inputs",
        "n_positional",
        "has_extra",
        "extra_positional",
        "extra_keyword",
        "extra_required",
        "outputs",
        "n_outputs_required",
        "fast_out",
        "n_out",
    )

    owner: str
    #: per input port that is a named parameter, what the wrapper unpacks: (its index in the
    #: positional arguments, ``self`` being 0, or KEYWORD_ONLY; the name it is passed by as a
    #: keyword, or None; its default, or MISSING; whether it is a plain tensor port; its
    #: type, accepted types, rank and sizes; the Port)
    inputs: tuple[tuple[Any, ...], ...]
    #: how many parameters can be passed by position (before ``*args``), ``self`` excluded
    n_positional: int
    has_extra: bool
    extra_positional: tuple[Port, ...]
    extra_keyword: dict[str, Port]
    extra_required: tuple[Port, ...]
    outputs: tuple[Port, ...] | None
    n_outputs_required: int
    #: per output port: (plain, type, rank, sizes, the Port)
    fast_out: tuple[tuple[Any, ...], ...]
    #: ``len(fast_out)``, stored: ``len`` is a builtin call on every forward
    n_out: int

    def __reduce__(self) -> tuple[Any, ...]:
        # plans hold no state worth saving: a pickled or deep-copied object rebuilds its own
        return (_no_plan, ())


def _no_plan() -> None:
    return None


def normalize_ports(types: Any, owner: str, direction: str) -> dict[str, Any] | None:
    """``{port: NeuralType or list port type}`` from a declaration whose values may be
    strings (``"B,T:LogitsType"`` or ``["B,T:LogitsType"]``); ``None`` stays ``None``."""
    if types is None:
        return None
    if not isinstance(types, Mapping):
        raise NeuralTypeError(
            f"{owner}: {direction}_types must be a mapping of port name -> NeuralType, "
            f"got {type(types).__name__}",
            owner=owner,
        )
    out = {}
    for name, spec in types.items():
        if _leaf_is_str(spec):
            spec = parse_port_type(spec, where=f"{owner} {direction}_types.{name}")
        out[name] = spec
    return out


def _leaf_is_str(spec: Any) -> bool:
    while isinstance(spec, (list, tuple)) and len(spec) == 1:
        spec = spec[0]
    return isinstance(spec, str)


def build_plan(obj: Any, method: str, deco: typecheck, layout: Layout) -> Plan:
    """The plan of ``obj``'s method named ``method``, decorated by ``deco``."""
    owner = f"{type(obj).__name__}.{method}"
    in_types = deco.port_types(obj, "input", owner)
    out_types = deco.port_types(obj, "output", owner)
    plan = Plan()
    plan.owner = owner

    # inputs: map ports onto the method's named parameters; ports that are not named
    # parameters go through ``*args`` (in declared order) or ``**kwargs``
    ports = {n: Port(n, s, owner, "input") for n, s in (in_types or {}).items()}
    names = [entry[0] for entry in layout.named]
    plan.inputs = tuple(
        (
            index,
            keyword,
            default,
            port.plain,
            port.type,
            port.accepted,
            port.rank,
            port.sizes,
            port,
        )
        for name, index, keyword, default in layout.named
        if (port := ports.get(name)) is not None
    )
    plan.n_positional = layout.n_positional
    extra = [port for name, port in ports.items() if name not in names]
    if extra and not (layout.var_positional or layout.var_keyword):
        raise NeuralTypeError(
            f"{owner}: input port '{extra[0].name}' is not a parameter of "
            f"{method}({', '.join(names)}); rename the port or the parameter",
            owner=owner,
            port=extra[0].name,
        )
    if layout.var_positional:
        for index, port in enumerate(extra):
            port.position = index
    plan.has_extra = bool(extra)
    plan.extra_positional = tuple(extra) if layout.var_positional else ()
    plan.extra_keyword = {p.name: p for p in extra} if layout.var_keyword else {}
    plan.extra_required = tuple(p for p in extra if not p.optional)

    # outputs
    if out_types is None:
        plan.outputs = None
        plan.fast_out = ()
        plan.n_outputs_required = 0
    else:
        outs = tuple(Port(n, s, owner, "output") for n, s in out_types.items())
        plan.outputs = outs
        plan.fast_out = tuple((p.plain, p.type, p.rank, p.sizes, p) for p in outs)
        plan.n_outputs_required = max(
            (i + 1 for i, p in enumerate(outs) if not p.optional), default=0
        )
    plan.n_out = len(plan.fast_out)
    return plan
