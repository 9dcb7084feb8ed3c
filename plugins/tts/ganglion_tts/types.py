"""Speech-synthesis element types: durations, alignments, regression targets, flows.

Registered by the plugin's ``register_element_types`` hook, so configs and serialized graphs
can name them (``"B,T:TokenDurationType"``). Audio and spectrogram types come from
``ganglion_asr.types``. Importing this module imports no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganglion.types import ElementType, PredictionsType

if TYPE_CHECKING:  # pragma: no cover
    import torch


class RegressionValuesType(PredictionsType):
    """Real-valued predictions (pitch, energy per token)."""

    def example_tensor(self, shape: tuple[int, ...], *, length: int = 1) -> torch.Tensor:
        return ElementType.example_tensor(self, shape, length=length)


class TokenDurationType(ElementType):
    """How many output frames each input token lasts (integers)."""

    def example_tensor(self, shape: tuple[int, ...], *, length: int = 1) -> torch.Tensor:
        import torch

        return torch.ones(shape, dtype=torch.long)


class TokenLogDurationType(ElementType):
    """Log of each token's duration in frames, as predicted by a duration model."""


class SequenceToSequenceAlignmentType(ElementType):
    """Soft or hard alignment between two sequences (text tokens and spectrogram frames)."""


class LogDeterminantType(ElementType):
    """Log-determinant of a normalizing flow's Jacobian (a term of its loss)."""


class NormalDistributionSamplesType(ElementType):
    """Samples drawn from a normal distribution (a flow's latent variables)."""


#: The element types this plugin registers, by name.
TTS_ELEMENT_TYPES: tuple[type[ElementType], ...] = (
    RegressionValuesType,
    TokenDurationType,
    TokenLogDurationType,
    SequenceToSequenceAlignmentType,
    LogDeterminantType,
    NormalDistributionSamplesType,
)
