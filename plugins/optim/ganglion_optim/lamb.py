"""LAMB: Adam with a layer-wise trust ratio, for very large batches.

LAMB (You et al., 2019, "Large Batch Optimization for Deep Learning: Training BERT in 76
minutes") computes Adam's update and rescales it, per layer (here: per parameter tensor), so
that its norm is proportional to the norm of the weights it changes::

    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2
    m^ = m_t / (1 - beta1^t),  v^ = v_t / (1 - beta2^t)        (bias_correction only)
    r_t = m^ / (sqrt(v^) + eps) + weight_decay * w_t
    trust = ||w_t|| / ||r_t||   (1 when either norm is 0, or when adaptive is false;
                                 at most max_trust_ratio when that is set)
    w_{t+1} = w_t - lr * trust * r_t

Biases and norm weights are often excluded from the trust ratio and the weight decay: give
them a param group with ``adaptive: false, weight_decay: 0.0``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import MISSING
from torch.optim import Optimizer

from ganglion_optim._checks import check_hyper, evaluate_closure, params_with_grad

__all__ = ["Lamb", "LambParams"]


@dataclass
class LambParams:
    """Arguments of :class:`Lamb` (name ``lamb``); ``'???'`` marks a required value."""

    lr: float = MISSING
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-06
    weight_decay: float = 0.0
    bias_correction: bool = True
    adaptive: bool = True
    max_trust_ratio: float | None = None


class Lamb(Optimizer):
    """The LAMB optimizer (see the module docstring for the update rule).

    Args:
        params: parameters or param-group dicts.
        lr: learning rate.
        betas: decay of Adam's first and second moments.
        eps: added to ``sqrt(v^)``.
        weight_decay: decoupled weight-decay coefficient, part of the trust-scaled update.
        bias_correction: correct the moments for their zero start, as Adam does.
        adaptive: apply the layer-wise trust ratio (``false`` for biases and norms: plain Adam).
        max_trust_ratio: an upper bound on the trust ratio (``None``: no bound).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        bias_correction: bool = True,
        adaptive: bool = True,
        max_trust_ratio: float | None = None,
    ) -> None:
        check_hyper(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        if max_trust_ratio is not None and not max_trust_ratio > 0.0:
            raise ValueError(f"max_trust_ratio must be > 0 or None, got {max_trust_ratio}")
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "bias_correction": bias_correction,
            "adaptive": adaptive,
            "max_trust_ratio": max_trust_ratio,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = evaluate_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in params_with_grad(group, "Lamb"):
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t = state["step"]
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.lerp_(grad, 1.0 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)

                if group["bias_correction"]:
                    m_hat = exp_avg / (1.0 - beta1**t)
                    v_hat = exp_avg_sq / (1.0 - beta2**t)
                else:
                    m_hat, v_hat = exp_avg, exp_avg_sq
                update = m_hat / v_hat.sqrt().add_(group["eps"])
                if group["weight_decay"] != 0.0:
                    update.add_(p, alpha=group["weight_decay"])

                if group["adaptive"]:
                    w_norm = p.norm()
                    u_norm = update.norm()
                    # a Python scalar, not a new tensor: no host-to-device copy per parameter
                    trust = torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, 1.0)
                    if group["max_trust_ratio"] is not None:
                        trust = trust.clamp(max=group["max_trust_ratio"])
                    p.sub_(update * (trust * group["lr"]))
                else:
                    p.add_(update, alpha=-group["lr"])
        return loss
