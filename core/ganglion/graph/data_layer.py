"""``DataLayer``: the module a complete graph starts with, wrapping a dataset.

A data layer has output ports only. In a graph it is the first step; when the graph runs,
its outputs are a batch: given to the call (``graph(batch)``) or drawn from the loader set
with :meth:`configure_data_loader` (``graph.get_batch()`` iterates it).

Subclass it to build the dataset from plain arguments (so the layer, and the graph, can be
serialised), or wrap any dataset: ``DataLayer(dataset, output_types={...})``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ganglion.graph.errors import GraphError
from ganglion.module import NeuralModule

__all__ = ["DataLayer"]


class DataLayer(NeuralModule):
    """A dataset as a module with output ports only (NeMo's data layer).

    ``dataset`` yields one example per index: a tuple (or mapping) with one value per output
    port; the default collation stacks them into a batch. ``output_types`` declares the ports
    (a subclass may define the property instead). ``loader_args`` are the initial
    ``DataLoader`` arguments (``batch_size``, ``shuffle``...).
    """

    def __init__(
        self,
        dataset: Any = None,
        output_types: Mapping[str, Any] | None = None,
        **loader_args: Any,
    ) -> None:
        super().__init__()
        self._dataset = dataset
        self._declared_outputs = output_types
        self._loader_args: dict[str, Any] = dict(loader_args)
        self._loader: Any = None

    @property
    def output_types(self) -> Mapping[str, Any] | None:  # type: ignore[override]
        return self._declared_outputs

    @property
    def dataset(self) -> Any:
        """The wrapped dataset (subclasses may build it instead)."""
        if self._dataset is None:
            raise GraphError(
                f"{self.name} ({type(self).__name__}) has no dataset: pass one, or override "
                "the dataset property"
            )
        return self._dataset

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def loader_args(self) -> dict[str, Any]:
        """The ``DataLoader`` arguments configured so far (a copy)."""
        return dict(self._loader_args)

    def configure_data_loader(self, **loader_args: Any) -> None:
        """Arguments of the ``torch.utils.data.DataLoader`` over :attr:`dataset`, merged over
        the ones given before."""
        self._loader_args.update(loader_args)
        self._loader = None

    @property
    def data_loader(self) -> torch.utils.data.DataLoader:
        """The loader over :attr:`dataset` (built on first use)."""
        if self._loader is None:
            try:
                self._loader = torch.utils.data.DataLoader(self.dataset, **self._loader_args)
            except TypeError as exc:
                raise GraphError(f"{self.name}.configure_data_loader: {exc}") from None
        return self._loader

    def forward(self, batch: Any) -> Any:
        """The batch as the output ports' values (a tuple in port order, or the value)."""
        ports = list(self.output_ports)
        if isinstance(batch, Mapping):
            missing = [p for p in ports if p not in batch]
            if missing:
                raise GraphError(
                    f"{self.name}: the batch has no {', '.join(map(repr, missing))}; it has "
                    f"{', '.join(map(str, batch))}"
                )
            values = [batch[p] for p in ports]
        elif isinstance(batch, (tuple, list)):
            values = list(batch)
        else:
            values = [batch]
        if len(values) != len(ports):
            raise GraphError(
                f"{self.name}: a batch of {len(values)} value(s) for {len(ports)} output "
                f"port(s) ({', '.join(ports)})"
            )
        return values[0] if len(values) == 1 else tuple(values)
