"""StaticGraph's introspection: verify (eager vs compiled), debug levels, activation
checkpointing, pipeline stages, repr and names."""

from __future__ import annotations

import copy
import re

import pytest
import torch

from ganglion.graph.errors import GraphError
from ganglion.graph.static import StaticGradScaler, StaticGraph


class Block(torch.nn.Module):
    """Two linears around a tanh; counts eager forward calls (not while compiling)."""

    calls = 0

    def __init__(self, width: int = 8, hidden: int = 32) -> None:
        super().__init__()
        self.a = torch.nn.Linear(width, hidden)
        self.b = torch.nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.compiler.is_compiling():
            Block.calls += 1
        return self.b(torch.tanh(self.a(x)))


class Drift(torch.nn.Module):
    """Scales by 1.001 only when compiled: a known eager/compiled divergence."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 1.001 if torch.compiler.is_compiling() else x


def _model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(Block(), torch.nn.BatchNorm1d(8), Block())


class Train(StaticGraph):
    def __init__(self, model, *, steps=1, scaler=None, checkpointing=False, drift=False):
        super().__init__()
        self.model = model
        self.drift = Drift()
        self.use_drift = drift
        self.add_optimizer(torch.optim.Adam(model.parameters(), lr=0.01))
        if scaler is not None:
            self.set_grad_scaler(scaler)
        self.config.set_backend("aot_eager")
        self.config.set_gradient_accumulation_steps(steps)
        self.graph_module("model").activation_checkpointing = checkpointing

    def build(self, x, y):
        loss = torch.nn.functional.mse_loss(self.model(x), y)
        if self.use_drift:
            loss = self.drift(loss)
        loss.backward()
        return loss


class Eval(StaticGraph):
    def __init__(self, model, drift=False):
        super().__init__()
        self.model = model
        self.drift = Drift()
        self.use_drift = drift
        self.config.set_backend("aot_eager")

    def build(self, x, extra=None):
        out = self.model(x)
        if self.use_drift:
            out = self.drift(out)
        return out, {"sum": out.sum(), "none": None}


def _batch(n=16):
    return torch.randn(n, 8), torch.randn(n, 8)


# -- verify ---------------------------------------------------------------------------------


def test_verify_eval_graph_reports_each_output_and_compiles_once():
    model = _model().eval()
    g = Eval(model)
    x, _ = _batch()
    report = g.verify(x)
    assert report.ok and g._compiled is not None
    assert [e.name for e in report.outputs] == ["out[0]", "out[1]['sum']"]
    assert report["out[0]"].shape == (16, 8) and report["out[0]"].max_abs == 0.0
    assert report.gradients == [] and report.worst is not None
    compiled = g._log.count
    assert g.verify(x).ok and g._log.count == compiled  # no second compile
    text = str(report)
    assert text.splitlines()[0].startswith(f"verify {g.name} (eager vs compiled with aot_eager")
    header = text.splitlines()[1]
    assert re.match(r"\s+kind\s+name\s+shape\s+max abs\s+max rel\s+ok", header)
    rows = text.splitlines()[2:]
    assert len(rows) == 2 and all(row.rstrip().endswith("yes") for row in rows)
    assert len({row.index("yes") for row in rows}) == 1  # aligned columns


def test_verify_training_graph_leaves_every_state_untouched():
    model = _model()
    g = Train(model, steps=2, scaler=StaticGradScaler(64.0))
    x, y = _batch()
    g(x, y)  # Adam state, BatchNorm statistics and a step already there
    optimizer = g._optimizers[0][0]
    weights = copy.deepcopy(model.state_dict())
    opt_state = copy.deepcopy(optimizer.state_dict())
    for p in model.parameters():
        p.grad = torch.full_like(p, 3.0)  # grads a user left behind stay as they were
    grads = [p.grad for p in model.parameters()]
    rng = torch.get_rng_state()

    report = g.verify(x, y)

    assert report.ok, str(report)
    assert len(report.gradients) == len(list(model.parameters()))
    assert {e.name for e in report.buffers} >= {"model.1.running_mean", "model.1.running_var"}
    assert report["out"].shape == (2,)  # the micro-batch losses, as a training call returns
    for key, value in model.state_dict().items():
        assert torch.equal(value, weights[key]), key
    assert [p.grad for p in model.parameters()] == grads
    assert all(bool((p.grad == 3.0).all()) for p in model.parameters())
    assert torch.equal(torch.get_rng_state(), rng)
    assert str(optimizer.state_dict()) == str(opt_state)
    assert g.train_step == 1 and g.recompiles == 0


def test_verify_finds_a_drift_and_compares_unscaled_gradients():
    model = _model()
    reference = copy.deepcopy(model)
    g = Train(model, steps=2, scaler=StaticGradScaler(128.0), drift=True)
    x, y = _batch()
    report = g.verify(x, y, rtol=1e-5, atol=1e-6)
    assert not report.ok
    assert report["out"].max_rel == pytest.approx(1e-3, rel=1e-3)
    # the true (unscaled, averaged) gradient, computed eagerly on a copy
    for i in range(2):
        loss = torch.nn.functional.mse_loss(
            reference(x[i * 8 : (i + 1) * 8]), y[i * 8 : (i + 1) * 8]
        )
        (loss / 2).backward()
    # the compiled loss is 1.001 x eager, so is every compiled gradient: max abs is 0.1 % of
    # the true (unscaled, averaged) gradient; a gradient left scaled by 128 would be 128x that
    checked = 0
    for name, param in reference.named_parameters():
        true = float(param.grad.abs().max())
        if true > 1e-4:  # (the biases before BatchNorm get no gradient, only rounding noise)
            assert report[f"model.{name}"].max_abs == pytest.approx(1e-3 * true, rel=0.05)
            checked += 1
    assert checked >= 6
    assert "DIVERGES" in str(report)
    with pytest.raises(GraphError, match="rtol and atol"):
        g.verify(x, y, rtol=-1)


# -- debug ----------------------------------------------------------------------------------


@pytest.fixture
def quiet_after():
    graphs = []
    yield graphs.append
    for g in graphs:
        g.debug(-1)


def test_debug_levels(capsys, quiet_after):
    model = _model().eval()
    g = Eval(model)
    quiet_after(g)
    g.debug(0)
    g(torch.randn(4, 8))
    err = capsys.readouterr().err
    assert f"{g.name}: compiled graph 1 with aot_eager" in err
    assert __file__ not in err, err  # level 0: events only

    g.debug(1)
    g.use_drift = True  # build reads it: a guard fails, a recompilation with its reason
    g(torch.randn(4, 8))
    err = capsys.readouterr().err
    assert re.search(rf"{g.name}: recompiling build \(.*:\d+\): .*use_drift", err), err
    build_line = Eval.build.__code__.co_firstlineno + 1
    assert f"{__file__}:{build_line}" in err  # the user's line in build
    assert "def forward" not in err

    g.debug(2)
    g2 = Eval(model)
    quiet_after(g2)
    g2.debug(2)
    g2(torch.randn(4, 8))  # level 2: the graph code too
    err = capsys.readouterr().err
    assert f"{g2.name}: graph 1 code:\ndef forward" in err and "linear" in err

    g.debug(-1)
    g(torch.randn(7, 8))
    assert capsys.readouterr().err == ""


def test_debug_stack_options_change_the_source_lines(capsys, quiet_after):
    model = _model().eval()
    g = Eval(model)
    quiet_after(g)
    g.debug(1, max_py_stack_depth=2)  # set before the first call: kept until compiling
    g(torch.randn(4, 8))
    err = capsys.readouterr().err
    forward_line = Block.forward.__code__.co_firstlineno + 3
    assert f"{__file__}:{forward_line} < {__file__}:" in err  # inner frame first
    assert "graph_module.py" not in err

    g2 = Eval(_model().eval())
    quiet_after(g2)
    g2.debug(1, max_py_stack_depth=1, only_user_py_stack=False)
    g2(torch.randn(4, 8))
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ": linear " in ln]
    assert lines and all(" < " not in ln for ln in lines)  # one frame each
    g3 = Eval(torch.nn.Linear(8, 8))
    quiet_after(g3)
    g3.debug(1, max_py_stack_depth=1, only_user_py_stack=False)
    g3(torch.randn(4, 8))
    assert "graph_module.py" in capsys.readouterr().err  # ganglion's own frame shown


# -- activation checkpointing ---------------------------------------------------------------


def _saved_bytes(g, x, y):
    saved = [0]

    def pack(t):
        saved[0] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        g(x, y)
    return saved[0]


def test_activation_checkpointing_trains_the_same_with_fewer_saved_bytes():
    plain, ckpt = _model(), _model()
    g_plain, g_ckpt = Train(plain), Train(ckpt, checkpointing=True)
    batches = [_batch(64) for _ in range(3)]
    for x, y in batches:
        assert torch.allclose(g_plain(x, y), g_ckpt(x, y), rtol=1e-5, atol=1e-6)
    for a, b in zip(plain.parameters(), ckpt.parameters()):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)

    # the compiled graph holds torch's checkpoint region; the plain one does not
    def hops(g):
        return [
            n for gm in g._log.graphs for n in gm.graph.nodes
            if "checkpoint" in getattr(n.target, "__name__", "")
        ]  # fmt: skip

    assert hops(g_ckpt) and not hops(g_plain)
    x, y = _batch(64)
    plain_bytes, ckpt_bytes = _saved_bytes(g_plain, x, y), _saved_bytes(g_ckpt, x, y)
    assert ckpt_bytes < 0.6 * plain_bytes, (plain_bytes, ckpt_bytes)
    text = repr(g_ckpt)
    assert "activation_checkpointing (recomputed in backward)" in text
    module_ops = [ln for ln in text.splitlines() if ln.startswith("    model.")]
    assert module_ops and all(ln.endswith("[recomputed]") for ln in module_ops)
    assert "[recomputed]" not in repr(g_plain)


def test_activation_checkpointing_recomputes_the_forward_in_backward():
    # the eager side of verify runs build as written: each Block runs again in backward
    g = Train(_model(), checkpointing=True)
    x, y = _batch()
    Block.calls = 0
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        g.build(x, y)
    assert Block.calls == 4  # two blocks, forward and recompute
    Block.calls = 0
    Train(_model()).build(x, y)
    assert Block.calls == 2


def test_module_options_are_refused_after_compiling():
    g = Train(_model())
    g(*_batch())
    with pytest.raises(GraphError, match="before its first call"):
        g.graph_module("model").activation_checkpointing = True
    with pytest.raises(GraphError, match="before its first call"):
        g.graph_module("model").set_stage(1)


# -- stages, repr, name ---------------------------------------------------------------------


def test_set_stage_is_recorded_and_shown():
    g = Eval(_model())
    g.graph_module("model").set_stage(0, placement="cpu")
    g.graph_module("drift").set_stage(1)
    handle = g.graph_module("model")
    assert (handle.stage_id, handle.placement) == (0, "cpu")
    text = repr(g)
    assert "(MODULE model: Sequential, " in text and "stage 0, placement cpu" in text
    assert "(MODULE drift: Drift, 0 parameters; stage 1)" in text
    for bad in (-1, 1.5, "0", True, None):
        with pytest.raises(GraphError, match="stage_id must be an int >= 0"):
            g.graph_module("model").set_stage(bad)
    with pytest.raises(GraphError, match="no module 'modle'"):
        g.graph_module("modle")


def test_repr_before_and_after_compiling():
    model = _model().eval()
    g = Eval(model)
    count = sum(p.numel() for p in model.parameters())
    before = repr(g)
    assert before.startswith(f"({g.name}: Eval, not compiled yet, evaluation, train_step 0)")
    assert "  (CONFIG)\n    backend: aot_eager -> torch.compile(backend='aot_eager')" in before
    assert f"(MODULE model: Sequential, {count} parameters)" in before
    assert "INPUTS" not in before and "linear" not in before

    g(torch.randn(5, 8))
    after = repr(g)
    assert after.startswith(f"({g.name}: Eval, compiled, evaluation")
    lines = after.splitlines()
    start = lines.index(f"  (MODULE model: Sequential, {count} parameters)")
    ops = lines[start + 1 : start + 7]
    assert [ln.split(":")[0].strip() for ln in ops] == [
        "model.0.a", "model.0", "model.0.b", "model.1", "model.2.a", "model.2",
    ]  # fmt: skip
    assert re.match(r"model\.0\.a: linear \[(5|s\d+), 32\] ", ops[0].strip()), ops[0]
    assert f"{__file__}:" in ops[0]
    assert "  (INPUTS of the last call: x=tensor[5, 8] float32)" in lines
    assert (
        "  (OUTPUTS of the last call: (tensor[5, 8] float32, "
        "{'sum': tensor[] float32, 'none': None}))" in lines
    )
    assert lines[-1] == "  (1 graph(s) compiled, 0 recompile(s))"


def test_names_count_per_class():
    class Other(Eval):
        pass

    first, second, other = Eval(_model()), Eval(_model()), Other(_model())
    number = int(first.name.rsplit("_", 1)[1])
    assert first.name == f"Eval_{number}" and second.name == f"Eval_{number + 1}"
    assert other.name == "Other_0"
