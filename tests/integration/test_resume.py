"""Exact resume: a ``ganglion train`` run killed with SIGKILL mid-epoch and restarted with
``exp_manager.resume_if_exists=true`` ends where an uninterrupted run ends — same weights,
same optimizer and scheduler state, same logged losses (CPU, seeded)."""

from __future__ import annotations

import csv
import signal
from pathlib import Path

import torch
import yaml
from ganglion_train_fixtures import archived_weights, run_train

FIXTURES = "ganglion_train_fixtures"  # tests/core, on sys.path (tests/conftest.py)
STEPS_PER_EPOCH = 8  # 64 samples, batch 8


def write_config(folder: Path) -> None:
    dataset = f"{FIXTURES}.RegressionDataset"
    cfg = {
        "trainer": {
            "max_epochs": 3,
            "accelerator": "cpu",
            "devices": 1,
            "log_every_n_steps": 1,
            "enable_progress_bar": False,
            "enable_model_summary": False,
        },
        "exp_manager": {
            "exp_dir": str(folder / "runs"),
            "resume_if_exists": True,
            "resume_ignore_no_checkpoint": True,
            "create_tensorboard_logger": False,
            "checkpoint_callback_params": {
                "every_n_train_steps": 4,
                "monitor": None,
                "save_top_k": 1,
                "verbose": False,
            },
        },
        "model": {
            "_target_": f"{FIXTURES}.TinyRegressor",
            "dropout": 0.2,  # random masks: the RNG has to be right too
            "train_ds": {"_target_": dataset, "size": 64, "batch_size": 8, "shuffle": True},
            "validation_ds": {"_target_": dataset, "size": 16, "seed": 1, "batch_size": 8},
            "optim": {"name": "adam", "lr": 0.01, "sched": {"name": "StepLR", "step_size": 6}},
        },
    }
    (folder / "resume.yaml").write_text(yaml.safe_dump(cfg))


def train(folder: Path, name: str, *, kill_at_step: int | None = None):
    return run_train(folder, "resume", f"exp_manager.name={name}", kill_at_step=kill_at_step)


def logged(run_dir: Path) -> dict[tuple[str, int], float]:
    values = {}
    with open(run_dir / "csv" / "metrics.csv", newline="") as f:
        for row in csv.DictReader(f):
            for key, value in row.items():
                if key not in ("epoch", "step") and value:
                    assert (key, int(row["step"])) not in values, f"{key} logged twice"
                    values[(key, int(row["step"]))] = float(value)
    return values


def same_tensors(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_tensors(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_tensors(x, y) for x, y in zip(a, b))
    return a == b


def test_sigkilled_run_resumes_to_the_same_weights_and_logged_losses(tmp_path):
    write_config(tmp_path)
    reference = train(tmp_path, "reference")
    assert reference.returncode == 0, reference.stderr[-3000:]

    # killed at step 13, in the middle of epoch 1; the last checkpoint is from step 12
    killed = train(tmp_path, "interrupted", kill_at_step=13)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    run = tmp_path / "runs" / "interrupted"
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["global_step"] == 12 and 12 % STEPS_PER_EPOCH != 0  # a mid-epoch checkpoint
    assert max(step for _, step in logged(run)) == 12  # it logged past the checkpoint

    resumed = train(tmp_path, "interrupted")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Restoring states from the checkpoint" in resumed.stdout + resumed.stderr

    ref_dir = tmp_path / "runs" / "reference"
    ref_losses, losses = logged(ref_dir), logged(run)
    assert sum(1 for key, _ in ref_losses if key == "train_loss") == 3 * STEPS_PER_EPOCH
    assert losses == ref_losses  # every step's loss, bit for bit, none twice

    ref_weights, weights = (
        archived_weights(ref_dir, "reference"),
        archived_weights(run, "interrupted"),
    )
    assert same_tensors(weights, ref_weights)
    ref_ckpt = torch.load(ref_dir / "checkpoints" / "last.ckpt", weights_only=False)
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == ref_ckpt["global_step"] == 3 * STEPS_PER_EPOCH
    assert same_tensors(ckpt["state_dict"], ref_ckpt["state_dict"])
    assert same_tensors(ckpt["optimizer_states"], ref_ckpt["optimizer_states"])
    assert same_tensors(ckpt["lr_schedulers"], ref_ckpt["lr_schedulers"])
