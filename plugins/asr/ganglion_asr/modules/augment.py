"""SpecAugment: masking bands of frequencies and spans of time in training."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ganglion import typecheck
from ganglion.errors import ConfigError
from ganglion.module import NeuralModule
from ganglion.types import LengthsType, NeuralType


def _spans(count: int, width: torch.Tensor, extent: torch.Tensor, size: int) -> torch.Tensor:
    """A ``[B, size]`` mask holding ``count`` random spans per row.

    Row ``b``'s spans have widths drawn from ``[0, width[b]]`` and start within
    ``[0, extent[b] - width)`` so they stay inside the row's valid range.
    """
    batch = extent.shape[0]
    device = extent.device
    u = torch.rand(batch, count, 2, device=device)
    widths = (u[..., 0] * (width[:, None].float() + 1)).floor()  # [B, count] in [0, width]
    room = (extent[:, None].float() - widths).clamp(min=0)
    starts = (u[..., 1] * (room + 1)).floor().clamp(max=room)
    pos = torch.arange(size, device=device, dtype=torch.float32)[None, None, :]
    inside = (pos >= starts[..., None]) & (pos < (starts + widths)[..., None])
    return inside.any(dim=1)


class SpectrogramAugmentation(NeuralModule):
    """SpecAugment frequency and time masks, plus optional rectangular cut-outs.

    In training, each utterance gets ``freq_masks`` bands of up to ``freq_width`` mel bins
    and ``time_masks`` spans of up to ``time_width`` frames (an int, or a float fraction of
    the utterance's length) set to ``mask_value``; ``rect_masks`` rectangles of up to
    ``rect_freq`` bins by ``rect_time`` frames are cut out too (SpecCutout). Masks stay
    inside each utterance's valid frames. In eval mode the input passes through unchanged.
    All masks of a batch are drawn at once: no Python loop over utterances or frames.
    """

    def __init__(
        self,
        freq_masks: int = 0,
        time_masks: int = 0,
        freq_width: int = 10,
        time_width: int | float = 10,
        rect_masks: int = 0,
        rect_time: int = 5,
        rect_freq: int = 20,
        mask_value: float = 0.0,
    ) -> None:
        super().__init__()
        for name, value in (
            ("freq_masks", freq_masks),
            ("time_masks", time_masks),
            ("rect_masks", rect_masks),
            ("freq_width", freq_width),
            ("rect_time", rect_time),
            ("rect_freq", rect_freq),
        ):
            if value < 0:
                raise ConfigError(f"spec_augment.{name} must not be negative, got {value}")
        if isinstance(time_width, float) and not 0 <= time_width <= 1:
            raise ConfigError(
                "spec_augment.time_width as a float is a fraction of the "
                f"utterance and must lie in [0, 1]; got {time_width}"
            )
        self.freq_masks = int(freq_masks)
        self.time_masks = int(time_masks)
        self.freq_width = int(freq_width)
        self.time_width = time_width
        self.rect_masks = int(rect_masks)
        self.rect_time = int(rect_time)
        self.rect_freq = int(rect_freq)
        self.mask_value = float(mask_value)

    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        from ganglion_asr.types import SpectrogramType

        return {
            "input_spec": NeuralType(("B", "D", "T"), SpectrogramType()),
            "length": NeuralType(("B",), LengthsType()),
        }

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        from ganglion_asr.types import SpectrogramType

        return {"augmented_spec": NeuralType(("B", "D", "T"), SpectrogramType())}

    @typecheck()
    def forward(self, input_spec: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
        if not self.training or not (self.freq_masks or self.time_masks or self.rect_masks):
            return input_spec
        batch, n_freq, n_time = input_spec.shape
        device = input_spec.device
        length = length.to(device)
        full_freq = torch.full((batch,), n_freq, device=device)
        mask = torch.zeros(batch, n_freq, n_time, dtype=torch.bool, device=device)
        if self.freq_masks:
            width = torch.full((batch,), min(self.freq_width, n_freq), device=device)
            mask |= _spans(self.freq_masks, width, full_freq, n_freq)[:, :, None]
        if self.time_masks:
            if isinstance(self.time_width, float):
                width = (length.float() * self.time_width).floor()
            else:
                width = torch.minimum(length, torch.tensor(self.time_width, device=device))
            mask |= _spans(self.time_masks, width, length, n_time)[:, None, :]
        for _ in range(self.rect_masks):  # a handful of rectangles: each drawn for all rows
            rf = torch.full((batch,), min(self.rect_freq, n_freq), device=device)
            rt = torch.minimum(length, torch.tensor(self.rect_time, device=device))
            mask |= (
                _spans(1, rf, full_freq, n_freq)[:, :, None]
                & _spans(1, rt, length, n_time)[:, None, :]
            )
        # padding frames keep their value: a frequency band is masked over valid frames only
        valid = torch.arange(n_time, device=device)[None, :] < length[:, None]
        return input_spec.masked_fill(mask & valid[:, None, :], self.mask_value)
