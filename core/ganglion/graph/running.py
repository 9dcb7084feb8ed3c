"""Running a graph: its steps compiled once into a flat plan, then replayed per call.

The plan is a list of ``(module, ((port, key), ...), output keys, one output?)`` built when
the graph first runs (its topology is then frozen); a call only moves values through a dict
keyed by tensor names, so a graph costs little more than calling its modules by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from ganglion.graph.errors import GraphError
from ganglion.graph.mode import OperationMode
from ganglion.graph.tensors import port_tuple
from ganglion.module import FREEZE_CHANGES

if TYPE_CHECKING:  # pragma: no cover
    from ganglion.graph.neural_graph import NeuralGraph

__all__ = ["RunPlan", "bind_inputs", "build_plan", "is_frozen", "is_loss", "run"]

#: the env key under which a data step finds its batch
BATCH_KEY = "batch"


def is_loss(port_type: Any) -> bool:
    """Whether a port type is a loss (``LossType`` elements)."""
    from ganglion.types.elements import LossType
    from ganglion.types.neural_type import NeuralType

    return isinstance(port_type, NeuralType) and isinstance(port_type.elements_type, LossType)


def is_frozen(module: torch.nn.Module) -> bool:
    """Whether ``module`` has parameters and none of them is trained."""
    any_param = False
    for param in module.parameters():
        if param.requires_grad:
            return False
        any_param = True
    return any_param


@dataclass
class RunPlan:
    steps: list[tuple[Any, tuple[tuple[str, str], ...], tuple[str, ...], bool]]
    #: (graph input name, env key), in input order
    inputs: tuple[tuple[str, str], ...]
    #: graph input name -> env key (the same pairs, for calls that name every input)
    input_keys: dict[str, str]
    #: graph input name -> the "module.port" it feeds (for messages)
    feeds: dict[str, list[str]]
    output_keys: tuple[str, ...]
    output_names: tuple[str, ...]
    #: whether the operation mode sets the modules' modes (training, evaluation graphs)
    fixed_mode: bool
    #: the mode a training graph wants (evaluation: False)
    training: bool
    no_grad: bool
    #: the data layer's module and output ports when the graph starts with one
    data_layer: Any
    data_ports: tuple[str, ...]
    #: env keys of the bound outputs that are losses (what backward() sums)
    loss_keys: tuple[str, ...]
    #: the env key of the only output, or None when there are several
    single_output: str | None = None
    #: (module, train mode wanted), and the FREEZE_CHANGES count they were worked out at
    modes: tuple[tuple[torch.nn.Module, bool], ...] = ()
    modes_at: int = -1

    def module_modes(self, graph: NeuralGraph) -> tuple[tuple[torch.nn.Module, bool], ...]:
        """Each module's wanted mode: a training graph trains all but frozen modules."""
        if self.modes_at != FREEZE_CHANGES[0]:
            self.modes = tuple(
                (m, self.training and not is_frozen(m)) for m in graph.graph_modules.values()
            )
            self.modes_at = FREEZE_CHANGES[0]
        return self.modes

    def pack(self, env: dict[str, Any]) -> Any:
        if self.single_output is not None:
            return env[self.single_output]
        return port_tuple(self.output_names)(*[env[k] for k in self.output_keys])


def build_plan(graph: NeuralGraph) -> RunPlan:
    """The plan of ``graph`` as it is now."""
    steps = []
    feeds: dict[str, list[str]] = {}
    data_layer = None
    data_ports: tuple[str, ...] = ()
    for step in graph.steps:
        if step.is_data_layer:
            data_layer = step.module
            data_ports = tuple(step.outputs)
            ins: tuple[tuple[str, str], ...] = ((BATCH_KEY, BATCH_KEY),)
        else:
            ins = tuple((port, t.unique_name) for port, t in step.inputs.items())
            for port, t in step.inputs.items():
                if t.is_graph_input:
                    feeds.setdefault(t.port, []).append(f"{step.module_name}.{port}")
        outs = tuple(t.unique_name for t in step.outputs.values())
        steps.append((step.module, ins, outs, len(outs) == 1))
    bound = graph.outputs.bound
    if not bound:
        raise GraphError(f"graph {graph.name!r} has no outputs: record steps or bind outputs")
    mode = graph.operation_mode
    inputs = tuple((name, t.unique_name) for name, t in graph.inputs.items())
    output_keys = tuple(t.unique_name for t in bound.values())
    return RunPlan(
        steps=steps,
        inputs=inputs,
        input_keys=dict(inputs),
        feeds=feeds,
        output_keys=output_keys,
        output_names=tuple(bound),
        fixed_mode=mode is not OperationMode.both,
        training=mode is OperationMode.training,
        no_grad=mode is OperationMode.evaluation,
        data_layer=data_layer,
        data_ports=data_ports,
        loss_keys=tuple(t.unique_name for t in bound.values() if is_loss(t.type)),
        single_output=output_keys[0] if len(output_keys) == 1 else None,
    )


