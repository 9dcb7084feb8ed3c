"""The op view: ops of traced modules and graphs, with tags and source lines."""

from __future__ import annotations

import inspect
import json

import pytest
import torch
import torch.utils.checkpoint as checkpoint
from graph_fixtures import LENGTHS, Masked
from graph_fixtures import XT_SEQ as X

from ganglion.graph import GraphError, NeuralGraph, OpView, ops
from ganglion.targets import allow_targets


@pytest.fixture(autouse=True)
def _allowed():
    with allow_targets(__name__):
        yield


class Checkpointed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh())
        self.outer = torch.nn.Linear(4, 2)

    def forward(self, x):
        h = checkpoint.checkpoint(self.inner, x, use_reentrant=False)  # CHECKPOINT LINE
        return self.outer(h)


def _line(cls, marker):
    source, start = inspect.getsourcelines(cls)
    return start + next(i for i, text in enumerate(source) if marker in text)


def test_ops_of_a_neural_module_name_ops_args_users_shapes_and_source_lines():
    module = Masked()
    view = ops(module)  # example from input_example(): batch 2, time 16
    assert isinstance(view, OpView)
    conv = next(op for op in view.calls if op.op == "aten.conv1d.default")
    assert conv.args[:3] == ("x", "p_conv_weight", "p_conv_bias")
    assert conv.shape == (2, 6, 16) and conv.dtype == "torch.float32"
    assert conv.tags["module"] == "conv"
    relu = view[conv.users[0]]
    assert relu.op == "aten.relu.default" and relu.args == (conv.name,)
    # the line in this file that called the conv, not torch's own source
    assert conv.location == f"{inspect.getsourcefile(Masked)}:{_line(Masked, 'return torch.relu')}"
    arange = next(op for op in view.calls if op.op.startswith("aten.arange"))
    assert arange.location == f"{inspect.getsourcefile(Masked)}:{_line(Masked, 'MASK LINE')}"
    assert arange.stack[-1].endswith("in forward")
    assert view["p_conv_weight"].kind == "parameter"
    assert view["p_conv_weight"].tags["parameter"] == "conv.weight"


def test_graph_inputs_and_outputs_carry_their_ports_and_neural_types():
    view = ops(Masked())
    x, lengths = view.inputs
    assert (x.name, x.tags["port"], x.tags["neural_type"]) == ("x", "x", str(X))
    assert lengths.tags["neural_type"] == str(LENGTHS) and lengths.dtype == "torch.int64"
    outputs = {op.tags["output"]: op for op in view if "output" in op.tags}
    assert set(outputs) == {"y", "lengths"}
    assert outputs["y"].tags["neural_type"] == str(X)
    assert view["output"].args == (outputs["y"].name, "lengths")


def test_table_is_aligned_and_json_round_trips():
    view = ops(Masked())
    text = str(view)
    lines = text.splitlines()
    assert lines[0].startswith("ops of Masked")
    header, rule = lines[1], lines[2]
    assert header.split()[:5] == ["name", "op", "args", "users", "shape"]
    assert set(rule.replace(" ", "")) == {"-"}
    # every row starts its op column where the header does
    column = header.index(" op ") + 1
    for row in lines[3:]:
        assert row[column - 2 : column] == "  "
    assert any("aten.conv1d.default" in row and "[2, 6, 16]" in row for row in lines)
    data = json.loads(view.to_json())
    assert data == view.to_dict()
    assert [op["name"] for op in data["ops"]] == [op.name for op in view]
    again = OpView.from_json(view.to_json())
    assert [op.to_dict() for op in again] == [op.to_dict() for op in view]


def test_explicit_example_inputs_set_the_shapes():
    view = ops(Masked(), torch.randn(3, 8, 5), torch.tensor([5, 4, 2]))
    conv = next(op for op in view.calls if op.op == "aten.conv1d.default")
    assert conv.shape == (3, 6, 5)


def test_ops_of_a_neural_graph_take_inputs_by_name_and_name_module_paths():
    enc = Masked()
    with NeuralGraph(name="opsgraph") as graph:
        y, n = enc(x=graph, lengths=graph)
    view = ops(graph, x=torch.randn(2, 8, 7), lengths=torch.tensor([7, 3]))
    assert [op.tags["port"] for op in view.inputs] == ["x", "lengths"]
    conv = next(op for op in view.calls if op.op == "aten.conv1d.default")
    # the neural module itself is on the path (its own __call__ is seen)
    assert conv.tags["module"] == f"{enc.name}.conv"
    mask = next(op for op in view.calls if op.op.startswith("aten.arange"))
    assert mask.tags["module"] == enc.name
    assert view.in_module(enc.name) and all(
        op.tags["module"].startswith(enc.name) for op in view.in_module(enc.name)
    )
    assert conv.location.startswith(inspect.getsourcefile(Masked))
    # the same ops by position, in the graph's input order
    again = ops(graph, torch.randn(2, 8, 7), torch.tensor([7, 3]))
    assert [op.op for op in again] == [op.op for op in view]


def test_ops_in_an_activation_checkpointed_region_are_tagged_recomputed():
    view = ops(Checkpointed(), torch.randn(3, 4))
    recomputed = view.tagged("recomputed")
    assert {op.tags["module"] for op in recomputed} == {"inner.0", "inner.1"}
    assert {op.op for op in recomputed} == {"aten.linear.default", "aten.tanh.default"}
    where = f"{__file__}:{_line(Checkpointed, 'CHECKPOINT LINE')}"
    assert all(op.tags["recomputed"] == where for op in recomputed)
    outer = next(op for op in view.calls if op.tags.get("module") == "outer")
    assert "recomputed" not in outer.tags
    assert "recomputed" in str(view)


class _Holder:
    """Not a module: gives what to trace through the trace_target() hook."""

    def __init__(self, module):
        self.module = module

    def trace_target(self):
        return self.module


def test_objects_with_a_trace_target_hook_are_traced_through_it():
    view = ops(_Holder(Masked()))
    assert any(op.op == "aten.conv1d.default" for op in view)
    assert view.inputs[0].tags["neural_type"] == str(X)  # the target's ports


def test_untraceable_objects_and_missing_examples_are_clear_errors():
    with pytest.raises(GraphError, match="cannot trace a str"):
        ops("encoder")
    with pytest.raises(GraphError, match="gives no example inputs"):
        ops(torch.nn.Linear(2, 2))
    with pytest.raises(GraphError, match="trace_target\\(\\) returned int"):
        ops(type("Bad", (), {"trace_target": lambda self: 3})())


def test_the_public_names_are_the_functions():
    import ganglion.graph
    import ganglion.graph.op_view  # noqa: F401  (importing the module rebinds nothing)

    assert ganglion.graph.ops is ganglion.graph.op_view.ops
    assert isinstance(ganglion.graph.ops(Masked()), OpView)
    assert callable(ganglion.graph.export)
