"""The experiment manager: one directory per run, loggers, checkpoints and resume.

Call it after building the Lightning ``Trainer`` and before ``trainer.fit``::

    trainer = pl.Trainer(**cfg.trainer)          # with logger=False, enable_checkpointing=False
    log_dir = exp_manager(trainer, cfg.get("exp_manager"), run_config=cfg)
    trainer.fit(model)

What it sets up, from the ``exp_manager:`` config (:class:`ganglion.conf.schema.ExpManagerConfig`):

* the run directory ``<exp_dir>/<name>/<version>`` (``exp_dir`` defaults to
  ``./ganglion_experiments``, ``version`` to the start time; ``explicit_log_dir`` replaces the
  three). The composed config (``config.yaml``), the command line (``cmd-args.log``, one line
  per start) and the versions of Python, the libraries and every ganglion plugin
  (``versions.json``) are saved there (:mod:`~ganglion.training.run_directory`);
* a TensorBoard logger (event files in the run directory), a CSV logger (``csv/metrics.csv``)
  and, when ``wandb`` is installed and ``create_wandb_logger`` is set, a Weights & Biases logger
  (offline unless ``wandb_logger_kwargs.offline=false``);
* a checkpoint callback (Lightning's ``ModelCheckpoint`` with
  ``checkpoint_callback_params``) writing to ``<run dir>/checkpoints``, that also packages the
  best model as ``<name>.ganglion`` with ``save_to`` when training ends;
* resume: ``resume_if_exists`` continues from ``checkpoints/last.ckpt`` of the same run
  directory (there is then no version level, so a restarted job finds its predecessor);
  without a checkpoint that is an error unless ``resume_ignore_no_checkpoint`` is set.
  ``resume_from_checkpoint`` names a checkpoint explicitly. Logs written after the checkpoint
  by the interrupted run are dropped (TensorBoard ``purge_step``, CSV rows), so a resumed run's
  logs read like an uninterrupted one.

Exact resume also needs the data position and the random streams: use a resumable loader
(:func:`ganglion.data.resumable_dataloader`) and
:class:`~ganglion.training.callbacks.StepSeedCallback` (``ganglion train`` adds it when the
config has a ``seed``).

Only global rank 0 creates directories and writes files; in a multi-process run the other
ranks agree on the same directory (see
:func:`~ganglion.training.run_directory.resolve_log_dir`).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning import Trainer
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.plugins.io import TorchCheckpointIO

from ganglion.conf.schema import CheckpointCallbackParams, ExpManagerConfig
from ganglion.conf.values import as_dictconfig
from ganglion.errors import ConfigError, did_you_mean, omegaconf_error_message
from ganglion.training.callbacks import RestoreDataPosition
from ganglion.training.checkpointing import AtomicCheckpointIO, make_checkpoint_callback
from ganglion.training.durations import parse_duration
from ganglion.training.loggers import make_loggers, wants_loggers
from ganglion.training.resume import find_resume_checkpoint, logging_step
from ganglion.training.run_directory import VERSION_ENV, resolve_log_dir, write_run_files

__all__ = ["ExpManagerConfig", "check_exp_manager_config", "exp_manager"]


def exp_manager(trainer: Trainer, cfg: Any = None, *, run_config: Any = None) -> Path:
    """Set up the experiment of ``trainer`` from ``cfg`` (the ``exp_manager:`` section);
    returns the run directory.

    Args:
        trainer: a Lightning ``Trainer`` built with ``logger=False`` and
            ``enable_checkpointing=False`` when exp_manager is to create them (an error
            otherwise: two checkpoint callbacks or two sets of loggers help nobody).
        cfg: a mapping, ``DictConfig`` or :class:`ExpManagerConfig` (``None``: defaults).
        run_config: the whole composed config, saved as ``config.yaml`` in the run directory.

    Raises:
        ConfigError: an unknown key or ill-typed value, a conflict with the Trainer's own
            loggers/checkpointing, or ``resume_if_exists`` with nothing to resume.
    """
    cfg = check_exp_manager_config(cfg)
    _check_trainer(trainer, cfg)
    rank = trainer.global_rank
    log_dir, name, version = resolve_log_dir(cfg, global_rank=rank)
    resume_from = find_resume_checkpoint(cfg, log_dir)
    resume_step = logging_step(resume_from) if resume_from is not None else None

    if rank == 0:
        log_dir.mkdir(parents=True, exist_ok=True)
        if version is not None:
            os.environ[VERSION_ENV] = version  # for the processes Lightning spawns (DDP)
        write_run_files(log_dir, run_config, list(cfg.files_to_copy))

    loggers = make_loggers(cfg, log_dir, name, version, rank, resume_step)
    if loggers:
        trainer.loggers = loggers
    if not any(isinstance(cb, RestoreDataPosition) for cb in trainer.callbacks):
        trainer.callbacks.insert(0, RestoreDataPosition())
    if cfg.create_checkpoint_callback:
        trainer.callbacks.append(make_checkpoint_callback(cfg, log_dir, name))
    if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
        trainer.strategy.checkpoint_io = AtomicCheckpointIO()
    if resume_from is not None:
        trainer.ckpt_path = str(resume_from)
    trainer._default_root_dir = str(log_dir)  # where Lightning puts anything else it writes
    return log_dir


def check_exp_manager_config(cfg: Any, *, key: str = "exp_manager") -> DictConfig:
    """``cfg`` merged over :class:`ExpManagerConfig`'s defaults, or a :class:`ConfigError`.

    An unknown key names itself and the closest known one; a value of the wrong type names
    the key and the type expected. Also checks that the optional loggers asked for are
    installed. Nothing is created.
    """
    schema = OmegaConf.structured(ExpManagerConfig)
    if cfg is None:
        return schema
    cfg = as_dictconfig(cfg, key=key)
    _check_keys(cfg, ExpManagerConfig, key)
    try:
        merged = OmegaConf.merge(schema, cfg)
    except Exception as exc:  # OmegaConf's validation errors: rewrite them with the full key
        raise ConfigError(omegaconf_error_message(exc, key)) from None
    if merged.create_tensorboard_logger and not _installed("tensorboard", "tensorboardX"):
        raise ConfigError(
            f"{key}.create_tensorboard_logger is true but neither tensorboard nor tensorboardX "
            f"is installed: pip install tensorboard, or set {key}.create_tensorboard_logger=false"
        )
    if merged.create_wandb_logger and not _installed("wandb"):
        raise ConfigError(
            f"{key}.create_wandb_logger is true but wandb is not installed: pip install wandb, "
            f"or set {key}.create_wandb_logger=false"
        )
    params = merged.checkpoint_callback_params
    if params.mode not in ("min", "max"):
        raise ConfigError(
            f"{key}.checkpoint_callback_params.mode must be 'min' or 'max', got {params.mode!r}"
        )
    if params.monitor is None and params.save_top_k not in (-1, 0, 1):
        raise ConfigError(
            f"{key}.checkpoint_callback_params.save_top_k={params.save_top_k} keeps the best "
            "checkpoints by a metric, but monitor is null: set monitor (e.g. val_loss), or "
            "save_top_k to -1 (every checkpoint), 1 (the latest) or 0"
        )
    if params.train_time_interval is not None:
        parse_duration(
            params.train_time_interval, f"{key}.checkpoint_callback_params.train_time_interval"
        )
    if (
        merged.resume_from_checkpoint is not None
        and not Path(merged.resume_from_checkpoint).is_file()
    ):
        raise ConfigError(
            f"{key}.resume_from_checkpoint: no checkpoint file at {merged.resume_from_checkpoint!r}"
        )
    for i, src in enumerate(merged.files_to_copy):
        if not Path(src).expanduser().is_file():
            raise ConfigError(
                f"{key}.files_to_copy[{i}]: no file at {src!r}; fix the path or remove the entry"
            )
    return merged


def _check_keys(cfg: DictConfig, schema: type, key: str) -> None:
    fields = [f.name for f in dataclasses.fields(schema)]
    for name in cfg:
        if name not in fields:
            raise ConfigError(
                f"Unknown key {key}.{name}.{did_you_mean(str(name), fields)} Known keys of "
                f"{key}: {', '.join(sorted(fields))}."
            )
    params = OmegaConf.select(
        cfg, "checkpoint_callback_params", default=None, throw_on_resolution_failure=False
    )
    if isinstance(params, DictConfig):
        _check_keys(params, CheckpointCallbackParams, f"{key}.checkpoint_callback_params")


def _installed(*modules: str) -> bool:
    return any(importlib.util.find_spec(m) is not None for m in modules)


def _check_trainer(trainer: Trainer, cfg: DictConfig) -> None:
    """Refuse a Trainer that already has what exp_manager would create."""
    if wants_loggers(cfg) and trainer.loggers:
        kinds = ", ".join(type(lg).__name__ for lg in trainer.loggers)
        raise ConfigError(
            f"the Trainer already has loggers ({kinds}) and exp_manager would create its own: "
            "build the Trainer with logger=False (trainer.logger=false), or set "
            "exp_manager.create_tensorboard_logger/create_csv_logger/create_wandb_logger=false"
        )
    if cfg.create_checkpoint_callback and any(
        isinstance(cb, ModelCheckpoint) for cb in trainer.callbacks
    ):
        raise ConfigError(
            "the Trainer already has a ModelCheckpoint callback and exp_manager would create "
            "its own: build the Trainer with enable_checkpointing=False "
            "(trainer.enable_checkpointing=false), or set "
            "exp_manager.create_checkpoint_callback=false"
        )