def bind_inputs(
    graph: NeuralGraph, plan: RunPlan, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The env a run starts from: graph inputs (by position or name) and the batch."""
    keys = plan.input_keys
    if not args and plan.data_layer is None and kwargs.keys() == keys.keys():
        env: dict[str, Any] = {}  # every input given by name: the common call, kept short
        for name, value in kwargs.items():
            env[keys[name]] = value
        return env
    env = {}
    names = plan.inputs
    if plan.data_layer is not None:
        batch: Any = None
        if args:
            if len(args) > 1:
                raise GraphError(
                    f"graph {graph.name!r} starts with data layer {plan.data_layer.name}: call "
                    "it with one batch (graph(batch)), or with its ports by name, got "
                    f"{len(args)} positional values"
                )
            batch, args = args[0], ()
        elif any(k in plan.data_ports for k in kwargs):
            batch = {k: kwargs.pop(k) for k in plan.data_ports if k in kwargs}
        else:
            batch = graph.next_batch()
        env[BATCH_KEY] = batch
    if len(args) > len(names):
        raise GraphError(
            f"graph {graph.name!r} takes {len(names)} input(s) "
            f"({', '.join(n for n, _ in names) or 'none'}), got {len(args)} positional values"
        )
    for (_, key), value in zip(names, args):
        env[key] = value
    if kwargs:
        known = keys
        for name, value in kwargs.items():
            key = known.get(name)
            if key is None:
                from ganglion.errors import did_you_mean

                raise GraphError(
                    f"graph {graph.name!r} has no input {name!r}.{did_you_mean(name, known)} "
                    f"Inputs: {', '.join(known) or 'none'}."
                )
            if key in env:
                raise GraphError(f"graph {graph.name!r}: input {name!r} given twice")
            env[key] = value
    if len(env) - (plan.data_layer is not None) < len(names):
        missing = [n for n, k in names if k not in env]
        detail = "; ".join(f"{n} (feeds {', '.join(plan.feeds.get(n, []))})" for n in missing)
        raise GraphError(f"graph {graph.name!r}: missing input(s): {detail}")
    return env


def run(graph: NeuralGraph, plan: RunPlan, env: dict[str, Any]) -> Any:
    """Replay the plan's steps on ``env``; returns the bound outputs."""
    # a training graph sets train mode unless the graph itself was put in eval mode (as
    # Lightning does for validation); an evaluation graph always sets eval mode
    if plan.fixed_mode and (graph.training or not plan.training):
        for module, want in plan.module_modes(graph):
            if module.training is not want:
                module.train(want)
    if plan.no_grad:
        with torch.no_grad():
            _replay(graph, plan.steps, env)
    else:
        _replay(graph, plan.steps, env)
    if plan.single_output is not None:
        return env[plan.single_output]
    return plan.pack(env)


def _replay(graph: NeuralGraph, steps: list[Any], env: dict[str, Any]) -> None:
    for module, ins, outs, single in steps:
        kwargs = {}  # a plain loop: cheaper than a dict comprehension for a few ports
        for port, key in ins:
            kwargs[port] = env[key]
        result = module(**kwargs)
        if single:
            env[outs[0]] = result
        else:
            if not isinstance(result, (tuple, list)) or len(result) != len(outs):
                raise GraphError(
                    f"graph {graph.name!r}: {module.name} returned {type(result).__name__}, "
                    f"but declares {len(outs)} output ports"
                )
            env.update(zip(outs, result))
