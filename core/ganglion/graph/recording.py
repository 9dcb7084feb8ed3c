"""Recording a module call into the active graph: ports bound, types checked, a step added.

Everything is checked before anything changes, so a refused call leaves the graph as it was.
Errors start with the ``file.py:LINE`` of the user code that made the call.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ganglion.errors import did_you_mean
from ganglion.graph.bindings import unique_key
from ganglion.graph.errors import GraphError, GraphWiringError
from ganglion.graph.tensors import NmTensor, Step, format_type, pack

if TYPE_CHECKING:  # pragma: no cover
    from ganglion.graph.neural_graph import NeuralGraph
    from ganglion.module import NeuralModule

__all__ = ["record_call", "user_location"]

_GANGLION_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TORCH_DIR = os.path.dirname(os.path.abspath(sys.modules["torch"].__file__ or "torch"))


@functools.lru_cache(maxsize=1024)
def _is_internal(filename: str) -> bool:
    """Whether code in ``filename`` is ganglion's core or torch (not the user's)."""
    path = os.path.abspath(filename)
    return path.startswith((_GANGLION_DIR + os.sep, _TORCH_DIR + os.sep))


def user_location() -> str:
    """``file.py:LINE`` of the innermost caller outside ganglion's core and torch."""
    frame = sys._getframe(1)
    while frame is not None:
        if not _is_internal(frame.f_code.co_filename):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "<unknown>:0"


def _describe(module: Any) -> str:
    return f"{module.name} ({type(module).__name__})"


