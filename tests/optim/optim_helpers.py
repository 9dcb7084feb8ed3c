"""Helpers shared by the ganglion-optim tests."""

from __future__ import annotations

import torch


def regression(seed: int = 0):
    """A small noiseless linear regression: (model, full-batch loss function)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=gen)
    y = x @ torch.randn(5, 1, generator=gen) + 0.5
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Linear(8, 1))
    for layer in model:
        torch.nn.init.normal_(layer.weight, std=0.3, generator=gen)
        torch.nn.init.zeros_(layer.bias)

    def loss_fn():
        return torch.nn.functional.mse_loss(model(x), y)

    return model, loss_fn


def train(optimizer, loss_fn, steps: int) -> float:
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn().backward()
        optimizer.step()
    with torch.no_grad():
        return float(loss_fn())


def lr_curve(optimizer, scheduler, steps: int, group: int = 0) -> list[float]:
    """The learning rate of param group ``group`` used at each of ``steps`` optimizer steps."""
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[group]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def one_param(*values: float) -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.tensor(values, dtype=torch.float64))


def ops_during(fn) -> list[str]:
    """The aten operators ``fn()`` runs, in order (e.g. ``'aten.where.self'``)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Record(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.ops: list[str] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops.append(str(func))
            return func(*args, **(kwargs or {}))

    with Record() as record:
        fn()
    return record.ops


#: The operator of a tensor made from Python data (``torch.tensor``, ``new_tensor``): on a GPU,
#: a host-to-device copy.
FROM_HOST_DATA = "aten.lift_fresh.default"
