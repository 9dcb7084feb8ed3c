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
  (``versions.json``) are saved there;
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
(:func:`ganglion.data.resumable_dataloader`) and :class:`StepSeedCallback` (``ganglion train``
adds it when the config has a ``seed``).

Only global rank 0 creates directories and writes files; in a multi-process run the other
ranks agree on the same directory (see :func:`resolve_log_dir`).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import platform
import random
import shlex
import shutil
import sys
import time
import warnings
from collections.abc import Mapping
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.plugins.io import TorchCheckpointIO

from ganglion.archive import atomic_output, atomic_write_text
from ganglion.conf.schema import CheckpointCallbackParams, ExpManagerConfig
from ganglion.errors import ConfigError, GanglionError, did_you_mean, omegaconf_error_message

__all__ = [
    "AtomicCheckpointIO",
    "ExpManagerConfig",
    "GanglionModelCheckpoint",
    "RestoreDataPosition",
    "StepSeedCallback",
    "ThrottledProgressBar",
    "check_exp_manager_config",
    "exp_manager",
    "resolve_log_dir",
]

#: Default parent of every run directory.
DEFAULT_EXP_DIR = "ganglion_experiments"
#: Set by global rank 0 so that processes it spawns (Lightning's DDP launcher) use its version.
VERSION_ENV = "GANGLION_EXP_VERSION"
CHECKPOINT_DIR = "checkpoints"
CSV_DIR = "csv"
#: Libraries whose versions are saved with every run.
_LIBRARIES = (
    "ganglion",
    "torch",
    "pytorch-lightning",
    "lightning-fabric",
    "hydra-core",
    "omegaconf",
    "torchdata",
    "torchmetrics",
    "tensorboard",
    "wandb",
)


# -- configuration ------------------------------------------------------------------------
def check_exp_manager_config(cfg: Any, *, key: str = "exp_manager") -> DictConfig:
    """``cfg`` merged over :class:`ExpManagerConfig`'s defaults, or a :class:`ConfigError`.

    An unknown key names itself and the closest known one; a value of the wrong type names
    the key and the type expected. Also checks that the optional loggers asked for are
    installed. Nothing is created.
    """
    schema = OmegaConf.structured(ExpManagerConfig)
    if cfg is None:
        return schema
    if dataclasses.is_dataclass(cfg):
        cfg = OmegaConf.structured(cfg)
    elif isinstance(cfg, Mapping) and not isinstance(cfg, DictConfig):
        cfg = OmegaConf.create(dict(cfg))
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"{key} must be a mapping of exp_manager settings, got {cfg!r}")
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
        _parse_duration(params.train_time_interval, f"{key}.checkpoint_callback_params")
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
    params = (
        cfg._get_node("checkpoint_callback_params") if "checkpoint_callback_params" in cfg else None
    )
    if isinstance(params, DictConfig):
        _check_keys(params, CheckpointCallbackParams, f"{key}.checkpoint_callback_params")


def _installed(*modules: str) -> bool:
    import importlib.util

    return any(importlib.util.find_spec(m) is not None for m in modules)


def _parse_duration(text: str, key: str) -> timedelta:
    """``"HH:MM:SS"`` or ``"DD:HH:MM:SS"`` as a ``timedelta`` (the Trainer's ``max_time`` form)."""
    parts = str(text).split(":")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (3, 4):
        raise ConfigError(
            f"{key}.train_time_interval must look like 'HH:MM:SS' or 'DD:HH:MM:SS', got {text!r}"
        )
    days = numbers[0] if len(numbers) == 4 else 0
    hours, minutes, seconds = numbers[-3:]
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


