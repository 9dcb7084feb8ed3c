"""Each ganglion-optim schedule's learning-rate curve against its formula.

The curves are read from the optimizer while stepping the scheduler as Lightning does (once per
optimizer step), at steps in the warmup, the hold, the decay, the min_lr floor, the last step
(max_steps - 1) and past max_steps. Settings: base lr 2.0, warmup 4 steps, hold 3 (the hold
schedules), max_steps 20.
"""

from __future__ import annotations

import math

import pytest
import torch
from optim_helpers import lr_curve

import ganglion
from ganglion.errors import ConfigError
from ganglion.optim import build_optimization, build_scheduler, scheduler_params

BASE, W, H, T = 2.0, 4, 3, 20
CHECK = [0, 1, 3, 4, 5, 6, 7, 8, 12, 17, 19, 20, 23]
LAST = T - 1


def warm(s: int) -> float:
    """Linear warmup: step W - 1 is at BASE * W / (W + 1), step W at BASE."""
    return BASE * (s + 1) / (W + 1)


def annealing(shape, min_lr: float, hold: int = 0):
    """Warmup, hold, then min_lr + (BASE - min_lr) * shape(p), then min_lr from T on."""

    def lr(s: int) -> float:
        if s < W:
            return warm(s)
        if s < W + hold:
            return BASE
        if s >= T:
            return min_lr
        p = (s - W - hold) / (T - W - hold)
        return min_lr + (BASE - min_lr) * shape(p)

    return lr


def inverse_sqrt(min_lr: float):
    def lr(s: int) -> float:
        if s < W:
            return warm(s)
        return min_lr if s >= T else max(min_lr, BASE * math.sqrt((W + 1) / (s + 1)))

    return lr


def noam(d_model: int, min_lr: float):
    def lr(s: int) -> float:
        value = BASE * d_model**-0.5 * min((s + 1) ** -0.5, (s + 1) * W**-1.5)
        return min_lr if s >= T else (value if s < W else max(min_lr, value))

    return lr


# name -> (extra sched config, expected lr(step))
CASES = {
    "WarmupPolicy": ({"min_lr": 0.1}, annealing(lambda p: 1.0, 0.1)),
    "WarmupHoldPolicy": ({"min_lr": 0.1, "hold_steps": H}, annealing(lambda p: 1.0, 0.1, H)),
    "SquareAnnealing": ({"min_lr": 0.1}, annealing(lambda p: (1 - p) ** 2, 0.1)),
    "CosineAnnealing": (
        {"min_lr": 0.1},
        annealing(lambda p: (1 + math.cos(math.pi * p)) / 2, 0.1),
    ),
    "WarmupAnnealing": ({"min_lr": 0.1}, annealing(lambda p: 1 - p, 0.1)),
    "SquareRootAnnealing": ({"min_lr": 0.1}, annealing(lambda p: math.sqrt(1 - p), 0.1)),
    "PolynomialDecayAnnealing": (
        {"min_lr": 0.1, "power": 3.0},
        annealing(lambda p: (1 - p) ** 3, 0.1),
    ),
    "PolynomialHoldDecayAnnealing": (
        {"min_lr": 0.1, "hold_steps": H, "power": 2.0},
        annealing(lambda p: (1 - p) ** 2, 0.1, H),
    ),
    # min_lr above the curve's tail: the floor shows from step 13 (2 * sqrt(5 / 14) < 1.2)
    "InverseSquareRootAnnealing": ({"min_lr": 1.2}, inverse_sqrt(1.2)),
    # peak BASE / sqrt(16 * 4) = 0.25 at step 3; floor 0.12 from step 17 (0.5 / sqrt(18) < 0.12)
    "NoamAnnealing": ({"d_model": 16, "min_lr": 0.12}, noam(16, 0.12)),
}


