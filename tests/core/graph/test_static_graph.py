"""StaticGraph against eager PyTorch: every training knob does what eager code does by hand.

Exact equality is asserted under the ``aot_eager`` backend (the same kernels as eager); one test
runs the real CPU backend ``inductor`` within a tolerance.
"""

from __future__ import annotations

import copy
import re
import time
import warnings
from collections import namedtuple

import pytest
import torch
import torch.nn.functional as F

from ganglion.graph.errors import GraphError, GraphFrozenError
from ganglion.graph.static import StaticGradScaler, StaticGraph
from ganglion.module import NeuralModule
from ganglion.targets import allow_targets
from ganglion.types import ChannelType, NeuralType


@pytest.fixture(autouse=True)
def _allowed():
    with allow_targets(__name__):
        yield


def _mlp(seed: int = 0, dim: int = 4) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(dim, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def _batches(n: int, batch: int = 8, dim: int = 4, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(batch, dim, generator=gen), torch.randn(batch, 1, generator=gen))
        for _ in range(n)
    ]


class Train(StaticGraph):
    """The usual training step: MSE loss, backward inside build."""

    def __init__(self, model, optimizer=None, scheduler=None, *, backend="aot_eager", **config):
        super().__init__()
        self.model = model
        if optimizer is not None:
            self.add_optimizer(optimizer, lr_sch=scheduler)
        self.config.set_backend(backend)
        for option, value in config.items():
            getattr(self.config, option)(value)

    def build(self, x, y):
        loss = F.mse_loss(self.model(x), y)
        loss.backward()
        return loss


class Infer(StaticGraph):
    def __init__(self, model, backend="aot_eager"):
        super().__init__()
        self.model = model
        self.config.set_backend(backend)

    def build(self, x):
        return self.model(x)


def _eager_step(model, optimizer, scheduler, x, y, *, clip=False):
    loss = F.mse_loss(model(x), y)
    loss.backward()
    if clip:
        for group in optimizer.param_groups:
            if group.get("clip_grad_max_norm"):
                torch.nn.utils.clip_grad_norm_(
                    group["params"],
                    group["clip_grad_max_norm"],
                    norm_type=group.get("clip_grad_norm_type", 2.0),
                )
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if scheduler is not None:
        scheduler.step()
    return loss.detach()


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module, **tol) -> None:
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        if tol:
            torch.testing.assert_close(pa, pb, **tol, msg=f"parameter {name}")
        else:
            assert torch.equal(pa, pb), f"parameter {name} differs"


# -- forward -----------------------------------------------------------------------------------
def test_evaluation_graph_equals_eager_and_runs_without_grad():
    model = _mlp()
    g = Infer(model)
    x = torch.randn(5, 4)
    out = g(x)
    assert not out.requires_grad  # no optimizer: an evaluation graph, under no_grad
    assert torch.equal(out, model(x))
    assert not g.is_training
    assert g(torch.randn(5, 4)).shape == (5, 1)


# -- training ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda p: (
            torch.optim.SGD(p, lr=0.1, momentum=0.9),
            lambda o: torch.optim.lr_scheduler.StepLR(o, 2, 0.5),
        ),
        lambda p: (
            torch.optim.Adam(p, lr=0.01),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5),
        ),
    ],
    ids=["sgd-steplr", "adam-cosine"],
)
def test_training_steps_equal_eager_without_recompiling_as_lr_changes(make):
    graph_model, eager_model = _mlp(), _mlp()
    gopt, gsch = make(graph_model.parameters())
    eopt, esch = make(eager_model.parameters())
    gsch, esch = gsch(gopt), esch(eopt)
    g = Train(graph_model, gopt, gsch)
    lrs = []
    for x, y in _batches(5):
        loss = g(x, y)
        expected = _eager_step(eager_model, eopt, esch, x, y)
        assert torch.equal(loss, expected)
        assert not loss.requires_grad
        lrs.append(gopt.param_groups[0]["lr"])
        assert lrs[-1] == eopt.param_groups[0]["lr"]
    _assert_same_weights(graph_model, eager_model)
    assert len(set(lrs)) > 1  # the schedule moved
    assert g.recompiles == 0
    assert g.train_step == 5
    assert all(p.grad is None for p in graph_model.parameters())  # zero_grad(set_to_none)


