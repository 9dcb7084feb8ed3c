"""Learning-rate schedules with warmup, hold and annealing, as torch ``LRScheduler`` subclasses.

Every schedule is a closed-form function of the step ``s`` (``last_epoch``, counted in
scheduler steps; ganglion steps schedulers every optimizer step unless ``interval: epoch``).
For each param group with base learning rate ``base`` (its ``lr`` when the scheduler was made):

1. **warmup** — ``s < W``: ``base * (s + 1) / (W + 1)``, a straight ramp whose step ``W`` is the
   first at ``base``. ``W`` is ``warmup_steps``, or ``int(warmup_ratio * max_steps)``.
2. **hold** — ``W <= s < W + H``: ``base``. ``H`` is ``hold_steps`` or
   ``int(hold_ratio * max_steps)``; only the ``*Hold*`` schedules have one.
3. **decay** — ``W + H <= s < max_steps``: the schedule's own curve of the progress
   ``p = (s - W - H) / (max_steps - W - H)``, never below ``min_lr``.
4. **end** — ``s >= max_steps``: ``min_lr``.

==============================  ==============================================================
schedule                        decay phase
==============================  ==============================================================
WarmupPolicy                    ``base`` (constant)
WarmupHoldPolicy                ``base`` (constant), after a hold
SquareAnnealing                 ``min_lr + (base - min_lr) * (1 - p)^2``
CosineAnnealing                 ``min_lr + (base - min_lr) * (1 + cos(pi * p)) / 2``
WarmupAnnealing                 ``min_lr + (base - min_lr) * (1 - p)``
SquareRootAnnealing             ``min_lr + (base - min_lr) * sqrt(1 - p)``
PolynomialDecayAnnealing        ``min_lr + (base - min_lr) * (1 - p)^power``
PolynomialHoldDecayAnnealing    the same, after a hold
InverseSquareRootAnnealing      ``max(min_lr, base * sqrt((W + 1) / (s + 1)))``
NoamAnnealing                   ``base * d_model^-0.5 * min((s+1)^-0.5, (s+1) * W^-1.5)``
                                (its own warmup too; ``min_lr`` floor after warmup)
==============================  ==============================================================

``max_steps`` is required by the decaying schedules; ganglion fills it from the trainer and the
training data when the config leaves it null. Because the learning rate depends on ``s`` alone,
``state_dict()`` / ``load_state_dict()`` resume a schedule exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from omegaconf import MISSING
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

__all__ = [
    "CosineAnnealing",
    "CosineAnnealingParams",
    "InverseSquareRootAnnealing",
    "InverseSquareRootAnnealingParams",
    "NoamAnnealing",
    "NoamAnnealingParams",
    "PolynomialDecayAnnealing",
    "PolynomialDecayAnnealingParams",
    "PolynomialHoldDecayAnnealing",
    "PolynomialHoldDecayAnnealingParams",
    "SquareAnnealing",
    "SquareAnnealingParams",
    "SquareRootAnnealing",
    "SquareRootAnnealingParams",
    "WarmupAnnealing",
    "WarmupAnnealingParams",
    "WarmupHoldPolicy",
    "WarmupHoldPolicyParams",
    "WarmupPolicy",
    "WarmupPolicyParams",
]


# -- params -------------------------------------------------------------------------------------
@dataclass
class WarmupPolicyParams:
    """Arguments of :class:`WarmupPolicy`; ``max_steps`` is filled by ganglion when null."""

    last_epoch: int = -1
    warmup_steps: int | None = None
    warmup_ratio: float | None = None
    min_lr: float = 0.0
    max_steps: int | None = None


@dataclass
class WarmupHoldPolicyParams(WarmupPolicyParams):
    """Arguments of :class:`WarmupHoldPolicy`."""

    hold_steps: int | None = None
    hold_ratio: float | None = None


@dataclass
class _DecayParams(WarmupPolicyParams):
    max_steps: int = MISSING  # decaying schedules need an end


@dataclass
class SquareAnnealingParams(_DecayParams):
    """Arguments of :class:`SquareAnnealing`."""


@dataclass
class CosineAnnealingParams(_DecayParams):
    """Arguments of :class:`CosineAnnealing`."""


@dataclass
class WarmupAnnealingParams(_DecayParams):
    """Arguments of :class:`WarmupAnnealing` (linear decay)."""


@dataclass
class SquareRootAnnealingParams(_DecayParams):
    """Arguments of :class:`SquareRootAnnealing`."""


@dataclass
class PolynomialDecayAnnealingParams(_DecayParams):
    """Arguments of :class:`PolynomialDecayAnnealing`."""

    power: float = 1.0
    cycle: bool = False


@dataclass
class PolynomialHoldDecayAnnealingParams(PolynomialDecayAnnealingParams):
    """Arguments of :class:`PolynomialHoldDecayAnnealing`."""

    hold_steps: int | None = None
    hold_ratio: float | None = None


@dataclass
class InverseSquareRootAnnealingParams(WarmupPolicyParams):
    """Arguments of :class:`InverseSquareRootAnnealing` (``max_steps`` optional)."""


@dataclass
class NoamAnnealingParams(WarmupPolicyParams):
    """Arguments of :class:`NoamAnnealing`: ``d_model`` is the model width of the formula."""

    d_model: int = MISSING


# -- schedules ----------------------------------------------------------------------------------
def _phase_steps(
    name: str, what: str, steps: int | None, ratio: float | None, max_steps: int | None
) -> int:
    """``warmup``/``hold`` length from ``<what>_steps`` or ``<what>_ratio`` (not both)."""
    if steps is not None and ratio is not None:
        raise ValueError(
            f"{name}: set {what}_steps or {what}_ratio, not both "
            f"(got {what}_steps={steps}, {what}_ratio={ratio})"
        )
    if ratio is not None:
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"{name}: {what}_ratio must be in [0, 1], got {ratio}")
        if max_steps is None:
            raise ValueError(f"{name}: {what}_ratio={ratio} needs max_steps to be known")
        return int(ratio * max_steps)
    if steps is None:
        return 0
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"{name}: {what}_steps must be an integer >= 0, got {steps!r}")
    return steps


class WarmupPolicy(LRScheduler):
    """Linear warmup to the base learning rate, then constant; ``min_lr`` after ``max_steps``.

    The base of every schedule here (see the module docstring for the phases). Subclasses
    give the decay curve in :meth:`_decay`.
    """

    _requires_max_steps = False
    #: ``(hold_steps, hold_ratio)``: set by the hold schedules before ``__init__`` runs here
    _hold: tuple[int | None, float | None] = (None, None)

    def __init__(
        self,
        optimizer: Optimizer,
        *,
        warmup_steps: int | None = None,
        warmup_ratio: float | None = None,
        max_steps: int | None = None,
        min_lr: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        self._setup(warmup_steps, warmup_ratio, max_steps, min_lr)
        super().__init__(optimizer, last_epoch)  # computes the first lr: the phases must be set

    def _setup(
        self,
        warmup_steps: int | None,
        warmup_ratio: float | None,
        max_steps: int | None,
        min_lr: float,
    ) -> None:
        name = type(self).__name__
        hold_steps, hold_ratio = self._hold
        if max_steps is None:
            if self._requires_max_steps:
                raise ValueError(
                    f"{name} needs max_steps (the step at which it reaches min_lr); set it, or "
                    "leave it null in model.optim.sched for ganglion to compute it from the "
                    "trainer and the training data"
                )
        elif isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"{name}: max_steps must be an integer >= 1, got {max_steps!r}")
        if not min_lr >= 0.0:
            raise ValueError(f"{name}: min_lr must be >= 0, got {min_lr}")
        self.max_steps = max_steps
        self.min_lr = float(min_lr)
        self.warmup_steps = _phase_steps(name, "warmup", warmup_steps, warmup_ratio, max_steps)
        self.hold_steps = _phase_steps(name, "hold", hold_steps, hold_ratio, max_steps)
        if max_steps is not None and self.warmup_steps + self.hold_steps > max_steps:
            raise ValueError(
                f"{name}: warmup ({self.warmup_steps}) + hold ({self.hold_steps}) steps exceed "
                f"max_steps ({max_steps})"
            )

    # torch calls get_lr() from step(); the value depends on last_epoch only, so it is also
    # the closed form torch uses for step(epoch)
    def get_lr(self) -> list[float]:
        """The learning rate of each param group at step ``last_epoch``."""
        return [self.lr_at(self.last_epoch, base) for base in self.base_lrs]

    def _get_closed_form_lr(self) -> list[float]:
        return self.get_lr()

    def lr_at(self, step: int, base_lr: float) -> float:
        """The learning rate at ``step`` for a group whose base learning rate is ``base_lr``."""
        warmup, hold = self.warmup_steps, self.hold_steps
        if step < warmup:
            return base_lr * (step + 1) / (warmup + 1)
        if step < warmup + hold:
            return base_lr
        if self.max_steps is not None and step >= self.max_steps and not self._cycles():
            return self.min_lr
        return max(self.min_lr, self._decay(step, base_lr))

    def _cycles(self) -> bool:
        return False

    def _progress(self, step: int) -> float:
        """Fraction of the decay phase done at ``step`` (0 at its start, 1 at ``max_steps``)."""
        start = self.warmup_steps + self.hold_steps
        assert self.max_steps is not None
        return (step - start) / max(1, self.max_steps - start)

    def _decay(self, step: int, base_lr: float) -> float:
        return base_lr


class WarmupHoldPolicy(WarmupPolicy):
    """Linear warmup, a hold at the base learning rate, then constant; ``min_lr`` after
    ``max_steps``. The base of the hold-then-decay schedules."""

    def __init__(
        self,
        optimizer: Optimizer,
        *,
        warmup_steps: int | None = None,
        warmup_ratio: float | None = None,
        hold_steps: int | None = None,
        hold_ratio: float | None = None,
        max_steps: int | None = None,
        min_lr: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        self._hold = (hold_steps, hold_ratio)
        super().__init__(
            optimizer,
            warmup_steps=warmup_steps,
            warmup_ratio=warmup_ratio,
            max_steps=max_steps,
            min_lr=min_lr,
            last_epoch=last_epoch,
        )


class _Annealing(WarmupPolicy):
    """Warmup, then a decay from the base learning rate to ``min_lr`` at ``max_steps``."""

    _requires_max_steps = True

    def _decay(self, step: int, base_lr: float) -> float:
        return self.min_lr + (base_lr - self.min_lr) * self._shape(self._progress(step))

    def _shape(self, progress: float) -> float:
        """The fraction of ``base_lr - min_lr`` left at ``progress`` (1 -> 0)."""
        raise AssertionError("subclasses define _shape")  # pragma: no cover


class SquareAnnealing(_Annealing):
    """Warmup, then ``min_lr + (base - min_lr) * (1 - p)^2``: a fast start of the decay."""

    def _shape(self, progress: float) -> float:
        return (1.0 - progress) ** 2


class CosineAnnealing(_Annealing):
    """Warmup, then half a cosine from the base learning rate down to ``min_lr``."""

    def _shape(self, progress: float) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * progress))


class WarmupAnnealing(_Annealing):
    """Warmup, then a straight line from the base learning rate down to ``min_lr``."""

    def _shape(self, progress: float) -> float:
        return 1.0 - progress


class SquareRootAnnealing(_Annealing):
    """Warmup, then ``min_lr + (base - min_lr) * sqrt(1 - p)``: a slow start of the decay."""

    def _shape(self, progress: float) -> float:
        return math.sqrt(max(0.0, 1.0 - progress))


class PolynomialDecayAnnealing(_Annealing):
    """Warmup, then ``min_lr + (base - min_lr) * (1 - p)^power``.

    With ``cycle``, the schedule does not stop at ``max_steps``: the decay horizon grows to the
    next multiple of ``max_steps - warmup`` and the learning rate climbs back before each new
    descent (the "cycle" of TensorFlow's polynomial decay).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        *,
        max_steps: int | None = None,
        warmup_steps: int | None = None,
        warmup_ratio: float | None = None,
        power: float = 1.0,
        cycle: bool = False,
        min_lr: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if not power > 0.0:
            raise ValueError(f"{type(self).__name__}: power must be > 0, got {power}")
        self.power = float(power)
        self.cycle = bool(cycle)
        super().__init__(
            optimizer,
            max_steps=max_steps,
            warmup_steps=warmup_steps,
            warmup_ratio=warmup_ratio,
            min_lr=min_lr,
            last_epoch=last_epoch,
        )

    def _cycles(self) -> bool:
        return self.cycle

    def _progress(self, step: int) -> float:
        if not self.cycle:
            return super()._progress(step)
        start = self.warmup_steps + self.hold_steps
        assert self.max_steps is not None
        span = max(1, self.max_steps - start)
        done = step - start
        return done / (span * max(1, math.ceil(done / span)))

    def _shape(self, progress: float) -> float:
        return max(0.0, 1.0 - progress) ** self.power


class PolynomialHoldDecayAnnealing(PolynomialDecayAnnealing):
    """Warmup, a hold at the base learning rate, then polynomial decay to ``min_lr``."""

    def __init__(
        self,
        optimizer: Optimizer,
        *,
        max_steps: int | None = None,
        warmup_steps: int | None = None,
        warmup_ratio: float | None = None,
        hold_steps: int | None = None,
        hold_ratio: float | None = None,
        power: float = 1.0,
        cycle: bool = False,
        min_lr: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        self._hold = (hold_steps, hold_ratio)
        super().__init__(
            optimizer,
            max_steps=max_steps,
            warmup_steps=warmup_steps,
            warmup_ratio=warmup_ratio,
            power=power,
            cycle=cycle,
            min_lr=min_lr,
            last_epoch=last_epoch,
        )


class InverseSquareRootAnnealing(WarmupPolicy):
    """Warmup, then ``base * sqrt((W + 1) / (s + 1))``: the 1/sqrt(step) decay of
    Transformers, starting at the base learning rate; floored at ``min_lr``."""

    def _decay(self, step: int, base_lr: float) -> float:
        return base_lr * math.sqrt((self.warmup_steps + 1) / (step + 1))


class NoamAnnealing(WarmupPolicy):
    """The schedule of "Attention Is All You Need":
    ``base * d_model^-0.5 * min((s + 1)^-0.5, (s + 1) * W^-1.5)``.

    It rises linearly for ``W`` steps and then decays as 1/sqrt(step); the peak, at
    ``s + 1 = W``, is ``base / sqrt(d_model * W)``, so ``lr`` is a scale (often 1 or 2) rather
    than the peak itself. ``min_lr`` floors it after warmup; ``max_steps`` is optional.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        *,
        d_model: int,
        warmup_steps: int | None = None,
        warmup_ratio: float | None = None,
        max_steps: int | None = None,
        min_lr: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if isinstance(d_model, bool) or not isinstance(d_model, int) or d_model < 1:
            raise ValueError(f"NoamAnnealing: d_model must be an integer >= 1, got {d_model!r}")
        self.d_model = d_model
        super().__init__(
            optimizer,
            warmup_steps=warmup_steps,
            warmup_ratio=warmup_ratio,
            max_steps=max_steps,
            min_lr=min_lr,
            last_epoch=last_epoch,
        )

    def lr_at(self, step: int, base_lr: float) -> float:
        if self.max_steps is not None and step >= self.max_steps:
            return self.min_lr
        n = step + 1
        scale = n**-0.5
        if self.warmup_steps > 0:
            scale = min(scale, n * self.warmup_steps**-1.5)
        lr = base_lr * self.d_model**-0.5 * scale
        return lr if step < self.warmup_steps else max(self.min_lr, lr)
