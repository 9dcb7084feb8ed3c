"""NeuralGraph: building, bindings, introspection, nesting, running, names."""

from __future__ import annotations

import gc

import pytest
import torch
from graph_fixtures import Adder, Affine, Mse, Pairs, Split, X

from ganglion.errors import DuplicateNameError
from ganglion.graph import (
    AppState,
    GraphError,
    GraphFrozenError,
    NeuralGraph,
    NmTensor,
    OperationMode,
)
from ganglion.graph.naming import registry_of
from ganglion.module import NeuralModule


# -- names --------------------------------------------------------------------------------
def test_modules_get_the_smallest_free_number_and_a_deleted_module_frees_its_name():
    gc.collect()

    class Widget(NeuralModule):
        pass

    a, b = Widget(), Widget()
    assert (a.name, b.name) == ("widget0", "widget1")
    del a
    gc.collect()
    assert Widget().name == "widget0"
    assert "widget1" in AppState().modules


def test_an_explicit_duplicate_name_is_refused_and_nothing_changes():
    a, b = Affine(), Affine()
    a.name = "encoder_dup"
    before = b.name
    with pytest.raises(DuplicateNameError, match="'encoder_dup' already exists"):
        b.name = "encoder_dup"
    assert b.name == before
    assert AppState().modules["encoder_dup"] is a


def test_a_name_must_be_an_identifier():
    with pytest.raises(GraphError, match="not a valid name"):
        Affine().name = "my.encoder"


def test_graphs_are_listed_only_under_graphs_and_graph_names_are_unique():
    g = NeuralGraph(name="only_graphs_here")
    assert "only_graphs_here" in AppState().graphs
    assert "only_graphs_here" not in AppState().modules
    assert g.name not in AppState().modules
    with pytest.raises(DuplicateNameError):
        NeuralGraph(name="only_graphs_here")
    assert "only_graphs_here" in AppState().graphs.summary()


def test_app_state_holds_weak_references():
    g = NeuralGraph(name="short_lived")
    with g:
        Affine()(x=g)
    del g
    gc.collect()
    assert "short_lived" not in AppState().graphs


def test_ports_are_read_only_resolved_mappings():
    m = Affine()
    assert dict(m.input_ports) == {"x": X}
    assert dict(m.output_ports) == {"y": X}
    with pytest.raises(TypeError):
        m.input_ports["z"] = X  # type: ignore[index]


# -- building -----------------------------------------------------------------------------
def test_recording_computes_nothing_and_returns_symbolic_tensors():
    m = Affine()
    with NeuralGraph() as g:
        y = m(x=g)
        a, b = Split()(x=y)
    assert isinstance(y, NmTensor) and y.type is X
    assert (a.port, b.port) == ("a", "b")
    assert y.producer_name == m.name and y.producer_step_number == 0
    assert [s.module_name for s in g.steps] == [m.name, g.steps[1].module_name]
    assert m.linear.weight.grad is None


def test_activate_and_deactivate_nest_as_a_stack():
    outer, inner = NeuralGraph(), NeuralGraph()
    outer.activate()
    inner.activate()
    Affine()(x=inner)
    with pytest.raises(GraphError, match="not the active graph"):
        outer.deactivate()
    inner.deactivate()
    Affine()(x=outer)
    outer.deactivate()
    assert len(inner.steps) == 1 and len(outer.steps) == 1


def test_a_graph_input_binds_automatically_and_by_hand():
    m1, m2 = Affine(), Affine()
    with NeuralGraph() as g:
        m1(x=g)
        g.inputs["other"] = m2.input_ports["x"]
        m2(x=g.inputs["other"])
    assert list(g.input_ports) == ["x", "other"]
    assert g.input_ports["other"] is X


def test_default_outputs_get_unique_keys_and_manual_outputs_replace_them():
    m1, m2 = Affine(), Affine()
    with NeuralGraph() as g:
        y1 = m1(x=g)
        y2 = m2(x=y1)
    assert list(g.output_ports) == ["y", f"{m2.name}_y"]
    assert g.outputs.is_manual is False
    with g:  # re-entering a graph may bind outputs
        g.outputs["result"] = y2
    assert list(g.output_tensors) == ["result"]
    assert g.output_tensors["result"] is y2


