"""ganglion.optim with the core alone: torch's optimizers and schedulers built from `model.optim`.

Every test here uses a plugin manager without installed entry points, so it passes with no
plugin installed (the core-alone test environment).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import subprocess
import sys
import warnings

import pytest
import torch
from omegaconf import OmegaConf

import ganglion
from ganglion import hookimpl
from ganglion.errors import ConfigError, UnknownNameError
from ganglion.optim import (
    build_optimization,
    build_optimizer,
    build_scheduler,
    compose_optim_config,
    compute_max_steps,
    max_steps_from_trainer,
    optimizer_params,
    rewrite_preset_overrides,
    scheduler_params,
)

TORCH_OPTIMIZERS = ["sgd", "adam", "adamw", "adadelta", "adamax", "adagrad", "rmsprop", "rprop"]
TORCH_SCHEDULERS = ["StepLR", "ExponentialLR", "ReduceLROnPlateau", "CyclicLR"]

# the core's built-ins and in-process plugins only, whatever is installed
pytestmark = pytest.mark.usefixtures("ganglion_plugins_isolated")


def regression(seed: int = 0):
    """A small noiseless linear regression: (model, full-batch loss function)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=gen)
    y = x @ torch.randn(5, 1, generator=gen) + 0.5
    model = torch.nn.Linear(5, 1)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)

    def loss_fn():
        return torch.nn.functional.mse_loss(model(x), y)

    loss_fn.value = lambda: float(loss_fn().detach())

    return model, loss_fn


def train(optimizer, loss_fn, steps: int) -> float:
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimizer.step()
    return loss_fn.value()


def lr_curve(optimizer, scheduler, steps: int) -> list[float]:
    """The learning rate used at each of ``steps`` optimizer steps."""
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


# -- the catalogue ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", TORCH_OPTIMIZERS)
def test_each_torch_optimizer_has_params_matching_its_signature_with_lr_required(name):
    params = optimizer_params(name)
    fields = {f.name: f.default for f in dataclasses.fields(params)}
    cls = ganglion.get_registry("optimizers").resolve(name)
    accepted = set(inspect.signature(cls).parameters) - {"params"}
    assert fields["lr"] == "???"
    assert set(fields) <= accepted, set(fields) - accepted
    # every default the dataclass states is torch's own (lr aside: required here)
    for key, default in fields.items():
        if key != "lr":
            assert inspect.signature(cls).parameters[key].default == default, key


@pytest.mark.parametrize("name", TORCH_SCHEDULERS)
def test_each_torch_scheduler_has_params_matching_its_signature(name):
    params = scheduler_params(name)
    cls = ganglion.get_registry("schedulers").resolve(name)
    accepted = set(inspect.signature(cls).parameters) - {"optimizer"}
    assert {f.name for f in dataclasses.fields(params)} <= accepted


LRS = {"sgd": 0.05, "adadelta": 10.0, "adagrad": 0.3, "rprop": 0.01}


@pytest.mark.parametrize("name", TORCH_OPTIMIZERS)
def test_each_torch_optimizer_reduces_the_loss_of_a_regression(name):
    model, loss_fn = regression()
    before = loss_fn.value()
    optimizer = build_optimizer(model, {"name": name, "lr": LRS.get(name, 0.05)})
    assert type(optimizer).__name__.lower() == name
    after = train(optimizer, loss_fn, 40)
    assert after < 0.5 * before, (before, after)


def test_an_optimizer_gets_exactly_the_configured_values():
    model, _ = regression()
    optimizer = build_optimizer(
        model, {"name": "adam", "lr": "4e-4", "betas": [0.8, 0.5], "amsgrad": True}
    )
    group = optimizer.param_groups[0]
    assert group["lr"] == pytest.approx(4e-4)
    assert group["betas"] == (0.8, 0.5)
    assert group["amsgrad"] is True
    assert group["eps"] == 1e-8  # the dataclass default


# -- errors that name the key -------------------------------------------------------------------
def test_unknown_optimizer_names_the_key_suggests_and_lists_known():
    with pytest.raises(UnknownNameError) as err:
        build_optimizer(torch.nn.Linear(2, 1), {"name": "adamx", "lr": 0.1})
    msg = str(err.value)
    assert "Unknown optimizer 'adamx' (model.optim.name)" in msg
    assert "Did you mean 'adamax'" in msg
    assert "Known: adadelta, adagrad, adam, adamax, adamw, rmsprop, rprop, sgd." in msg


