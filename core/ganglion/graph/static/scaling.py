"""Loss scaling inside a static graph's step: what ``loss.backward()`` in ``build`` really
back-propagates (the grad scaler's scale times gradient accumulation's ``1/n``), and a
static loss scaler.

``build`` calls ``loss.backward()`` as OneFlow's graphs do; while a step runs, a
``torch.overrides.TorchFunctionMode`` sees that call and back-propagates the scaled loss
instead (the same mechanism ``torch.compile`` traces through), so user code never has to.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode

__all__ = ["BackwardScaling", "StaticGradScaler"]


class BackwardScaling(TorchFunctionMode):
    """Active during a training step: ``loss.backward()`` becomes
    ``(loss * factor).backward()`` (scaler scale and ``1/n``), and the losses are counted."""

    def __init__(self, factor: float | torch.Tensor | None) -> None:
        super().__init__()
        self.factor = factor
        self.calls = 0

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func is torch.Tensor.backward:
            self.calls += 1
            loss = args[0]
            if self.factor is not None:
                loss = loss * self.factor
            return func(loss, *args[1:], **kwargs)
        return func(*args, **kwargs)

    @classmethod
    def private(cls) -> type[BackwardScaling]:
        """A subclass for one graph: its ``__torch_function__`` has a code object of its own.
        The ``backward`` call breaks the graph inside it, so dynamo compiles that frame with
        the graph's backend; shared by every graph it would stop compiling after 8 graphs."""
        from ganglion.graph.static.compiling import own_function

        return type(
            cls.__name__, (cls,), {"__torch_function__": own_function(cls.__torch_function__)}
        )


class StaticGradScaler(torch.amp.GradScaler):
    """A loss scaler whose scale never changes (OneFlow's ``StaticGradScaler``): steps with
    infinite or NaN gradients are still skipped."""

    def __init__(self, scale_factor: float, device: str = "cpu") -> None:
        from ganglion.graph.errors import GraphError

        if not scale_factor > 0:
            raise GraphError(f"StaticGradScaler: the scale must be > 0, got {scale_factor!r}")
        super().__init__(
            device,
            init_scale=scale_factor,
            growth_factor=1.0 + 1e-12,
            backoff_factor=1.0 - 1e-12,
            growth_interval=2**31 - 1,
        )

        self._static_scale = float(scale_factor)

    def update(self, new_scale: Any = None) -> None:
        super().update(new_scale)
        if new_scale is None and self._scale is not None:
            self._scale.fill_(self._static_scale)  # static: the scale never grows or backs off
