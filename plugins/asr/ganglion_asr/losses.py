"""CTC loss as a typed neural module."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch.nn import functional as F

from ganglion import typecheck
from ganglion.errors import ConfigError
from ganglion.module import NeuralModule
from ganglion.types import LabelsType, LengthsType, LogprobsType, LossType, NeuralType

_REDUCTIONS = ("mean_batch", "mean", "sum", "none")


class CTCLoss(NeuralModule):
    """Connectionist temporal classification loss over ``num_classes`` labels + the blank.

    The blank is class ``num_classes`` (the decoder's last output). ``reduction``:

    * ``"mean_batch"`` (default): each utterance's negative log-likelihood, averaged over
      the batch;
    * ``"mean"``: each utterance's loss divided by its target length, then averaged
      (torch's ``"mean"``);
    * ``"sum"`` and ``"none"`` (one loss per utterance).

    ``zero_infinity`` replaces the infinite loss of an utterance too short for its
    transcript by zero (and its gradient by zero) instead of poisoning the batch.
    The loss is computed in float32 even under mixed precision.
    """

    def __init__(
        self, num_classes: int, zero_infinity: bool = True, reduction: str = "mean_batch"
    ) -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ConfigError(f"CTCLoss reduction {reduction!r}; known: {', '.join(_REDUCTIONS)}")
        if num_classes < 1:
            raise ConfigError(f"CTCLoss num_classes must be positive, got {num_classes}")
        self.num_classes = int(num_classes)
        self.blank = self.num_classes
        self.zero_infinity = bool(zero_infinity)
        self.reduction = reduction

    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        return {
            "log_probs": NeuralType(("B", "T", "D"), LogprobsType()),
            "targets": NeuralType(("B", "T"), LabelsType()),
            "input_lengths": NeuralType(("B",), LengthsType()),
            "target_lengths": NeuralType(("B",), LengthsType()),
        }

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        return {"loss": NeuralType(elements_type=LossType())}

    @typecheck()
    def forward(
        self,
        log_probs: torch.Tensor,
        targets: torch.Tensor,
        input_lengths: torch.Tensor,
        target_lengths: torch.Tensor,
    ) -> torch.Tensor:
        torch_reduction = "mean" if self.reduction == "mean" else "none"
        with torch.autocast(log_probs.device.type, enabled=False):
            loss = F.ctc_loss(
                log_probs.float().transpose(0, 1),  # torch wants [T, B, C]
                targets.long(),
                input_lengths.long(),
                target_lengths.long(),
                blank=self.blank,
                reduction=torch_reduction,
                zero_infinity=self.zero_infinity,
            )
        if self.reduction == "mean_batch":
            return loss.mean()
        if self.reduction == "sum":
            return loss.sum()
        return loss
