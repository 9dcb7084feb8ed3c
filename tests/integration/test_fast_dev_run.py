"""``+trainer.fast_dev_run=true`` (which the README documents) works with every training
config the installed plugins ship.

fast_dev_run trains one batch, and Lightning then counts a run of one step; a scheduler
sized from that count refused a warmup sized for the real run (quartznet_digits' 100 steps).
The core now sizes a null ``sched.max_steps`` for the run the config describes.
"""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ganglion.optim import build_optimization, max_steps_from_trainer
from ganglion.plugins import get_plugin_manager
from ganglion.training import compose_config, train, validate_config

MANIFESTS = ["train_ds", "validation_ds"]


def shipped_configs() -> list[str]:
    """The training configs (top-level YAMLs) of every installed ``register_configs`` dir."""
    names = []
    for entry in get_plugin_manager().registry("configs"):
        target = entry.target
        if not (isinstance(target, str) and target.startswith("pkg://")):
            continue
        folder = importlib.resources.files(target.removeprefix("pkg://"))
        names += sorted(
            p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
        )
    return names


@pytest.mark.parametrize("name", shipped_configs())
def test_every_shipped_config_validates_and_its_schedule_takes_the_configured_run(name):
    """Every shipped config validates with fast_dev_run set, and its schedule accepts the
    step count of the configured run (what the run now gives a null ``sched.max_steps``
    under fast_dev_run; the run itself is exercised by the quartznet_digits test below and
    by test_train.py::test_fast_dev_run_builds_the_schedule_of_the_configured_run)."""
    overrides = ["+trainer.fast_dev_run=true"]
    model = compose_config(name, overrides).model
    # an ASR config's manifests, a text config's files (the data is never read here)
    overrides += [
        f"model.{ds}.{key}=unused"
        for ds in MANIFESTS
        for key in ("manifest_filepath", "file_path")
        if key in (model.get(ds) or {})
    ]
    cfg = validate_config(compose_config(name, overrides))
    assert cfg.trainer.fast_dev_run is True
    # the step count the run gives a null sched.max_steps under fast_dev_run: that of the
    # configured run (here with a corpus of 25 batches), not fast_dev_run's single step
    steps = max_steps_from_trainer(cfg.trainer, num_batches=25)
    assert steps == 25 * cfg.trainer.max_epochs
    optimizer, scheduler = build_optimization(
        [torch.nn.Parameter(torch.zeros(3))], cfg.model.optim, max_steps=steps
    )
    assert optimizer.param_groups and (scheduler is None or scheduler["scheduler"] is not None)


def write_noise_corpus(folder: Path, count: int, seconds: float = 0.5) -> Path:
    """``count`` utterances of quiet noise labelled "one two", and their manifest."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    (folder / "wavs").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        path = folder / "wavs" / f"u{i}.wav"
        sf.write(
            str(path), (0.01 * rng.standard_normal(int(16000 * seconds))).astype(np.float32), 16000
        )
        rows.append(
            json.dumps({"audio_filepath": str(path), "duration": seconds, "text": "one two"})
        )
    manifest = folder / "manifest.json"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def test_quartznet_digits_runs_under_fast_dev_run(tmp_path):
    pytest.importorskip("ganglion_asr")
    if "quartznet_digits" not in shipped_configs():
        pytest.skip("ganglion-asr's quartznet_digits config is not installed")
    # 96 utterances: 3 batches of 32, so the configured run (50 epochs) has 150 steps, room
    # for the config's 100-step warmup; fast_dev_run used to give the schedule 1
    train_manifest = write_noise_corpus(tmp_path / "train", 96)
    validation_manifest = write_noise_corpus(tmp_path / "validation", 4)
    cfg = compose_config(
        "quartznet_digits",
        [
            "+trainer.fast_dev_run=true",
            f"model.train_ds.manifest_filepath={train_manifest}",
            f"model.validation_ds.manifest_filepath={validation_manifest}",
            f"exp_manager.exp_dir={tmp_path / 'runs'}",
            "trainer.enable_progress_bar=false",
            "trainer.enable_model_summary=false",
        ],
    )
    result = train(cfg)
    assert result.trainer.global_step == 1
    scheduler = result.trainer.lr_scheduler_configs[0].scheduler
    assert scheduler.warmup_steps == 100 and scheduler.max_steps > 100
    assert result.log_dir is None and not (tmp_path / "runs").exists()