# -- the run directory ----------------------------------------------------------------------
def resolve_log_dir(cfg: DictConfig, *, global_rank: int = 0) -> tuple[Path, str, str | None]:
    """``(log_dir, name, version)`` of a run; creates nothing.

    The version, when not given: none with ``resume_if_exists`` (the run lives in
    ``<exp_dir>/<name>``); else the id of the external launcher that started every rank at
    once (SLURM ``slurm-<job>.<step>``, torchrun ``torchrun-<run id>``); else, in processes
    Lightning spawned, the version global rank 0 chose (``$GANGLION_EXP_VERSION``); else the
    start time (``%Y-%m-%d_%H-%M-%S``, with ``_1``, ``_2``… when taken) or, with
    ``use_datetime_version=false``, ``version_<n>``.
    """
    if cfg.explicit_log_dir:
        path = Path(cfg.explicit_log_dir).expanduser().absolute()
        return path, cfg.name, None
    exp_dir = Path(cfg.exp_dir or DEFAULT_EXP_DIR).expanduser().absolute()
    base = exp_dir / cfg.name
    version = cfg.version
    if version is None and not cfg.resume_if_exists:
        version = _launcher_version()
        if version is None and global_rank > 0:
            version = os.environ.get(VERSION_ENV)
        if version is None:
            version = _new_version(base, cfg.use_datetime_version)
    if version is not None:
        version = str(version)
        if not version or "/" in version or version in (".", ".."):
            raise ConfigError(f"exp_manager.version must be a plain folder name, got {version!r}")
    return (base / version if version else base), cfg.name, version


def _launcher_version() -> str | None:
    env = os.environ
    if env.get("SLURM_JOB_ID") and int(env.get("SLURM_NTASKS", "1") or 1) > 1:
        return f"slurm-{env['SLURM_JOB_ID']}.{env.get('SLURM_STEP_ID', '0')}"
    run_id = env.get("TORCHELASTIC_RUN_ID")
    if run_id and run_id != "none" and int(env.get("WORLD_SIZE", "1") or 1) > 1:
        return f"torchrun-{run_id}"
    return None


def _new_version(base: Path, use_datetime: bool) -> str:
    if use_datetime:
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
        version, n = stamp, 0
        while (base / version).exists():  # two runs started within the same second
            n += 1
            version = f"{stamp}_{n}"
        return version
    n = 0
    while (base / f"version_{n}").exists():
        n += 1
    return f"version_{n}"