def build(name: str, extra: dict, *, base=BASE, max_steps: int | None = T):
    sched = {"name": name, "warmup_steps": W, **extra}
    return build_optimization(
        [torch.nn.Parameter(torch.zeros(1))],
        {"name": "sgd", "lr": base, "sched": sched},
        max_steps=max_steps,
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_schedule_follows_its_formula(name):
    extra, expected = CASES[name]
    optimizer, config = build(name, extra)
    assert config["interval"] == "step" and config["frequency"] == 1
    curve = lr_curve(optimizer, config["scheduler"], 24)
    assert [curve[s] for s in CHECK] == pytest.approx([expected(s) for s in CHECK], rel=1e-12)


def test_the_phases_are_where_the_formulas_say():
    cosine = lr_curve(*_opt_sched(build("CosineAnnealing", {"min_lr": 0.1})), 24)
    assert cosine[W - 1] < BASE and cosine[W] == BASE  # the warmup ends at step W
    assert cosine[LAST] == pytest.approx(0.1 + 1.9 * (1 + math.cos(math.pi * 15 / 16)) / 2)
    assert cosine[T:] == [0.1] * 4  # min_lr from max_steps on
    hold = lr_curve(*_opt_sched(build("WarmupHoldPolicy", {"hold_steps": H})), 24)
    assert hold[W : W + H] == [BASE] * H
    inv = lr_curve(*_opt_sched(build("InverseSquareRootAnnealing", {"min_lr": 1.2})), 24)
    assert inv[12] > 1.2 and inv[13:T] == [1.2] * (T - 13)  # the min_lr floor
    noam_curve = lr_curve(*_opt_sched(build("NoamAnnealing", {"d_model": 16})), 24)
    assert max(noam_curve) == pytest.approx(BASE / math.sqrt(16 * W)) == noam_curve[W - 1]


def _opt_sched(built):
    optimizer, config = built
    return optimizer, config["scheduler"]


def test_each_param_group_follows_the_schedule_from_its_own_base_lr():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=BASE)
    config = build_scheduler(
        optimizer, {"name": "WarmupAnnealing", "warmup_steps": W, "max_steps": T}
    )
    curves = []
    for _ in range(13):
        curves.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        config["scheduler"].step()
    # step 12 is (12 - 4) / 16 = half-way down the linear decay to min_lr 0
    assert curves[12] == pytest.approx([BASE / 2, 0.5 / 2])
    assert curves[0] == pytest.approx([BASE / 5, 0.5 / 5])


def test_ratios_give_warmup_and_hold_as_fractions_of_max_steps():
    optimizer, config = build(
        "PolynomialHoldDecayAnnealing",
        {"warmup_steps": None, "warmup_ratio": 0.25, "hold_ratio": 0.1},
    )
    scheduler = config["scheduler"]
    assert (scheduler.warmup_steps, scheduler.hold_steps, scheduler.max_steps) == (5, 2, 20)
    curve = lr_curve(optimizer, scheduler, 8)
    assert curve[4] == pytest.approx(BASE * 5 / 6) and curve[5:7] == [BASE, BASE]
    assert curve[7] == BASE  # the decay (20 - 5 - 2 = 13 steps) starts from the base lr
    assert lr_curve(optimizer, scheduler, 1)[0] == pytest.approx(BASE * (1 - 1 / 13))


def test_polynomial_cycle_climbs_back_after_max_steps():
    optimizer, config = build("PolynomialDecayAnnealing", {"cycle": True, "min_lr": 0.0})
    curve = lr_curve(optimizer, config["scheduler"], 30)
    # decay span 16: at step 20 the first cycle ends at 0; step 21 is 17/32 into a 32-step span
    assert curve[20] == 0.0
    assert curve[21] == pytest.approx(BASE * (1 - 17 / 32))
    assert curve[29] == pytest.approx(BASE * (1 - 25 / 32))


