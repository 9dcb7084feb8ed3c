"""A static graph's build is what the op view and export trace."""

from __future__ import annotations

import pytest
import torch

from ganglion.graph import GraphError, StaticGraph, export, ops


class _Eval(StaticGraph):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def build(self, x):
        return self.model(x) * 2


_BUILD_LINE = 17  # the line of build's return above


def test_the_op_view_and_export_of_an_evaluation_graph(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
    graph = _Eval(model)
    view = ops(graph, torch.randn(3, 4))
    mul = view["mul"]
    assert [op.op for op in view if op.kind != "parameter"][1:3] == [
        "aten.linear.default",
        "aten.relu.default",
    ]
    assert mul.location.endswith(f"test_static_graph_trace.py:{_BUILD_LINE}")
    export(graph, tmp_path / "g.pt2", example_inputs=(torch.randn(3, 4),), verbose=False)
    loaded = torch.export.load(str(tmp_path / "g.pt2")).module()
    x = torch.randn(3, 4)
    out = loaded(x)
    assert torch.allclose(out[0] if isinstance(out, tuple) else out, model(x) * 2)


def test_a_training_graph_is_not_traced():
    model = torch.nn.Linear(4, 1)

    class Train(StaticGraph):
        def __init__(self):
            super().__init__()
            self.model = model
            self.add_optimizer(torch.optim.SGD(model.parameters(), lr=0.1))

        def build(self, x):
            loss = self.model(x).sum()
            loss.backward()
            return loss

    with pytest.raises(GraphError, match="trains"):
        ops(Train(), torch.randn(2, 4))


def test_a_backend_that_fails_to_compile_is_a_clear_error(monkeypatch):
    from ganglion.graph.static import compiling

    def refuse(self, gm, example_inputs):
        raise RuntimeError("no compiler today")

    monkeypatch.setattr(compiling.CompileLog, "__call__", refuse)

    class Eval(StaticGraph):
        def __init__(self):
            super().__init__()
            self.model = torch.nn.Linear(4, 4)

        def build(self, x):
            return self.model(x)

    with pytest.raises(GraphError, match=r"failed to compile build: RuntimeError: no compiler"):
        Eval()(torch.randn(2, 4))
