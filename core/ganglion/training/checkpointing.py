"""Checkpoints: written atomically, and the best model packaged as a ``.ganglion`` archive.

:func:`make_checkpoint_callback` builds the run's checkpoint callback from
``exp_manager.checkpoint_callback_params`` (:class:`~ganglion.conf.schema.CheckpointCallbackParams`):
a :class:`GanglionModelCheckpoint` writing to ``<run dir>/checkpoints``. :class:`AtomicCheckpointIO`
makes every checkpoint write all-or-nothing.
"""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning import LightningModule, Trainer
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.plugins.io import TorchCheckpointIO

from ganglion.archive import atomic_output
from ganglion.training.durations import parse_duration
from ganglion.training.run_directory import checkpoint_dir

__all__ = [
    "AtomicCheckpointIO",
    "GanglionModelCheckpoint",
    "make_checkpoint_callback",
]


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


def make_checkpoint_callback(cfg: DictConfig, log_dir: Path, name: str) -> ModelCheckpoint:
    """The checkpoint callback of a run in ``log_dir`` named ``name``, from the checked
    ``exp_manager`` config ``cfg``; it packages the model as ``<name>.ganglion`` beside the
    checkpoints unless ``save_ganglion_on_train_end`` is false."""
    params = OmegaConf.to_container(cfg.checkpoint_callback_params, resolve=True)
    save_ganglion = params.pop("save_ganglion_on_train_end")
    save_best = params.pop("save_best_model")
    dirpath = checkpoint_dir(cfg, log_dir)
    params["dirpath"] = str(dirpath)
    if params["filename"] is None:
        monitor = params["monitor"]
        params["filename"] = (
            f"{name}--{{{monitor}:.4f}}-{{epoch}}" if monitor else (f"{name}--{{epoch}}-{{step}}")
        )
    if params["train_time_interval"] is not None:
        seconds = parse_duration(
            params["train_time_interval"],
            "exp_manager.checkpoint_callback_params.train_time_interval",
        )
        params["train_time_interval"] = timedelta(seconds=seconds)
    archive = dirpath / f"{name}.ganglion" if save_ganglion else None
    return GanglionModelCheckpoint(archive_path=archive, save_best_model=save_best, **params)
