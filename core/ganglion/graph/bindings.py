"""A graph's bound inputs and outputs, and the read-only views of them.

``g.inputs["i"] = module.input_ports["x"]`` binds a graph input by hand (the module's port
type becomes the input's type) and ``g.inputs["i"]`` is then the symbolic tensor to wire;
``module(x=g)`` binds input ``x`` automatically. Every tensor a step produces is a *default*
output; ``g.outputs["y"] = tensor`` binds a *manual* one, and once any manual output exists
only manual outputs count. A name is bound once; bindings are never deleted.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ganglion.graph.errors import GraphError
from ganglion.graph.tensors import NmTensor

if TYPE_CHECKING:  # pragma: no cover
    from ganglion.graph.neural_graph import NeuralGraph

__all__ = ["GraphInputs", "GraphOutputs", "ReadOnlyView", "unique_key"]


class ReadOnlyView(Mapping[str, Any]):
    """A read-only mapping; assigning or deleting says what to do instead."""

    __slots__ = ("_data", "_what", "_advice")

    def __init__(self, data: Mapping[str, Any], what: str, advice: str) -> None:
        self._data = data
        self._what = what
        self._advice = advice

    def __getitem__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            from ganglion.errors import UnknownNameError, did_you_mean

            raise UnknownNameError(
                f"{self._what} has no {key!r}.{did_you_mean(str(key), self._data)} "
                f"It has: {', '.join(self._data) or 'nothing'}."
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setitem__(self, key: str, value: Any) -> None:
        raise GraphError(f"{self._what} is read-only; {self._advice}")

    def __delitem__(self, key: str) -> None:
        raise GraphError(f"{self._what} is read-only; bindings cannot be removed")

    def __repr__(self) -> str:
        return f"{self._what}({dict(self._data)!r})"


def unique_key(wanted: str, taken: Mapping[str, Any], *fallbacks: str) -> str:
    """``wanted``, else the first fallback not taken, else the last one numbered."""
    for key in (wanted, *fallbacks):
        if key not in taken:
            return key
    base = fallbacks[-1] if fallbacks else wanted
    number = 1
    while f"{base}_{number}" in taken:
        number += 1
    return f"{base}_{number}"


class GraphInputs(Mapping[str, NmTensor]):
    """``g.inputs``: bind an input with ``g.inputs[name] = port_type``; read its symbolic
    tensor with ``g.inputs[name]``."""

    def __init__(self, graph: NeuralGraph) -> None:
        self._ref = weakref.ref(graph)  # a weak reference: no cycle keeps the graph alive
        self._tensors: dict[str, NmTensor] = {}

    @property
    def _graph(self) -> NeuralGraph:
        return self._ref()  # type: ignore[return-value]

    def __setitem__(self, name: str, port_type: Any) -> None:
        from ganglion.graph.naming import check_name

        graph = self._graph
        check_name(name, what=f"{graph.name}.inputs")
        if name in self._tensors:
            raise GraphError(
                f"graph {graph.name!r}: input {name!r} is already bound (to type "
                f"{self._tensors[name].type}); a name is bound once, choose another"
            )
        graph.check_open(f"bind input {name!r}")
        self._tensors[name] = NmTensor(graph, None, graph.name, name, _port_type(port_type, name))
        graph.topology_changed()

    def add(self, name: str, port_type: Any) -> NmTensor:
        """Bind ``name`` (checked by the caller) and return its tensor."""
        tensor = self._tensors[name] = NmTensor(
            self._graph, None, self._graph.name, name, port_type
        )
        return tensor

    def __getitem__(self, name: str) -> NmTensor:
        try:
            return self._tensors[name]
        except KeyError:
            from ganglion.errors import UnknownNameError, did_you_mean

            raise UnknownNameError(
                f"graph {self._graph.name!r} has no input {name!r}."
                f"{did_you_mean(name, self._tensors)} Bind one with "
                f"graph.inputs[{name!r}] = module.input_ports['<port>']. "
                f"Inputs: {', '.join(self._tensors) or 'none'}."
            ) from None

    def __delitem__(self, name: str) -> None:
        raise GraphError(f"graph {self._graph.name!r}: inputs cannot be unbound")

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)

    def __repr__(self) -> str:
        return f"GraphInputs({list(self._tensors)})"


def _port_type(value: Any, name: str) -> Any:
    """What ``g.inputs[name] = value`` may bind: a port type (NeuralType, its text, a
    one-item list of one) or ``None`` for an untyped input."""
    if value is None:
        return None
    from ganglion.types.errors import NeuralTypeError
    from ganglion.types.neural_type import NeuralType
    from ganglion.types.parsing import parse_port_type
    from ganglion.types.ports import split_port_type

    if isinstance(value, NmTensor):
        raise GraphError(
            f"inputs[{name!r}]: bind an input to a port type (module.input_ports['x']), not "
            f"to the tensor {value.unique_name}; to name a produced tensor, bind an output"
        )
    if isinstance(value, str):
        return parse_port_type(value, where=f"inputs[{name!r}]")
    try:
        split_port_type(value, where=f"inputs[{name!r}]")
    except NeuralTypeError as exc:
        raise GraphError(
            f"{exc}; bind an input to a module's port type: "
            f"graph.inputs[{name!r}] = module.input_ports['<port>']"
        ) from None
    assert isinstance(value, (NeuralType, list, tuple))
    return value


class GraphOutputs(Mapping[str, NmTensor]):
    """``g.outputs``: the graph's outputs. Reading gives the bound outputs (manual ones
    when any exist, else the defaults); ``g.outputs[name] = tensor`` binds a manual one."""

    def __init__(self, graph: NeuralGraph) -> None:
        self._ref = weakref.ref(graph)
        self.default: dict[str, NmTensor] = {}
        self.manual: dict[str, NmTensor] = {}

    @property
    def _graph(self) -> NeuralGraph:
        return self._ref()  # type: ignore[return-value]

    @property
    def is_manual(self) -> bool:
        """Whether outputs were bound by hand (then only those count)."""
        return bool(self.manual)

    @property
    def bound(self) -> dict[str, NmTensor]:
        """The outputs that count: manual ones when any exist, else the defaults."""
        return self.manual if self.manual else self.default

    def __setitem__(self, name: str, tensor: NmTensor) -> None:
        from ganglion.graph.naming import check_name

        graph = self._graph
        check_name(name, what=f"{graph.name}.outputs")
        if not isinstance(tensor, NmTensor):
            raise GraphError(
                f"graph {graph.name!r}: outputs[{name!r}] takes a symbolic tensor produced in "
                f"this graph, got {type(tensor).__name__}"
            )
        if tensor.graph is not graph:
            raise GraphError(
                f"graph {graph.name!r}: outputs[{name!r}]: {tensor.unique_name} belongs to "
                f"graph {getattr(tensor.graph, 'name', None)!r}, not to this one"
            )
        if name in self.manual:
            raise GraphError(
                f"graph {graph.name!r}: output {name!r} is already bound (to "
                f"{self.manual[name].unique_name}); a name is bound once, choose another"
            )
        self.manual[name] = tensor
        graph.outputs_changed()

    def add_default(self, tensor: NmTensor, key: str) -> None:
        self.default[key] = tensor

    def __getitem__(self, name: str) -> NmTensor:
        bound = self.bound
        try:
            return bound[name]
        except KeyError:
            from ganglion.errors import UnknownNameError, did_you_mean

            raise UnknownNameError(
                f"graph {self._graph.name!r} has no output {name!r}."
                f"{did_you_mean(name, bound)} Outputs: {', '.join(bound) or 'none'}."
            ) from None

    def __delitem__(self, name: str) -> None:
        raise GraphError(f"graph {self._graph.name!r}: outputs cannot be unbound")

    def __iter__(self) -> Iterator[str]:
        return iter(self.bound)

    def __len__(self) -> int:
        return len(self.bound)

    def __repr__(self) -> str:
        kind = "manual" if self.manual else "default"
        return f"GraphOutputs({kind}: {list(self.bound)})"
