"""``FastPitchModule``: text tokens -> mel spectrogram, non-autoregressively (FastPitch).

    tokens -> embedding -> FFT encoder -> + pitch embedding -> length regulator
           -> FFT decoder -> linear -> mel [B, n_mels, T]
                  \\-> duration predictor (log durations per token)
                  \\-> pitch predictor (normalised pitch per token)

In training the durations and the per-token pitch are given (teacher forcing: durations from
the aligner's hard alignment, pitch averaged over each token's voiced frames), so the output
has exactly the reference's frames. At inference both come from the predictors, and ``pace``
divides the durations (2.0: twice as fast).

Example::

    module = FastPitchModule(vocab_size=45, n_mel_channels=80)
    out = module(tokens=tokens, token_lens=token_lens)     # predicted durations and pitch
    spect, spect_lens = out[0], out[1]                        # [B, 80, T], [B]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ganglion import typecheck
from ganglion.errors import ConfigError
from ganglion.module import NeuralModule
from ganglion.types import IndexType, LengthsType, NeuralType
from ganglion_tts.modules.transformer import FFTransformer

__all__ = ["FastPitchModule", "TemporalPredictor", "regulate_length", "token_index_per_frame"]


def token_index_per_frame(durations: torch.Tensor, frames: int) -> torch.Tensor:
    """For each of ``frames`` output frames, the index of the token it repeats ``[B, frames]``
    (tokens of zero duration are skipped; frames past an item's total point past its last
    token and must be masked by the caller)."""
    ends = durations.long().cumsum(dim=1)  # [B, N]: the first frame after each token
    positions = torch.arange(frames, device=durations.device).expand(durations.shape[0], frames)
    return torch.searchsorted(ends, positions.contiguous(), right=True)


def regulate_length(
    x: torch.Tensor, durations: torch.Tensor, max_frames: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Repeat each token's vector ``x[b, n]`` ``durations[b, n]`` times (batched).

    Returns ``(frames [B, T, D], lengths [B])`` with ``T`` the longest total (at least 1, or
    ``max_frames`` when given), zero past each item's length.
    """
    lengths = durations.long().sum(dim=1)
    frames = int(max_frames) if max_frames is not None else max(int(lengths.max()), 1)
    index = token_index_per_frame(durations, frames).clamp(max=x.shape[1] - 1)
    out = torch.gather(x, 1, index[:, :, None].expand(-1, -1, x.shape[2]))
    valid = torch.arange(frames, device=x.device)[None, :] < lengths[:, None]
    return out * valid[:, :, None].to(out.dtype), lengths