def test_novograd_without_ganglion_optim_says_which_distribution_provides_it():
    with pytest.raises(UnknownNameError) as err:
        build_optimizer(torch.nn.Linear(2, 1), {"name": "novograd", "lr": 0.1})
    assert "It is provided by the 'ganglion-optim' distribution: pip install ganglion-optim" in (
        str(err.value)
    )


def test_cosine_annealing_without_ganglion_optim_says_which_distribution_provides_it():
    cfg = {"name": "sgd", "lr": 0.1, "sched": {"name": "CosineAnnealing"}}
    with pytest.raises(UnknownNameError) as err:
        build_optimization(torch.nn.Linear(2, 1), cfg, max_steps=10)
    assert "(model.optim.sched.name)" in str(err.value)
    assert "'ganglion-optim' distribution" in str(err.value)


def test_missing_name_is_an_error_listing_the_known_optimizers():
    with pytest.raises(ConfigError, match=r"model\.optim\.name is required.*Known: adadelta"):
        build_optimizer(torch.nn.Linear(2, 1), {"lr": 0.1})


def test_a_missing_required_value_names_the_key():
    with pytest.raises(ConfigError, match=r"model\.optim\.lr is required by optimizer 'adam'"):
        build_optimizer(torch.nn.Linear(2, 1), {"name": "adam"})
    with pytest.raises(ConfigError, match=r"model\.optim\.lr is required"):
        build_optimizer(torch.nn.Linear(2, 1), OmegaConf.create({"name": "adam", "lr": "???"}))


def test_a_misspelled_key_suggests_the_right_one_and_lists_the_known_keys():
    with pytest.raises(ConfigError) as err:
        build_optimizer(torch.nn.Linear(2, 1), {"name": "adam", "lr": 0.1, "betaz": [0.9, 0.9]})
    msg = str(err.value)
    assert "Unknown key 'betaz' (model.optim.betaz): optimizer 'adam' does not take it." in msg
    assert "Did you mean 'betas'?" in msg
    assert "Known: amsgrad, betas," in msg


def test_a_key_the_chosen_optimizer_does_not_take_is_an_error_not_dropped():
    # momentum is an SGD argument: switching to adam must not silently ignore it
    with pytest.raises(ConfigError, match=r"model\.optim\.momentum\): optimizer 'adam'"):
        build_optimizer(torch.nn.Linear(2, 1), {"name": "adam", "lr": 0.1, "momentum": 0.9})


def test_a_value_of_the_wrong_type_names_the_key():
    with pytest.raises(ConfigError, match=r"model\.optim\.lr: Value 'fast'"):
        build_optimizer(torch.nn.Linear(2, 1), {"name": "sgd", "lr": "fast"})
    with pytest.raises(ConfigError, match=r"model\.optim\.betas must have 2 values"):
        build_optimizer(torch.nn.Linear(2, 1), {"name": "adam", "lr": 0.1, "betas": [0.9]})


def test_a_value_torch_rejects_is_a_config_error_naming_the_optimizer():
    with pytest.raises(ConfigError, match=r"model\.optim: optimizer 'sgd'.*momentum"):
        build_optimizer(torch.nn.Linear(2, 1), {"name": "sgd", "lr": 0.1, "momentum": -1.0})


def test_scheduler_keys_are_checked_against_the_chosen_scheduler():
    optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    with pytest.raises(ConfigError) as err:
        build_scheduler(optimizer, {"name": "StepLR", "step_size": 2, "warmup_steps": 10})
    assert "Unknown key 'warmup_steps' (model.optim.sched.warmup_steps)" in str(err.value)
    assert "scheduler 'StepLR' does not take it" in str(err.value)
    with pytest.raises(ConfigError, match=r"model\.optim\.sched\.step_size is required"):
        build_scheduler(optimizer, {"name": "StepLR"})
    with pytest.raises(ConfigError, match=r"model\.optim\.sched\.interval must be 'step' or"):
        build_scheduler(optimizer, {"name": "StepLR", "step_size": 2, "interval": "batch"})


