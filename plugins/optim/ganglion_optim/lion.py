"""Lion: sign-based momentum, found by program search.

Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms") keeps only a
momentum buffer (half of Adam's state) and moves every weight by the same amount, the sign of
an interpolation between the momentum and the gradient::

    c_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    w_{t+1} = w_t * (1 - lr * weight_decay) - lr * sign(c_t)
    m_t = beta2 * m_{t-1} + (1 - beta2) * g_t

Its steps have unit size per element, so its learning rate is typically 3-10x smaller than
AdamW's, and its weight decay 3-10x larger, for the same effective regularisation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import MISSING
from torch.optim import Optimizer

from ganglion_optim._checks import check_hyper, evaluate_closure, params_with_grad

__all__ = ["Lion", "LionParams"]


@dataclass
class LionParams:
    """Arguments of :class:`Lion` (name ``lion``); ``'???'`` marks a required value."""

    lr: float = MISSING
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0


class Lion(Optimizer):
    """The Lion optimizer (see the module docstring for the update rule).

    Args:
        params: parameters or param-group dicts.
        lr: learning rate (the size of every element's step).
        betas: interpolation factor of the update direction, and decay of the momentum.
        weight_decay: decoupled weight decay, scaled by ``lr`` as in AdamW.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
    ) -> None:
        check_hyper(lr=lr, betas=betas, eps=0.0, weight_decay=weight_decay)
        defaults = {"lr": lr, "betas": tuple(betas), "weight_decay": weight_decay}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = evaluate_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr = group["lr"]
            for p in params_with_grad(group, "Lion"):
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                exp_avg = state["exp_avg"]
                direction = torch.lerp(exp_avg, grad, 1.0 - beta1).sign_()
                if group["weight_decay"] != 0.0:
                    p.mul_(1.0 - lr * group["weight_decay"])
                p.add_(direction, alpha=-lr)
                exp_avg.lerp_(grad, 1.0 - beta2)
        return loss