class TemporalPredictor(nn.Module):
    """Two convolution -> ReLU -> layer norm -> dropout layers and a linear head: one value
    per position (FastPitch's duration and pitch predictors). ``forward(x [B, N, D], keep
    [B, N, 1])`` -> ``[B, N]``, zero at padding."""

    def __init__(self, d_in: int, filters: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(d_in, filters, kernel_size, padding=kernel_size // 2)
        self.norm1 = nn.LayerNorm(filters)
        self.conv2 = nn.Conv1d(filters, filters, kernel_size, padding=kernel_size // 2)
        self.norm2 = nn.LayerNorm(filters)
        self.head = nn.Linear(filters, 1)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        for conv, norm in ((self.conv1, self.norm1), (self.conv2, self.norm2)):
            x = F.relu(conv((x * keep).transpose(1, 2))).transpose(1, 2)
            x = F.dropout(norm(x), self.dropout, self.training)
        return (self.head(x) * keep).squeeze(-1)


def _check_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"FastPitchModule.{name}: expected a whole number >= {minimum}, got {value!r}"
        )
    return value


def _check_rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ConfigError(f"FastPitchModule.{name}: expected a number in [0, 1), got {value!r}")
    return float(value)


class FastPitchModule(NeuralModule):
    """The FastPitch network (without its aligner, which the model owns).

    Args:
        vocab_size: token ids ``0..vocab_size-1``, ``0`` padding (the text frontend's
            vocabulary; the model fills it in).
        n_mel_channels: mel bands of the output.
        d_model: width of the encoder and the decoder.
        encoder_layers, decoder_layers: depth of each FFT stack.
        num_heads: attention heads (must divide ``d_model``).
        ff_dim: inner width of the convolutional feed-forward blocks.
        ff_kernel: their kernel size (odd).
        dropout, attention_dropout: in the FFT stacks.
        predictor_filters, predictor_kernel, predictor_dropout: the duration and pitch
            predictors.
        pitch_embedding_kernel: kernel of the convolution embedding per-token pitch.
        max_frames: the longest spectrogram generated at inference (a bound against runaway
            durations); longer outputs are an error.
    """

    def __init__(
        self,
        vocab_size: int,
        n_mel_channels: int = 80,
        d_model: int = 192,
        encoder_layers: int = 3,
        decoder_layers: int = 3,
        num_heads: int = 2,
        ff_dim: int = 768,
        ff_kernel: int = 3,
        dropout: float = 0.1,
        attention_dropout: float = 0.1,
        predictor_filters: int = 256,
        predictor_kernel: int = 3,
        predictor_dropout: float = 0.1,
        pitch_embedding_kernel: int = 3,
        max_frames: int = 4000,
    ) -> None:
        super().__init__()
        vocab_size = _check_int("vocab_size", vocab_size, 2)
        self.n_mel_channels = _check_int("n_mel_channels", n_mel_channels)
        d_model = _check_int("d_model", d_model)
        num_heads = _check_int("num_heads", num_heads)
        if d_model % num_heads:
            raise ConfigError(
                f"FastPitchModule: num_heads {num_heads} does not divide d_model {d_model}; "
                "choose a number of heads that does"
            )
        for name, value in (
            ("ff_kernel", ff_kernel),
            ("predictor_kernel", predictor_kernel),
            ("pitch_embedding_kernel", pitch_embedding_kernel),
        ):
            if _check_int(name, value) % 2 == 0:
                raise ConfigError(
                    f"FastPitchModule.{name}: expected an odd kernel size (it keeps the "
                    f"length), got {value}"
                )
        for name, value in (
            ("encoder_layers", encoder_layers),
            ("decoder_layers", decoder_layers),
            ("ff_dim", ff_dim),
            ("predictor_filters", predictor_filters),
            ("max_frames", max_frames),
        ):
            _check_int(name, value)
        dropout = _check_rate("dropout", dropout)
        attention_dropout = _check_rate("attention_dropout", attention_dropout)
        predictor_dropout = _check_rate("predictor_dropout", predictor_dropout)
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.max_frames = max_frames
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=0)
        stack = {
            "d_model": d_model,
            "num_heads": num_heads,
            "ff_dim": ff_dim,
            "kernel_size": ff_kernel,
            "dropout": dropout,
            "attention_dropout": attention_dropout,
        }
        self.encoder = FFTransformer(num_layers=encoder_layers, **stack)
        self.decoder = FFTransformer(num_layers=decoder_layers, **stack)
        predictor = (d_model, predictor_filters, predictor_kernel, predictor_dropout)
        self.duration_predictor = TemporalPredictor(*predictor)
        self.pitch_predictor = TemporalPredictor(*predictor)
        self.pitch_embedding = nn.Conv1d(
            1, d_model, pitch_embedding_kernel, padding=pitch_embedding_kernel // 2
        )
        self.proj = nn.Linear(d_model, n_mel_channels)

    # -- ports ------------------------------------------------------------------------------
    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        from ganglion_tts.types import RegressionValuesType, TokenDurationType

        return {
            "tokens": NeuralType(("B", "T"), IndexType()),
            "token_lens": NeuralType(("B",), LengthsType()),
            "durations": NeuralType(("B", "T"), TokenDurationType(), optional=True),
            "pitch": NeuralType(("B", "T"), RegressionValuesType(), optional=True),
        }

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        from ganglion_asr.types import MelSpectrogramType
        from ganglion_tts.types import (
            RegressionValuesType,
            TokenDurationType,
            TokenLogDurationType,
        )

        return {
            "spect": NeuralType(("B", "D", "T"), MelSpectrogramType()),
            "spect_lens": NeuralType(("B",), LengthsType()),
            "log_durs_predicted": NeuralType(("B", "T"), TokenLogDurationType()),
            "pitch_predicted": NeuralType(("B", "T"), RegressionValuesType()),
            "durations": NeuralType(("B", "T"), TokenDurationType()),
        }

    # -- the network --------------------------------------------------------------------------
    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """The token embeddings ``[B, N, d_model]`` (the aligner's keys)."""
        return self.embedding(tokens)

    @typecheck()
    def forward(
        self,
        tokens: torch.Tensor,
        token_lens: torch.Tensor,
        durations: torch.Tensor | None = None,
        pitch: torch.Tensor | None = None,
        pace: float = 1.0,
    ) -> tuple[torch.Tensor, ...]:
        """Mel spectrogram ``[B, n_mels, T]`` and its lengths, the predicted log durations
        (``log(1 + frames)``) and normalised pitch per token, and the durations used.

        ``durations`` ``[B, N]`` (frames per token) and ``pitch`` ``[B, N]`` (normalised
        pitch per token) teacher-force the length regulator and the pitch embedding; when
        absent the predictions are used, durations divided by ``pace``.
        """
        if not pace > 0:
            raise ValueError(f"pace must be positive, got {pace!r}")
        tokens_n = tokens.shape[1]
        valid = torch.arange(tokens_n, device=tokens.device)[None, :] < token_lens[:, None]
        keep = valid[:, :, None].to(torch.float32)
        encoded = self.encoder(self.embedding(tokens), token_lens)
        log_durs_predicted = self.duration_predictor(encoded, keep)
        pitch_predicted = self.pitch_predictor(encoded, keep)
        if pitch is None:
            pitch = pitch_predicted.detach()
        pitch_emb = self.pitch_embedding((pitch * valid)[:, None, :].to(encoded.dtype))
        encoded = encoded + pitch_emb.transpose(1, 2) * keep
        if durations is None:
            frames = torch.expm1(log_durs_predicted.detach()).clamp(min=0.0) / pace
            durations = torch.round(frames).long() * valid
            # an utterance gets at least one frame
            empty = durations.sum(dim=1) == 0
            durations[:, 0] += empty.long()
            total = int(durations.sum(dim=1).max())
            if total > self.max_frames:
                raise ValueError(
                    f"the predicted spectrogram has {total} frames, more than max_frames "
                    f"{self.max_frames}; raise pace or FastPitchModule.max_frames, or "
                    "shorten the text"
                )
        else:
            durations = durations.long() * valid
        regulated, spect_lens = regulate_length(encoded, durations)
        decoded = self.decoder(regulated, spect_lens)
        spect = self.proj(decoded).transpose(1, 2)  # [B, n_mels, T]
        return spect, spect_lens, log_durs_predicted, pitch_predicted, durations
