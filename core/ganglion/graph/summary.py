"""A graph's summary: modules, steps, connections with types, inputs, outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganglion.graph.running import is_frozen
from ganglion.graph.tensors import format_type

if TYPE_CHECKING:  # pragma: no cover
    from ganglion.graph.neural_graph import NeuralGraph

__all__ = ["graph_summary"]


def graph_summary(graph: NeuralGraph) -> str:
    lines = [
        f"Neural graph {graph.name!r} ({graph.operation_mode} mode)",
        f"* Modules ({len(graph)}):",
    ]
    for name, module in graph.graph_modules.items():
        mark = " [FROZEN]" if is_frozen(module) else ""
        lines.append(f"  * {name} ({type(module).__name__}){mark}")
    lines.append(f"* Steps ({len(graph.steps)}):")
    for step in graph.steps:
        lines.append(f"  {step.number}. {step.module_name}")
    lines.append("* Connections:")
    connections = [
        f"  * {src.unique_name} -> {step.number}.{step.module_name}.{port} "
        f"| {format_type(src.type)}"
        for step in graph.steps
        for port, src in step.inputs.items()
    ]
    lines.extend(connections or ["  none"])
    lines.append("* Inputs:")
    inputs = [f"  * {name} | {format_type(t.type)}" for name, t in graph.inputs.items()]
    lines.extend(inputs or ["  none"])
    kind = "manual" if graph.outputs.is_manual else "default"
    lines.append(f"* Outputs ({kind}):")
    lines.extend(
        f"  * {name} <- {t.unique_name} | {format_type(t.type)}"
        for name, t in graph.outputs.bound.items()
    )
    return "\n".join(lines)