@pytest.mark.parametrize(
    "change",
    [
        lambda g: g.output_ports.__setitem__("z", X),
        lambda g: g.output_tensors.__setitem__("z", None),
        lambda g: g.input_ports.__setitem__("z", X),
        lambda g: g.outputs.__delitem__("y"),
        lambda g: g.inputs.__delitem__("x"),
        lambda g: g.graph_modules.__setitem__("z", None),
    ],
)
def test_views_are_read_only_and_bindings_cannot_be_deleted(change):
    with NeuralGraph() as g:
        Affine()(x=g)
    with pytest.raises(GraphError, match="read-only|cannot be unbound"):
        change(g)


def test_binding_a_name_twice_is_an_error():
    m = Affine()
    with NeuralGraph() as g:
        y = m(x=g)
        g.outputs["out"] = y
        with pytest.raises(GraphError, match="'out' is already bound"):
            g.outputs["out"] = y
        with pytest.raises(GraphError, match="'x' is already bound"):
            g.inputs["x"] = X


def test_introspection():
    dl, m, loss = Pairs(), Affine(), Mse()
    with NeuralGraph(operation_mode="training") as g:
        x, y = dl()
        p = m(x=x)
        loss(predictions=p, target=y)
    assert len(g) == 3 and g[m.name] is m
    assert list(g.graph_modules) == [dl.name, m.name, loss.name]
    assert list(g.modules())[0] is g  # torch's modules() is untouched
    assert g.tensors[1] == {"y": p}
    assert len(g.tensor_list) == 4
    assert g.operation_mode is OperationMode.training
    assert g.is_complete and g.is_trainable
    assert g.data_layer is dl


def test_is_complete_and_is_trainable_are_false_when_they_should_be():
    with NeuralGraph(operation_mode="evaluation") as g:
        x, y = Pairs()()
        Mse()(predictions=x, target=y)
    assert g.is_complete and not g.is_trainable  # evaluation graphs do not train
    with NeuralGraph() as h:
        Affine()(x=h)
    assert not h.is_complete and not h.is_trainable  # an input to feed, no loss


def test_summary_lists_modules_steps_connections_inputs_and_outputs():
    m1, m2 = Affine(), Affine()
    with NeuralGraph(name="summarised") as g:
        m2(x=m1(x=g))
    m1.freeze()
    text = g.summary()
    assert f"{m1.name} (Affine) [FROZEN]" in text
    assert f"{m2.name} (Affine)\n" in text
    assert f"0.{m1.name}.y -> 1.{m2.name}.x | B,D:ChannelType" in text
    assert "x | B,D:ChannelType" in text and "Outputs (default)" in text


def test_the_same_module_may_be_called_several_times():
    m = Affine()
    with NeuralGraph() as g:
        y = m(x=m(x=g))
        g.outputs["y"] = y
    assert len(g) == 1 and len(g.steps) == 2
    x = torch.randn(4, 3)
    assert torch.allclose(g(x=x), m(m(x)))


# -- nesting ------------------------------------------------------------------------------
def _model_graph(mode=OperationMode.both):
    m = Affine()
    with NeuralGraph(operation_mode=mode) as model:
        m(x=model)
    return model, m


def test_nesting_splices_the_steps_and_shares_the_modules():
    model, m = _model_graph()
    dl, loss = Pairs(), Mse()
    with NeuralGraph(operation_mode="training") as training:
        x, y = dl()
        p = model(x=x)
        loss(predictions=p, target=y)
    assert [s.module_name for s in training.steps] == [dl.name, m.name, loss.name]
    assert training[m.name] is m
    assert p.graph is training and "y" in training.output_ports


