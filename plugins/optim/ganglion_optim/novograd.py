"""NovoGrad: stochastic gradient descent with layer-wise gradient normalisation.

NovoGrad (Ginsburg et al., 2019, "Stochastic Gradient Methods with Layer-wise Adaptive Moments
for Training of Deep Networks") keeps Adam's per-element first moment but replaces the
per-element second moment with one scalar per layer (here: per parameter tensor), the running
average of the squared gradient norm. For each tensor ``w`` with gradient ``g`` at step ``t``::

    v_t = ||g_1||^2                                     (t = 1)
    v_t = beta2 * v_{t-1} + (1 - beta2) * ||g_t||^2     (t > 1)
    u_t = g_t / (sqrt(v_t) + eps) + weight_decay * w_t
    u_t = (1 - beta1) * u_t                             (grad_averaging only)
    m_t = beta1 * m_{t-1} + u_t                         (m_0 = 0)
    w_{t+1} = w_t - lr * m_t

With ``amsgrad`` the denominator uses the largest ``v`` seen so far. With ``luc`` (layer-wise
update clipping) the step size of each tensor is ``min(lr, luc_trust * ||w|| / (||m|| +
luc_eps))``, so no update is larger than ``luc_trust`` times the weights it changes.

The scalar second moment makes the optimizer state half of Adam's and the update invariant to
the scale of each layer's gradient, which is why it suits speech models trained with large
batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import MISSING
from torch.optim import Optimizer

from ganglion_optim._checks import check_hyper, evaluate_closure, params_with_grad

__all__ = ["Novograd", "NovogradParams"]

_SCALAR_MOMENTS = ("exp_avg_sq", "max_exp_avg_sq")


def _moment_dtype(p: torch.Tensor) -> torch.dtype:
    """float32, or the parameter's dtype when that is wider (float64)."""
    return torch.promote_types(p.dtype, torch.float32)


@dataclass
class NovogradParams:
    """Arguments of :class:`Novograd` (name ``novograd``); ``'???'`` marks a required value."""

    lr: float = MISSING
    betas: tuple[float, float] = (0.95, 0.98)
    eps: float = 1e-08
    weight_decay: float = 0.0
    grad_averaging: bool = False
    amsgrad: bool = False
    luc: bool = False
    luc_trust: float = 1e-3
    luc_eps: float = 1e-08


class Novograd(Optimizer):
    """The NovoGrad optimizer (see the module docstring for the update rule).

    Args:
        params: parameters or param-group dicts.
        lr: learning rate.
        betas: decay of the first moment and of the layer-wise second moment.
        eps: added to ``sqrt(v)`` for numerical stability.
        weight_decay: L2 coefficient added to the normalised gradient (as in the paper).
        grad_averaging: scale the normalised gradient by ``1 - beta1`` (an average, not a sum).
        amsgrad: normalise by the largest second moment seen so far.
        luc: clip each tensor's step to ``luc_trust * ||w|| / ||m||``.
        luc_trust: the largest update/weight norm ratio ``luc`` allows.
        luc_eps: keeps ``luc``'s ratio finite when the momentum is zero.

    Example::

        opt = Novograd(model.parameters(), lr=0.01, betas=(0.8, 0.25), weight_decay=0.001)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.95, 0.98),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        grad_averaging: bool = False,
        amsgrad: bool = False,
        luc: bool = False,
        luc_trust: float = 1e-3,
        luc_eps: float = 1e-8,
    ) -> None:
        check_hyper(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        if luc_trust <= 0.0 or luc_eps < 0.0:
            raise ValueError(
                f"luc_trust must be > 0 and luc_eps >= 0, got {luc_trust} and {luc_eps}"
            )
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "grad_averaging": grad_averaging,
            "amsgrad": amsgrad,
            "luc": luc,
            "luc_trust": luc_trust,
            "luc_eps": luc_eps,
        }
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:  # checkpoints from before a flag existed
            group.setdefault("amsgrad", False)
            group.setdefault("luc", False)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a checkpoint, keeping the layer-wise second moments in (at least) float32.

        torch casts every loaded state tensor to its parameter's dtype; for half-precision
        weights that would round the second moments, so they are put back from the checkpoint.
        """
        scalars = {
            index: {k: v for k, v in state.items() if k in _SCALAR_MOMENTS}
            for index, state in state_dict.get("state", {}).items()
        }
        super().load_state_dict(state_dict)
        for saved_group, group in zip(state_dict["param_groups"], self.param_groups):
            for index, p in zip(saved_group["params"], group["params"]):
                for key, value in scalars.get(index, {}).items():
                    self.state[p][key] = value.to(device=p.device, dtype=_moment_dtype(p))

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = evaluate_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in params_with_grad(group, "Novograd"):
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    # one scalar per tensor, kept in float32 even for half-precision weights
                    state["exp_avg_sq"] = torch.zeros((), dtype=_moment_dtype(p), device=p.device)
                state["step"] += 1
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]

                norm_sq = grad.float().square().sum()
                if state["step"] == 1:
                    exp_avg_sq.copy_(norm_sq)
                else:
                    exp_avg_sq.mul_(beta2).add_(norm_sq, alpha=1.0 - beta2)
                second = exp_avg_sq
                if group["amsgrad"]:
                    max_sq = state.get("max_exp_avg_sq")
                    if max_sq is None:  # the first step, or amsgrad switched on since
                        max_sq = state["max_exp_avg_sq"] = exp_avg_sq.clone()
                    else:
                        torch.maximum(max_sq, exp_avg_sq, out=max_sq)
                    second = max_sq
                denom = second.sqrt().add_(group["eps"]).to(grad.dtype)

                update = grad / denom
                if group["weight_decay"] != 0.0:
                    update.add_(p, alpha=group["weight_decay"])
                if group["grad_averaging"]:
                    update.mul_(1.0 - beta1)
                exp_avg.mul_(beta1).add_(update)

                if group["luc"]:
                    w_norm = p.norm()
                    m_norm = exp_avg.norm()
                    ratio = group["luc_trust"] * w_norm / (m_norm + group["luc_eps"])
                    # a zero weight or momentum norm gives no ratio to trust: use the plain lr
                    usable = (w_norm > 0) & (m_norm > 0)
                    step_size = torch.where(
                        usable, torch.clamp(ratio, max=group["lr"]), group["lr"]
                    )
                    p.sub_(exp_avg * step_size)
                else:
                    p.add_(exp_avg, alpha=-group["lr"])
        return loss