def _optim_cfg():
    return {
        "name": "novograd",
        "lr": 0.05,
        "betas": [0.9, 0.5],
        "weight_decay": 0.001,
        "sched": {"name": "CosineAnnealing", "warmup_steps": 2, "max_steps": 6, "min_lr": 1e-4},
    }


def test_registry_optimizer_and_scheduler_equal_eager(ganglion_plugins):
    pytest.importorskip("ganglion_optim")
    import ganglion
    from ganglion.optim import build_optimization

    assert "novograd" in ganglion.get_registry("optimizers")
    graph_model, eager_model = _mlp(), _mlp()
    gopt, gsch = build_optimization(graph_model, _optim_cfg())
    eopt, esch = build_optimization(eager_model, _optim_cfg())
    g = Train(graph_model, gopt, gsch["scheduler"])
    lrs = []
    for x, y in _batches(6):
        assert torch.equal(g(x, y), _eager_step(eager_model, eopt, esch["scheduler"], x, y))
        lrs.append(gopt.param_groups[0]["lr"])
        assert lrs[-1] == eopt.param_groups[0]["lr"]
    _assert_same_weights(graph_model, eager_model)
    assert len(set(lrs)) == len(lrs)  # warmup then cosine: a new learning rate every step
    assert g.recompiles == 0


def test_core_registry_optimizer_and_scheduler_equal_eager(ganglion_plugins_isolated):
    from ganglion.optim import build_optimization

    cfg = {"name": "adamw", "lr": 0.02, "sched": {"name": "StepLR", "step_size": 1, "gamma": 0.7}}
    graph_model, eager_model = _mlp(), _mlp()
    gopt, gsch = build_optimization(graph_model, cfg)
    eopt, esch = build_optimization(eager_model, cfg)
    g = Train(graph_model, gopt, gsch["scheduler"])
    for x, y in _batches(4):
        assert torch.equal(g(x, y), _eager_step(eager_model, eopt, esch["scheduler"], x, y))
    _assert_same_weights(graph_model, eager_model)
    assert gopt.param_groups[0]["lr"] == pytest.approx(0.02 * 0.7**4)
    assert g.recompiles == 0


# the arguments some registered schedulers require (the rest have defaults)
_SCHEDULER_ARGS = {
    "CyclicLR": {"base_lr": 0.01, "max_lr": 0.05, "step_size_up": 2},
    "ExponentialLR": {"gamma": 0.8},
    "NoamAnnealing": {"d_model": 16},
    "StepLR": {"step_size": 1, "gamma": 0.5},
    "ReduceLROnPlateau": {"patience": 0, "factor": 0.5},
}


class Ensemble(StaticGraph):
    """One graph, several optimizers: model ``i`` is trained by optimizer ``i``."""

    def __init__(self, models, optimizers):
        super().__init__()
        self.models = models
        for optimizer, scheduler in optimizers:
            self.add_optimizer(optimizer, lr_sch=scheduler)
        self.config.set_backend("aot_eager")

    def build(self, x, y):
        loss = sum(F.mse_loss(m(x), y) for m in self.models)
        loss.backward()
        return loss