def test_errors_use_the_key_the_caller_gives():
    with pytest.raises(ConfigError, match=r"encoder\.optim\.lr is required"):
        build_optimizer(torch.nn.Linear(2, 1), {"name": "sgd"}, key="encoder.optim")
    with pytest.raises(UnknownNameError, match=r"'adamx' \(encoder\.optim\.name\)"):
        optimizer_params("adamx", key="encoder.optim.name")
    with pytest.raises(UnknownNameError, match=r"'StepLRR' \(encoder\.optim\.sched\.name\)"):
        scheduler_params("StepLRR", key="encoder.optim.sched.name")
    with pytest.raises(ConfigError, match=r"encoder\.optim\.sched\.name is required"):
        scheduler_params(None, key="encoder.optim.sched.name")


def test_an_error_inside_a_config_node_names_its_full_key_once():
    cfg = OmegaConf.create({"model": {"optim": {"name": "adam", "lr": "${missing}"}}})
    with pytest.raises(ConfigError) as err:
        build_optimizer(torch.nn.Linear(2, 1), cfg.model.optim)
    assert str(err.value).startswith("model.optim.lr: Interpolation key 'missing' not found")


# -- torch's schedulers ------------------------------------------------------------------------
def test_step_lr_curve_and_lightning_defaults():
    optimizer, sched = build_optimization(
        torch.nn.Linear(2, 1),
        {"name": "sgd", "lr": 1.0, "sched": {"name": "StepLR", "step_size": 3, "gamma": 0.5}},
    )
    assert sched is not None
    assert {k: v for k, v in sched.items() if k != "scheduler"} == {
        "interval": "step",
        "frequency": 1,
    }
    curve = lr_curve(optimizer, sched["scheduler"], 8)
    assert curve == pytest.approx([0.5 ** (s // 3) for s in range(8)])


def test_exponential_lr_curve():
    optimizer, sched = build_optimization(
        torch.nn.Linear(2, 1),
        {"name": "adam", "lr": 0.1, "sched": {"name": "ExponentialLR", "gamma": 0.9}},
    )
    curve = lr_curve(optimizer, sched["scheduler"], 5)
    assert curve == pytest.approx([0.1 * 0.9**s for s in range(5)])


def test_cyclic_lr_curve_is_triangular():
    cfg = {
        "name": "sgd",
        "lr": 0.1,
        "momentum": 0.9,
        "sched": {"name": "CyclicLR", "base_lr": 0.1, "max_lr": 0.5, "step_size_up": 4},
    }
    optimizer, sched = build_optimization(torch.nn.Linear(2, 1), cfg)
    curve = lr_curve(optimizer, sched["scheduler"], 12)
    # up over 4 steps, down over 4 (step_size_down defaults to step_size_up), and again
    expected = [0.1 + 0.4 * (1 - abs((s % 8) / 4 - 1)) for s in range(12)]
    assert curve == pytest.approx(expected)


def test_reduce_on_plateau_is_stepped_per_epoch_on_the_monitored_metric():
    cfg = {
        "name": "sgd",
        "lr": 1.0,
        "sched": {"name": "ReduceLROnPlateau", "patience": 1, "factor": 0.5, "min_lr": 0.2},
    }
    optimizer, sched = build_optimization(torch.nn.Linear(2, 1), cfg)
    assert sched["reduce_on_plateau"] is True
    assert sched["monitor"] == "val_loss"
    assert sched["interval"] == "epoch"
    scheduler = sched["scheduler"]
    lrs = []
    for metric in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]:
        scheduler.step(metric)
        lrs.append(optimizer.param_groups[0]["lr"])
    # patience 1: the second bad epoch in a row halves the lr; min_lr floors it
    assert lrs == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2])

    # the seed's `reduce_on_plateau: false` cannot make torch's plateau scheduler step blindly
    cfg["sched"]["reduce_on_plateau"] = False
    _, sched = build_optimization(torch.nn.Linear(2, 1), cfg)
    assert sched["reduce_on_plateau"] is True

    cfg["sched"].update(monitor="val_wer", interval="step", frequency=2)
    _, sched = build_optimization(torch.nn.Linear(2, 1), cfg)
    assert (sched["monitor"], sched["interval"], sched["frequency"]) == ("val_wer", "step", 2)


