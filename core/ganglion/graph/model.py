"""``GraphModel``: a neural graph as a ``ModelPT``, trained by Lightning and ``ganglion train``.

The model config holds the graph in the serialised form of :mod:`ganglion.graph.serialization`
under ``graph``, next to the usual sections::

    model:
      _target_: GraphModel            # registered by the core
      graph:                          # NeuralGraph.serialize() / export_to_config output
        header: {format: ganglion.graph, format_version: 1, operation_mode: training, ...}
        modules: {taylornet0: {_target_: my_pkg.TaylorNet, dim: 4}, ...}
        steps: [...]
        connections: [...]
        inputs: [...]
        outputs: {...}
      train_ds: {...}                 # optional when the graph starts with a data layer
      validation_ds: {...}
      test_ds: {...}
      optim: {name: adam, lr: 0.01}

The graph is rebuilt with :meth:`NeuralGraph.deserialize`, so every module class goes through
the one ``_target_`` policy (:mod:`ganglion.targets`): a config (or an archive) can only name
registered modules, classes of installed plugins, or classes the user allowed. Make your own
module classes usable either way:

- register them: ``ganglion.register_module("TaylorNet", TaylorNet)`` in the process, or a
  plugin's ``register_modules`` hook (then ``_target_: TaylorNet`` works too);
- or allow their package: ``GANGLION_ALLOW_TARGETS=my_pkg`` in the environment (what
  ``ganglion train`` reads), or ``with ganglion.targets.allow_targets("my_pkg"):`` in code.
  The package must be importable (installed, or on ``PYTHONPATH``).

Training: ``training_step`` feeds the batch to the graph (a graph starting with a data layer
takes the batch itself; otherwise a mapping goes to the graph inputs by name and a tuple or list
by input order) and returns the sum of the graph's loss (``LossType``) outputs;
``validation_step`` / ``test_step`` log ``val_loss`` / ``test_loss``. A graph that starts with a
data layer and has no ``train_ds`` trains on the data layer's dataset, with its loader
arguments. So a graph gets checkpoints, resume, loggers and DDP from ``ganglion train``::

    GANGLION_ALLOW_TARGETS=graph_modules PYTHONPATH=examples/graphs \\
        ganglion train --config-path examples/graphs/conf --config-name taylor_sine

A graph's modes follow Lightning: a ``training`` graph runs its modules in train mode while
the model trains and in eval mode while Lightning validates or tests (it puts the model in
eval mode); an ``evaluation`` graph cannot train.

Archives: :meth:`GraphModel.from_graph` wraps a graph one already has (sharing its modules),
so ``NeuralGraph.save_archive(path)`` packs topology, weights and artifacts into one
``.ganglion``; :meth:`GraphModel.restore_graph` (``NeuralGraph.restore_archive``) gives a
working graph back.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from ganglion.conf.values import as_dictconfig, to_plain
from ganglion.errors import ConfigError
from ganglion.graph.errors import GraphError
from ganglion.graph.mode import OperationMode
from ganglion.graph.naming import registry_of
from ganglion.graph.neural_graph import NeuralGraph
from ganglion.graph.running import is_loss
from ganglion.graph.serialization import deserialize  # what NeuralGraph.deserialize calls
from ganglion.model import ModelPT

__all__ = ["GraphModel"]

#: the config key holding the serialised graph
GRAPH_KEY = "graph"

# (reuse_existing_modules, name, source named in errors) for the graph a model builds:
# restore_from builds the model from its config alone, so restore_graph hands them over here
_GRAPH_OPTIONS: contextvars.ContextVar[tuple[bool, str | None, str]] = contextvars.ContextVar(
    "ganglion_graph_options", default=(False, None, f"model.{GRAPH_KEY}")
)


class _RealTensorsNeeded(RuntimeError):
    """Raised while a restore builds on the meta device, so that it builds another way (see
    ``ganglion.model.loading``): a data layer's dataset must hold real tensors."""