def test_every_registered_optimizer_and_scheduler_trains_like_eager(ganglion_plugins_isolated):
    """What the core's and ganglion-optim's registries hold (when installed; third-party test
    plugins left out), all in one graph with an optimizer each: the graph's step equals
    eager's, learning rates included, and the changing rates never recompile."""
    import importlib.util

    import ganglion
    from ganglion.optim import build_optimization

    if importlib.util.find_spec("ganglion_optim") is not None:
        import ganglion_optim.plugin

        ganglion.plugins.register(ganglion_optim.plugin, name="optim")

    cases = [{"name": e.name, "lr": 0.05} for e in ganglion.get_registry("optimizers")]
    cases += [
        {
            "name": "sgd",
            "lr": 0.05,
            "momentum": 0.9,
            "sched": {"name": e.name, "max_steps": 4} | _SCHEDULER_ARGS.get(e.name, {}),
        }
        for e in ganglion.get_registry("schedulers")
    ]
    names = [cfg.get("sched", cfg)["name"] for cfg in cases]
    torch.manual_seed(0)
    graph_models = torch.nn.ModuleList(torch.nn.Linear(4, 1) for _ in cases)
    eager_models = copy.deepcopy(graph_models)

    def build(models):
        out = []
        for model, cfg, name in zip(models, cases, names):
            optimizer, scheduler = build_optimization(model, cfg, key=name)
            out.append((optimizer, (scheduler or {}).get("scheduler")))
        return out

    graph_opts, eager_opts = build(graph_models), build(eager_models)
    g = Ensemble(graph_models, graph_opts)
    batches = _batches(2, batch=4)
    batches = batches + [(x, y + 5.0) for x, y in batches]  # the loss rises: plateaus react
    lrs = [set() for _ in cases]
    for x, y in batches:
        loss = g(x, y)
        expected = sum(F.mse_loss(m(x), y) for m in eager_models)
        expected.backward()
        for optimizer, scheduler in eager_opts:
            optimizer.step()
            optimizer.zero_grad()
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                # the graph steps a plateau with the step's loss
                scheduler.step(float(expected))
            elif scheduler is not None:
                scheduler.step()
        assert torch.equal(loss, expected.detach())
        for i, name in enumerate(names):
            lr = graph_opts[i][0].param_groups[0]["lr"]
            assert lr == eager_opts[i][0].param_groups[0]["lr"], name
            lrs[i].add(lr)
    for name, graph_model, eager_model in zip(names, graph_models, eager_models):
        for a, b in zip(graph_model.parameters(), eager_model.parameters()):
            assert torch.equal(a, b), name
    for name, (_, scheduler), seen in zip(names, graph_opts, lrs):
        if scheduler is not None:
            assert len(seen) > 1, f"{name}: the learning rate never changed"
    assert g.recompiles == 0


def _compiled_graphs(g: StaticGraph) -> int:
    match = re.search(r"\((\d+) graph\(s\) compiled", repr(g))
    assert match, repr(g)
    return int(match.group(1))


def test_every_instance_of_a_graph_class_is_compiled():
    """Dynamo stops compiling one code object after 8 entries: each graph compiles its own
    copy of build (and of the backward scaling), so the ninth graph of a class is compiled
    too, and graphs do not count each other's compiles."""
    counts = []
    for _ in range(9):
        model = torch.nn.Linear(2, 1)
        g = Train(model, torch.optim.SGD(model.parameters(), lr=0.1), backend="eager")
        g(torch.randn(4, 2), torch.randn(4, 1))
        g(torch.randn(4, 2), torch.randn(4, 1))
        counts.append(_compiled_graphs(g))
        assert g.recompiles == 0
    assert counts[0] > 0 and counts == [counts[0]] * 9


# -- gradient accumulation ---------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 4])
def test_gradient_accumulation_equals_one_big_batch(n):
    graph_model, eager_model = _mlp(), _mlp()
    gopt = torch.optim.SGD(graph_model.parameters(), lr=0.1)
    eopt = torch.optim.SGD(eager_model.parameters(), lr=0.1)
    g = Train(graph_model, gopt, set_gradient_accumulation_steps=n)
    for x, y in _batches(3, batch=8):
        losses = g(x, y)
        assert losses.shape == (n,)
        expected = torch.stack(
            [F.mse_loss(eager_model(xi), yi) for xi, yi in zip(x.chunk(n), y.chunk(n))]
        ).detach()
        torch.testing.assert_close(losses, expected)
        big = _eager_step(eager_model, eopt, None, x, y)
        torch.testing.assert_close(losses.mean(), big)
    _assert_same_weights(graph_model, eager_model, rtol=1e-5, atol=1e-6)
    assert g.train_step == 3  # one optimizer step per call


