"""Symbolic values of a graph under construction (``NmTensor``) and recorded steps."""

from __future__ import annotations

import collections
import functools
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ganglion.graph.errors import GraphError

__all__ = ["NmTensor", "Step", "format_type", "port_tuple"]


def format_type(port_type: Any) -> str:
    """A port type as compact text (``"B,D:ChannelType"``); ``"untyped"`` for ``None``."""
    if port_type is None:
        return "untyped"
    from ganglion.types.parsing import format_port_type

    return format_port_type(port_type)


class NmTensor:
    """A symbolic tensor: an output port of a recorded step, or an input of the graph.

    Nothing is computed while a graph is built; modules called inside its context return
    these. ``producer_name`` / ``producer_step_number`` / ``name`` / ``ntype`` are NeMo's
    names; :attr:`unique_name` (``"1.taylornet0.y"``, ``"input.x"``) identifies it within its
    graph.
    """

    __slots__ = ("_graph", "step", "producer", "port", "type", "__weakref__")

    def __init__(self, graph: Any, step: int | None, producer: str, port: str, type: Any) -> None:
        self._graph = weakref.ref(graph)
        #: the number of the step that produces it; ``None`` for a graph input
        self.step = step
        #: the producing module's name (the graph's name for a graph input)
        self.producer = producer
        #: the output port (the input's name for a graph input)
        self.port = port
        #: its neural type (a NeuralType, a one-item list of one for list ports, or None)
        self.type = type

    @property
    def graph(self) -> Any:
        """The graph this tensor belongs to (``None`` once that graph is gone)."""
        return self._graph()

    @property
    def is_graph_input(self) -> bool:
        """Whether this is one of the graph's bound inputs."""
        return self.step is None

    @property
    def unique_name(self) -> str:
        """``"<step>.<module>.<port>"``, or ``"input.<name>"`` for a graph input."""
        if self.step is None:
            return f"input.{self.port}"
        return f"{self.step}.{self.producer}.{self.port}"

    # NeMo 0.11's names
    @property
    def name(self) -> str:
        """The port that produces it (a graph input's name)."""
        return self.port

    @property
    def producer_name(self) -> str:
        """The producing module's name."""
        return self.producer

    @property
    def producer_step_number(self) -> int | None:
        """The producing step's number (``None`` for a graph input)."""
        return self.step

    @property
    def ntype(self) -> Any:
        """Its neural type."""
        return self.type

    def __repr__(self) -> str:
        return f"NmTensor({self.unique_name}: {format_type(self.type)})"

    def outside_graph_error(self, where: str) -> GraphError:
        """The error for this tensor reaching a module while no graph is active."""
        graph = self.graph
        owner = f"graph {graph.name!r}" if graph is not None else "a graph that no longer exists"
        return GraphError(
            f"{where}: got the symbolic tensor {self.unique_name} of {owner}, but no graph is "
            "active, so the module would compute on it; call modules on symbolic tensors "
            "inside the graph's context (`with graph:`), or run the graph (`graph(...)`) "
            "to get real tensors"
        )

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        tensor = next((a for a in _flat(args, kwargs) if isinstance(a, NmTensor)), None)
        name = tensor.unique_name if tensor is not None else "?"
        raise GraphError(
            f"{getattr(func, '__name__', func)}() got the symbolic tensor {name}: a graph's "
            "tensors carry no data while it is built; only neural-module calls can take them. "
            "Wrap the computation in a NeuralModule, or run the graph to get real tensors"
        )


def _flat(args: Any, kwargs: Any) -> list[Any]:
    out: list[Any] = []
    stack = [args, kwargs or {}]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        else:
            out.append(item)
    return out


@dataclass(frozen=True)
class Step:
    """One recorded module call: its number, the module, where its inputs come from and the
    symbolic tensors it produces (both by port, in port order)."""

    number: int
    module_name: str
    module: Any = field(repr=False, compare=False)
    inputs: Mapping[str, NmTensor]
    outputs: Mapping[str, NmTensor]
    #: the ``file.py:LINE`` of the user code that recorded it
    where: str = field(default="", compare=False)

    @property
    def is_data_layer(self) -> bool:
        """Whether the step's module is a data layer (its outputs come from a batch)."""
        from ganglion.graph.data_layer import DataLayer

        return isinstance(self.module, DataLayer)


@functools.lru_cache(maxsize=256)
def port_tuple(fields: tuple[str, ...]) -> type:
    """A named tuple class with these fields (one per port or output name)."""
    return collections.namedtuple("GraphOutputs", fields)  # type: ignore[misc]


def pack(values: Mapping[str, Any]) -> Any:
    """One value, or a named tuple of several in their order."""
    if len(values) == 1:
        return next(iter(values.values()))
    return port_tuple(tuple(values))(*values.values())
