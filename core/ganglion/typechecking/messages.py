"""The errors of ``@typecheck()``: each names the method, the port, the expected and the given
type, the comparison result and the reason. Only called when a check fails (the slow path)."""

from __future__ import annotations

from typing import Any, NoReturn

import torch

from ganglion.typechecking.plan import Plan, Port
from ganglion.types.comparison import NeuralTypeComparisonResult as R
from ganglion.types.errors import NeuralTypeError
from ganglion.types.neural_type import NeuralType, count_axes
from ganglion.types.parsing import format_port_type

__all__ = [
    "describe_tensor",
    "fail_container",
    "fail_missing",
    "fail_none",
    "fail_rank",
    "fail_size",
    "fail_type",
    "raise_port_error",
]


def describe_tensor(value: torch.Tensor) -> str:
    """``"an untyped tensor of shape (2, 3)"`` or ``"B,T:LogitsType (shape (2, 3))"``."""
    given = getattr(value, "neural_type", None)
    shape = tuple(value.shape)
    if given is None:
        return f"an untyped tensor of shape {shape}"
    return f"{given} (shape {shape})"


def raise_port_error(
    plan: Plan,
    direction: str,
    port: Port,
    result: R,
    reason: str,
    *,
    given: Any,
    port_label: str = "port",
) -> NoReturn:
    """Raise the :class:`NeuralTypeError` of one port (``port_label="ports"``: of all)."""
    expected = format_port_type(port.spec)
    where = f"{direction} {port_label}"
    label = f"'{port.name}'" if port_label == "port" else ""
    message = (
        f"{plan.owner}: {where} {label}".rstrip()
        + f": expected {expected}, got {given}. {result.name}: {reason}"
    )
    raise NeuralTypeError(
        message,
        owner=plan.owner,
        port=port.name,
        expected=port.spec,
        given=given,
        result=result,
        reason=reason,
    )


def fail_rank(plan: Plan, direction: str, port: Port, value: torch.Tensor) -> NoReturn:
    """A tensor with the wrong number of axes."""
    axes = ",".join(str(ax) for ax in port.type.axes or ())
    reason = (
        f"expected {count_axes(port.rank)} ({axes or '()'}), got a tensor with {value.ndim} "
        f"(shape {tuple(value.shape)})"
    )
    raise_port_error(plan, direction, port, R.INCOMPATIBLE, reason, given=describe_tensor(value))


def fail_size(plan: Plan, direction: str, port: Port, value: torch.Tensor, i: int) -> NoReturn:
    """A tensor whose axis ``i`` differs from the size the port declares."""
    axis = (port.type.axes or ())[i]
    reason = (
        f"axis {i} ({axis.kind.name}): expected size {axis.size}, got {value.shape[i]} "
        f"(shape {tuple(value.shape)})"
    )
    raise_port_error(
        plan, direction, port, R.DIM_INCOMPATIBLE, reason, given=describe_tensor(value)
    )


def fail_type(plan: Plan, port: Port, value: torch.Tensor, given: Any) -> NoReturn:
    """An input tensor whose neural type the port does not accept (or is not a type)."""
    if not isinstance(given, NeuralType):
        raise_port_error(
            plan,
            "input",
            port,
            R.INCOMPATIBLE,
            f"the tensor's neural_type attribute is {given!r}, not a NeuralType",
            given=repr(given),
        )
    result, reason = port.semantic.explain(given)
    raise_port_error(plan, "input", port, result, reason, given=describe_tensor(value))


def fail_none(plan: Plan, direction: str, port: Port) -> NoReturn:
    """``None`` for a port that is not optional."""
    raise_port_error(
        plan,
        direction,
        port,
        R.INCOMPATIBLE,
        "the port is not optional; pass a value, or declare it NeuralType(..., optional=True)",
        given="None",
    )


def fail_missing(plan: Plan, port: Port) -> NoReturn:
    """A required port reached through ``**kwargs`` that was not passed."""
    raise_port_error(
        plan,
        "input",
        port,
        R.UNCHECKED,
        "it was not given; pass it, or declare the port optional (NeuralType(..., optional=True))",
        given="nothing",
    )


def fail_container(plan: Plan, direction: str, port: Port, value: torch.Tensor) -> NoReturn:
    """A single tensor for a list port."""
    raise_port_error(
        plan,
        direction,
        port,
        R.CONTAINER_SIZE_MISMATCH,
        f"the port takes a list nested {port.depth} deep, got a single tensor",
        given=describe_tensor(value),
    )
