"""``NeuralGraph``: neural modules wired into a typed graph that runs as one module."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from ganglion.graph import activity
from ganglion.graph.bindings import GraphInputs, GraphOutputs, ReadOnlyView
from ganglion.graph.errors import GraphError, GraphFrozenError
from ganglion.graph.mode import OperationMode
from ganglion.graph.running import RunPlan, bind_inputs, build_plan, is_frozen, is_loss, run
from ganglion.graph.tensors import NmTensor, Step
from ganglion.module import NeuralModule

__all__ = ["NeuralGraph"]


class NeuralGraph(NeuralModule):
    """A graph of neural modules, built by calling modules on symbolic tensors inside its
    context, and run by calling it like any module.

    Building::

        with NeuralGraph(operation_mode=OperationMode.training) as g:   # or g.activate()
            x, y = data_layer()
            p = taylor(x=x)
            loss = mse(predictions=p, target=y)
        g.outputs["loss"] = loss                 # manual outputs (else: every tensor made)

    Each call is type-checked when it is recorded (no tensors needed); a wrong connection
    raises at the line that made it. Running: ``g(**inputs)`` / ``g(batch)`` replays the steps
    and returns the bound outputs (one value, or a named tuple). The graph's children are its
    modules under their names, so ``parameters()``, ``to()``, ``state_dict()`` and Lightning
    see them; modules are shared with every other graph they are in.
    """

    _name_kind = "graph"

    def __init__(
        self, operation_mode: OperationMode | str = OperationMode.both, name: str | None = None
    ) -> None:
        super().__init__()
        self._operation_mode = OperationMode.parse(operation_mode)
        if name is not None:
            self.name = name
        self._steps: list[Step] = []
        self._members: dict[str, NeuralModule] = {}
        self._inputs = GraphInputs(self)
        self._outputs = GraphOutputs(self)
        self._frozen_reason: str | None = None
        self._plan: RunPlan | None = None
        self._batches: Iterator[Any] | None = None
        self._last_losses: list[torch.Tensor] = []

    # -- context -------------------------------------------------------------------------
    def activate(self) -> NeuralGraph:
        """Make this the active graph of the current thread or task (until
        :meth:`deactivate`); module calls on symbolic tensors are recorded into it."""
        if self in activity.stack():
            raise GraphError(f"graph {self.name!r} is already active")
        activity.push(self)
        return self

    def deactivate(self) -> None:
        """End this graph's context; the graph active before it is active again."""
        active = activity.active_graph()
        if active is not self:
            which = f"graph {active.name!r} is" if active is not None else "no graph is"
            raise GraphError(
                f"graph {self.name!r} is not the active graph ({which}); deactivate graphs "
                "in the reverse order of activation"
            )
        activity.pop(self)

    def __enter__(self) -> NeuralGraph:
        return self.activate()

    def __exit__(self, *exc_info: Any) -> None:
        self.deactivate()

    @property
    def is_active(self) -> bool:
        """Whether this graph is in the current context's stack of active graphs."""
        return self in activity.stack()

    # -- recording (called by NeuralModule.__call__) ------------------------------------
    def record(self, module: NeuralModule, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Record ``module(*args, **kwargs)`` as a step (see :mod:`.recording`)."""
        from ganglion.graph.recording import record_call

        return record_call(self, module, args, kwargs)

    def check_open(self, action: str, *, where: str | None = None) -> None:
        """Refuse to change a graph whose topology is frozen."""
        if self._frozen_reason is not None:
            prefix = f"{where}: " if where else ""
            raise GraphFrozenError(
                f"{prefix}cannot {action} in graph {self.name!r}: its topology is frozen "
                f"because {self._frozen_reason}; build a new graph over the same modules"
            )

    def freeze_topology(self, reason: str) -> None:
        """Refuse new steps from now on (the first reason is kept)."""
        if self._frozen_reason is None:
            self._frozen_reason = reason

    @property
    def topology_frozen(self) -> str | None:
        """Why the topology is frozen (``None`` while steps may still be recorded)."""
        return self._frozen_reason

    def check_module(self, module: NeuralModule, where: str) -> None:
        """Refuse a module whose name clashes inside this graph."""
        name = module.name
        held = self._members.get(name)
        if held is not None and held is not module:  # pragma: no cover - names are unique
            raise GraphError(f"{where}: graph {self.name!r} already has a module named {name!r}")
        if held is None and (hasattr(self, name) or name in self._modules):
            raise GraphError(
                f"{where}: module name {name!r} clashes with an attribute of NeuralGraph; "
                "rename the module (module.name = ...) before wiring it"
            )

    def add_step(self, step: Step) -> None:
        """Append a checked step (its module becomes a child under its name)."""
        module = step.module
        if step.module_name not in self._members:
            self._members[step.module_name] = module
            self.add_module(step.module_name, module)
            graphs = module.__dict__.setdefault("_ganglion_graphs", weakref.WeakSet())
            graphs.add(self)
        self._steps.append(step)
        self._plan = None

    def topology_changed(self) -> None:
        self._plan = None

    def outputs_changed(self) -> None:
        self._plan = None

    # -- bindings ------------------------------------------------------------------------
    @property
    def inputs(self) -> GraphInputs:
        """The graph's inputs: ``g.inputs["i"] = module.input_ports["x"]`` binds one."""
        return self._inputs

    @property
    def outputs(self) -> GraphOutputs:
        """The graph's outputs: ``g.outputs["y"] = tensor`` binds one by hand."""
        return self._outputs

    @property
    def input_types(self) -> dict[str, Any]:
        return {name: t.type for name, t in self._inputs.items()}

    @property
    def output_types(self) -> dict[str, Any]:
        return {name: t.type for name, t in self._outputs.bound.items()}

    @property
    def input_ports(self) -> Mapping[str, Any]:
        """Read-only: the bound inputs' types, by input name."""
        return ReadOnlyView(
            self.input_types,
            f"{self.name}.input_ports",
            "bind inputs with graph.inputs[name] = type",
        )

    @property
    def output_ports(self) -> Mapping[str, Any]:
        """Read-only: the bound outputs' types, by output name."""
        return ReadOnlyView(
            self.output_types,
            f"{self.name}.output_ports",
            "bind outputs with graph.outputs[name] = tensor",
        )

    @property
    def output_tensors(self) -> Mapping[str, NmTensor]:
        """Read-only: the bound outputs' symbolic tensors, by output name."""
        return ReadOnlyView(
            dict(self._outputs.bound),
            f"{self.name}.output_tensors",
            "bind outputs with graph.outputs[name] = tensor",
        )

    # -- introspection -------------------------------------------------------------------
    @property
    def operation_mode(self) -> OperationMode:
        """What the graph is for (training, evaluation or both)."""
        return self._operation_mode

    def __len__(self) -> int:
        """The number of modules in the graph."""
        return len(self._members)

    def __getitem__(self, name: str) -> NeuralModule:
        return self.graph_modules[name]

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def __bool__(self) -> bool:  # len() would make an empty graph false
        return True

    @property
    def graph_modules(self) -> Mapping[str, NeuralModule]:
        """Read-only: the graph's modules by name, in order of first use."""
        return ReadOnlyView(
            self._members,
            f"{self.name}.graph_modules",
            "modules join a graph by being called in it",
        )

    @property
    def steps(self) -> tuple[Step, ...]:
        """The recorded steps, in order."""
        return tuple(self._steps)

    @property
    def tensors(self) -> dict[int, dict[str, NmTensor]]:
        """Step number -> the tensors it produced, by port."""
        return {step.number: dict(step.outputs) for step in self._steps}

    @property
    def tensor_list(self) -> list[NmTensor]:
        """Every tensor the steps produced, in order."""
        return [t for step in self._steps for t in step.outputs.values()]

    @property
    def data_layer(self) -> NeuralModule | None:
        """The data layer the graph starts with, or ``None``."""
        if self._steps and self._steps[0].is_data_layer:
            return self._steps[0].module
        return None

    @property
    def is_complete(self) -> bool:
        """Whether the graph can run on its own: it starts with a data layer and has no
        inputs to feed."""
        return self.data_layer is not None and not self._inputs

    @property
    def is_trainable(self) -> bool:
        """Whether the graph can train: not an evaluation graph, and a loss is an output."""
        if self._operation_mode is OperationMode.evaluation:
            return False
        return any(is_loss(t.type) for t in self._outputs.bound.values())

    def summary(self) -> str:
        """Modules (``[FROZEN]`` marked), steps, connections with their types, inputs and
        outputs, as text."""
        from ganglion.graph.summary import graph_summary

        return graph_summary(self)

    # -- modules: freezing, modes --------------------------------------------------------
    def _select(self, module_names: Iterable[str] | None) -> list[NeuralModule]:
        if module_names is None:
            return list(self._members.values())
        if isinstance(module_names, str):
            module_names = [module_names]
        return [self.graph_modules[name] for name in module_names]

    def freeze(self, module_names: Iterable[str] | None = None) -> None:  # type: ignore[override]
        """Freeze the named modules (all by default): no gradients, eval mode."""
        for module in self._select(module_names):
            NeuralModule.freeze(module)

    def unfreeze(self, module_names: Iterable[str] | None = None) -> None:  # type: ignore[override]
        """Unfreeze the named modules (all by default): gradients, train mode."""
        for module in self._select(module_names):
            NeuralModule.unfreeze(module)

    def train(self, mode: bool = True) -> NeuralGraph:
        """Set train/eval mode on the modules (frozen ones stay in eval mode). When the graph
        runs, an evaluation graph puts its modules in eval mode, and a training graph in
        train mode (frozen ones in eval) unless the graph itself was put in eval mode here
        (as Lightning does for validation); a graph of mode both runs them as set here."""
        self.training = mode
        for module in self._members.values():
            module.train(mode and not is_frozen(module))
        return self

    # -- running -------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the recorded steps on real tensors; returns the bound outputs (one value, or a
        named tuple by output name). Graph inputs go by position or name; a graph starting
        with a data layer takes one batch (``g(batch)``), its ports by name, or the next
        batch of its configured data loader."""
        plan = self._plan
        if plan is None:
            plan = self._compile()
        env = bind_inputs(self, plan, args, kwargs)
        result = run(self, plan, env)
        if plan.loss_keys:  # through __dict__: nn.Module.__setattr__ costs ~2 µs a run
            self.__dict__["_last_losses"] = [env[k] for k in plan.loss_keys]
        return result

    def _compile(self) -> RunPlan:
        plan = build_plan(self)
        self.freeze_topology("it has run")
        self._plan = plan
        return plan

    def backward(self) -> None:
        """Back-propagate the loss outputs of the last run (their sum)."""
        if self._operation_mode is OperationMode.evaluation:
            raise GraphError(f"graph {self.name!r} is an evaluation graph: it has no backward")
        losses = self._last_losses
        self.__dict__["_last_losses"] = []
        if not losses:
            raise GraphError(
                f"graph {self.name!r}: no loss to back-propagate; run the graph first, with a "
                "loss (LossType) among its outputs"
            )
        total = (
            losses[0] if len(losses) == 1 else torch.stack([loss.sum() for loss in losses]).sum()
        )
        total.backward()

    # -- data ----------------------------------------------------------------------------
    def configure_data_loader(self, **loader_args: Any) -> None:
        """Set the data loader of the graph's data layer (``batch_size``, ``shuffle``,
        ``num_workers``, ... as ``torch.utils.data.DataLoader`` takes them)."""
        layer = self._require_data_layer("configure_data_loader")
        layer.configure_data_loader(**loader_args)
        self._batches = None

    def get_batch(self) -> Iterator[Any]:
        """One pass over the data layer's loader: ``for batch in g.get_batch(): g(batch)``.
        Each call starts a new pass."""
        layer = self._require_data_layer("get_batch")
        return iter(layer.data_loader)

    def next_batch(self) -> Any:
        """The next batch of the data layer's loader (a new pass starts when one ends)."""
        layer = self._require_data_layer("run without a batch")
        if self._batches is None:
            self._batches = iter(layer.data_loader)
        try:
            return next(self._batches)
        except StopIteration:
            self._batches = iter(layer.data_loader)
            return next(self._batches)

    def _require_data_layer(self, action: str) -> Any:
        layer = self.data_layer
        if layer is None:
            raise GraphError(
                f"graph {self.name!r} does not start with a data layer, so it cannot "
                f"{action}; pass its inputs to graph(...) instead"
            )
        return layer

    # -- serialisation and checkpoints ---------------------------------------------------
    def serialize(self) -> dict[str, Any]:
        """The graph as plain data: header, modules (configs), steps, connections, inputs,
        outputs. :meth:`deserialize` rebuilds it."""
        from ganglion.graph.serialization import serialize

        return serialize(self)

    @classmethod
    def deserialize(
        cls,
        configuration: Mapping[str, Any],
        reuse_existing_modules: bool = False,
        name: str | None = None,
    ) -> NeuralGraph:
        """Rebuild a graph from :meth:`serialize`'s output (module classes under the
        ``_target_`` policy of :mod:`ganglion.targets`)."""
        from ganglion.graph.serialization import deserialize

        return deserialize(configuration, reuse_existing_modules=reuse_existing_modules, name=name)

    def export_to_config(self, config_file: str | Path) -> Path:
        """Write :meth:`serialize`'s output as YAML (atomically); returns the path."""
        from ganglion.graph.serialization import export_to_config

        return export_to_config(self, config_file)

    @classmethod
    def import_from_config(
        cls, config_file: str | Path, reuse_existing_modules: bool = False, name: str | None = None
    ) -> NeuralGraph:
        """Rebuild a graph from a YAML file written by :meth:`export_to_config`."""
        from ganglion.graph.serialization import import_from_config

        return import_from_config(
            config_file, reuse_existing_modules=reuse_existing_modules, name=name
        )

    def save_to(self, filename: str | Path, module_names: Iterable[str] | None = None) -> Path:
        """Write the weights of the trainable modules (or those named) to a safetensors
        checkpoint, atomically; returns the path."""
        from ganglion.graph.checkpoints import save_weights

        return save_weights(self, filename, module_names)

    def restore_from(self, filename: str | Path, module_names: Iterable[str] | None = None) -> None:
        """Load the named modules' (default: all the checkpoint's) weights from a checkpoint
        written by :meth:`save_to`; everything is checked before any weight changes."""
        from ganglion.graph.checkpoints import load_weights

        load_weights(self, filename, module_names)

    def save_archive(self, path: str | Path) -> Path:
        """Pack the whole graph (topology, weights, artifacts) into one ``.ganglion``."""
        from ganglion.graph.model import GraphModel

        return GraphModel.from_graph(self).save_to(path)

    @classmethod
    def restore_archive(
        cls, path: str | Path, reuse_existing_modules: bool = False, name: str | None = None
    ) -> NeuralGraph:
        """A working graph from a ``.ganglion`` written by :meth:`save_archive`."""
        from ganglion.graph.model import GraphModel

        return GraphModel.restore_graph(
            path, reuse_existing_modules=reuse_existing_modules, name=name
        )

    def to_config_dict(self) -> Any:
        from omegaconf import OmegaConf

        return OmegaConf.create(self.serialize())

    def __repr__(self) -> str:
        return (
            f"NeuralGraph(name={self.name!r}, operation_mode={self._operation_mode}, "
            f"modules={list(self._members)}, steps={len(self._steps)})"
        )
