"""Argument checks and step plumbing shared by ganglion-optim's optimizers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch


def check_hyper(*, lr: float, betas: Any, eps: float, weight_decay: float) -> None:
    """Shared argument checks: errors say which argument and what range it needs."""
    if not lr >= 0.0:
        raise ValueError(f"lr must be >= 0, got {lr}")
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        raise ValueError(f"betas must be two values in [0, 1), got {tuple(betas)}")
    if not eps >= 0.0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    if not weight_decay >= 0.0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")


def evaluate_closure(closure: Callable[[], float] | None) -> float | None:
    """The loss from ``closure`` (with gradients enabled), or None: the usual step preamble."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


def params_with_grad(group: dict[str, Any], optimizer: str) -> Iterator[torch.Tensor]:
    """The parameters of ``group`` that have a gradient; sparse gradients are refused."""
    for p in group["params"]:
        if p.grad is None:
            continue
        if p.grad.is_sparse:
            raise RuntimeError(f"{optimizer} does not support sparse gradients")
        yield p