def _bind_arguments(
    where: str, module: Any, ports: Mapping[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Port name -> value from a call's positional (port order) and keyword arguments."""
    names = list(ports)
    what = _describe(module)
    if len(args) > len(names):
        raise GraphWiringError(
            f"{where}: {what} takes {len(names)} input port(s) ({', '.join(names) or 'none'}), "
            f"got {len(args)} positional value(s); pass values by port name"
        )
    given = dict(zip(names, args))
    for port, value in kwargs.items():
        if port not in ports:
            raise GraphWiringError(
                f"{where}: {what} has no input port {port!r}.{did_you_mean(port, names)} "
                f"Input ports: {', '.join(names) or 'none'}."
            )
        if port in given:
            raise GraphWiringError(f"{where}: {what}: input port {port!r} given twice")
        given[port] = value
    return given


@functools.lru_cache(maxsize=512)
def _forward_parameters(cls: type) -> Mapping[str, inspect.Parameter]:
    """The parameters of ``cls.forward`` (``self`` included), read once per class."""
    try:
        return inspect.signature(cls.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return {}


def _required_ports(module: Any, ports: Mapping[str, Any]) -> list[str]:
    """Input ports the module's forward cannot do without (no default, type not optional)."""
    from ganglion.types.ports import split_port_type

    params = (
        inspect.signature(module.forward).parameters  # a forward set on the object itself
        if "forward" in module.__dict__
        else _forward_parameters(type(module))
    )
    required = []
    for port, spec in ports.items():
        param = params.get(port)
        if param is None or param.default is not inspect.Parameter.empty:
            continue
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if spec is not None and split_port_type(spec)[1].optional:
            continue
        required.append(port)
    return required


def _check_types(
    where: str, src: NmTensor, src_desc: str, dst_desc: str, port: str, expected: Any
) -> None:
    """Refuse a connection whose types do not compare SAME or GREATER."""
    if expected is None or src.type is None:
        return
    from ganglion.types.ports import compare_port_types

    check = compare_port_types(expected, src.type)
    if not check.ok:
        raise GraphWiringError(
            f"{where}: cannot connect {src_desc} output {src.port!r} ({format_type(src.type)}) "
            f"to {dst_desc} input {port!r} ({format_type(expected)}): {check.result.name}: "
            f"{check.reason}"
        )


def _source(graph: NeuralGraph, where: str, dst: str, port: str, value: Any) -> NmTensor | str:
    """The tensor a value stands for, or ``"auto"`` for the graph itself (``x=g``)."""
    from ganglion.graph.neural_graph import NeuralGraph

    if value is graph:
        return "auto"
    if isinstance(value, NmTensor):
        owner = value.graph
        if owner is not graph:
            raise GraphWiringError(
                f"{where}: {dst} input {port!r}: {value.unique_name} belongs to graph "
                f"{getattr(owner, 'name', None)!r}, not to the active graph {graph.name!r}; "
                "a graph is wired from its own tensors (nest the other graph to reuse it)"
            )
        return value
    if isinstance(value, NeuralGraph):
        raise GraphWiringError(
            f"{where}: {dst} input {port!r}: {port}={value.name} names graph {value.name!r}, "
            f"but the active graph is {graph.name!r}; pass the active graph to bind an input"
        )
    if isinstance(value, tuple) and value and all(isinstance(v, NmTensor) for v in value):
        fields = getattr(value, "_fields", None) or [v.unique_name for v in value]
        raise GraphWiringError(
            f"{where}: {dst} input {port!r}: got a tuple of {len(value)} symbolic tensors "
            f"({', '.join(fields)}), the outputs of one call; pass one of them "
            f"(for example {port}=outputs.{fields[0]} or {port}=outputs[0])"
        )
    raise GraphWiringError(
        f"{where}: {dst} input {port!r}: got {type(value).__name__}; inside a graph a port "
        "takes a symbolic tensor (another module's output), a graph input "
        f"(graph.inputs[...]) or the graph itself ({port}=graph, binding input {port!r})"
    )


def _resolve_inputs(
    graph: NeuralGraph,
    where: str,
    dst: str,
    ports: Mapping[str, Any],
    given: dict[str, Any],
    new_inputs: dict[str, Any],
) -> dict[str, NmTensor | str]:
    """Check each given value; ``new_inputs`` collects graph inputs to bind automatically."""
    sources: dict[str, NmTensor | str] = {}
    for port, value in given.items():
        if value is None:
            continue
        source = _source(graph, where, dst, port, value)
        expected = ports[port]
        if source == "auto":
            existing = graph.inputs.get(port) if port in graph.inputs else None
            if existing is not None:
                _check_types(where, existing, f"graph {graph.name!r}", dst, port, expected)
            elif port in new_inputs:
                _check_types(
                    where,
                    NmTensor(graph, None, graph.name, port, new_inputs[port]),
                    f"graph {graph.name!r}",
                    dst,
                    port,
                    expected,
                )
            else:
                new_inputs[port] = expected
        else:
            assert isinstance(source, NmTensor)
            src_desc = (
                f"graph {graph.name!r}"
                if source.is_graph_input
                else _describe(graph.graph_modules[source.producer])
            )
            _check_types(where, source, src_desc, dst, port, expected)
        sources[port] = source
    return sources


def _commit_inputs(graph: NeuralGraph, new_inputs: dict[str, Any]) -> None:
    for name, port_type in new_inputs.items():
        graph.inputs.add(name, port_type)


def _resolved(graph: NeuralGraph, source: NmTensor | str, port: str) -> NmTensor:
    return graph.inputs[port] if source == "auto" else source  # type: ignore[return-value]


def record_call(
    graph: NeuralGraph, module: NeuralModule, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Record ``module(*args, **kwargs)`` as the next step of ``graph``; returns its output
    tensor (one port) or a named tuple of them (port order)."""
    from ganglion.graph.neural_graph import NeuralGraph

    where = user_location()
    if isinstance(module, NeuralGraph):
        return _splice(graph, module, args, kwargs, where)
    graph.check_open(f"record a call of {module.name}", where=where)
    dst = _describe(module)
    in_ports = module.input_ports
    out_ports = module.output_ports
    if not out_ports:
        raise GraphWiringError(
            f"{where}: {dst} declares no output ports (output_types), so a graph cannot "
            "know what it returns; declare output_types to use it in a graph"
        )
    given = _bind_arguments(where, module, in_ports, args, kwargs)
    missing = [p for p in _required_ports(module, in_ports) if given.get(p) is None]
    if missing:
        raise GraphWiringError(
            f"{where}: {dst}: required input port(s) {', '.join(map(repr, missing))} not "
            "connected; pass a module's output, a graph input or the graph "
            f"({missing[0]}=graph)"
        )
    from ganglion.graph.data_layer import DataLayer

    if isinstance(module, DataLayer) and graph.steps:
        raise GraphWiringError(
            f"{where}: {dst} is a data layer: it can only be a graph's first step (graph "
            f"{graph.name!r} has {len(graph.steps)} step(s)); start a new graph with it"
        )
    graph.check_module(module, where)
    new_inputs: dict[str, Any] = {}
    sources = _resolve_inputs(graph, where, dst, in_ports, given, new_inputs)
    # all checked: change the graph
    _commit_inputs(graph, new_inputs)
    number = len(graph.steps)
    inputs = {port: _resolved(graph, src, port) for port, src in sources.items()}
    outputs = {
        port: NmTensor(graph, number, module.name, port, spec) for port, spec in out_ports.items()
    }
    graph.add_step(Step(number, module.name, module, inputs, outputs, where))
    for port, tensor in outputs.items():
        key = unique_key(port, graph.outputs.default, f"{module.name}_{port}")
        graph.outputs.add_default(tensor, key)
    return pack(outputs)


def _splice(
    graph: NeuralGraph,
    inner: NeuralGraph,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    where: str,
) -> Any:
    """Record ``inner``'s steps into ``graph`` (nesting); returns ``inner``'s bound outputs
    as tensors of ``graph``."""
    if inner is graph:
        raise GraphError(f"{where}: graph {graph.name!r} cannot be nested into itself")
    graph.check_open(f"nest graph {inner.name!r}", where=where)
    if not inner.operation_mode.nests_into(graph.operation_mode):
        raise GraphError(
            f"{where}: cannot nest graph {inner.name!r} (mode {inner.operation_mode}) into "
            f"graph {graph.name!r} (mode {graph.operation_mode}): a {inner.operation_mode} "
            f"graph nests only into a {inner.operation_mode} graph; build the inner graph "
            "with OperationMode.both to nest it anywhere"
        )
    if not inner.steps:
        raise GraphError(f"{where}: graph {inner.name!r} has no steps to nest")
    dst = f"graph {inner.name!r}"
    in_ports = inner.input_ports
    given = _bind_arguments(where, inner, in_ports, args, kwargs)
    missing = [name for name in in_ports if given.get(name) is None]
    if missing:
        raise GraphWiringError(
            f"{where}: {dst}: input(s) {', '.join(map(repr, missing))} not connected; "
            "every input of a nested graph must be given"
        )
    for step in inner.steps:
        graph.check_module(step.module, where)
    new_inputs: dict[str, Any] = {}
    sources = _resolve_inputs(graph, where, dst, in_ports, given, new_inputs)
    # all checked: change the graph
    _commit_inputs(graph, new_inputs)
    mapped: dict[str, NmTensor] = {
        inner.inputs[name].unique_name: _resolved(graph, src, name) for name, src in sources.items()
    }
    for step in inner.steps:
        number = len(graph.steps)
        inputs = {port: mapped[t.unique_name] for port, t in step.inputs.items()}
        outputs = {
            port: NmTensor(graph, number, step.module_name, port, t.type)
            for port, t in step.outputs.items()
        }
        for port, t in step.outputs.items():
            mapped[t.unique_name] = outputs[port]
        graph.add_step(Step(number, step.module_name, step.module, inputs, outputs, where))
    results = {}
    for name, tensor in inner.output_tensors.items():
        outer = mapped[tensor.unique_name]
        results[name] = outer
        graph.outputs.add_default(outer, unique_key(name, graph.outputs.default))
    inner.freeze_topology(f"it is nested into graph {graph.name!r}")
    return pack(results)
