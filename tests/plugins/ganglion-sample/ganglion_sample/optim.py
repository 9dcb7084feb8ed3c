"""Plain SGD under another name: enough to prove a plugin's optimizer is usable by name."""

from dataclasses import dataclass

import torch


@dataclass
class SampleSGDParams:
    lr: float = "???"  # type: ignore[assignment]  # '???' marks a required value
    momentum: float = 0.0


class SampleSGD(torch.optim.SGD):
    pass
