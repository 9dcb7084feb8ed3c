"""Ports: the named, typed inputs and outputs of modules, and checks between them.

A port's type is a :class:`NeuralType` or, for a list of tensors, the type inside one-item
lists (``[[NeuralType(('B', 'D'), LogitsType())]]`` is a list of lists of logits).

:func:`check_connection` compares one object's output port with another's input port
with no tensors at all, so a graph can be checked while it is wired.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from ganglion.errors import UnknownNameError, did_you_mean
from ganglion.types.comparison import NeuralTypeComparisonResult as R
from ganglion.types.elements import ElementType
from ganglion.types.errors import NeuralTypeError
from ganglion.types.neural_type import NeuralType
from ganglion.types.parsing import PortType, format_port_type, parse_port_type


class PortCheck(NamedTuple):
    """The outcome of checking one connection: the comparison result and why.

    Unpacks as ``result, reason = check_connection(...)``; :attr:`ok` says whether the
    connection is accepted.
    """

    result: R
    reason: str

    @property
    def ok(self) -> bool:
        """True when the receiving port accepts what the sending port produces."""
        return self.result.accepted

    def __str__(self) -> str:
        return f"{self.result.name}: {self.reason}"


def split_port_type(
    port_type: PortType,
    *,
    where: str = "port",
    owner: str | None = None,
    port: str | None = None,
) -> tuple[int, NeuralType]:
    """``(depth, leaf type)`` of a port type: ``[[t]]`` is ``(2, t)``, ``t`` is ``(0, t)``.

    ``where`` starts error messages; ``owner`` and ``port`` (the declaring class or method
    and the port's name) become the error's attributes.
    """
    depth = 0
    spec = port_type
    while isinstance(spec, (list, tuple)):
        if len(spec) != 1:
            raise NeuralTypeError(
                f"{where}: a list port type holds exactly one NeuralType (the type of each "
                f"item), got {len(spec)} items: {spec!r}",
                owner=owner,
                port=port,
            )
        spec = spec[0]
        depth += 1
    if not isinstance(spec, NeuralType):
        raise NeuralTypeError(
            f"{where}: expected a NeuralType (or a one-item list of one), got {spec!r}",
            owner=owner,
            port=port,
        )
    return depth, spec


def compare_port_types(expected: PortType, given: PortType) -> PortCheck:
    """Compare two port types, containers included; ``expected`` is the receiver."""
    depth_e, leaf_e = split_port_type(expected, where="expected")
    depth_g, leaf_g = split_port_type(given, where="given")
    if depth_e != depth_g:
        return PortCheck(
            R.CONTAINER_SIZE_MISMATCH,
            f"expected {format_port_type(expected)} (lists nested {depth_e} deep), "
            f"got {format_port_type(given)} (nested {depth_g} deep)",
        )
    result, reason = leaf_e.explain(leaf_g)
    return PortCheck(result, reason)


def port_types(obj: Any, direction: str) -> Mapping[str, PortType] | None:
    """``obj.input_types`` or ``obj.output_types`` (``direction`` is "input" or "output")."""
    if direction not in ("input", "output"):
        raise ValueError(f"direction must be 'input' or 'output', got {direction!r}")
    return declared_types(obj, f"{direction}_types")


def declared_types(obj: Any, name: str) -> Any:
    """``obj.<name>`` (``input_types`` / ``output_types``), or ``None`` when not declared.

    Errors raised while computing a declared property propagate: a property that fails must
    not make a module silently untyped.
    """
    if name in getattr(obj, "__dict__", ()) or hasattr(type(obj), name):
        return getattr(obj, name)
    return None


def get_port(obj: Any, direction: str, port: str) -> PortType | None:
    """The declared type of ``obj``'s ``direction`` port ``port`` (``None`` when ``obj``
    declares no types); an unknown port is an error listing the ports there are."""
    types = port_types(obj, direction)
    if types is None:
        return None
    if port not in types:
        owner = type(obj).__name__
        names = ", ".join(types) or "none"
        raise UnknownNameError(
            f"{owner} has no {direction} port {port!r}.{did_you_mean(port, types)} "
            f"{direction.capitalize()} ports: {names}."
        )
    return types[port]


def check_connection(src: Any, src_port: str, dst: Any, dst_port: str) -> PortCheck:
    """Whether ``src``'s output port ``src_port`` may feed ``dst``'s input port ``dst_port``.

    ``src`` and ``dst`` are anything declaring ``output_types`` / ``input_types`` (neural
    modules, datasets, losses). No tensor is needed: this is how graphs are checked as they
    are wired. When either side declares no types the result is ``UNCHECKED``.

    Example::

        check = check_connection(encoder, "outputs", decoder, "encoder_output")
        if not check.ok:
            raise ValueError(check.reason)
    """
    src_name, dst_name = type(src).__name__, type(dst).__name__
    given = get_port(src, "output", src_port)
    expected = get_port(dst, "input", dst_port)
    if given is None or expected is None:
        which = src_name if given is None else dst_name
        side = "output" if given is None else "input"
        return PortCheck(R.UNCHECKED, f"{which} declares no {side} types")
    # a malformed declaration is reported with the class and port that declare it
    split_port_type(
        given, where=f"{src_name}: output port '{src_port}'", owner=src_name, port=src_port
    )
    split_port_type(
        expected, where=f"{dst_name}: input port '{dst_port}'", owner=dst_name, port=dst_port
    )
    check = compare_port_types(expected, given)
    reason = (
        f"{src_name}.{src_port} ({format_port_type(given)}) -> "
        f"{dst_name}.{dst_port} ({format_port_type(expected)}): {check.reason}"
    )
    return PortCheck(check.result, reason)


def parse_port_types(
    config: Mapping[str, Any],
    *,
    element_types: Mapping[str, type[ElementType]] | None = None,
    where: str | None = None,
) -> dict[str, PortType]:
    """Port types from a config mapping of port name -> string (or nested list of one).

    Example: ``{"audio": "B,T:AudioSignal(16000)", "length": "B:LengthsType"}``.
    """
    prefix = f"{where}." if where else ""
    return {
        name: parse_port_type(text, element_types=element_types, where=f"{prefix}{name}")
        for name, text in config.items()
    }


def format_port_types(types: Mapping[str, PortType]) -> dict[str, str]:
    """The inverse of :func:`parse_port_types`: port name -> compact string."""
    return {name: format_port_type(spec) for name, spec in types.items()}
