"""How many optimizer steps a run takes: the ``max_steps`` of schedulers whose config leaves
it null (``model.optim.sched.max_steps: null``).

:func:`compute_max_steps` counts from the numbers; :func:`max_steps_from_trainer` reads them
from a Lightning ``Trainer`` or a ``trainer:`` config mapping. Both give the count Lightning's
``trainer.estimated_stepping_batches`` gives for the same settings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ganglion.errors import ConfigError
from ganglion.optim.argspec import check_int

__all__ = ["compute_max_steps", "max_steps_from_trainer"]


def compute_max_steps(
    *,
    max_epochs: int | None,
    num_batches: int,
    accumulate_grad_batches: int = 1,
    num_devices: int = 1,
    limit_train_batches: int | float = 1.0,
    max_steps: int | None = -1,
) -> int:
    """How many optimizer steps a run takes: the ``max_steps`` of schedulers left null.

    The same count Lightning's ``trainer.estimated_stepping_batches`` gives:

    * ``num_batches``: batches in one epoch of the training dataloader *before* it is split
      across devices; each device sees ``ceil(num_batches / num_devices)``;
    * ``limit_train_batches``: a fraction of those (float) or a cap on them (int), as in the
      Lightning ``Trainer``;
    * ``accumulate_grad_batches``: the optimizer steps once per that many batches, and once more
      at the end of an epoch for a partial accumulation, so an epoch has
      ``ceil(batches / accumulate_grad_batches)`` steps;
    * ``max_epochs`` epochs in all (``None`` or -1: unbounded), capped by ``max_steps``
      (``None`` or -1: no cap). One of the two must be bounded.

    Example::

        >>> compute_max_steps(max_epochs=10, num_batches=1000, accumulate_grad_batches=4,
        ...                   num_devices=2)
        1250
    """
    unbounded_steps = max_steps is None or max_steps == -1
    unbounded_epochs = max_epochs is None or max_epochs == -1
    if not unbounded_steps:
        check_int(max_steps, "trainer.max_steps", minimum=1)
    if unbounded_epochs:
        if unbounded_steps:
            raise ConfigError(
                "cannot compute the scheduler's max_steps: trainer.max_epochs and "
                "trainer.max_steps are both unbounded; set one of them, or set "
                "model.optim.sched.max_steps"
            )
        return int(max_steps)  # type: ignore[arg-type]
    check_int(max_epochs, "trainer.max_epochs", minimum=1)
    check_int(num_batches, "num_batches (batches in the training dataloader)", minimum=1)
    check_int(accumulate_grad_batches, "trainer.accumulate_grad_batches", minimum=1)
    check_int(num_devices, "num_devices (trainer.devices x trainer.num_nodes)", minimum=1)

    per_device = math.ceil(num_batches / num_devices)
    if isinstance(limit_train_batches, bool) or not isinstance(limit_train_batches, (int, float)):
        raise ConfigError(
            f"trainer.limit_train_batches must be a fraction or a count, got {limit_train_batches!r}"
        )
    if isinstance(limit_train_batches, float):
        if not 0.0 <= limit_train_batches <= 1.0:
            raise ConfigError(
                "trainer.limit_train_batches as a float is a fraction in [0, 1], "
                f"got {limit_train_batches}"
            )
        per_device = int(per_device * limit_train_batches)
    else:
        per_device = min(per_device, limit_train_batches)
    if per_device < 1:
        raise ConfigError(
            f"no training batches per epoch (num_batches={num_batches}, num_devices="
            f"{num_devices}, limit_train_batches={limit_train_batches}): the scheduler's "
            "max_steps cannot be computed"
        )
    total = math.ceil(per_device / accumulate_grad_batches) * max_epochs
    return total if unbounded_steps else min(total, int(max_steps))  # type: ignore[arg-type]


def max_steps_from_trainer(trainer: Any, num_batches: int | None) -> int:
    """:func:`compute_max_steps` with the settings of a Lightning ``Trainer`` (or ``trainer:``
    config mapping) and the number of batches of the training dataloader.

    ``num_batches`` may be ``None`` when ``trainer.max_steps`` is set and ``max_epochs`` is not.
    From a config mapping, ``devices`` counts as given (an int, a list of ids, a numeric
    string); ``"auto"`` and -1 count as one device, so pass the ``Trainer`` itself for the real
    count on a multi-device machine. A mapping's ``fast_dev_run`` is ignored: the count is that
    of the run the other settings describe (a ``Trainer`` built with ``fast_dev_run`` has
    replaced them with a run of that many batches, and counts that run).
    """
    if isinstance(trainer, Mapping):
        get = trainer.get
        devices = get("devices", 1)
        if isinstance(devices, Sequence) and not isinstance(devices, str):
            devices = len(devices)
        elif isinstance(devices, str):
            devices = int(devices) if devices.strip().isdigit() else 1
        elif devices in (None, -1):
            devices = 1
        num_devices = int(devices) * int(get("num_nodes", 1) or 1)
        max_epochs = get("max_epochs", None)
        max_steps = get("max_steps", -1)
        accumulate = get("accumulate_grad_batches", 1) or 1
        limit = get("limit_train_batches", 1.0)
    else:
        num_devices = int(getattr(trainer, "num_devices", 1)) * int(
            getattr(trainer, "num_nodes", 1)
        )
        max_epochs = trainer.max_epochs
        max_steps = trainer.max_steps
        accumulate = trainer.accumulate_grad_batches
        limit = trainer.limit_train_batches
    if limit is None:
        limit = 1.0
    if max_epochs is None and (max_steps is None or max_steps == -1):
        max_epochs = 1000  # Lightning's own default when neither is set
    if num_batches is None:
        if max_steps is None or max_steps == -1:
            raise ConfigError(
                "cannot compute the scheduler's max_steps without the number of training "
                "batches; set trainer.max_steps or model.optim.sched.max_steps"
            )
        return int(max_steps)
    return compute_max_steps(
        max_epochs=max_epochs,
        num_batches=num_batches,
        accumulate_grad_batches=accumulate,
        num_devices=num_devices,
        limit_train_batches=limit,
        max_steps=max_steps,
    )
