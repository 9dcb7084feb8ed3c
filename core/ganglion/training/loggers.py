"""The run's loggers: TensorBoard (event files in the run directory), CSV
(``csv/metrics.csv``) and, when ``wandb`` is installed and ``create_wandb_logger`` is set,
Weights & Biases (offline unless ``wandb_logger_kwargs.offline=false``).

A resumed run's loggers continue where the checkpoint left off: TensorBoard purges the
interrupted run's later events, and the CSV rows logged before the checkpoint are kept.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganglion.training.resume import kept_csv_rows

__all__ = ["CSV_DIR", "make_loggers", "wants_loggers"]

#: The CSV logger's folder in the run directory.
CSV_DIR = "csv"


def wants_loggers(cfg: DictConfig) -> bool:
    """Whether exp_manager creates loggers with the (checked) exp_manager config ``cfg``."""
    return bool(cfg.create_tensorboard_logger or cfg.create_csv_logger or cfg.create_wandb_logger)


def make_loggers(
    cfg: DictConfig,
    log_dir: Path,
    name: str,
    version: str | None,
    rank: int,
    resume_step: int | None,
) -> list[Any]:
    """The loggers the checked ``exp_manager`` config ``cfg`` asks for, writing in ``log_dir``
    (``resume_step``: the step a resumed run continues from, else ``None``)."""
    loggers: list[Any] = []
    if cfg.create_tensorboard_logger:
        from pytorch_lightning.loggers import TensorBoardLogger

        kwargs = OmegaConf.to_container(cfg.summary_writer_kwargs, resolve=True)
        if resume_step is not None:
            kwargs.setdefault("purge_step", resume_step)  # hide the interrupted run's tail
        loggers.append(TensorBoardLogger(save_dir=str(log_dir), name="", version="", **kwargs))
    if cfg.create_csv_logger:
        from pytorch_lightning.loggers import CSVLogger

        kwargs = OmegaConf.to_container(cfg.csv_logger_kwargs, resolve=True)
        # write every logged row at once: what a killed run logged before its last checkpoint
        # must be on disk for the resumed run to keep (Lightning buffers 100 steps)
        kwargs.setdefault("flush_logs_every_n_steps", 1)
        logger = CSVLogger(save_dir=str(log_dir), name=CSV_DIR, version="", **kwargs)
        if rank == 0 and resume_step is not None:
            # Lightning's CSV writer deletes an existing metrics.csv when it starts: keep what
            # the interrupted run logged before the checkpoint and write it back first
            kept = kept_csv_rows(Path(logger.log_dir) / "metrics.csv", resume_step)
            with warnings.catch_warnings():  # "previous log files … will be deleted": not so
                warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
                writer = logger.experiment
            if kept:
                writer.metrics = kept
                writer.save()
        loggers.append(logger)
    if cfg.create_wandb_logger:
        from pytorch_lightning.loggers import WandbLogger

        kwargs = OmegaConf.to_container(cfg.wandb_logger_kwargs, resolve=True)
        kwargs.setdefault("offline", True)
        kwargs.setdefault("name", name)
        if version is not None:
            kwargs.setdefault("version", version)
        loggers.append(WandbLogger(save_dir=str(log_dir), **kwargs))
    return loggers