def test_no_sched_means_no_scheduler():
    optimizer, sched = build_optimization(torch.nn.Linear(2, 1), {"name": "sgd", "lr": 0.1})
    assert isinstance(optimizer, torch.optim.SGD) and sched is None
    _, sched = build_optimization(torch.nn.Linear(2, 1), {"name": "sgd", "lr": 0.1, "sched": None})
    assert sched is None


# -- parameter groups ---------------------------------------------------------------------------
class Block(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(4, 4)
        self.norm = torch.nn.LayerNorm(4)
        self.out = torch.nn.Linear(4, 1, bias=False)
        self.frozen = torch.nn.Linear(4, 4)
        self.frozen.requires_grad_(False)


def group_of(optimizer, param) -> dict:
    return next(g for g in optimizer.param_groups if any(p is param for p in g["params"]))


def test_param_groups_exempt_biases_and_norms_from_weight_decay():
    model = Block()
    cfg = {
        "name": "adamw",
        "lr": 0.01,
        "weight_decay": 0.1,
        "param_groups": [
            {"module_types": ["LayerNorm"], "weight_decay": 0.0, "lr": 0.02},
            {"match": "*.bias", "weight_decay": 0.0},
        ],
    }
    optimizer = build_optimizer(model, cfg)
    assert len(optimizer.param_groups) == 3
    assert group_of(optimizer, model.proj.weight)["weight_decay"] == 0.1  # default group
    assert group_of(optimizer, model.out.weight)["weight_decay"] == 0.1
    norm = group_of(optimizer, model.norm.weight)
    assert norm["weight_decay"] == 0.0 and norm["lr"] == 0.02
    assert group_of(optimizer, model.norm.bias) is norm  # first matching group wins
    bias = group_of(optimizer, model.proj.bias)
    assert bias["weight_decay"] == 0.0 and bias["lr"] == 0.01
    optimized = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert id(model.frozen.weight) not in optimized  # frozen parameters are left out


def test_param_group_errors_name_the_group():
    with pytest.raises(ConfigError, match=r"param_groups\[0\] matches no trainable parameter"):
        build_optimizer(Block(), {"name": "sgd", "lr": 0.1, "param_groups": [{"match": "*.gamma"}]})
    with pytest.raises(ConfigError, match=r"param_groups\[0\]\.weight_dacay\)"):
        build_optimizer(
            Block(),
            {"name": "sgd", "lr": 0.1, "param_groups": [{"match": "*", "weight_dacay": 0}]},
        )
    with pytest.raises(ConfigError, match=r"param_groups\[0\] selects no parameters"):
        build_optimizer(Block(), {"name": "sgd", "lr": 0.1, "param_groups": [{"lr": 0.2}]})
    with pytest.raises(ConfigError, match="pass the model itself"):
        build_optimizer(
            Block().parameters(), {"name": "sgd", "lr": 0.1, "param_groups": [{"match": "*"}]}
        )


def test_torch_param_group_dicts_are_accepted_and_checked():
    model = Block()
    groups = [
        {"params": list(model.proj.parameters()), "lr": 0.5},
        {"params": list(model.out.parameters())},
    ]
    optimizer = build_optimizer(groups, {"name": "sgd", "lr": 0.1})
    assert [g["lr"] for g in optimizer.param_groups] == [0.5, 0.1]
    with pytest.raises(ConfigError, match=r"param_groups\[0\]\.lrr\)"):
        build_optimizer([{"params": [model.out.weight], "lrr": 1}], {"name": "sgd", "lr": 0.1})


# -- registering at run time and from a third-party plugin -------------------------------------
class HalfSGD(torch.optim.SGD):
    """SGD at half the configured learning rate (something to tell apart from SGD)."""

    def __init__(self, params, lr: float, damping: float = 0.5) -> None:
        super().__init__(params, lr=lr * damping)


@dataclasses.dataclass
class HalfSGDParams:
    lr: float = "???"  # type: ignore[assignment]
    damping: float = 0.5


def test_runtime_register_optimizer_and_scheduler_are_usable_by_name():
    ganglion.register_optimizer("halfsgd", HalfSGD, params=HalfSGDParams)
    ganglion.register_scheduler("constant", torch.optim.lr_scheduler.ConstantLR)
    cfg = {
        "name": "halfsgd",
        "lr": 0.4,
        "damping": 0.25,
        "sched": {"name": "constant", "factor": 0.5, "total_iters": 2},
    }
    optimizer, sched = build_optimization(torch.nn.Linear(2, 1), cfg)
    assert isinstance(optimizer, HalfSGD)
    assert lr_curve(optimizer, sched["scheduler"], 3) == pytest.approx([0.05, 0.05, 0.1])
    # without a params dataclass the scheduler's signature says which keys it takes
    with pytest.raises(ConfigError, match=r"Unknown key 'factr'.*Did you mean 'factor'"):
        build_scheduler(optimizer, {"name": "constant", "factr": 0.5})


def test_runtime_optimizer_without_params_requires_its_required_arguments():
    ganglion.register_optimizer("halfsgd2", HalfSGD)
    with pytest.raises(ConfigError, match=r"model\.optim\.lr is required by optimizer 'halfsgd2'"):
        build_optimizer(torch.nn.Linear(2, 1), {"name": "halfsgd2"})


class ThirdPartyPlugin:
    """What a third-party distribution's plugin.py provides, registered in-process."""

    @hookimpl
    def register_optimizers(self, register):
        register("halfsgd", HalfSGD, params=HalfSGDParams)


def test_a_third_party_plugin_optimizer_is_usable_from_a_config(ganglion_plugins_isolated):
    ganglion_plugins_isolated.register(ThirdPartyPlugin(), name="halfsgd-plugin")
    cfg = OmegaConf.create({"model": {"optim": {"name": "halfsgd", "lr": 0.2}}})
    optimizer = build_optimizer(torch.nn.Linear(2, 1), cfg.model.optim)
    assert isinstance(optimizer, HalfSGD)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)
    entry = ganglion.get_registry("optimizers").get("halfsgd")
    assert entry.provider.plugin == "halfsgd-plugin"


