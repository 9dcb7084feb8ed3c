"""A tiny typed module provided by the sample plugin."""

import torch

from ganglion import NeuralModule, typecheck
from ganglion.types import NeuralType


class SampleEncoder(NeuralModule):
    """Projects pitch contours to a hidden size."""

    def __init__(self, hidden: int = 4):
        super().__init__()
        self.proj = torch.nn.Linear(1, hidden)

    @property
    def input_types(self):
        return {"pitch": NeuralType(("B", "T"), "PitchContourType")}

    @property
    def output_types(self):
        return {"encoded": NeuralType(("B", "T", "D"), "EncodedRepresentation")}

    @typecheck()
    def forward(self, pitch):
        return self.proj(pitch.unsqueeze(-1))
