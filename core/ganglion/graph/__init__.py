"""Neural graphs: modules wired into a typed, checked, nestable, serialisable graph.

A :class:`NeuralGraph` records the calls of neural modules made on symbolic values inside
its context (``with g:``), checks every connection's neural types as it is made, and is itself
a :class:`~ganglion.module.NeuralModule` (an ``nn.Module``) whose ``forward`` replays the
recorded steps. Names follow NeMo 0.11's Neural Graphs::

    from ganglion.graph import NeuralGraph, OperationMode

    with NeuralGraph(operation_mode=OperationMode.both, name="model") as model:
        logits = taylor(x=model)          # graph input "x" bound to taylor's port "x"
    with NeuralGraph(operation_mode=OperationMode.training) as training:
        x, y = data_layer()
        p = model(x=x)                    # the model graph's steps spliced in
        loss = mse(predictions=p, target=y)

Importing this package is cheap (no torch): names are resolved on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganglion.lazy import lazy_attributes

_LAZY: dict[str, str] = {
    "OperationMode": "ganglion.graph.mode:OperationMode",
    "NeuralGraph": "ganglion.graph.neural_graph:NeuralGraph",
    "NmTensor": "ganglion.graph.tensors:NmTensor",
    "Step": "ganglion.graph.tensors:Step",
    "AppState": "ganglion.graph.naming:AppState",
    "DataLayer": "ganglion.graph.data_layer:DataLayer",
    "GraphModel": "ganglion.graph.model:GraphModel",
    "StaticGraph": "ganglion.graph.static.static_graph:StaticGraph",
    "GraphConfig": "ganglion.graph.static.config:GraphConfig",
    "GraphModule": "ganglion.graph.static.graph_module:GraphModule",
    "StaticGradScaler": "ganglion.graph.static.scaling:StaticGradScaler",
    "GraphError": "ganglion.graph.errors:GraphError",
    "GraphWiringError": "ganglion.graph.errors:GraphWiringError",
    "GraphFrozenError": "ganglion.graph.errors:GraphFrozenError",
    "GraphCheckpointError": "ganglion.graph.errors:GraphCheckpointError",
    "ops": "ganglion.graph.op_view:ops",
    "OpView": "ganglion.graph.op_view:OpView",
    "export": "ganglion.graph.exporting:export",
    "ExportError": "ganglion.graph.exporting:ExportError",
}

__all__ = list(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from ganglion.graph.data_layer import DataLayer  # noqa: F401
    from ganglion.graph.errors import (  # noqa: F401
        GraphCheckpointError,
        GraphError,
        GraphFrozenError,
        GraphWiringError,
    )
    from ganglion.graph.mode import OperationMode  # noqa: F401
    from ganglion.graph.model import GraphModel  # noqa: F401
    from ganglion.graph.naming import AppState  # noqa: F401
    from ganglion.graph.neural_graph import NeuralGraph  # noqa: F401
    from ganglion.graph.tensors import NmTensor, Step  # noqa: F401


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
