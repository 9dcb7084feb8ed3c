"""Static-graph mode: OneFlow's ``nn.Graph`` on PyTorch's compiler stack.

Subclass :class:`StaticGraph`, assign eager modules in ``__init__``, describe one step in
``build``; the first call compiles it with ``torch.compile``. :class:`GraphConfig` holds the
options (each mapped onto a real PyTorch mechanism, see its table), :class:`GraphModule` the
per-module ones (activation checkpointing, pipeline stages).
"""

from __future__ import annotations

from ganglion.lazy import lazy_attributes

_LAZY = {
    "StaticGraph": "ganglion.graph.static.static_graph:StaticGraph",
    "GraphConfig": "ganglion.graph.static.config:GraphConfig",
    "GraphModule": "ganglion.graph.static.graph_module:GraphModule",
    "StaticGradScaler": "ganglion.graph.static.scaling:StaticGradScaler",
}

__all__ = list(_LAZY)


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
