""":class:`TimeBudget`: train for a wall-clock budget rather than a number of epochs, with the
learning-rate schedule stretched or shrunk so that its decay ends when the budget does.

ganglion-asr's ``quartznet_digits`` and ganglion-nlp's WordNet configs use it, so that a run
takes the same time on a quiet or a busy machine and always finishes its annealing.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn

from ganglion.training.durations import parse_duration

__all__ = ["TimeBudget", "parse_duration"]


class TimeBudget(Callback):
    """Train for ``budget`` of wall-clock time, ending the learning-rate decay with it.

    After every optimizer step the callback sets the ``max_steps`` of each step-wise
    scheduler that has one (the warmup/annealing schedules of ganglion-optim) to the step at
    which the budget runs out, extrapolated from the steps done since the warmup ended. The
    decay's progress therefore follows the elapsed fraction of the budget: on a busy machine
    the same cosine is traversed in fewer steps instead of being cut off half-way. When the
    budget is spent, training stops (Lightning then runs the validation of that point, so the
    checkpoint callback sees it). Validation time counts against the budget; what comes
    after ``fit`` (testing, packaging) does not.

    The schedule never runs past the trainer's own bound (``max_epochs`` / ``max_steps``):
    on a machine fast enough to finish those first, the decay ends with them. The elapsed
    time is saved in checkpoints, so a resumed run spends only what is left. Keep
    ``trainer.max_time`` a little above ``budget`` as a hard stop.

    Config (``trainer.callbacks`` of a ``ganglion train`` config)::

        callbacks:
        - {_target_: ganglion.training.time_budget.TimeBudget, budget: "00:00:13:00"}

    Args:
        budget: training time, ``"HH:MM:SS"``, ``"DD:HH:MM:SS"`` or seconds.
        verbose: say when the budget stops training.
    """

    def __init__(self, budget: str | float | int | timedelta, verbose: bool = True) -> None:
        self.budget = parse_duration(budget, "budget")
        self.verbose = verbose
        self._elapsed_before = 0.0  # spent by earlier runs of a resumed training
        self._start: float | None = None
        self._decay_start: tuple[int, float] | None = None  # (step, elapsed) when warmup ended
        self._schedulers: list[Any] = []
        self._bound = float("inf")

    # -- time ------------------------------------------------------------------------------
    def elapsed(self) -> float:
        """Seconds of the budget spent so far (this run and any run it resumed)."""
        now = 0.0 if self._start is None else time.monotonic() - self._start
        return self._elapsed_before + now

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start = time.monotonic()
        self._bound = float(trainer.estimated_stepping_batches)  # max_epochs / max_steps
        self._schedulers = []
        for config in trainer.lr_scheduler_configs:
            scheduler = config.scheduler
            if config.interval == "step" and getattr(scheduler, "max_steps", None) is not None:
                self._schedulers.append(scheduler)
            else:
                rank_zero_warn(
                    f"TimeBudget: {type(scheduler).__name__} has no step-wise max_steps; "
                    "its schedule is left as it is (training still stops at the budget)"
                )

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        # every rank acts on rank 0's clock, so they stop on the same step
        elapsed = trainer.strategy.broadcast(self.elapsed(), 0)
        step = trainer.global_step
        if elapsed >= self.budget:
            if not trainer.should_stop and self.verbose:
                rank_zero_info(
                    f"TimeBudget: {timedelta(seconds=round(self.budget))} of training spent "
                    f"after {step} steps; stopping"
                )
            trainer.should_stop = True
            return
        for scheduler in self._schedulers:
            scheduler.max_steps = self._horizon(scheduler, step, elapsed, self._bound)

    def _horizon(self, scheduler: Any, step: int, elapsed: float, bound: float) -> int:
        """The step at which the budget runs out, as the scheduler's ``max_steps``."""
        ramp = int(getattr(scheduler, "warmup_steps", 0) or 0)
        ramp += int(getattr(scheduler, "hold_steps", 0) or 0)
        if step <= ramp or self._decay_start is None:
            if step >= ramp and self._decay_start is None:
                self._decay_start = (step, elapsed)
            # before the decay: extrapolate the mean rate so far
            rate = step / max(elapsed, 1e-6)
            horizon = step + rate * (self.budget - elapsed)
        else:
            # the decay's progress tracks the fraction of its time spent:
            # (step - s0) / (horizon - s0) == (elapsed - t0) / (budget - t0)
            s0, t0 = self._decay_start
            horizon = s0 + (step - s0) * (self.budget - t0) / max(elapsed - t0, 1e-6)
        horizon = min(horizon, bound)
        # a horizon at or before the ramp's end would make the decay undefined
        return int(max(horizon, step, ramp + 1))

    # -- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "elapsed": self.elapsed(),
            "decay_start": list(self._decay_start) if self._decay_start else None,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._elapsed_before = float(state_dict.get("elapsed", 0.0))
        start = state_dict.get("decay_start")
        self._decay_start = (int(start[0]), float(start[1])) if start else None
