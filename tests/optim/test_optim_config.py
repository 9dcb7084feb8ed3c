"""The seed's `model.optim` config and its command-line forms, with ganglion-optim installed."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from omegaconf import OmegaConf

from ganglion.optim import build_optimization, compose_optim_config
from ganglion_optim.lion import Lion
from ganglion_optim.novograd import Novograd
from ganglion_optim.schedulers import CosineAnnealing

# the seed documentation's sample, indented as intended
SEED_YAML = """
model:
  optim:
    name: novograd
    lr: 0.01

    # optimizer arguments
    betas: [0.8, 0.25]
    weight_decay: 0.001

    # scheduler setup
    sched:
      name: CosineAnnealing

      # Optional arguments
      max_steps: null # computed at runtime or explicitly set here
      monitor: val_loss
      reduce_on_plateau: false

      # scheduler config override
      warmup_steps: 1000
      warmup_ratio: null
      min_lr: 1e-9
"""


def test_the_seed_config_builds_novograd_with_cosine_annealing():
    cfg = OmegaConf.create(SEED_YAML)
    optimizer, sched = build_optimization(torch.nn.Linear(4, 2), cfg.model.optim, max_steps=5000)
    assert isinstance(optimizer, Novograd)
    group = optimizer.param_groups[0]
    assert (group["betas"], group["weight_decay"]) == ((0.8, 0.25), 0.001)
    scheduler = sched["scheduler"]
    assert isinstance(scheduler, CosineAnnealing)
    assert (scheduler.warmup_steps, scheduler.max_steps, scheduler.min_lr) == (1000, 5000, 1e-9)
    assert sched["interval"] == "step" and "reduce_on_plateau" not in sched


def test_command_line_forms_switch_the_optimizer_and_keep_the_schedule():
    base = OmegaConf.create(SEED_YAML).model.optim
    optim = compose_optim_config(
        ["model.optim=adam", "model.optim.lr=.0004", "model.optim.betas=[.8,.5]"], base=base
    )
    assert (optim.name, optim.lr, list(optim.betas)) == ("adam", 0.0004, [0.8, 0.5])
    optimizer, sched = build_optimization(torch.nn.Linear(4, 2), optim, max_steps=3000)
    assert isinstance(optimizer, torch.optim.Adam)
    assert optimizer.param_groups[0]["betas"] == (0.8, 0.5)
    assert isinstance(sched["scheduler"], CosineAnnealing)


def test_overrides_of_the_seed_config_edit_novograd_keys():
    base = OmegaConf.create(SEED_YAML).model.optim
    optim = compose_optim_config(
        ["model.optim.betas=[.8, .5]", "+model.optim.grad_averaging=true"], base=base
    )
    optimizer, _ = build_optimization(torch.nn.Linear(4, 2), optim, max_steps=3000)
    assert optimizer.param_groups[0]["betas"] == (0.8, 0.5)
    assert optimizer.param_groups[0]["grad_averaging"] is True


@pytest.mark.parametrize(("preset", "cls"), [("novograd", Novograd), ("lion", Lion)])
def test_presets_from_the_core_and_from_the_plugin_build(preset, cls):
    # novograd's preset ships with the core, lion's with ganglion-optim (register_configs)
    optim = compose_optim_config([f"model.optim={preset}", "model.optim.lr=0.002"])
    optimizer, sched = build_optimization(torch.nn.Linear(4, 2), optim)
    assert isinstance(optimizer, cls) and sched is None
    assert optimizer.param_groups[0]["lr"] == 0.002


def test_the_plugin_hooks_import_no_torch():
    code = (
        "import sys\n"
        "from ganglion.plugins import PluginManager\n"
        "m = PluginManager(environ={'GANGLION_PLUGINS': 'optim'})\n"
        "assert 'optim' in m.plugins, m.failed_plugins\n"
        "assert {'novograd', 'lamb', 'lion'} <= set(m.registry('optimizers').names())\n"
        "assert 'CosineAnnealing' in m.registry('schedulers').names()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
