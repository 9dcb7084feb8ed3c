"""A tiny model and dataset for the training tests (importable by path from a config:
``_target_: ganglion_train_fixtures.TinyRegressor``; subprocess tests put this folder on
PYTHONPATH, as ``run_train`` does), and helpers to run ``ganglion train`` and read what it
saved. tests/conftest.py puts this folder on sys.path, so every test folder can import it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import Dataset

from ganglion.archive import ModelArchive
from ganglion.model import ModelPT
from ganglion.targets import ENV_ALLOW_TARGETS

#: This module's name: allowed as a ``_target_`` prefix (ganglion.targets) in the tests.
FIXTURES_MODULE = __name__

#: This folder: on PYTHONPATH in ``run_train``'s process, so configs can name these classes.
FIXTURES_DIR = Path(__file__).resolve().parent


def quiet_trainer(**kwargs) -> pl.Trainer:
    """A CPU ``Trainer`` that logs, checkpoints, summarises and shows progress for nothing
    (``kwargs`` add or override settings)."""
    options = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    options.update(kwargs)
    return pl.Trainer(**options)


#: Environment variable: SIGKILL the training process when this global step begins.
KILL_AT_STEP_ENV = "GANGLION_TEST_KILL_AT_STEP"


class RegressionDataset(Dataset):
    """``size`` random inputs of ``dim`` features and a fixed nonlinear target, from ``seed``."""

    def __init__(self, size: int = 64, dim: int = 8, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.x = torch.randn(size, dim, generator=generator)
        weights = torch.randn(dim, 1, generator=torch.Generator().manual_seed(1234))
        self.y = torch.tanh(self.x @ weights) + 0.1 * torch.randn(size, 1, generator=generator)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]


class TinyRegressor(ModelPT):
    """Two linear layers with dropout; logs train_loss, val_loss, test_loss."""

    def __init__(self, cfg, trainer=None) -> None:
        super().__init__(cfg, trainer)
        dim, hidden = int(cfg.get("dim", 8)), int(cfg.get("hidden", 16))
        self.net = torch.nn.Sequential(
            torch.nn.Linear(dim, hidden),
            torch.nn.Tanh(),
            torch.nn.Dropout(float(cfg.get("dropout", 0.1))),
            torch.nn.Linear(hidden, 1),
        )
        kill = os.environ.get(KILL_AT_STEP_ENV)
        self._kill_at = int(kill) if kill else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        if self._kill_at is not None and self.global_step == self._kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # mid-epoch, between two checkpoints
        x, y = batch
        loss = torch.nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self(x), y))

    def test_step(self, batch, batch_idx):
        x, y = batch
        self.log("test_loss", torch.nn.functional.mse_loss(self(x), y))


def run_train(
    config_dir: Path,
    config_name: str,
    *overrides: str,
    kill_at_step: int | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """``ganglion train --config-path config_dir --config-name config_name *overrides`` in a
    fresh process with this folder on PYTHONPATH; output captured as text. ``kill_at_step``:
    the process SIGKILLs itself when that global step begins (see ``KILL_AT_STEP_ENV``)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FIXTURES_DIR), env.get("PYTHONPATH")]))
    # the fixtures' classes are the suite's own: allowed as configs' _target_, as a user would
    env[ENV_ALLOW_TARGETS] = ",".join(filter(None, [env.get(ENV_ALLOW_TARGETS), FIXTURES_MODULE]))
    env.pop(KILL_AT_STEP_ENV, None)
    if kill_at_step is not None:
        env[KILL_AT_STEP_ENV] = str(kill_at_step)
    command = [sys.executable, "-m", "ganglion", "train", "--config-path", str(config_dir),
               "--config-name", config_name, *overrides]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)


def archived_weights(run_dir: Path, name: str) -> dict[str, torch.Tensor]:
    """The weights of the ``.ganglion`` archive a run saved: run_dir/checkpoints/<name>.ganglion."""
    with ModelArchive.open(run_dir / "checkpoints" / f"{name}.ganglion") as archive:
        return archive.read_weights()