def _find_resume_checkpoint(cfg: DictConfig, log_dir: Path) -> Path | None:
    if cfg.resume_from_checkpoint is not None:
        return Path(cfg.resume_from_checkpoint).absolute()
    if not cfg.resume_if_exists:
        return None
    ckpt_dir = _checkpoint_dir(cfg, log_dir)
    candidates = sorted(ckpt_dir.glob("*last*.ckpt"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        if cfg.resume_ignore_no_checkpoint:
            warnings.warn(
                f"exp_manager.resume_if_exists: no checkpoint in {ckpt_dir}; training starts "
                "from scratch (resume_ignore_no_checkpoint=true)",
                stacklevel=3,
            )
            return None
        raise ConfigError(
            f"exp_manager.resume_if_exists is true but there is no last checkpoint in {ckpt_dir}; "
            "set exp_manager.resume_ignore_no_checkpoint=true to start from scratch when there "
            "is nothing to resume"
        )
    return candidates[-1]  # the newest "last" checkpoint


def _checkpoint_dir(cfg: DictConfig, log_dir: Path) -> Path:
    dirpath = cfg.checkpoint_callback_params.dirpath
    return Path(dirpath).expanduser().absolute() if dirpath else log_dir / CHECKPOINT_DIR


def _logging_step(checkpoint_path: Path) -> int:
    """The step the interrupted run's logs are valid up to (exclusive): the checkpoint's
    count of optimizer-stepping batches, which is what Lightning logs as ``step``."""
    try:
        ckpt = torch.load(checkpoint_path, map_location="cpu", mmap=True, weights_only=False)
    except Exception as exc:
        raise GanglionError(
            f"cannot read the checkpoint to resume from, {checkpoint_path}: "
            f"{type(exc).__name__}: {exc}. Delete it to resume from an earlier one."
        ) from exc
    try:
        fit_loop = ckpt["loops"]["fit_loop"]
        step = int(fit_loop["epoch_loop.state_dict"]["_batches_that_stepped"])
        total = fit_loop["epoch_loop.batch_progress"]["total"]
    except (KeyError, TypeError):
        return int(ckpt.get("global_step", 0))
    if total["completed"] == total["processed"] - 1:
        # saved in on_train_batch_end, before that batch was counted and its metrics logged;
        # Lightning counts it on restart (the same rule as its loops' restart stage)
        step += 1
    return step


# -- files saved with the run ---------------------------------------------------------------
def package_versions() -> dict[str, Any]:
    """Python, platform, the main libraries and every installed ganglion plugin's version."""
    libraries = {}
    for name in _LIBRARIES:
        try:
            libraries[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    plugins = {}
    try:
        from ganglion.plugins import get_plugin_manager

        for info in get_plugin_manager().describe()["plugins"]:
            plugins[info["name"]] = {
                "distribution": info["distribution"],
                "version": info["version"],
            }
    except GanglionError:  # a broken plugin must not stop a run that does not use it
        pass
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "libraries": libraries,
        "plugins": plugins,
    }


def _write_run_files(log_dir: Path, run_config: Any, files_to_copy: list[str]) -> None:
    if run_config is not None:
        if not isinstance(run_config, DictConfig):
            run_config = OmegaConf.create(run_config)
        atomic_write_text(log_dir / "config.yaml", OmegaConf.to_yaml(run_config))
    command = " ".join(shlex.quote(a) for a in _command_line())
    with open(log_dir / "cmd-args.log", "a", encoding="utf-8") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  {command}\n")
    atomic_write_text(
        log_dir / "versions.json", json.dumps(package_versions(), indent=2, sort_keys=True) + "\n"
    )
    for src in files_to_copy:  # checked by check_exp_manager_config
        path = Path(src).expanduser()
        shutil.copy2(path, log_dir / path.name)


def _command_line() -> list[str]:
    """This process's command line as a user would type it again."""
    import __main__

    spec = getattr(__main__, "__spec__", None)
    if spec is not None and sys.argv and sys.argv[0].endswith("__main__.py"):
        return [sys.executable, "-m", spec.name.removesuffix(".__main__"), *sys.argv[1:]]
    return [sys.executable, *sys.argv]


def _kept_csv_rows(metrics_file: Path, resume_step: int) -> list[dict[str, str]]:
    """Rows of an interrupted run's ``metrics.csv`` logged before the resumed checkpoint."""
    if not metrics_file.is_file():
        return []
    with open(metrics_file, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    kept = []
    for row in rows:
        try:
            step = int(float(row.get("step") or 0))
        except ValueError:
            continue
        if step < resume_step:
            kept.append(row)
    return kept


# -- callbacks and plugins -------------------------------------------------------------------
class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file beside it, then renames it into place, so a
    run killed while saving leaves the previous checkpoint intact (remote URLs go through
    Lightning's own writer)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        path_str = os.fspath(path)
        if "://" in path_str:
            return super().save_checkpoint(checkpoint, path, storage_options)
        if storage_options is not None:
            raise TypeError(
                f"{type(self).__name__}.save_checkpoint takes no storage_options, got "
                f"{storage_options!r}"
            )
        with atomic_output(Path(path_str)) as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())  # on disk before it replaces the checkpoint a resume would use
        return None


class GanglionModelCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` that also packages the model as a ``.ganglion``
    archive when training ends.

    Args:
        archive_path: where the archive goes (``None``: no archive).
        save_best_model: when training ends, load the best checkpoint's weights into the
            model (archive or not: the model in memory then holds them, so a following
            ``trainer.test`` tests the best model, and the archive packs them); with no
            ``monitor``, the final weights stay.
        **kwargs: ``ModelCheckpoint`` arguments.
    """

    def __init__(
        self, *, archive_path: str | Path | None = None, save_best_model: bool = True, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.archive_path = Path(archive_path) if archive_path is not None else None
        self.save_best_model = save_best_model
        #: the archive written at the end of training (``None`` until then)
        self.saved_archive: Path | None = None

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._refresh_last(trainer)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._refresh_last(trainer)

    def _refresh_last(self, trainer: Trainer) -> None:
        # Lightning rewrites last.ckpt at an epoch end only when a top-k checkpoint was saved
        # there; a run whose metric stopped improving would resume from an old epoch
        if not self.save_last or self._should_skip_saving_checkpoint(trainer):
            return
        due = self._every_n_epochs >= 1 and (trainer.current_epoch + 1) % self._every_n_epochs == 0
        if due and self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        if trainer.fast_dev_run or trainer.sanity_checking:
            return
        best = self.best_model_path
        if self.save_best_model and self.monitor is not None and best and Path(best).is_file():
            checkpoint = trainer.strategy.load_checkpoint(best)
            pl_module.load_state_dict(checkpoint["state_dict"])
        if self.archive_path is None:
            return
        written: Path | None = None
        if trainer.is_global_zero:
            save_to = getattr(pl_module, "save_to", None)
            if save_to is None:
                warnings.warn(
                    f"{type(pl_module).__name__} has no save_to(); no .ganglion archive written "
                    "(only ganglion ModelPT models can be packaged)",
                    stacklevel=2,
                )
            else:
                self.archive_path.parent.mkdir(parents=True, exist_ok=True)
                save_to(str(self.archive_path))
                written = self.archive_path
        # every rank learns what rank 0 wrote, once it is written (a barrier too)
        self.saved_archive = trainer.strategy.broadcast(written)


class RestoreDataPosition(Callback):
    """Makes a resumed run continue from the checkpoint's data position even when the
    model asked for its training dataloader before the checkpoint was restored.

    Lightning applies the saved dataloader state when it first sets up the training data.
    A model whose ``configure_optimizers`` reads ``trainer.estimated_stepping_batches`` (to
    size a scheduler) makes that happen before the checkpoint is restored, and the saved
    position is then never applied: the resumed epoch starts over from its first batch. This
    callback sees the state still pending at ``on_train_start`` and has Lightning set up the
    training data again, this time with the state. Added by :func:`exp_manager`.
    """

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        fit_loop = trainer.fit_loop
        if (
            getattr(fit_loop, "_combined_loader_states_to_load", None)
            and getattr(fit_loop, "_combined_loader", None) is not None
        ):
            fit_loop._combined_loader = None  # the next setup_data() rebuilds it, state applied


class ThrottledProgressBar(TQDMProgressBar):
    """Lightning's progress bar, redrawn at most ``max_refresh_per_second`` times a second.

    Lightning's bar recomputes its metrics and redraws after every batch (a few hundred
    microseconds, a noticeable share of a small model's step); this one does so when at least
    ``1 / max_refresh_per_second`` seconds have passed, and always on the last batch, so the
    display is as live as before for slow steps and costs next to nothing for fast ones.
    ``ganglion train`` uses it unless ``trainer.callbacks`` already has a progress bar.
    """

    def __init__(self, max_refresh_per_second: float = 4.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._interval = 1.0 / max_refresh_per_second
        self._last_refresh = 0.0

    def _should_update(self, current: int, total: int) -> bool:
        if not self.is_enabled:
            return False
        now = time.monotonic()
        if current == total or now - self._last_refresh >= self._interval:
            self._last_refresh = now
            return True
        return False


class StepSeedCallback(Callback):
    """Seeds Python's, NumPy's and torch's generators at the start of every training step from
    ``(seed, epoch, batch index, global rank)``.

    The random numbers a step draws (dropout, augmentation, noise) then depend only on where
    training is, not on what ran before it in this process — so a run resumed from a
    checkpoint draws exactly what the uninterrupted run drew, whether it stopped mid-epoch or
    between epochs, and whatever validation or data loading consumed in between. Ranks get
    different streams. Costs a few microseconds per step.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        # (epoch, batch_idx) rather than global_step: micro-batches of one accumulated step
        # must not share a stream. Odd multipliers keep nearby positions far apart.
        mixed = (
            self.seed * 0x9E3779B97F4A7C15
            + trainer.current_epoch * 0xBF58476D1CE4E5B9
            + batch_idx * 0x94D049BB133111EB
            + trainer.global_rank * 0xD6E8FEB86659FD93
        )
        value = mixed & 0x7FFF_FFFF_FFFF_FFFF
        # torch.manual_seed would also queue a seeding of every accelerator torch knows, with a
        # stack trace each time (milliseconds a step, and a list that grows): seed only the
        # generators this run draws from
        torch.default_generator.manual_seed(value)
        device = pl_module.device.type if pl_module is not None else "cpu"
        if device == "cuda":
            torch.cuda.manual_seed_all(value)
        elif device in ("mps", "xpu"):
            getattr(torch, device).manual_seed(value)
        random.seed(value)
        numpy = sys.modules.get("numpy")
        if numpy is not None:  # only when something already uses it; never import it here
            numpy.random.seed(value & 0xFFFF_FFFF)

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = state_dict.get("seed")
        if saved is not None and int(saved) != self.seed:
            warnings.warn(
                f"resuming a run trained with seed {saved} using seed {self.seed}: the random "
                "streams after the checkpoint differ from the interrupted run's",
                stacklevel=2,
            )


# -- the entry point -------------------------------------------------------------------------
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
    resume_from = _find_resume_checkpoint(cfg, log_dir)
    resume_step = _logging_step(resume_from) if resume_from is not None else None

    if rank == 0:
        log_dir.mkdir(parents=True, exist_ok=True)
        if version is not None:
            os.environ[VERSION_ENV] = version  # for the processes Lightning spawns (DDP)
        _write_run_files(log_dir, run_config, list(cfg.files_to_copy))

    loggers = _make_loggers(cfg, log_dir, name, version, rank, resume_step)
    if loggers:
        trainer.loggers = loggers
    if not any(isinstance(cb, RestoreDataPosition) for cb in trainer.callbacks):
        trainer.callbacks.insert(0, RestoreDataPosition())
    if cfg.create_checkpoint_callback:
        trainer.callbacks.append(_make_checkpoint_callback(cfg, log_dir, name))
    if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
        trainer.strategy.checkpoint_io = AtomicCheckpointIO()
    if resume_from is not None:
        trainer.ckpt_path = str(resume_from)
    trainer._default_root_dir = str(log_dir)  # where Lightning puts anything else it writes
    return log_dir


def _wants_loggers(cfg: DictConfig) -> bool:
    """Whether exp_manager creates loggers with the (checked) exp_manager config ``cfg``."""
    return bool(cfg.create_tensorboard_logger or cfg.create_csv_logger or cfg.create_wandb_logger)


def _check_trainer(trainer: Trainer, cfg: DictConfig) -> None:
    if _wants_loggers(cfg) and trainer.loggers:
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


def _make_loggers(
    cfg: DictConfig,
    log_dir: Path,
    name: str,
    version: str | None,
    rank: int,
    resume_step: int | None,
) -> list[Any]:
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
            kept = _kept_csv_rows(Path(logger.log_dir) / "metrics.csv", resume_step)
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


def _make_checkpoint_callback(cfg: DictConfig, log_dir: Path, name: str) -> ModelCheckpoint:
    params = OmegaConf.to_container(cfg.checkpoint_callback_params, resolve=True)
    save_ganglion = params.pop("save_ganglion_on_train_end")
    save_best = params.pop("save_best_model")
    dirpath = _checkpoint_dir(cfg, log_dir)
    params["dirpath"] = str(dirpath)
    if params["filename"] is None:
        monitor = params["monitor"]
        params["filename"] = (
            f"{name}--{{{monitor}:.4f}}-{{epoch}}" if monitor else (f"{name}--{{epoch}}-{{step}}")
        )
    if params["train_time_interval"] is not None:
        params["train_time_interval"] = _parse_duration(
            params["train_time_interval"], "exp_manager.checkpoint_callback_params"
        )
    archive = dirpath / f"{name}.ganglion" if save_ganglion else None
    return GanglionModelCheckpoint(archive_path=archive, save_best_model=save_best, **params)