# -- max_steps -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"max_epochs": 3, "num_batches": 10}, 30),
        ({"max_epochs": 3, "num_batches": 10, "accumulate_grad_batches": 4}, 9),  # ceil(10/4)
        ({"max_epochs": 2, "num_batches": 10, "num_devices": 4}, 6),  # ceil(10/4) per device
        ({"max_epochs": 2, "num_batches": 10, "limit_train_batches": 0.5}, 10),
        ({"max_epochs": 2, "num_batches": 10, "limit_train_batches": 3}, 6),
        ({"max_epochs": 5, "num_batches": 10, "max_steps": 12}, 12),  # the trainer's cap
        ({"max_epochs": None, "num_batches": 10, "max_steps": 12}, 12),
        (
            {"max_epochs": 10, "num_batches": 1000, "accumulate_grad_batches": 4, "num_devices": 2},
            1250,
        ),
    ],
)
def test_compute_max_steps(kwargs, expected):
    assert compute_max_steps(**kwargs) == expected


def test_compute_max_steps_errors_name_the_setting():
    with pytest.raises(ConfigError, match="max_epochs and trainer.max_steps are both unbounded"):
        compute_max_steps(max_epochs=-1, num_batches=10)
    with pytest.raises(ConfigError, match=r"trainer\.accumulate_grad_batches must be an integer"):
        compute_max_steps(max_epochs=1, num_batches=10, accumulate_grad_batches=0)
    with pytest.raises(ConfigError, match="no training batches per epoch"):
        compute_max_steps(max_epochs=1, num_batches=3, limit_train_batches=0.1)


def test_max_steps_from_a_trainer_config():
    trainer = {"devices": [0, 1], "num_nodes": 2, "max_epochs": 3, "accumulate_grad_batches": 2}
    assert max_steps_from_trainer(trainer, num_batches=40) == 3 * math.ceil(10 / 2)
    assert max_steps_from_trainer(OmegaConf.create({"max_steps": 77}), num_batches=None) == 77


