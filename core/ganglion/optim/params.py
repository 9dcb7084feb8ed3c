"""Params dataclasses of torch's optimizers and schedulers (the core's built-ins).

Each dataclass lists the keys a ``model.optim`` (or ``model.optim.sched``) config may set for
that class, with torch's defaults; ``'???'`` marks a required value (``lr`` for every
optimizer, as the seed documentation says). They are registered as the ``params`` metadata of
the built-in names (see :mod:`ganglion._builtin.optim`) and double as Hydra structured-config
schemas::

    >>> from ganglion.optim.params import AdamParams
    >>> AdamParams()
    AdamParams(lr='???', betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, amsgrad=False, ...)

This module imports no torch. The scheduler keys every scheduler accepts on top of these
(``max_steps``, ``monitor``, ``reduce_on_plateau``, ``interval``, ``frequency``) are read by
:func:`ganglion.optim.build_scheduler` itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

__all__ = [
    "AdadeltaParams",
    "AdagradParams",
    "AdamParams",
    "AdamWParams",
    "AdamaxParams",
    "CyclicLRParams",
    "ExponentialLRParams",
    "OptimizerParams",
    "RMSpropParams",
    "ReduceLROnPlateauParams",
    "RpropParams",
    "SGDParams",
    "SchedulerParams",
    "StepLRParams",
]


# -- optimizers ----------------------------------------------------------------------------------
@dataclass
class OptimizerParams:
    """Base of every optimizer's params: the learning rate is always required."""

    lr: float = MISSING


@dataclass
class SGDParams(OptimizerParams):
    """``torch.optim.SGD`` (name ``sgd``)."""

    momentum: float = 0.0
    dampening: float = 0.0
    weight_decay: float = 0.0
    nesterov: bool = False
    maximize: bool = False
    foreach: bool | None = None
    differentiable: bool = False
    fused: bool | None = None


@dataclass
class AdamParams(OptimizerParams):
    """``torch.optim.Adam`` (name ``adam``)."""

    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-08
    weight_decay: float = 0.0
    amsgrad: bool = False
    decoupled_weight_decay: bool = False
    maximize: bool = False
    foreach: bool | None = None
    capturable: bool = False
    differentiable: bool = False
    fused: bool | None = None


@dataclass
class AdamWParams(OptimizerParams):
    """``torch.optim.AdamW`` (name ``adamw``): Adam with decoupled weight decay."""

    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-08
    weight_decay: float = 0.01
    amsgrad: bool = False
    maximize: bool = False
    foreach: bool | None = None
    capturable: bool = False
    differentiable: bool = False
    fused: bool | None = None


@dataclass
class AdadeltaParams(OptimizerParams):
    """``torch.optim.Adadelta`` (name ``adadelta``); torch's usual lr is 1.0."""

    rho: float = 0.9
    eps: float = 1e-06
    weight_decay: float = 0.0
    maximize: bool = False
    foreach: bool | None = None
    capturable: bool = False
    differentiable: bool = False


@dataclass
class AdamaxParams(OptimizerParams):
    """``torch.optim.Adamax`` (name ``adamax``)."""

    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-08
    weight_decay: float = 0.0
    maximize: bool = False
    foreach: bool | None = None
    capturable: bool = False
    differentiable: bool = False


@dataclass
class AdagradParams(OptimizerParams):
    """``torch.optim.Adagrad`` (name ``adagrad``)."""

    lr_decay: float = 0.0
    weight_decay: float = 0.0
    initial_accumulator_value: float = 0.0
    eps: float = 1e-10
    maximize: bool = False
    foreach: bool | None = None
    differentiable: bool = False
    fused: bool | None = None


@dataclass
class RMSpropParams(OptimizerParams):
    """``torch.optim.RMSprop`` (name ``rmsprop``)."""

    alpha: float = 0.99
    eps: float = 1e-08
    weight_decay: float = 0.0
    momentum: float = 0.0
    centered: bool = False
    maximize: bool = False
    foreach: bool | None = None
    capturable: bool = False
    differentiable: bool = False


@dataclass
class RpropParams(OptimizerParams):
    """``torch.optim.Rprop`` (name ``rprop``): full-batch sign-based steps."""

    etas: tuple[float, float] = (0.5, 1.2)
    step_sizes: tuple[float, float] = (1e-06, 50.0)
    maximize: bool = False
    foreach: bool | None = None
    capturable: bool = False
    differentiable: bool = False


# -- schedulers ----------------------------------------------------------------------------------
@dataclass
class SchedulerParams:
    """Base of every scheduler's params: the step to resume from (-1: a fresh start)."""

    last_epoch: int = -1


@dataclass
class StepLRParams(SchedulerParams):
    """``torch.optim.lr_scheduler.StepLR``: multiply the lr by ``gamma`` every ``step_size``
    scheduler steps (steps or epochs, after the config's ``interval``)."""

    step_size: int = MISSING
    gamma: float = 0.1


@dataclass
class ExponentialLRParams(SchedulerParams):
    """``torch.optim.lr_scheduler.ExponentialLR``: multiply the lr by ``gamma`` every step."""

    gamma: float = MISSING


@dataclass
class ReduceLROnPlateauParams:
    """``torch.optim.lr_scheduler.ReduceLROnPlateau``: cut the lr by ``factor`` when the
    ``monitor``-ed metric stops improving for ``patience`` checks. ``min_lr`` is a float or one
    per param group."""

    mode: str = "min"
    factor: float = 0.1
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    cooldown: int = 0
    min_lr: Any = 0.0
    eps: float = 1e-08


@dataclass
class CyclicLRParams(SchedulerParams):
    """``torch.optim.lr_scheduler.CyclicLR``: cycle between ``base_lr`` and ``max_lr`` (floats or
    one per param group). ``mode`` is triangular, triangular2 or exp_range."""

    base_lr: Any = MISSING
    max_lr: Any = MISSING
    step_size_up: int = 2000
    step_size_down: int | None = None
    mode: str = "triangular"
    gamma: float = 1.0
    scale_mode: str = "cycle"
    cycle_momentum: bool = True
    base_momentum: float = 0.8
    max_momentum: float = 0.9