def test_a_nested_graph_with_several_outputs_returns_a_named_tuple_of_its_output_names():
    s = Split()
    with NeuralGraph() as inner:
        first, second = s(x=inner)
        inner.outputs["first"] = first
        inner.outputs["second"] = second
    with NeuralGraph() as outer:
        out = inner(x=outer)
        Adder()(a=out.first, b=out.second)
    assert out._fields == ("first", "second")
    assert {"first", "second"} <= set(outer.outputs.default)


@pytest.mark.parametrize(
    ("inner", "outer", "ok"),
    [
        ("both", "training", True),
        ("both", "evaluation", True),
        ("training", "training", True),
        ("evaluation", "evaluation", True),
        ("training", "evaluation", False),
        ("evaluation", "training", False),
        ("training", "both", False),
    ],
)
def test_nesting_follows_the_mode_rules(inner, outer, ok):
    model, _ = _model_graph(inner)
    g = NeuralGraph(operation_mode=outer)
    with g:
        if ok:
            model(x=g)
        else:
            with pytest.raises(GraphError, match=f"mode {inner}.*mode {outer}"):
                model(x=g)
            assert g.steps == () and len(g.inputs) == 0


def test_a_graph_cannot_be_nested_into_itself():
    model, _ = _model_graph()
    with model, pytest.raises(GraphError, match="into itself"):
        model(x=model)


# -- frozen topology ----------------------------------------------------------------------
@pytest.mark.parametrize("freeze", ["run", "nest", "serialise"])
def test_a_graph_that_ran_was_nested_or_serialised_takes_no_new_steps(freeze):
    model, m = _model_graph()
    if freeze == "run":
        model(x=torch.randn(2, 3))
        reason = "it has run"
    elif freeze == "nest":
        with NeuralGraph() as other:
            model(x=other)
        reason = "nested into graph"
    else:
        from ganglion.targets import allow_targets

        with allow_targets("graph_fixtures"):
            model.serialize()
        reason = "serialised"
    with model:
        with pytest.raises(GraphFrozenError, match=reason):
            Affine()(x=model)
        model.outputs["bound_later"] = model.output_tensors["y"]  # outputs may still be bound
    assert len(model.steps) == 1


# -- running ------------------------------------------------------------------------------
def test_running_returns_one_value_or_a_named_tuple():
    m, s = Affine(), Split()
    with NeuralGraph() as g:
        y = m(x=g)
        s(x=y)
    x = torch.randn(5, 3)
    out = g(x)
    assert out._fields == ("y", "a", "b")
    assert torch.allclose(out.a, m(x) * 2)
    with g:
        g.outputs["only"] = y
    assert torch.allclose(g(x=x), m(x))


def test_a_missing_input_is_reported_when_the_graph_runs_naming_module_and_port():
    m = Affine()
    with NeuralGraph() as g:
        m(x=g)
    with pytest.raises(GraphError, match=rf"missing input\(s\): x \(feeds {m.name}.x\)"):
        g()
    with pytest.raises(GraphError, match="has no input 'z'"):
        g(z=torch.randn(2, 3))


def test_training_and_evaluation_graphs_set_the_modules_mode_and_gradients():
    model, m = _model_graph()
    with NeuralGraph(operation_mode="evaluation") as ev:
        model(x=ev)
    m.train()
    out = ev(x=torch.randn(2, 3))
    assert not m.training and not out.requires_grad
    with NeuralGraph(operation_mode="training") as tr:
        model(x=tr)
    assert tr(x=torch.randn(2, 3)).requires_grad and m.training


def test_frozen_modules_stay_in_eval_mode_in_a_training_graph():
    m1, m2 = Affine(), Affine()
    with NeuralGraph(operation_mode="training") as g:
        m2(x=m1(x=g))
    g.freeze([m1.name])
    g(x=torch.randn(2, 3))
    assert not m1.training and m2.training
    assert not any(p.requires_grad for p in m1.parameters())
    g.unfreeze()
    g(x=torch.randn(2, 3))
    assert m1.training and all(p.requires_grad for p in m1.parameters())


