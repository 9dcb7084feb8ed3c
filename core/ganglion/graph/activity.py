"""Which graph is recording: a per-context stack, plus a process-wide count for speed.

Every :class:`~ganglion.module.NeuralModule` call first asks whether any graph is recording
anywhere (:data:`RECORDING`, a list read in one truthiness test, so an eager call with no
graph active costs nothing measurable). Only when some graph is active does it read the
stack of the current thread or asyncio task (a ``ContextVar``): a graph built in one thread
never captures the module calls of another.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ganglion.graph.neural_graph import NeuralGraph

__all__ = ["RECORDING", "active_graph", "pop", "push", "stack"]

#: One entry per graph active in any thread (its id); empty when no graph records anywhere.
RECORDING: list[int] = []

_STACK: ContextVar[tuple[Any, ...]] = ContextVar("ganglion_active_graphs", default=())


def stack() -> tuple[NeuralGraph, ...]:
    """The graphs active in this thread or task, innermost last."""
    return _STACK.get()


def active_graph() -> NeuralGraph | None:
    """The innermost active graph of this thread or task, or ``None``."""
    graphs = _STACK.get()
    return graphs[-1] if graphs else None


def push(graph: NeuralGraph) -> None:
    """Make ``graph`` the innermost active graph of this context."""
    _STACK.set((*_STACK.get(), graph))
    RECORDING.append(id(graph))


def pop(graph: NeuralGraph) -> None:
    """Deactivate ``graph``, which must be the innermost active graph of this context."""
    graphs = _STACK.get()
    _STACK.set(graphs[:-1])
    RECORDING.remove(id(graph))