def test_gradient_accumulation_rejects_a_batch_that_does_not_split():
    model = _mlp()
    g = Train(model, torch.optim.SGD(model.parameters(), lr=0.1), set_gradient_accumulation_steps=4)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(GraphError, match=r"batch of 6 .*4 equal micro-batches"):
        g(torch.randn(6, 4), torch.randn(6, 1))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


# -- clipping ----------------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", [2.0, float("inf")])
def test_gradient_clipping_from_param_groups_equals_clip_grad_norm(norm_type):
    graph_model, eager_model = _mlp(), _mlp()

    def groups(m):
        return [
            {
                "params": m[0].parameters(),
                "clip_grad_max_norm": 0.05,
                "clip_grad_norm_type": norm_type,
            },
            {"params": m[2].parameters()},  # not clipped
        ]

    gopt = torch.optim.SGD(groups(graph_model), lr=0.5)
    eopt = torch.optim.SGD(groups(eager_model), lr=0.5)
    g = Train(graph_model, gopt)
    for x, y in _batches(3):
        g(x, y)
        _eager_step(eager_model, eopt, None, x, y, clip=True)
    _assert_same_weights(graph_model, eager_model)
    # and the clipping did something: unclipped training ends elsewhere
    free = _mlp()
    fopt = torch.optim.SGD(free.parameters(), lr=0.5)
    for x, y in _batches(3):
        _eager_step(free, fopt, None, x, y)
    assert not torch.equal(free[0].weight, graph_model[0].weight)
    assert torch.equal(free[2].bias, free[2].bias)


# -- grad scaler -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["dynamic", "static"])
def test_grad_scaler_scales_the_loss_and_unscales_before_the_step(kind):
    graph_model, eager_model = _mlp(), _mlp()
    gopt = torch.optim.Adam(graph_model.parameters(), lr=0.01)
    eopt = torch.optim.Adam(eager_model.parameters(), lr=0.01)
    if kind == "dynamic":
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=2)
    else:
        scaler = StaticGradScaler(2.0**10)
    g = Train(graph_model, gopt)
    g.set_grad_scaler(scaler)
    batches = _batches(4)
    seen = []
    hook = graph_model[2].bias.register_hook(lambda grad: seen.append(grad.clone()))
    loss = g(*batches[0])
    hook.remove()
    expected = F.mse_loss(eager_model(batches[0][0]), batches[0][1])
    expected.backward()
    # backward ran on the scaled loss: the gradient reaching the parameter is scaled
    torch.testing.assert_close(seen[0], eager_model[2].bias.grad * 2.0**10)
    assert torch.equal(loss, expected.detach())  # the returned loss is the unscaled one
    eopt.step()
    eopt.zero_grad()
    for x, y in batches[1:]:
        assert torch.equal(g(x, y), _eager_step(eager_model, eopt, None, x, y))
    _assert_same_weights(graph_model, eager_model)  # powers of two: unscaling is exact
    if kind == "dynamic":
        assert scaler.get_scale() == 2.0**10 * 4  # grew every 2 good steps
    else:
        assert scaler.get_scale() == 2.0**10

    # a step whose gradients are not finite is skipped, and only the dynamic scale backs off
    before = copy.deepcopy(graph_model.state_dict())
    scale = scaler.get_scale()
    x, y = batches[0]
    g(x, y * float("inf"))
    for name, value in graph_model.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert scaler.get_scale() == (scale / 2 if kind == "dynamic" else scale)
    g(*batches[1])  # and training goes on
    assert not torch.equal(graph_model[0].weight, before["0.weight"])


