"""Wiring is checked when it is made: clear errors at the user's line, nothing changed."""

from __future__ import annotations

import pytest
import torch
from graph_fixtures import Adder, Affine, Mse, Pairs, Transposed, Untyped

from ganglion.graph import GraphError, GraphWiringError, NeuralGraph

HERE = __file__.rsplit("/", 1)[-1]


def _unchanged(g, steps, inputs):
    assert len(g.steps) == steps and len(g.inputs) == inputs


def test_types_that_do_not_agree_are_refused_at_the_line_that_wired_them():
    m, t = Affine(), Transposed()
    with NeuralGraph() as g:
        y = m(x=g)
        with pytest.raises(GraphWiringError) as info:
            t(x=y)  # the failing line
    message = str(info.value)
    assert f"{HERE}:" in message.split(": ")[0]
    assert f"{m.name} (Affine) output 'y' (B,D:ChannelType)" in message
    assert f"{t.name} (Transposed) input 'x' (D,B:ChannelType)" in message
    assert "TRANSPOSE_SAME" in message and "axis 0: expected Dimension, got Batch" in message
    assert "a transpose would" in message
    _unchanged(g, 1, 1)


def test_the_error_names_the_exact_line():
    m, t = Affine(), Transposed()
    with NeuralGraph() as g:
        y = m(x=g)
        try:
            t(x=y)
        except GraphWiringError as exc:
            import inspect

            expected = inspect.currentframe().f_lineno - 4
            assert str(exc).startswith(f"{__file__}:{expected}: ")
        else:  # pragma: no cover
            pytest.fail("not refused")


def test_elements_that_do_not_fit_are_refused():
    dl, m, loss = Pairs(), Affine(), Mse()
    with NeuralGraph() as g:
        x, y = dl()
        with pytest.raises(GraphWiringError, match="input 'x'.*LabelsType"):
            m(x=y)  # labels where channels are expected
        p = m(x=x)
        with pytest.raises(GraphWiringError, match="input 'target'"):
            loss(predictions=p, target=p)  # channels where labels are expected
    _unchanged(g, 2, 0)


def test_a_port_that_does_not_exist_gets_did_you_mean():
    m = Affine()
    with NeuralGraph() as g, pytest.raises(GraphWiringError) as info:
        m(xx=g)
    assert "has no input port 'xx'. Did you mean 'x'? Input ports: x." in str(info.value)
    _unchanged(g, 0, 0)


def test_a_missing_required_input_is_named():
    with NeuralGraph() as g, pytest.raises(GraphWiringError, match="required input port.*'b'"):
        Adder()(a=Affine()(x=g))
    _unchanged(g, 1, 1)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (torch.zeros(2, 3), "got Tensor"),
        (3.0, "got float"),
    ],
)
def test_a_value_that_is_not_symbolic_is_refused(value, message):
    with NeuralGraph() as g, pytest.raises(GraphWiringError, match=message):
        Affine()(x=value)
    _unchanged(g, 0, 0)


def test_a_tensor_of_another_graph_is_refused():
    with NeuralGraph() as other:
        y = Affine()(x=other)
    with NeuralGraph() as g, pytest.raises(GraphWiringError, match="belongs to graph"):
        Affine()(x=y)
    _unchanged(g, 0, 0)


def test_passing_another_graph_as_an_input_is_refused():
    other = NeuralGraph()
    with NeuralGraph(), pytest.raises(GraphWiringError, match="the active graph is"):
        Affine()(x=other)


def test_a_module_without_output_ports_is_refused():
    with NeuralGraph() as g, pytest.raises(GraphWiringError, match="declares no output ports"):
        Untyped()(x=g)


def test_a_data_layer_must_be_the_first_step():
    with NeuralGraph() as g:
        Affine()(x=g)
        with pytest.raises(GraphWiringError, match="only be a graph's first step"):
            Pairs()()


def test_too_many_positional_values_and_a_port_given_twice():
    m = Affine()
    with NeuralGraph() as g:
        with pytest.raises(GraphWiringError, match="takes 1 input port"):
            m(g, g)
        with pytest.raises(GraphWiringError, match="given twice"):
            m(g, x=g)


def test_an_automatic_input_shared_by_two_ports_must_agree():
    with NeuralGraph() as g:
        Affine()(x=g)
        with pytest.raises(GraphWiringError, match="TRANSPOSE_SAME"):
            Transposed()(x=g)
    _unchanged(g, 1, 1)


def test_renaming_a_module_after_it_is_in_a_graph_is_refused():
    m = Affine()
    with NeuralGraph() as g:
        m(x=g)
    with pytest.raises(GraphError, match="fixed once it is in a graph"):
        m.name = "renamed_late"


def test_a_module_name_clashing_with_a_graph_attribute_is_refused():
    m = Affine()
    m.name = "summary"
    with NeuralGraph() as g, pytest.raises(GraphError, match="clashes with an attribute"):
        m(x=g)
    _unchanged(g, 0, 0)


def test_binding_an_input_to_something_that_is_not_a_type():
    with NeuralGraph() as g, pytest.raises(GraphError, match="expected a NeuralType"):
        g.inputs["i"] = 3
    with NeuralGraph() as g2:
        y = Affine()(x=g2)
        with pytest.raises(GraphError, match="not\\s+to the tensor"):
            g2.inputs["i"] = y


def test_passing_all_outputs_of_a_call_names_them():
    from graph_fixtures import Split

    with NeuralGraph() as g:
        both = Split()(x=g)
        with pytest.raises(GraphWiringError, match=r"a tuple of 2 symbolic tensors \(a, b\)"):
            Affine()(x=both)
