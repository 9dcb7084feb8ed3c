"""Static-graph mode: OneFlow's ``nn.Graph`` on PyTorch's compiler stack.

Subclass :class:`StaticGraph`, assign eager modules in ``__init__``, describe one step in
``build``; the first call compiles it with ``torch.compile``. :class:`GraphConfig` holds the
options (each mapped onto a real PyTorch mechanism, see its table), :class:`GraphModule` the
per-module ones (activation checkpointing, pipeline stages).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "StaticGraph": "ganglion.graph.static.static_graph:StaticGraph",
    "GraphConfig": "ganglion.graph.static.config:GraphConfig",
    "GraphModule": "ganglion.graph.static.graph_module:GraphModule",
    "StaticGradScaler": "ganglion.graph.static.scaling:StaticGradScaler",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'ganglion.graph.static' has no attribute {name!r}")
    module_name, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value
