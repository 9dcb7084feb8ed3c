"""A graph is a plain nn.Module: torch.compile, torch.export and Lightning take it."""

from __future__ import annotations

import torch
from graph_fixtures import Affine, Split

from ganglion.graph import NeuralGraph


def _graph():
    m1, m2, s = Affine(), Affine(), Split()
    with NeuralGraph() as g:
        a, b = s(x=m1(x=g))
        g.outputs["out"] = m2(x=a)
    return g, m1, m2, s


def test_torch_compile_traces_a_graph_without_breaks():
    g, m1, m2, s = _graph()
    x = torch.randn(4, 3)
    expected = m2(s(m1(x))[0])
    compiled = torch.compile(g, backend="eager", fullgraph=True)
    assert torch.allclose(compiled(x=x), expected)


def test_torch_export_exports_a_graph():
    g, m1, m2, s = _graph()
    x = torch.randn(4, 3)
    exported = torch.export.export(g, (), {"x": x})
    assert torch.allclose(exported.module()(x=x), g(x=x))