class GraphModel(ModelPT):
    """A :class:`~ganglion.graph.NeuralGraph` as a Lightning model (see the module docstring).

    Args:
        cfg: the model config: ``graph`` (a serialised graph, required), and the optional
            ``train_ds``, ``validation_ds``, ``test_ds`` and ``optim`` sections of any model.
        trainer: the Lightning ``Trainer`` (data sections are set up at once when given).

    The graph is :attr:`graph` (a child module: its modules' weights are the model's).
    """

    def __init__(self, cfg: Any, trainer: Any = None, *, graph: NeuralGraph | None = None) -> None:
        from ganglion.model.artifacts import unpacked_artifacts

        if unpacked_artifacts() is not None and torch.empty(()).is_meta:
            # a restore tries the meta device first; a graph's data layer would hold a dataset
            # of meta tensors, so ask for the build with real tensors (parameters stay on meta)
            raise _RealTensorsNeeded("a GraphModel is restored with real tensors")
        super().__init__(cfg, trainer=None)
        if graph is None:
            graph = self._build_graph(self.cfg)
        self.graph = graph
        self._loss_names = tuple(name for name, t in graph.outputs.bound.items() if is_loss(t.type))
        if trainer is not None:  # data after the graph: a data layer may be the training data
            self.trainer = trainer
            if unpacked_artifacts() is None:
                self._setup_data_from_config()

    @staticmethod
    def _build_graph(cfg: DictConfig) -> NeuralGraph:
        section = cfg.get(GRAPH_KEY)
        if section is None:
            raise ConfigError(
                f"model.{GRAPH_KEY} is missing: a GraphModel's config holds the graph "
                "(NeuralGraph.serialize() or export_to_config output) under that key"
            )
        if not isinstance(section, (DictConfig, Mapping)):
            raise ConfigError(
                f"model.{GRAPH_KEY}: expected a serialised graph (a mapping), got "
                f"{type(section).__name__}"
            )
        plain = to_plain(as_dictconfig(section, key=f"model.{GRAPH_KEY}"), key=f"model.{GRAPH_KEY}")
        reuse, name, source = _GRAPH_OPTIONS.get()
        return deserialize(plain, reuse_existing_modules=reuse, name=name, source=source)

    # -- wrapping and archives ----------------------------------------------------------------
    @classmethod
    def from_graph(
        cls,
        graph: NeuralGraph,
        cfg_extra: Mapping[str, Any] | DictConfig | None = None,
        *,
        trainer: Any = None,
    ) -> GraphModel:
        """A model over ``graph`` itself: its modules (and weights) are shared, nothing is
        copied. ``cfg_extra`` adds config sections (``optim``, ``train_ds``...); the config's
        ``graph`` is ``graph.serialize()`` (which freezes the graph's topology)."""
        if not isinstance(graph, NeuralGraph):
            raise GraphError(
                f"GraphModel.from_graph: expected a NeuralGraph, got {type(graph).__name__}"
            )
        extra = {} if cfg_extra is None else to_plain(as_dictconfig(cfg_extra, key="cfg_extra"))
        if GRAPH_KEY in extra:
            raise ConfigError(
                f"GraphModel.from_graph: cfg_extra has a {GRAPH_KEY!r} section; the graph "
                "comes from the graph given"
            )
        cfg = OmegaConf.create({GRAPH_KEY: graph.serialize(), **extra})
        return cls(cfg, trainer=trainer, graph=graph)

    @classmethod
    def restore_graph(
        cls,
        path: str | os.PathLike[str],
        reuse_existing_modules: bool = False,
        name: str | None = None,
    ) -> NeuralGraph:
        """The working graph of a ``.ganglion`` archive (``NeuralGraph.save_archive``).

        Topology, weights and artifacts come from the archive; module classes go through the
        ``_target_`` policy before anything is built. A module name that already exists is an
        error naming it, unless ``reuse_existing_modules``: then that module is wired in and
        given the archive's weights (its parameters become the archive's tensors, so an
        optimizer built over the old ones must be built again). ``name`` names the graph (default: the stored name when
        free, else the next free one). On any error, the live modules and graphs
        (``AppState()``) are as they were.
        """
        from ganglion.archive import ArchiveError

        modules, graphs = registry_of("module"), registry_of("graph")
        live = [*modules.values(), *graphs.values()]  # held, so that their ids stay theirs
        before = {id(o) for o in live}
        source = f"{Path(path)}: model.{GRAPH_KEY}"
        token = _GRAPH_OPTIONS.set((bool(reuse_existing_modules), name, source))
        try:
            model = cls.restore_from(path)
        except BaseException as exc:
            _release_new(before)
            del live
            cause = exc.__cause__
            if isinstance(exc, ArchiveError) and isinstance(cause, GraphError):
                # the graph in the archive does not build here (a name clash...): its own
                # error, which names the archive, the key and the module
                raise cause.with_traceback(None) from None
            raise
        finally:
            _GRAPH_OPTIONS.reset(token)
        if not isinstance(model, GraphModel):  # pragma: no cover - restore_from checks it
            raise GraphError(f"{path} holds a {type(model).__name__}, not a graph")
        graph = model.graph
        modules.release(model)  # the wrapper is dropped: its name is not left taken
        return graph

    # -- ports and running ---------------------------------------------------------------------
    @property
    def input_types(self) -> Mapping[str, Any] | None:  # type: ignore[override]
        graph = self.__dict__.get("_modules", {}).get(GRAPH_KEY)
        return None if graph is None else graph.input_types

    @property
    def output_types(self) -> Mapping[str, Any] | None:  # type: ignore[override]
        graph = self.__dict__.get("_modules", {}).get(GRAPH_KEY)
        return None if graph is None else graph.output_types

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the graph: its inputs by name or position (a batch for a data-layer graph);
        returns its bound outputs."""
        return self.graph(*args, **kwargs)

    def _run(self, batch: Any) -> Any:
        graph = self.graph
        if graph.data_layer is not None:
            return graph(batch)
        if isinstance(batch, Mapping):
            return graph(**batch)
        if isinstance(batch, (tuple, list)):
            return graph(*batch)
        return graph(batch)

    def _no_loss(self, action: str) -> GraphError:
        return GraphError(
            f"GraphModel: graph {self.graph.name!r} has no loss (LossType) output, so it "
            f"cannot {action}: it is not trainable; bind a loss module's output "
            "(graph.outputs['loss'] = ...)"
        )

    def _loss(self, outputs: Any, action: str) -> torch.Tensor:
        """The sum of the loss outputs of a run."""
        if not self._loss_names:
            raise self._no_loss(action)
        if len(self.graph.outputs.bound) == 1:
            values = [outputs]
        else:
            values = [getattr(outputs, name) for name in self._loss_names]
        total = values[0] if values[0].dim() == 0 else values[0].sum()
        for value in values[1:]:
            total = total + (value if value.dim() == 0 else value.sum())
        return total

    def _check_trainable(self) -> None:
        graph = self.graph
        if graph.operation_mode is OperationMode.evaluation:
            raise GraphError(
                f"GraphModel: graph {graph.name!r} is an evaluation graph, so it is not "
                "trainable; build it with operation_mode training or both"
            )
        if not self._loss_names:
            raise self._no_loss("train")

    # -- Lightning ----------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        self._check_trainable()

    def training_step(self, batch: Any, batch_idx: int = 0) -> torch.Tensor:
        self._check_trainable()
        loss = self._loss(self._run(batch), "train")
        self._log("train_loss", loss, batch)
        return loss

    def validation_step(self, batch: Any, batch_idx: int = 0, dataloader_idx: int = 0) -> Any:
        loss = self._loss(self._run(batch), "validate")
        self._log("val_loss", loss, batch, prog_bar=True)
        return loss

    def test_step(self, batch: Any, batch_idx: int = 0, dataloader_idx: int = 0) -> Any:
        loss = self._loss(self._run(batch), "test")
        self._log("test_loss", loss, batch)
        return loss

    def _log(self, key: str, loss: torch.Tensor, batch: Any, **kwargs: Any) -> None:
        if self._trainer is not None:  # a step called by hand has nowhere to log
            self.log(key, loss, batch_size=_batch_size(batch), **kwargs)

    def train_dataloader(self) -> Any:
        if self._train_dl is None:
            layer = self.graph.data_layer
            if layer is not None:
                self._train_dl = _data_layer_loader(layer)
        return super().train_dataloader()

    def __repr__(self) -> str:
        return f"GraphModel(graph={self.graph!r})"


def _data_layer_loader(layer: Any) -> Any:
    """A resumable loader over a data layer's dataset, with the layer's loader arguments."""
    from ganglion.data import resumable_dataloader

    args = layer.loader_args
    args.setdefault("shuffle", True)
    try:
        return resumable_dataloader(layer.dataset, **args)
    except (TypeError, ValueError) as exc:
        raise GraphError(
            f"{layer.name}: its loader arguments {args} do not make a training loader: {exc}"
        ) from None


def _batch_size(batch: Any) -> int | None:
    """The first tensor's leading size (what Lightning's logging averages over)."""
    for value in _leaves(batch):
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return int(value.shape[0])
    return None


def _leaves(batch: Any) -> Iterator[Any]:
    if isinstance(batch, Mapping):
        for value in batch.values():
            yield from _leaves(value)
    elif isinstance(batch, (tuple, list)):
        for value in batch:
            yield from _leaves(value)
    else:
        yield batch


def _release_new(before: set[int]) -> None:
    """Free the names of modules and graphs registered since ``before`` (ids of the live
    ones then): a failed restore leaves no name taken by what it half built."""
    for kind in ("module", "graph"):
        registry = registry_of(kind)
        for obj in list(registry.values()):
            if id(obj) not in before:
                registry.release(obj)