def test_grad_scaler_with_gradient_accumulation_equals_the_big_batch():
    graph_model, eager_model = _mlp(), _mlp()
    gopt = torch.optim.SGD(graph_model.parameters(), lr=0.1)
    eopt = torch.optim.SGD(eager_model.parameters(), lr=0.1)
    g = Train(graph_model, gopt, set_gradient_accumulation_steps=2)
    g.set_grad_scaler(StaticGradScaler(128.0))
    for x, y in _batches(2):
        g(x, y)
        _eager_step(eager_model, eopt, None, x, y)
    _assert_same_weights(graph_model, eager_model, rtol=1e-5, atol=1e-6)


# -- amp ---------------------------------------------------------------------------------------
def test_amp_bfloat16_on_cpu_matches_eager_autocast():
    graph_model, eager_model = _mlp(), _mlp()
    gopt = torch.optim.SGD(graph_model.parameters(), lr=0.1)
    eopt = torch.optim.SGD(eager_model.parameters(), lr=0.1)
    g = Train(graph_model, gopt)
    g.config.enable_amp(True, dtype=torch.bfloat16)
    for x, y in _batches(2, batch=4):
        loss = g(x, y)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = eager_model(x)
            assert out.dtype == torch.bfloat16
            expected = F.mse_loss(out, y)
        expected.backward()
        eopt.step()
        eopt.zero_grad()
        torch.testing.assert_close(loss.float(), expected.detach().float(), rtol=2e-2, atol=1e-2)
    _assert_same_weights(graph_model, eager_model, rtol=2e-2, atol=1e-2)
    assert graph_model[0].weight.dtype == torch.float32


def test_amp_evaluation_graph_computes_in_bfloat16():
    model = _mlp()
    g = Infer(model)
    g.config.enable_amp(dtype=torch.bfloat16)
    out = g(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16


# -- state_dict --------------------------------------------------------------------------------
def _stateful(model):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 2, 0.5)
    g = Train(model, optimizer, scheduler)
    g.set_grad_scaler(torch.amp.GradScaler("cpu", init_scale=256.0, growth_interval=2))
    return g, optimizer, scheduler


def test_state_dict_round_trip_continues_exactly(tmp_path):
    g, optimizer, _ = _stateful(_mlp())
    batches = _batches(6)
    for x, y in batches[:3]:
        g(x, y)
    path = tmp_path / "graph.pt"
    torch.save(g.state_dict(), path)
    state = torch.load(path, weights_only=True)
    assert state["train_step"] == 3

    fresh, fresh_opt, fresh_sch = _stateful(_mlp(seed=7))  # different initial weights
    fresh.load_state_dict(state)
    assert fresh.train_step == 3
    assert fresh_opt.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"] == 0.005
    for x, y in batches[3:]:
        assert torch.equal(fresh(x, y), g(x, y))
        assert fresh_opt.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    _assert_same_weights(fresh.modules["model"], g.modules["model"])
    assert fresh.train_step == g.train_step == 6
    assert fresh._grad_scaler.get_scale() == g._grad_scaler.get_scale()
    for a, b in zip(fresh_opt.state.values(), optimizer.state.values()):
        assert torch.equal(a["exp_avg"], b["exp_avg"])
        assert torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])


def test_load_state_dict_names_what_differs():
    g, _, _ = _stateful(_mlp())
    state = g.state_dict()
    other = Infer(_mlp())
    with pytest.raises(GraphError, match="optimizer"):
        other.load_state_dict(state)
    state["modules"]["extra"] = {}
    with pytest.raises(GraphError, match=r"unexpected \['extra'\]"):
        g.load_state_dict(state)


# -- containers --------------------------------------------------------------------------------
Pair = namedtuple("Pair", "left right")


class Containers(StaticGraph):
    def __init__(self):
        super().__init__()
        self.model = torch.nn.Linear(3, 3)
        self.config.set_backend("aot_eager")

    def build(self, batch, extra=None):
        a, b = batch["pair"]
        out = {
            "tuple": (self.model(a), None),
            "list": [self.model(b), [None, a + 1]],
            "pair": Pair(a * 2, None),
            "nothing": None,
        }
        if extra is not None:
            out["extra"] = extra[0] - 1
        return out


