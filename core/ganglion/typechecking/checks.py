"""The per-call checks of ``@typecheck()``, for any value: tensors (typed or not), ``None``,
lists for list ports, ports reached through ``*args``/``**kwargs``, and all outputs.

The wrapper (:mod:`ganglion.typechecking.wrapper`) handles the common case, a plain tensor
on a tensor port, itself; everything else comes here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ganglion.typechecking.messages import (
    fail_container,
    fail_missing,
    fail_none,
    fail_rank,
    fail_size,
    fail_type,
    raise_port_error,
)
from ganglion.typechecking.plan import Plan, Port
from ganglion.types.comparison import NeuralTypeComparisonResult as R
from ganglion.types.neural_type import NeuralType

__all__ = ["check_extra", "check_input", "check_output", "check_outputs", "check_sizes"]

_Tensor = torch.Tensor
_SAME = R.SAME
_GREATER = R.GREATER


def check_input(plan: Plan, port: Port, value: Any) -> None:
    """Check one input value against its port."""
    if isinstance(value, _Tensor):
        if port.depth:
            fail_container(plan, "input", port, value)
        given = getattr(value, "neural_type", None)
        if given is None:  # untyped: what the shape can tell
            rank = port.rank
            if rank is not None and value.ndim != rank:
                fail_rank(plan, "input", port, value)
        elif given is not port.type and given not in port.accepted:  # typed: compare
            if not isinstance(given, NeuralType):
                fail_type(plan, port, value, given)
            result = port.semantic.compare(given)
            if result is not _SAME and result is not _GREATER:
                fail_type(plan, port, value, given)
            port.accept(given)
        if port.sizes:
            check_sizes(plan, "input", port, value)
    else:
        _check_not_tensor(plan, "input", port, value, check_input)


def _check_not_tensor(
    plan: Plan,
    direction: str,
    port: Port,
    value: Any,
    check: Callable[[Plan, Port, Any], None],
) -> None:
    """``None`` (optional ports only) and the items of a list port; other values pass,
    except a graph's symbolic tensor reaching a module outside any graph (a clear error)."""
    if value is None:
        if not port.optional:
            fail_none(plan, direction, port)
    elif hasattr(type(value), "outside_graph_error"):  # ganglion.graph.NmTensor
        raise value.outside_graph_error(f"{plan.owner} {direction} port '{port.name}'")
    elif port.depth and isinstance(value, (list, tuple)):
        item = port.item
        for v in value:
            check(plan, item, v)  # type: ignore[arg-type]


def check_sizes(plan: Plan, direction: str, port: Port, value: torch.Tensor) -> None:
    """The sizes the port declares, on the tensor itself."""
    shape = value.shape
    for i, size in port.sizes:
        if shape[i] != size:
            fail_size(plan, direction, port, value, i)


def check_output(plan: Plan, port: Port, value: Any) -> None:
    """Check one output value and record the port's type on it (lists: on each item)."""
    if isinstance(value, _Tensor):
        if port.depth:
            fail_container(plan, "output", port, value)
        rank = port.rank
        if rank is not None and value.ndim != rank:
            fail_rank(plan, "output", port, value)
        if port.sizes:
            check_sizes(plan, "output", port, value)
        declared = port.type
        given = getattr(value, "neural_type", None)
        if given is not declared:
            # compared as the inputs are, without declared sizes (checked on the tensor above)
            if isinstance(given, NeuralType):
                result = port.semantic.compare(given)
                if result is _SAME or result is _GREATER:
                    return  # keep the more precise type the tensor already has
            value.neural_type = declared
    else:
        _check_not_tensor(plan, "output", port, value, check_output)


def check_extra(plan: Plan, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Ports reached through ``*args`` (``args``: the values beyond the named parameters) or
    ``**kwargs`` rather than named parameters."""
    for port, value in zip(plan.extra_positional, args):
        check_input(plan, port, value)
    for name, port in plan.extra_keyword.items():
        if name in kwargs:
            check_input(plan, port, kwargs[name])
    for port in plan.extra_required:
        if port.position is not None and port.position < len(args):
            continue
        if port.name not in kwargs:
            fail_missing(plan, port)


def check_outputs(plan: Plan, out: Any) -> None:
    """All outputs: the general path (the wrapper handles a tuple of plain tensors)."""
    ports = plan.outputs
    assert ports is not None
    if len(ports) == 1:
        port = ports[0]
        if not port.depth and isinstance(out, (tuple, list)):
            raise_port_error(
                plan,
                "output",
                port,
                R.CONTAINER_SIZE_MISMATCH,
                f"the method returned a {type(out).__name__} of {len(out)} values, but "
                f"output_types declares one port ('{port.name}')",
                given=f"a {type(out).__name__} of {len(out)}",
            )
        check_output(plan, port, out)
        return
    if not isinstance(out, (tuple, list)) or not (
        plan.n_outputs_required <= len(out) <= len(ports)
    ):
        count = f"{len(out)} values" if isinstance(out, (tuple, list)) else "one value"
        names = ", ".join(p.name for p in ports)
        raise_port_error(
            plan,
            "output",
            ports[0],
            R.CONTAINER_SIZE_MISMATCH,
            f"the method returned {count}, but output_types declares {len(ports)} ports ({names})",
            given=count,
            port_label="ports",
        )
    for port, value in zip(ports, out):
        check_output(plan, port, value)
