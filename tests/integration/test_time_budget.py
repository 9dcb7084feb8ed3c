"""TimeBudget: training stops when the wall-clock budget is spent, the cosine's end follows the
budget (fully annealed at the stop) or the trainer's own bound, resumes spend only what is
left, and bad budgets are named. The clock is simulated: one "second" per optimizer step."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
import pytorch_lightning as pl
import torch

from ganglion.errors import ConfigError
from ganglion.training import time_budget as callbacks
from ganglion.training.time_budget import TimeBudget, parse_duration


class _Clock:
    """A stand-in for time.monotonic that advances only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Tiny(pl.LightningModule):
    """A linear regression whose every step moves the fake clock by ``seconds_per_step``."""

    def __init__(self, clock: _Clock, seconds_per_step: float, warmup: int = 2) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.clock = clock
        self.seconds_per_step = seconds_per_step
        self.warmup = warmup
        self.lrs: list[float] = []

    def training_step(self, batch, batch_idx):
        self.clock.now += self.seconds_per_step
        self.lrs.append(self.trainer.optimizers[0].param_groups[0]["lr"])
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def train_dataloader(self):
        data = torch.utils.data.TensorDataset(torch.randn(40, 4), torch.randn(40, 1))
        return torch.utils.data.DataLoader(data, batch_size=4)

    def configure_optimizers(self):
        from ganglion_optim.schedulers import CosineAnnealing

        optimizer = torch.optim.SGD(self.parameters(), lr=1.0)
        # a horizon far beyond what the budget allows: TimeBudget must pull it in
        scheduler = CosineAnnealing(
            optimizer, max_steps=10_000, warmup_steps=self.warmup, min_lr=0.0
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }


def _fit(model: _Tiny, budget: TimeBudget, **trainer_kwargs) -> pl.Trainer:
    trainer = pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[budget],
        **{"max_epochs": 100, **trainer_kwargs},
    )
    trainer.fit(model)
    return trainer


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(callbacks.time, "monotonic", fake)
    return fake


def test_training_stops_when_the_budget_is_spent_with_the_cosine_fully_annealed(clock):
    model = _Tiny(clock, seconds_per_step=1.0)
    trainer = _fit(model, TimeBudget(budget=30))
    assert trainer.global_step == 30  # 30 one-second steps, then the stop
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    assert scheduler.max_steps == 30  # the horizon was pulled in from 10 000 to the budget
    # the decay followed the elapsed time: half-way through it the rate was about half
    assert model.lrs[2 + 14] == pytest.approx(0.5 * (1 + math.cos(math.pi * 14 / 28)), abs=0.06)
    assert model.lrs[-1] < 0.02  # annealed to (nearly) min_lr on the last step
    assert all(a >= b for a, b in zip(model.lrs[2:], model.lrs[3:]))  # monotone decay


def test_a_slower_machine_gets_fewer_steps_but_the_same_complete_decay(clock):
    model = _Tiny(clock, seconds_per_step=3.0)
    trainer = _fit(model, TimeBudget(budget="00:00:30"))
    assert trainer.global_step == 10
    assert model.lrs[-1] < 0.1


def test_the_trainers_own_bound_ends_the_decay_when_it_comes_first(clock):
    model = _Tiny(clock, seconds_per_step=1.0)
    trainer = _fit(model, TimeBudget(budget=1000), max_steps=20)
    assert trainer.global_step == 20
    assert trainer.lr_scheduler_configs[0].scheduler.max_steps == 20
    assert model.lrs[-1] < 0.02


def test_a_resumed_run_spends_only_what_is_left_of_the_budget(clock):
    first = TimeBudget(budget=30)
    _fit(_Tiny(clock, seconds_per_step=1.0), first, max_steps=12)
    state = first.state_dict()
    assert state["elapsed"] == pytest.approx(12.0)
    resumed = TimeBudget(budget=30)
    resumed.load_state_dict(state)
    trainer = _fit(_Tiny(clock, seconds_per_step=1.0), resumed)
    assert trainer.global_step == 18  # 12 + 18 = 30 seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:13:00", 780.0), ("01:00:00:30", 86430.0), (90, 90.0), ("45", 45.0)],
)
def test_budgets_are_read_in_max_time_form_or_seconds(text, seconds):
    assert parse_duration(text) == seconds
    assert parse_duration(timedelta(seconds=seconds)) == seconds


@pytest.mark.parametrize("bad", ["13 minutes", "1:2", 0, -5, None])
def test_a_bad_budget_is_an_error_that_shows_the_forms(bad):
    with pytest.raises(ConfigError, match="budget"):
        TimeBudget(budget=bad)


def test_the_old_asr_name_still_finds_it():
    pytest.importorskip("ganglion_asr")
    from ganglion_asr.callbacks import TimeBudget as old

    assert old is TimeBudget