def test_container_inputs_and_outputs_keep_their_types():
    g = Containers()
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    out = g({"pair": (a, b), "none": None}, extra=[a])
    assert type(out) is dict
    assert set(out) == {"tuple", "list", "pair", "nothing", "extra"}
    assert type(out["tuple"]) is tuple and out["tuple"][1] is None
    assert type(out["list"]) is list and type(out["list"][1]) is list
    assert out["list"][1][0] is None
    assert type(out["pair"]) is Pair and out["pair"].right is None
    assert out["nothing"] is None
    model = g.modules["model"]
    assert torch.equal(out["tuple"][0], model(a))
    assert torch.equal(out["list"][0], model(b))
    assert torch.equal(out["list"][1][1], a + 1)
    assert torch.equal(out["pair"].left, a * 2)
    assert torch.equal(out["extra"], a - 1)


# -- dynamic axes from neural types ------------------------------------------------------------
BTD = NeuralType(("B", "T", "D"), ChannelType())


class Frames(NeuralModule):
    """(B, T, D) -> (B, T, D)."""

    def __init__(self, dim: int = 4):
        super().__init__()
        self.proj = torch.nn.Linear(dim, dim)

    @property
    def input_types(self):
        return {"frames": BTD}

    @property
    def output_types(self):
        return {"out": BTD}

    def forward(self, frames):
        return torch.tanh(self.proj(frames))


class FramesInfer(StaticGraph):
    def __init__(self):
        super().__init__()
        self.encoder = Frames()
        self.config.set_backend("aot_eager")

    def build(self, frames):  # named like the port: its B and T axes are dynamic
        return self.encoder(frames=frames).sum(dim=1)


class FramesTrain(FramesInfer):
    def __init__(self):
        super().__init__()
        self.add_optimizer(torch.optim.SGD(self.encoder.parameters(), lr=0.01))

    def build(self, frames):
        loss = self.encoder(frames=frames).pow(2).mean()
        loss.backward()
        return loss


@pytest.mark.parametrize("graph_cls", [FramesInfer, FramesTrain], ids=["eval", "train"])
def test_new_batch_sizes_and_lengths_do_not_recompile(graph_cls):
    torch.manual_seed(0)
    g = graph_cls()
    eager = copy.deepcopy(g.modules["encoder"])
    shapes = [(3, 5), (3, 9), (2, 5), (6, 17), (4, 2), (5, 33)]
    for batch, length in shapes:
        frames = torch.randn(batch, length, 4)
        out = g(frames)
        if graph_cls is FramesInfer:
            assert out.shape == (batch, 4)
            torch.testing.assert_close(out, eager(frames=frames).sum(dim=1))
        assert g.recompiles == 0, f"recompiled at {(batch, length)}"


# -- config knobs ------------------------------------------------------------------------------
def test_enable_zero_without_distributed_warns_and_trains_like_eager():
    graph_model, eager_model = _mlp(), _mlp()
    gopt = torch.optim.Adam(graph_model.parameters(), lr=0.01)
    eopt = torch.optim.Adam(eager_model.parameters(), lr=0.01)
    g = Train(graph_model, gopt)
    g.config.enable_zero(True, stage=2, shard_min_size=1)
    batches = _batches(3)
    with pytest.warns(UserWarning, match="enable_zero has no effect"):
        g(*batches[0])
    _eager_step(eager_model, eopt, None, *batches[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once, not every step
        for x, y in batches[1:]:
            assert torch.equal(g(x, y), _eager_step(eager_model, eopt, None, x, y))
    _assert_same_weights(graph_model, eager_model)
    assert g._optimizers[0][0] is gopt


def test_enable_zero_stage_1_in_a_one_process_group_trains_like_eager(tmp_path):
    """ZeroRedundancyOptimizer over the optimizer's own param groups: per-group learning
    rates and the scheduler's changes reach it."""
    import torch.distributed as dist

    if not dist.is_available() or dist.is_initialized():
        pytest.skip("needs torch.distributed, not already initialised")
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        graph_model, eager_model = _mlp(), _mlp()

        def optimizer(m):
            groups = [{"params": m[0].parameters(), "lr": 0.2}, {"params": m[2].parameters()}]
            opt = torch.optim.SGD(groups, lr=0.1)
            return opt, torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)

        (gopt, gsch), (eopt, esch) = optimizer(graph_model), optimizer(eager_model)
        g = Train(graph_model, gopt, gsch)
        g.config.enable_zero(True, stage=1)
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=r".*lr_scheduler\.step\(\)")
            for x, y in _batches(3):
                assert torch.equal(g(x, y), _eager_step(eager_model, eopt, esch, x, y))
        assert type(g._optimizers[0][0]).__name__ == "ZeroRedundancyOptimizer"
        _assert_same_weights(graph_model, eager_model)
    finally:
        dist.destroy_process_group()


