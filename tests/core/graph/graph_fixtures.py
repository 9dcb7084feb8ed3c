"""Small typed modules for the graph tests (module level: serialised graphs import them)."""

from __future__ import annotations

import torch

from ganglion.graph import DataLayer
from ganglion.module import NeuralModule
from ganglion.typechecking import typecheck
from ganglion.types import ChannelType, LabelsType, LengthsType, LossType, NeuralType

X = NeuralType(("B", "D"), ChannelType())
XT = NeuralType(("D", "B"), ChannelType())  # the same axes transposed
Y = NeuralType(("B", "D"), LabelsType())
LOSS = NeuralType(elements_type=LossType())
XT_SEQ = NeuralType(("B", "D", "T"), ChannelType())
LENGTHS = NeuralType(("B",), LengthsType())


class Affine(NeuralModule):
    """x -> y: a linear layer."""

    def __init__(self, dim: int = 3):
        super().__init__()
        self.linear = torch.nn.Linear(dim, dim)

    @property
    def input_types(self):
        return {"x": X}

    @property
    def output_types(self):
        return {"y": X}

    @typecheck()
    def forward(self, x):
        return self.linear(x)


class Split(NeuralModule):
    """x -> (a, b): two outputs."""

    @property
    def input_types(self):
        return {"x": X}

    @property
    def output_types(self):
        return {"a": X, "b": X}

    @typecheck()
    def forward(self, x):
        return x * 2, x + 1


class Transposed(NeuralModule):
    """Takes its input with the axes the other way round."""

    @property
    def input_types(self):
        return {"x": XT}

    @property
    def output_types(self):
        return {"y": X}

    @typecheck()
    def forward(self, x):
        return x.t()


class Adder(NeuralModule):
    """(a, b) -> y."""

    @property
    def input_types(self):
        return {"a": X, "b": X}

    @property
    def output_types(self):
        return {"y": X}

    @typecheck()
    def forward(self, a, b):
        return a + b


class Mse(NeuralModule):
    """(predictions, target) -> loss."""

    @property
    def input_types(self):
        return {"predictions": X, "target": Y}

    @property
    def output_types(self):
        return {"loss": LOSS}

    @typecheck()
    def forward(self, predictions, target):
        return torch.nn.functional.mse_loss(predictions, target)


class Untyped(NeuralModule):
    """Declares no output ports."""

    def forward(self, x):
        return x


class Pairs(DataLayer):
    """A data layer of (x, y = 2x) pairs built from plain arguments (so it serialises)."""

    def __init__(self, n: int = 32, dim: int = 3, batch_size: int = 8):
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(n, dim, generator=generator)
        super().__init__(
            torch.utils.data.TensorDataset(x, 2 * x),
            {"x": X, "y": Y},
            batch_size=batch_size,
        )
        self.n, self.dim = n, dim

    def to_config_dict(self):
        from omegaconf import OmegaConf

        return OmegaConf.create({"_target_": f"{__name__}.Pairs", "n": self.n, "dim": self.dim})


class Masked(NeuralModule):
    """x [B, D, T], lengths -> y [B, 6, T]: a convolution masked beyond each length."""

    def __init__(self, dim: int = 8):
        super().__init__()
        self.conv = torch.nn.Conv1d(dim, 6, 3, padding=1)

    @property
    def input_types(self):
        return {"x": XT_SEQ, "lengths": LENGTHS}

    @property
    def output_types(self):
        return {"y": XT_SEQ, "lengths": LENGTHS}

    @typecheck()
    def forward(self, x, lengths):
        mask = torch.arange(x.shape[-1])[None, :] < lengths[:, None]  # MASK LINE
        return torch.relu(self.conv(x)) * mask[:, None, :], lengths