def test_a_null_sched_max_steps_is_taken_from_the_argument_and_config_wins():

    @dataclasses.dataclass
    class WithMaxSteps:
        max_steps: int = "???"  # type: ignore[assignment]

    class Decay(torch.optim.lr_scheduler.LambdaLR):
        def __init__(self, optimizer, max_steps: int) -> None:
            self.max_steps = max_steps
            super().__init__(optimizer, lambda s: 1 - s / max_steps)

    ganglion.register_scheduler("decay", Decay, params=WithMaxSteps)
    cfg = {"name": "sgd", "lr": 1.0, "sched": {"name": "decay", "max_steps": None}}
    _, sched = build_optimization(torch.nn.Linear(2, 1), cfg, max_steps=40)
    assert sched["scheduler"].max_steps == 40
    cfg["sched"]["max_steps"] = 8
    _, sched = build_optimization(torch.nn.Linear(2, 1), cfg, max_steps=40)
    assert sched["scheduler"].max_steps == 8
    cfg["sched"]["max_steps"] = None
    with pytest.raises(ConfigError, match=r"model\.optim\.sched\.max_steps is required"):
        build_optimization(torch.nn.Linear(2, 1), cfg)
    # Lightning's estimate is a float, inf for a run without bounds
    _, sched = build_optimization(torch.nn.Linear(2, 1), cfg, max_steps=12.0)
    assert sched["scheduler"].max_steps == 12
    with pytest.raises(ConfigError, match="the run has no step bound"):
        build_optimization(torch.nn.Linear(2, 1), cfg, max_steps=float("inf"))


def test_a_callable_max_steps_is_called_only_when_a_scheduler_needs_it():
    calls = []

    def count() -> int:
        calls.append(1)
        return 30

    cfg = {"name": "sgd", "lr": 1.0, "sched": {"name": "StepLR", "step_size": 5}}
    build_optimization(torch.nn.Linear(2, 1), cfg, max_steps=count)
    assert calls == []  # StepLR takes no max_steps: no batches counted

    class Decay(torch.optim.lr_scheduler.LinearLR):
        def __init__(self, optimizer, max_steps: int) -> None:
            self.max_steps = max_steps
            super().__init__(optimizer, 1.0, 0.0, total_iters=max_steps)

    ganglion.register_scheduler("decay", Decay)
    cfg["sched"] = {"name": "decay"}
    _, sched = build_optimization(torch.nn.Linear(2, 1), cfg, max_steps=count)
    assert calls == [1] and sched["scheduler"].max_steps == 30


