"""The feed-forward transformer (FFT) stacks of a FastPitch-style model: self-attention and a
convolutional feed-forward block per layer, over padded sequences.

Attention is PyTorch's fused ``scaled_dot_product_attention`` with padding masked out of the
keys; the feed-forward block is two 1-D convolutions over time (FastSpeech's "FFT block"),
and padding is zeroed before each of them, so an utterance's result does not depend on the
batch it is in. Layers normalise their inputs (pre-norm, plus a final layer norm), which
trains without a long warmup. Positions are added as sinusoids computed on the fly (nothing
stored, any length).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["FFTransformer", "sinusoidal_positions"]


def sinusoidal_positions(length: int, width: int, device: torch.device | None = None):
    """Sinusoidal position encodings ``[length, width]`` (sines in the first half of the
    channels, cosines in the second)."""
    half = width // 2
    freqs = torch.exp(
        -math.log(10000.0) * torch.arange(half, device=device, dtype=torch.float32) / max(half, 1)
    )
    angles = torch.arange(length, device=device, dtype=torch.float32)[:, None] * freqs[None, :]
    enc = torch.cat((angles.sin(), angles.cos()), dim=1)
    if enc.shape[1] < width:  # odd width
        enc = F.pad(enc, (0, width - enc.shape[1]))
    return enc


class FFTLayer(nn.Module):
    """Self-attention, then a convolutional feed-forward block, each with a residual."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        ff_dim: int,
        kernel_size: int,
        dropout: float,
        attention_dropout: float,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.attention_norm = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.attention_out = nn.Linear(d_model, d_model)
        self.ff_norm = nn.LayerNorm(d_model)
        self.ff_in = nn.Conv1d(d_model, ff_dim, kernel_size, padding=kernel_size // 2)
        # the second convolution is pointwise (FastSpeech 2's kernels 9 and 1): most of the
        # context comes from the first, at a fraction of the cost
        self.ff_out = nn.Conv1d(ff_dim, d_model, 1)

    def forward(
        self, x: torch.Tensor, keep: torch.Tensor, attn_mask: torch.Tensor | None
    ) -> torch.Tensor:
        x = x + self._attention(self.attention_norm(x), attn_mask)
        return x + self._feed_forward(self.ff_norm(x) * keep)

    def _attention(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = (
            self.qkv(x).view(batch, length, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        )
        drop = self.attention_dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=drop)
        y = y.transpose(1, 2).reshape(batch, length, width)
        return F.dropout(self.attention_out(y), self.dropout, self.training)

    def _feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.ff_in(x.transpose(1, 2)))
        y = self.ff_out(F.dropout(y, self.dropout, self.training)).transpose(1, 2)
        return F.dropout(y, self.dropout, self.training)


class FFTransformer(nn.Module):
    """A stack of :class:`FFTLayer` with sinusoidal positions and a final layer norm.

    ``forward(x [B, T, D], lengths [B])`` -> ``[B, T, D]``, zero past each length.
    """

    def __init__(
        self,
        d_model: int,
        num_layers: int,
        num_heads: int,
        ff_dim: int,
        kernel_size: int = 3,
        dropout: float = 0.1,
        attention_dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.layers = nn.ModuleList(
            FFTLayer(d_model, num_heads, ff_dim, kernel_size, dropout, attention_dropout)
            for _ in range(num_layers)
        )
        self.final_norm = nn.LayerNorm(d_model)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        valid = torch.arange(length, device=x.device)[None, :] < lengths[:, None]  # [B, T]
        keep = valid[:, :, None].to(x.dtype)
        # None when nothing is padding: lets the fastest attention kernels run
        attn_mask = None if bool(valid.all()) else valid[:, None, None, :]
        x = x + sinusoidal_positions(length, self.d_model, x.device).to(x.dtype)
        x = F.dropout(x, self.dropout, self.training) * keep
        for layer in self.layers:
            x = layer(x, keep, attn_mask)
        return self.final_norm(x) * keep