def test_max_steps_comes_from_the_config_before_the_argument():
    _, config = build("CosineAnnealing", {"max_steps": 50}, max_steps=T)
    assert config["scheduler"].max_steps == 50
    _, config = build("CosineAnnealing", {"max_steps": None}, max_steps=T)
    assert config["scheduler"].max_steps == T


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_round_trip_resumes_the_curve_exactly(name):
    extra, _ = CASES[name]
    optimizer, config = build(name, extra)
    reference = lr_curve(optimizer, config["scheduler"], 24)

    optimizer, config = build(name, extra)
    lr_curve(optimizer, config["scheduler"], 9)
    saved_opt, saved_sched = optimizer.state_dict(), config["scheduler"].state_dict()
    # a fresh process: same config, new objects, then the checkpoint
    optimizer, config = build(name, extra)
    optimizer.load_state_dict(saved_opt)
    config["scheduler"].load_state_dict(saved_sched)
    assert lr_curve(optimizer, config["scheduler"], 15) == reference[9:]


def test_decaying_schedules_need_max_steps_naming_the_key():
    with pytest.raises(ConfigError, match=r"model\.optim\.sched\.max_steps is required by sched"):
        build("CosineAnnealing", {}, max_steps=None)
    _, config = build("InverseSquareRootAnnealing", {}, max_steps=None)  # optional there
    assert config["scheduler"].max_steps is None


@pytest.mark.parametrize(
    "name", [n for n in sorted(CASES) if scheduler_params(n)().max_steps == "???"]
)
def test_a_decaying_schedule_made_without_max_steps_says_it_needs_it(name):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    cls = ganglion.get_registry("schedulers").resolve(name)
    with pytest.raises(ValueError, match=f"{name} needs max_steps"):
        cls(optimizer, warmup_steps=W)


def test_hold_schedules_run_the_init_of_the_schedule_they_extend(monkeypatch):
    from ganglion_optim.schedulers import PolynomialDecayAnnealing, WarmupPolicy

    calls = []

    def spy(cls):
        init = cls.__init__

        def record(self, *args, **kwargs):
            calls.append(cls.__name__)
            init(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", record)

    spy(WarmupPolicy)
    spy(PolynomialDecayAnnealing)
    build("WarmupHoldPolicy", {"hold_steps": H})
    assert calls == ["WarmupPolicy"]
    calls.clear()
    build("PolynomialHoldDecayAnnealing", {"hold_steps": H, "power": 2.0})
    assert calls == ["PolynomialDecayAnnealing", "WarmupPolicy"]


def test_schedule_setting_errors_say_what_is_wrong():
    with pytest.raises(ConfigError, match="set warmup_steps or warmup_ratio, not both"):
        build("CosineAnnealing", {"warmup_ratio": 0.1})
    with pytest.raises(ConfigError, match=r"warmup \(4\) \+ hold \(30\) steps exceed max_steps"):
        build("WarmupHoldPolicy", {"hold_steps": 30})
    with pytest.raises(ConfigError, match="warmup_ratio=0.1 needs max_steps"):
        build(
            "NoamAnnealing",
            {"warmup_steps": None, "warmup_ratio": 0.1, "d_model": 8},
            max_steps=None,
        )
    with pytest.raises(ConfigError, match=r"model\.optim\.sched\.d_model is required"):
        build("NoamAnnealing", {})
    with pytest.raises(ConfigError) as err:
        build("CosineAnnealing", {"hold_steps": 3})
    assert "Unknown key 'hold_steps' (model.optim.sched.hold_steps)" in str(err.value)
    assert "scheduler 'CosineAnnealing' does not take it" in str(err.value)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_schedule_is_registered_with_its_params(name):
    entry = ganglion.get_registry("schedulers").get(name)
    assert entry.provider.distribution == "ganglion-optim"
    assert scheduler_params(name).__name__ == f"{name}Params"
    assert isinstance(
        entry.load()(
            torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1), **_required(name)
        ),
        torch.optim.lr_scheduler.LRScheduler,
    )


def _required(name: str) -> dict:
    out = {}
    if name == "NoamAnnealing":
        out["d_model"] = 8
    if scheduler_params(name)().max_steps == "???":
        out["max_steps"] = 10
    return out
