"""Building the optimizer and the learning-rate scheduler that a ``model.optim`` config names.

:func:`build_optimization` is the one call a model makes (see :mod:`ganglion.optim`);
:func:`build_optimizer` and :func:`build_scheduler` are its two halves. Importing this module
imports no torch; building does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ganglion.conf.values import to_plain
from ganglion.errors import ConfigError
from ganglion.optim.argspec import MISSING, ArgSpec, check_int
from ganglion.optim.lookup import lookup_class
from ganglion.optim.param_groups import param_groups

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "OPTIM_KEYS",
    "SCHED_KEYS",
    "build_optimization",
    "build_optimizer",
    "build_scheduler",
    "optim_config_dict",
]

#: Keys of ``model.optim`` that ganglion reads itself (everything else goes to the optimizer).
OPTIM_KEYS = ("name", "sched", "param_groups")

#: Keys of ``model.optim.sched`` that ganglion reads itself, for every scheduler. ``max_steps``
#: is also passed to schedulers whose params take it.
SCHED_KEYS = ("name", "max_steps", "monitor", "reduce_on_plateau", "interval", "frequency")


def optim_config_dict(cfg: Any, key: str = "model.optim") -> dict[str, Any]:
    """``model.optim`` (or its ``sched``) as a plain dict, interpolations resolved: from a
    ``DictConfig``, a mapping or a dataclass instance. Anything else is a :class:`ConfigError`
    naming ``key``."""
    plain = to_plain(cfg, key=key)
    if not isinstance(plain, dict):
        raise ConfigError(f"{key} must be a mapping (the optimizer's config), got {cfg!r}")
    return plain


def build_optimization(
    params_or_model: Any,
    optim_cfg: Any,
    *,
    max_steps: int | Callable[[], int] | None = None,
    key: str = "model.optim",
) -> tuple[torch.optim.Optimizer, dict[str, Any] | None]:
    """Build the optimizer and (optionally) the scheduler that ``optim_cfg`` describes.

    Args:
        params_or_model: an ``nn.Module``, an iterable of parameters, or of param-group dicts.
        optim_cfg: the ``model.optim`` node (``DictConfig``, mapping or dataclass instance).
        max_steps: total optimizer steps of the run, for schedulers whose ``sched.max_steps``
            is null (see :func:`compute_max_steps`), or a callable returning it, called only
            when such a scheduler needs it.
        key: where ``optim_cfg`` lives in the full config; errors name keys under it.

    Returns:
        ``(optimizer, scheduler_config)``, the latter ``None`` without ``sched`` or else a
        Lightning ``lr_scheduler`` dict.

    Raises:
        ConfigError: an unknown name or key, a missing or ill-typed value (naming the key).
    """
    cfg = optim_config_dict(optim_cfg, key)
    optimizer = build_optimizer(params_or_model, cfg, key=key)
    sched_cfg = cfg.get("sched")
    if sched_cfg is None:
        return optimizer, None
    scheduler = build_scheduler(optimizer, sched_cfg, max_steps=max_steps, key=f"{key}.sched")
    return optimizer, scheduler


def build_optimizer(
    params_or_model: Any, optim_cfg: Any, *, key: str = "model.optim"
) -> torch.optim.Optimizer:
    """Build the optimizer of ``optim_cfg`` (``sched`` is ignored here) over the parameters.

    See :func:`build_optimization` for the arguments and the config's shape.
    """
    cfg = optim_config_dict(optim_cfg, key)
    cls, spec, what = lookup_class("optimizers", cfg, key)
    given = {k: v for k, v in cfg.items() if k not in OPTIM_KEYS}
    options = spec.resolve(given, key=key, what=what)
    groups = param_groups(params_or_model, cfg.get("param_groups"), spec, key=key, what=what)
    return _construct(cls, groups, options, spec, key=key, what=what)


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    sched_cfg: Any,
    *,
    max_steps: int | Callable[[], int] | None = None,
    key: str = "model.optim.sched",
) -> dict[str, Any] | None:
    """Build the scheduler of ``sched_cfg`` on ``optimizer``; returns Lightning's scheduler dict.

    ``sched_cfg.max_steps`` wins over the ``max_steps`` argument; either is passed to schedulers
    whose params take ``max_steps``. ``interval`` defaults to ``"step"`` (``"epoch"`` for plateau
    schedulers, whose metric is logged per epoch), ``frequency`` to 1, and ``monitor`` to
    ``"val_loss"`` for plateau schedulers. Returns ``None`` when ``sched_cfg`` is ``None``.
    """
    if sched_cfg is None:
        return None
    cfg = optim_config_dict(sched_cfg, key)
    cls, spec, what = lookup_class("schedulers", cfg, key)
    given = {k: v for k, v in cfg.items() if k not in SCHED_KEYS}
    steps = cfg.get("max_steps")
    if "max_steps" in spec.fields:
        if steps is None:
            steps = max_steps() if callable(max_steps) else max_steps
        if isinstance(steps, float):
            # Lightning's estimated_stepping_batches is a float: inf for an unbounded run
            if not math.isfinite(steps):
                raise ConfigError(
                    f"{key}.max_steps: the run has no step bound (trainer.max_epochs and "
                    f"trainer.max_steps are both -1), but {what} needs one; set {key}.max_steps"
                )
            if steps.is_integer():
                steps = int(steps)
        if steps is not None:
            given["max_steps"] = steps
        elif spec.fields["max_steps"] == MISSING:
            raise ConfigError(
                f"{key}.max_steps is required by {what}: set it, or leave it null and let the "
                "model compute it from the trainer (max_epochs/max_steps, "
                "accumulate_grad_batches, devices) and the size of the training data"
            )
    elif cfg.get("max_steps") is not None:
        check_int(cfg["max_steps"], f"{key}.max_steps", minimum=1)
    options = spec.resolve(given, key=key, what=what)

    interval = cfg.get("interval")
    frequency = cfg.get("frequency", 1)
    if frequency is None:
        frequency = 1
    check_int(frequency, f"{key}.frequency", minimum=1)
    scheduler = _construct(cls, optimizer, options, spec, key=key, what=what)

    from torch.optim.lr_scheduler import ReduceLROnPlateau

    plateau = cfg.get("reduce_on_plateau")
    if plateau is None:
        plateau = False
    if not isinstance(plateau, bool):
        raise ConfigError(f"{key}.reduce_on_plateau must be true or false, got {plateau!r}")
    # torch's plateau scheduler is always stepped with the metric, whatever the flag says (the
    # seed's config carries `reduce_on_plateau: false` for every scheduler); the flag is for
    # other schedulers whose step() takes the monitored metric
    plateau = plateau or isinstance(scheduler, ReduceLROnPlateau)
    if interval is None:
        interval = "epoch" if plateau else "step"
    if interval not in ("step", "epoch"):
        raise ConfigError(f"{key}.interval must be 'step' or 'epoch', got {interval!r}")

    out: dict[str, Any] = {"scheduler": scheduler, "interval": interval, "frequency": frequency}
    monitor = cfg.get("monitor")
    if plateau:
        out["reduce_on_plateau"] = True
        out["monitor"] = monitor or "val_loss"
    elif monitor is not None and not isinstance(monitor, str):
        raise ConfigError(f"{key}.monitor must be a metric name, got {monitor!r}")
    # a monitor on a non-plateau scheduler means nothing to Lightning; it is accepted (the seed
    # config always carries one) and left out of the dict so Lightning has nothing to warn about
    return out


def _construct(
    cls: Any, first: Any, options: dict[str, Any], spec: ArgSpec, *, key: str, what: str
) -> Any:
    """``cls(first, **options)``; an argument it rejects is a config error naming ``key``."""
    try:
        return cls(first, **options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: {what} ({spec.target}) rejected the config: {exc}") from exc