def test_lightning_trains_with_the_built_scheduler_and_agrees_on_max_steps(tmp_path):
    pl = pytest.importorskip("pytorch_lightning")

    class Regression(pl.LightningModule):
        def __init__(self, num_batches: int) -> None:
            super().__init__()
            self.model, _ = regression()
            self.num_batches = num_batches
            self.seen_lrs: list[float] = []

        def training_step(self, batch, batch_idx):
            self.seen_lrs.append(self.trainer.optimizers[0].param_groups[0]["lr"])
            x, y = batch
            return torch.nn.functional.mse_loss(self.model(x), y)

        def configure_optimizers(self):
            self.computed = max_steps_from_trainer(self.trainer, self.num_batches)
            self.lightning = self.trainer.estimated_stepping_batches
            cfg = {
                "name": "sgd",
                "lr": 0.1,
                "sched": {"name": "StepLR", "step_size": 2, "gamma": 0.5},
            }
            optimizer, sched = build_optimization(self, cfg, max_steps=self.computed)
            return {"optimizer": optimizer, "lr_scheduler": sched}

    x = torch.randn(14, 5)
    data = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=2
    )
    module = Regression(num_batches=len(data))
    trainer = pl.Trainer(
        max_epochs=2,
        accumulate_grad_batches=2,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, data)
    assert module.computed == module.lightning == 8  # 2 epochs x ceil(7 batches / 2)
    # the lr of each batch: optimizer steps after batches 2, 4, 6, 7 of each epoch; StepLR
    # halves every 2 optimizer steps
    steps_before = [0, 0, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6, 6, 7]
    assert module.seen_lrs == pytest.approx([0.1 * 0.5 ** (s // 2) for s in steps_before])


# -- composing model.optim from presets and overrides -------------------------------------------
SEED_YAML = """
optim:
  name: adam
  lr: 0.01
  betas: [0.8, 0.25]
  weight_decay: 0.001
  sched:
    name: StepLR
    max_steps: null
    monitor: val_loss
    reduce_on_plateau: false
    step_size: 1000
"""


def test_command_line_forms_of_the_seed_compose_a_buildable_config():
    base = OmegaConf.create(SEED_YAML).optim
    overrides = ["model.optim=adamw", "model.optim.lr=.0004", "model.optim.betas=[.8, .5]"]
    optim = compose_optim_config(overrides, base=base)
    assert optim.name == "adamw"
    assert optim.lr == pytest.approx(0.0004)
    assert list(optim.betas) == [0.8, 0.5]
    assert optim.weight_decay == 0.01  # the adamw preset's, not the base's
    assert optim.sched.name == "StepLR"  # the schedule survives a change of optimizer
    optimizer, sched = build_optimization(torch.nn.Linear(2, 1), optim)
    assert isinstance(optimizer, torch.optim.AdamW)
    assert optimizer.param_groups[0]["betas"] == (0.8, 0.5)
    assert "monitor" not in sched  # only plateau schedulers hand Lightning a monitor


def test_a_preset_keeps_what_keep_on_preset_names(monkeypatch):
    from ganglion import optim

    base = OmegaConf.create(SEED_YAML).optim
    assert optim.KEEP_ON_PRESET == {"model/optim": ("sched",)}
    assert "sched" in compose_optim_config(["model.optim=sgd"], base=base)
    monkeypatch.setitem(optim.KEEP_ON_PRESET, "model/optim", ())
    assert "sched" not in compose_optim_config(["model.optim=sgd"], base=base)


def test_overrides_without_a_preset_edit_the_base():
    base = OmegaConf.create(SEED_YAML).optim
    optim = compose_optim_config(["model.optim.lr=0.5", "~model.optim.weight_decay"], base=base)
    assert optim.name == "adam" and optim.lr == 0.5 and "weight_decay" not in optim


@pytest.mark.parametrize("preset", TORCH_OPTIMIZERS)
def test_every_torch_preset_builds(preset):
    optim = compose_optim_config([f"model.optim={preset}"])
    optimizer = build_optimizer(torch.nn.Linear(2, 1), optim)
    assert type(optimizer).__name__.lower() == preset


def test_an_unknown_preset_is_an_error_listing_the_presets():
    with pytest.raises(ConfigError) as err:
        compose_optim_config(["model.optim=adamx"])
    assert "no preset 'adamx' in config group model/optim" in str(err.value)
    assert "Did you mean 'adamax'" in str(err.value) and "novograd" in str(err.value)


def test_the_novograd_preset_without_the_plugin_says_what_to_install():
    optim = compose_optim_config(["model.optim=novograd"])
    with pytest.raises(UnknownNameError, match="provided by the 'ganglion-optim' distribution"):
        build_optimizer(torch.nn.Linear(2, 1), optim)


def test_group_overrides_are_rewritten_only_for_plain_preset_names():
    groups = {"model/optim": ["adam", "sgd"]}
    overrides = [
        "model.optim=adam",
        "model.optim.lr=1",
        "trainer.max_epochs=3",
        "+model.optim=sgd",
        "model.optim=adam,sgd",  # a sweep over presets
    ]
    rewritten, chosen = rewrite_preset_overrides(overrides, groups)
    assert rewritten == [
        "model/optim=adam",
        "model.optim.lr=1",
        "trainer.max_epochs=3",
        "+model/optim=sgd",
        "model/optim=adam,sgd",
    ]
    assert chosen == {"model/optim"}
    assert rewrite_preset_overrides(["model.optim={name: sgd}"], groups) == (
        ["model.optim={name: sgd}"],
        frozenset(),
    )
    with pytest.raises(
        ConfigError, match=r"model\.optim=adamx: no preset 'adamx'.*Known: adam, sgd"
    ):
        rewrite_preset_overrides(["model.optim=adam,adamx"], groups)


def test_the_catalogue_imports_no_torch():
    code = (
        "import sys\n"
        "import ganglion.optim, ganglion.optim.params, ganglion._builtin.optim\n"
        "from ganglion.plugins import PluginManager\n"
        "m = PluginManager(entry_points=False)\n"
        "assert 'adam' in m.registry('optimizers').names()\n"
        "assert 'StepLR' in m.registry('schedulers').names()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
