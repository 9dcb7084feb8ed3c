"""Callbacks ``ganglion train`` adds to every run.

* :class:`StepSeedCallback`: seeds the random generators at every step from where training
  is, so a resumed run draws what the uninterrupted run drew (added when the config has a
  ``seed``);
* :class:`RestoreDataPosition`: a resumed run continues from the checkpoint's data position
  even when the model asked for its dataloader early (added by ``exp_manager``);
* :class:`ThrottledProgressBar`: Lightning's progress bar, redrawn a few times a second.
"""

from __future__ import annotations

import random
import sys
import time
import warnings
from typing import Any

import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.callbacks import TQDMProgressBar

__all__ = ["RestoreDataPosition", "StepSeedCallback", "ThrottledProgressBar"]


class RestoreDataPosition(Callback):
    """Makes a resumed run continue from the checkpoint's data position even when the
    model asked for its training dataloader before the checkpoint was restored.

    Lightning applies the saved dataloader state when it first sets up the training data.
    A model whose ``configure_optimizers`` reads ``trainer.estimated_stepping_batches`` (to
    size a scheduler) makes that happen before the checkpoint is restored, and the saved
    position is then never applied: the resumed epoch starts over from its first batch. This
    callback sees the state still pending at ``on_train_start`` and has Lightning set up the
    training data again, this time with the state. Added by
    :func:`~ganglion.training.experiment.exp_manager`.
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
