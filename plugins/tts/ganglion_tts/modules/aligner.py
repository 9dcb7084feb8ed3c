"""``AlignmentEncoder``: a soft alignment between mel frames and text tokens, learned while
the spectrogram generator trains (no external aligner, no precomputed durations).

Both sides are projected by small 1-D convolution stacks into one space: the token
embeddings as keys, the mel frames as queries (standardised per utterance first: zero mean,
unit variance over its frames and bands, which lets the alignment form several times sooner
than raw log-mels, whose offset dominates the distances). The score of token ``n`` for frame ``t`` is
``-temperature * ||query_t - key_n||^2``; a softmax over each utterance's tokens (padding
masked out), optionally with a log prior added first (the beta-binomial prior of
:func:`~ganglion_tts.modules.alignment.beta_binomial_log_prior`, which favours the diagonal
and speeds up early training), gives the alignment. :mod:`ganglion_tts.modules.alignment`
turns it into a loss (forward-sum), a hard alignment (monotonic alignment search) and
durations.

Example::

    aligner = AlignmentEncoder(n_mel_channels=80, n_text_channels=192)
    soft, logprob = aligner(queries=mel, keys=embedded.transpose(1, 2), key_lens=token_lens,
                            attn_prior=prior)                      # [B, 1, T_mel, N] each
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F

from ganglion import typecheck
from ganglion.errors import ConfigError
from ganglion.module import NeuralModule
from ganglion.types import (
    ChannelType,
    LengthsType,
    LogprobsType,
    NeuralType,
    ProbsType,
)

__all__ = ["AlignmentEncoder"]


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"AlignmentEncoder.{name}: expected a positive integer, got {value!r}")
    return value


def _standardize(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Each utterance of ``x`` ``[B, C, T]`` to zero mean and unit variance over its first
    ``lengths`` frames and all channels; padding frames become 0."""
    if lengths is None:
        valid = torch.ones(x.shape[0], 1, x.shape[2], device=x.device)
    else:
        valid = (torch.arange(x.shape[2], device=x.device)[None, :] < lengths[:, None]).float()
        valid = valid[:, None, :]
    count = (valid.sum(dim=(1, 2), keepdim=True) * x.shape[1]).clamp(min=1.0)
    mean = (x * valid).sum(dim=(1, 2), keepdim=True) / count
    var = ((x - mean).square() * valid).sum(dim=(1, 2), keepdim=True) / count
    return (x - mean) / (var.sqrt() + 1e-3) * valid


class AlignmentEncoder(NeuralModule):
    """Soft alignment of mel frames (queries) to token embeddings (keys).

    Args:
        n_mel_channels: mel bands of the queries.
        n_text_channels: width of the token embeddings (the keys).
        n_att_channels: width of the space both are projected into.
        temperature: scales the squared distances into scores (higher: sharper).
        normalize_queries: standardise each utterance's mel frames (over its ``query_lens``
            frames and all bands) before projecting them.

    Ports: ``queries`` ``[B, n_mels, T_mel]``, ``keys`` ``[B, D, N]``, ``key_lens`` ``[B]``,
    optional ``query_lens`` ``[B]`` (default: every frame counts), optional ``attn_prior``
    ``[B, T_mel, N]`` (log-probabilities); returns ``attn_soft``
    (probabilities) and ``attn_logprob`` (their logs), each ``[B, 1, T_mel, N]``, zero
    (``-inf``) at padded tokens.
    """

    def __init__(
        self,
        n_mel_channels: int = 80,
        n_text_channels: int = 192,
        n_att_channels: int = 80,
        temperature: float = 0.05,
        normalize_queries: bool = True,
    ) -> None:
        super().__init__()
        n_mel = _positive_int("n_mel_channels", n_mel_channels)
        n_text = _positive_int("n_text_channels", n_text_channels)
        n_att = _positive_int("n_att_channels", n_att_channels)
        if (
            not isinstance(temperature, int | float)
            or isinstance(temperature, bool)
            or (temperature <= 0)
        ):
            raise ConfigError(
                f"AlignmentEncoder.temperature: expected a positive number, got {temperature!r}"
            )
        self.temperature = float(temperature)
        self.normalize_queries = bool(normalize_queries)
        self.key_proj = nn.Sequential(
            nn.Conv1d(n_text, 2 * n_text, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv1d(2 * n_text, n_att, kernel_size=1),
        )
        self.query_proj = nn.Sequential(
            nn.Conv1d(n_mel, 2 * n_mel, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv1d(2 * n_mel, n_mel, kernel_size=1),
            nn.ReLU(),
            nn.Conv1d(n_mel, n_att, kernel_size=1),
        )

    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        from ganglion_asr.types import MelSpectrogramType

        return {
            "queries": NeuralType(("B", "D", "T"), MelSpectrogramType()),
            "keys": NeuralType(("B", "D", "T"), ChannelType()),
            "key_lens": NeuralType(("B",), LengthsType()),
            "query_lens": NeuralType(("B",), LengthsType(), optional=True),
            "attn_prior": NeuralType(("B", "T", "T"), LogprobsType(), optional=True),
        }

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        return {
            "attn_soft": NeuralType(("B", "C", "T", "T"), ProbsType()),
            "attn_logprob": NeuralType(("B", "C", "T", "T"), LogprobsType()),
        }

    @typecheck()
    def forward(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        key_lens: torch.Tensor,
        query_lens: torch.Tensor | None = None,
        attn_prior: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = keys.shape[2]
        if self.normalize_queries:
            queries = _standardize(queries.float(), query_lens)
        # padded tokens are zeroed so they cannot leak into their neighbours' keys
        token_mask = torch.arange(tokens, device=keys.device)[None, :] < key_lens[:, None]
        keys = keys * token_mask[:, None, :].to(keys.dtype)
        k = self.key_proj(keys).float()  # [B, A, N]
        q = self.query_proj(queries).float()  # [B, A, T]
        # ||q - k||^2 = |q|^2 - 2 q.k + |k|^2, one matmul instead of a [B, A, T, N] difference
        dist = (
            q.square().sum(1)[:, :, None]
            - 2 * torch.bmm(q.transpose(1, 2), k)
            + k.square().sum(1)[:, None, :]
        )  # [B, T, N]
        scores = -self.temperature * dist
        if attn_prior is not None:
            if attn_prior.shape != scores.shape:
                raise ValueError(
                    f"AlignmentEncoder: attn_prior is {tuple(attn_prior.shape)}, expected "
                    f"[B, T_mel, N] = {tuple(scores.shape)}"
                )
            # the prior reweighs each frame's distribution over tokens: log p(n|t) + log prior
            scores = F.log_softmax(scores.masked_fill(~token_mask[:, None, :], -torch.inf), -1)
            scores = scores + attn_prior.float()
        scores = scores.masked_fill(~token_mask[:, None, :], -torch.inf)
        logprob = F.log_softmax(scores, dim=-1)[:, None]
        return logprob.exp(), logprob