def test_fuse_model_update_ops_sets_foreach_and_trains_like_eager():
    graph_model, eager_model = _mlp(), _mlp()
    gopt = torch.optim.SGD(graph_model.parameters(), lr=0.1, momentum=0.9)
    eopt = torch.optim.SGD(eager_model.parameters(), lr=0.1, momentum=0.9, foreach=False)
    g = Train(graph_model, gopt, allow_fuse_model_update_ops=True)
    assert gopt.param_groups[0]["foreach"] is None  # applied on the first call
    for x, y in _batches(2):
        torch.testing.assert_close(g(x, y), _eager_step(eager_model, eopt, None, x, y))
    assert all(group["foreach"] is True for group in gopt.param_groups)
    _assert_same_weights(graph_model, eager_model, rtol=1e-6, atol=1e-7)


def test_inductor_options_map_onto_inductor_config_and_repr_says_no_effect_elsewhere():
    model = _mlp()
    g = Train(model, torch.optim.SGD(model.parameters(), lr=0.1))
    c = g.config
    c.allow_fuse_add_to_output(True)
    c.allow_fuse_cast_scale(False)
    c.enable_straighten_algorithm(True)
    c.enable_compress_memory(True)
    c.enable_cudnn_conv_heuristic_search_algo(False)
    assert c.inductor_options() == {
        "epilogue_fusion": True,
        "pattern_matcher": False,
        "reorder_for_locality": True,
        "reorder_for_peak_memory": True,
        "memory_planning": True,
    }
    from torch._inductor import config as inductor_config

    for key in c.inductor_options():
        assert hasattr(inductor_config, key), key  # real inductor options
    text = repr(g)
    for option in (
        "allow_fuse_add_to_output",
        "allow_fuse_cast_scale",
        "enable_straighten_algorithm",
        "enable_compress_memory",
    ):
        line = next(line for line in text.splitlines() if option in line)
        assert "no effect with aot_eager" in line
    if not torch.cuda.is_available():
        line = next(line for line in text.splitlines() if "cudnn" in line)
        assert "no effect without CUDA" in line
    g(*_batches(1)[0])
    assert "compiled," in repr(g) and "(MODULE model: Sequential, 49 parameters)" in repr(g)


