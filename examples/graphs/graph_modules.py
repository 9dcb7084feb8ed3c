"""Example neural modules for the graph tutorials and configs: a sine wave fitted by a
TaylorNet-style network.

- :class:`SineDataset`: ``n`` points ``x`` drawn uniformly from ``[-2, 2]`` (seeded) with
  targets ``y = sin(x)``, each example an ``(x, y)`` pair of shape ``(1,)`` tensors (a
  ``train_ds`` / ``validation_ds`` section can name it).
- :class:`SineDataLayer` (a :class:`~ganglion.graph.DataLayer`) over a :class:`SineDataset`;
  ports ``x`` (B,D ChannelType) and ``y`` (B,D LabelsType).
- :class:`TaylorNet`: ``y_pred = sum_i w_i x**i / i!`` for ``i < dim`` plus a bias; port
  ``x`` (B,D ChannelType) in, ``y_pred`` (B,D ChannelType) out.
- :class:`MSELoss`: ``predictions`` (B,D ChannelType) and ``target`` (B,D LabelsType) in,
  ``loss`` (LossType) out.

Making these classes usable in configs
--------------------------------------
A serialised graph (and so a ``GraphModel`` config, ``ganglion train``, a ``.ganglion``
archive) names each module's class under ``_target_``, and ganglion builds only classes the
``_target_`` policy allows (:mod:`ganglion.targets`): a config can never name ``os.system``.
This file is not a plugin, so a user makes it importable and allowed in one of two ways:

1. Allow its import path, for configs and archives alike, without code::

       export PYTHONPATH=examples/graphs          # importable as "graph_modules"
       export GANGLION_ALLOW_TARGETS=graph_modules
       ganglion train --config-path examples/graphs/conf --config-name taylor_sine

   (in Python: ``with ganglion.targets.allow_targets("graph_modules"): ...``).

2. Register the classes, in-process with :func:`register` (``ganglion.register_module``),
   or from a plugin's ``register_modules`` hook (a plugin's package is allowed as well). A
   registered class may also be named by its short registered name (``_target_: TaylorNet``).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ganglion.graph import DataLayer
from ganglion.module import NeuralModule
from ganglion.typechecking import typecheck
from ganglion.types import ChannelType, LabelsType, LossType, NeuralType

__all__ = ["MSELoss", "SineDataLayer", "SineDataset", "TaylorNet", "register"]


class SineDataset(torch.utils.data.TensorDataset):
    """``n`` seeded points of a sine wave: ``x`` uniform in ``[-2, 2]``, ``y = sin(x)``."""

    def __init__(self, n: int = 256, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        x = torch.rand(n, 1, generator=generator) * 4 - 2
        super().__init__(x, torch.sin(x))


class SineDataLayer(DataLayer):
    """A data layer over ``SineDataset(n, seed)``, loaded in batches of ``batch_size``."""

    def __init__(
        self, n: int = 256, seed: int = 0, batch_size: int = 32, shuffle: bool = True
    ) -> None:
        super().__init__(SineDataset(n, seed), batch_size=batch_size, shuffle=shuffle)

    @property
    def output_types(self) -> dict[str, NeuralType]:  # type: ignore[override]
        return {
            "x": NeuralType(("B", "D"), ChannelType()),
            "y": NeuralType(("B", "D"), LabelsType()),
        }


class TaylorNet(NeuralModule):
    """A learned truncated Taylor series: ``dim`` terms ``x**i / i!`` mixed linearly."""

    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.dim = dim
        self.fc = torch.nn.Linear(dim, 1)

    @property
    def input_types(self) -> dict[str, NeuralType]:
        return {"x": NeuralType(("B", "D"), ChannelType())}

    @property
    def output_types(self) -> dict[str, NeuralType]:
        return {"y_pred": NeuralType(("B", "D"), ChannelType())}

    @typecheck()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        terms = torch.cat([x**i / math.factorial(i) for i in range(self.dim)], dim=1)
        return self.fc(terms)


class MSELoss(NeuralModule):
    """Mean squared error between predictions and targets."""

    @property
    def input_types(self) -> dict[str, NeuralType]:
        return {
            "predictions": NeuralType(("B", "D"), ChannelType()),
            "target": NeuralType(("B", "D"), LabelsType()),
        }

    @property
    def output_types(self) -> dict[str, NeuralType]:
        return {"loss": NeuralType(elements_type=LossType())}

    @typecheck()
    def forward(self, predictions: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.mse_loss(predictions, target)


def register(**kwargs: Any) -> None:
    """Register the three modules under their class names (``ganglion.register_module``);
    ``kwargs`` go to each call."""
    import ganglion

    for cls in (SineDataLayer, TaylorNet, MSELoss):
        ganglion.register_module(cls.__name__, cls, **kwargs)