def test_named_parameters_are_prefixed_by_module_name():
    m1, m2 = Affine(), Affine()
    with NeuralGraph() as g:
        m2(x=m1(x=g))
    names = [n for n, _ in g.named_parameters()]
    assert names == [
        f"{m1.name}.linear.weight",
        f"{m1.name}.linear.bias",
        f"{m2.name}.linear.weight",
        f"{m2.name}.linear.bias",
    ]


def test_data_layer_graph_loop_with_get_batch_forward_and_backward():
    dl, m, loss = Pairs(n=32, batch_size=8), Affine(), Mse()
    with NeuralGraph(operation_mode="training") as g:
        x, y = dl()
        loss(predictions=m(x=x), target=y)
    g.configure_data_loader(batch_size=16, shuffle=False)
    optimizer = torch.optim.SGD(g.parameters(), lr=0.1)
    losses = []
    for _ in range(5):
        batches = list(g.get_batch())
        assert len(batches) == 2  # a fresh pass on each call
        for batch in batches:
            out = g(batch)
            optimizer.zero_grad()
            g.backward()
            optimizer.step()
            losses.append(out.loss.item())
    assert losses[-1] < losses[0]
    assert g().loss.item() >= 0  # no batch given: the next one from the loader
    with pytest.raises(GraphError, match="no loss to back-propagate"):
        g.backward()
        g.backward()


def test_a_graph_without_a_data_layer_has_no_loader():
    model, _ = _model_graph()
    with pytest.raises(GraphError, match="does not start with a data layer"):
        model.get_batch()


def test_a_symbolic_tensor_outside_any_graph_is_a_clear_error():
    m = Affine()
    with NeuralGraph() as g:
        y = m(x=g)
    with pytest.raises(GraphError, match="no graph is active"):
        Affine()(x=y)
    with pytest.raises(GraphError, match="carry no data"):
        torch.relu(y)


def test_eager_calls_are_ordinary_outside_graphs():
    m = Affine()
    x = torch.randn(2, 3)
    assert torch.allclose(m(x), m.linear(x))
    assert registry_of("graph") is AppState().graphs


class _Norm(NeuralModule):
    def __init__(self):
        super().__init__()
        self.bn = torch.nn.BatchNorm1d(3)

    @property
    def input_types(self):
        return {"x": X}

    @property
    def output_types(self):
        return {"y": X}

    def forward(self, x):
        return self.bn(x)


@pytest.mark.parametrize("how", ["module", "model_graph", "context"])
def test_a_module_frozen_after_a_training_graph_ran_stays_frozen_in_it(how):
    m = _Norm()
    with NeuralGraph(name=None) as model:
        m(x=model)
    with NeuralGraph(operation_mode="training") as training:
        model(x=training)
    training(x=torch.randn(8, 3))
    assert m.training
    if how == "module":
        m.freeze()
    elif how == "model_graph":
        model.freeze()
    else:
        context = m.freeze()
    before = m.bn.running_mean.clone()
    training(x=torch.randn(8, 3))
    assert not m.training and torch.equal(before, m.bn.running_mean)
    if how == "context":
        with context:
            pass  # leaving the context unfreezes it again
        training(x=torch.randn(8, 3))
        assert m.training


def test_a_training_graph_put_in_eval_mode_runs_in_eval_mode_as_lightning_validates():
    m = _Norm()
    with NeuralGraph(operation_mode="training") as training:
        m(x=training)
    training.eval()
    before = m.bn.running_mean.clone()
    training(x=torch.randn(8, 3))
    assert not m.training and torch.equal(before, m.bn.running_mean)
    training.train()
    training(x=torch.randn(8, 3))
    assert m.training and not torch.equal(before, m.bn.running_mean)


def test_a_freed_name_in_the_middle_is_the_next_one_given():
    class Gadget(NeuralModule):
        pass

    gc.collect()
    made = [Gadget() for _ in range(4)]
    assert [m.name for m in made] == ["gadget0", "gadget1", "gadget2", "gadget3"]
    del made[1]
    gc.collect()
    made += [Gadget(), Gadget()]
    assert [m.name for m in made[-2:]] == ["gadget1", "gadget4"]