# -- errors ------------------------------------------------------------------------------------
def test_a_training_build_without_backward_is_an_error():
    class NoBackward(Train):
        def build(self, x, y):
            return F.mse_loss(self.model(x), y)

    model = _mlp()
    g = NoBackward(model, torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(GraphError, match=r"build must call loss.backward\(\)"):
        g(*_batches(1)[0])


def test_a_training_build_must_return_the_loss():
    class NoLoss(Train):
        def build(self, x, y):
            loss = F.mse_loss(self.model(x), y)
            loss.backward()
            return {"loss": loss}

    model = _mlp()
    g = NoLoss(model, torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(GraphError, match="must return the loss"):
        g(*_batches(1)[0])


def test_options_are_frozen_after_the_first_call():
    model = _mlp()
    g = Train(model, torch.optim.SGD(model.parameters(), lr=0.1))
    g(*_batches(1)[0])
    with pytest.raises(GraphFrozenError, match="set_gradient_accumulation_steps"):
        g.config.set_gradient_accumulation_steps(2)
    with pytest.raises(GraphFrozenError, match="enable_amp"):
        g.config.enable_amp()
    with pytest.raises(GraphFrozenError, match="activation_checkpointing"):
        g.graph_module("model").activation_checkpointing = True
    with pytest.raises(GraphError, match="optimizers are added before the first call"):
        g.add_optimizer(torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(GraphError, match="modules are added before the first call"):
        g.other = torch.nn.Linear(2, 2)


def test_configuration_errors_are_clear():
    model = _mlp()
    g = Train(model, torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(GraphError, match=r"'aot_eagr' is not a backend. Did you mean 'aot_eager'"):
        g.config.set_backend("aot_eagr")
    with pytest.raises(GraphError, match=r"'nope' is not a backend.*inductor, aot_eager, eager"):
        g.config.set_backend("nope")
    with pytest.raises(GraphError, match="expected a torch.optim.Optimizer, got Linear"):
        g.add_optimizer(torch.nn.Linear(2, 2))
    with pytest.raises(GraphError, match=r"no module 'modle'. Did you mean 'model'"):
        g.graph_module("modle")
    with pytest.raises(GraphError, match="expected a torch.amp.GradScaler"):
        g.set_grad_scaler(object())
    with pytest.raises(GraphError, match="whole number >= 1"):
        g.config.set_gradient_accumulation_steps(0)
    with pytest.raises(GraphError, match="stage must be 1, 2 or 3"):
        g.config.enable_zero(stage=4)
    with pytest.raises(GraphError, match="cannot be replaced"):
        g.model = 3
    other = torch.optim.SGD(_mlp().parameters(), lr=0.1)
    with pytest.raises(GraphError, match="lr_sch steps another optimizer"):
        g.add_optimizer(
            torch.optim.SGD(model.parameters(), lr=0.1),
            lr_sch=torch.optim.lr_scheduler.StepLR(other, 1),
        )


def test_missing_super_init_is_a_clear_error():
    class Forgot(StaticGraph):
        def __init__(self, model):
            self.model = model

        def build(self, x):
            return self.model(x)

    with pytest.raises(GraphError, match=r"call super\(\).__init__\(\) first"):
        Forgot(_mlp())

    class ForgotEverything(StaticGraph):
        def __init__(self):
            pass

        def build(self, x):
            return x

    g = ForgotEverything()
    with pytest.raises(GraphError, match=r"super\(\).__init__\(\)"):
        g(torch.randn(2))
    with pytest.raises(GraphError, match=r"super\(\).__init__\(\)"):
        g.config.set_backend("eager")


def test_a_graph_without_build_is_an_error():
    class NoBuild(StaticGraph):
        pass

    with pytest.raises(GraphError, match="does not define build"):
        NoBuild()(torch.randn(2))


def test_names_count_per_class():
    class Named(StaticGraph):
        def build(self, x):
            return x

    first, second = Named(), Named()
    assert (first.name, second.name) == ("Named_0", "Named_1")


# -- the real CPU backend ----------------------------------------------------------------------
def test_inductor_backend_trains_like_eager():
    """The real compiler (C++ code through g++): one tiny graph, forward, backward and step."""
    start = time.perf_counter()
    torch.manual_seed(0)
    graph_model = torch.nn.Linear(4, 1)  # few kernels: each one is a g++ run when not cached
    eager_model = copy.deepcopy(graph_model)
    gopt = torch.optim.SGD(graph_model.parameters(), lr=0.1)
    eopt = torch.optim.SGD(eager_model.parameters(), lr=0.1)
    g = Train(graph_model, gopt, backend="inductor")
    for x, y in _batches(2):
        torch.testing.assert_close(g(x, y), _eager_step(eager_model, eopt, None, x, y))
    _assert_same_weights(graph_model, eager_model, rtol=1e-5, atol=1e-6)
    assert g.recompiles == 0
    print(f"inductor graph: {time.perf_counter() - start:.1f} s")
