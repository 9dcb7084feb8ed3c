"""Learning text-to-speech alignments without an external aligner: the functions around the
soft alignment an :class:`~ganglion_tts.modules.aligner.AlignmentEncoder` computes.

* :func:`beta_binomial_log_prior` — a prior that favours the diagonal, so the soft alignment
  starts near a sensible one;
* :func:`forward_sum_loss` — the likelihood of all monotonic paths through the soft
  alignment (CTC with the tokens as the target sequence), which trains it;
* :func:`monotonic_alignment_search` — the single most likely monotonic path (Viterbi), a
  hard alignment that gives every token at least one frame;
* :func:`binarization_loss` — pulls the soft alignment towards the hard one;
* :func:`durations_from_alignment` — frames per token of a hard alignment (they add up to the
  mel length exactly).

Alignments are ``[B, T_mel, N]`` (frames by tokens; the aligner's ``[B, 1, T_mel, N]`` with
the channel axis squeezed), lengths ``[B]``. The losses run in torch on the alignment's device;
the search loops over frames in Python with numpy operations over the batch and the tokens
(on the CPU: about 15 ms for 16 utterances of 400 frames and 60 tokens).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from ganglion.errors import GanglionError

__all__ = [
    "AlignmentError",
    "beta_binomial_log_prior",
    "binarization_loss",
    "durations_from_alignment",
    "forward_sum_loss",
    "monotonic_alignment_search",
]

# a finite stand-in for log(0): -inf in CTC inputs makes NaN gradients
_LOG_ZERO = -1.0e4


class AlignmentError(GanglionError, ValueError):
    """An alignment that cannot exist: fewer frames than tokens, or lengths out of range."""


def _check_lengths(mel_lens: torch.Tensor, token_lens: torch.Tensor, frames: int, tokens: int):
    if mel_lens.shape != token_lens.shape or mel_lens.dim() != 1:
        raise AlignmentError(
            f"mel_lens {tuple(mel_lens.shape)} and token_lens {tuple(token_lens.shape)} must be "
            "two [B] tensors"
        )
    if bool((token_lens < 1).any()) or bool((token_lens > tokens).any()):
        raise AlignmentError(
            f"token_lens must be between 1 and the {tokens} token columns; got "
            f"{token_lens.tolist()}"
        )
    if bool((mel_lens > frames).any()):
        raise AlignmentError(
            f"mel_lens must be at most the {frames} frame rows; got {mel_lens.tolist()}"
        )
    short = (mel_lens < token_lens).nonzero().flatten().tolist()
    if short:
        pairs = ", ".join(
            f"item {i}: {int(mel_lens[i])} frames < {int(token_lens[i])} tokens" for i in short
        )
        raise AlignmentError(
            f"every token needs at least one frame, but {pairs}; the audio is too short for "
            "its text (check the manifest line, or drop such utterances with min_duration)"
        )


def beta_binomial_log_prior(
    mel_lens: torch.Tensor,
    token_lens: torch.Tensor,
    max_frames: int | None = None,
    max_tokens: int | None = None,
    scaling: float = 1.0,
) -> torch.Tensor:
    """Log of a beta-binomial prior over the diagonal, ``[B, T, N]``.

    Frame ``t`` (of ``T_b``) of item ``b`` puts a beta-binomial distribution over its
    ``N_b`` tokens with ``alpha = scaling * (t + 1)`` and ``beta = scaling * (T_b - t)``: early
    frames favour early tokens, late frames late ones; a smaller ``scaling`` widens it.
    Positions outside an item's lengths are ``0`` (they are masked elsewhere).

    Example::

        prior = beta_binomial_log_prior(torch.tensor([120]), torch.tensor([30]))  # [1, 120, 30]
    """
    if scaling <= 0:
        raise ValueError(f"the prior's scaling must be positive, got {scaling}")
    frames = int(max_frames if max_frames is not None else mel_lens.max())
    tokens = int(max_tokens if max_tokens is not None else token_lens.max())
    device = mel_lens.device
    t = torch.arange(frames, device=device, dtype=torch.float32)[None, :, None]
    k = torch.arange(tokens, device=device, dtype=torch.float32)[None, None, :]
    n = (token_lens.to(torch.float32) - 1)[:, None, None]  # the binomial's n: N_b - 1
    big_t = mel_lens.to(torch.float32)[:, None, None]
    in_tokens = k <= n  # [B, 1, N]
    in_frames = t < big_t  # [B, T, 1]
    t = torch.where(in_frames, t, torch.zeros_like(t))  # keeps alpha and beta positive
    alpha = scaling * (t + 1)
    beta = scaling * (big_t - t)
    lgamma = torch.lgamma
    # P(0) = B(alpha, n + beta) / B(alpha, beta), then P(k + 1) / P(k) =
    # (n - k) (k + alpha) / ((k + 1) (n - k - 1 + beta)): two lgamma-free [B, T, N] terms
    # instead of the lgammas of every cell (which cost ten times as much)
    log_first = lgamma(n + beta) - lgamma(n + alpha + beta) + lgamma(alpha + beta) - lgamma(beta)
    step = k < n
    k = torch.where(step, k, torch.zeros_like(k))
    log_ratio = torch.log((n - k) / (k + 1)) + torch.log((k + alpha) / (n - k - 1 + beta))
    log_ratio = torch.where(step, log_ratio, torch.zeros_like(log_ratio))
    log_prior = log_first + torch.cumsum(log_ratio, dim=2) - log_ratio  # exclusive sum
    inside = in_tokens & in_frames
    return torch.where(inside, log_prior, torch.zeros_like(log_prior)).float()


def forward_sum_loss(
    attn_logprob: torch.Tensor,
    token_lens: torch.Tensor,
    mel_lens: torch.Tensor,
    blank_logprob: float = -1.0,
) -> torch.Tensor:
    """The forward-sum loss of a soft alignment: minus the log-likelihood of all monotonic
    paths that visit the tokens ``1..N_b`` in order, each for at least one frame.

    Computed as CTC: every frame "emits" a token index through the soft alignment, a blank
    column (of log-score ``blank_logprob``) is prepended, and the target is ``1, 2, ..., N_b``.
    Each utterance's loss is divided by its token count, then the batch is averaged.

    Args:
        attn_logprob: ``[B, 1, T, N]`` or ``[B, T, N]`` log-scores of token per frame
            (the aligner's ``attn_logprob``); tokens past ``token_lens`` are ignored.
        token_lens, mel_lens: ``[B]``.
    """
    lp = attn_logprob.squeeze(1) if attn_logprob.dim() == 4 else attn_logprob
    batch, frames, tokens = lp.shape
    _check_lengths(mel_lens, token_lens, frames, tokens)
    valid = torch.arange(tokens, device=lp.device)[None, :] < token_lens[:, None]
    lp = lp.float().masked_fill(~valid[:, None, :], _LOG_ZERO).clamp(min=_LOG_ZERO)
    lp = F.pad(lp, (1, 0), value=blank_logprob)
    lp = F.log_softmax(lp, dim=-1)
    targets = torch.arange(1, tokens + 1, device=lp.device).expand(batch, tokens)
    loss = F.ctc_loss(
        lp.transpose(0, 1),  # [T, B, N + 1]
        targets,
        mel_lens.long(),
        token_lens.long(),
        blank=0,
        reduction="none",
        zero_infinity=True,
    )
    return (loss / token_lens.to(loss.dtype)).mean()


@torch.no_grad()
def monotonic_alignment_search(
    log_probs: torch.Tensor, mel_lens: torch.Tensor, token_lens: torch.Tensor
) -> torch.Tensor:
    """The most likely monotonic hard alignment (Viterbi) through ``log_probs``.

    Each frame is given to exactly one token; the first frame to the first token, the last
    frame of an item to its last token; the token index never decreases and moves by at
    most one per frame, so every token gets at least one frame.

    Args:
        log_probs: ``[B, T, N]`` (or ``[B, 1, T, N]``) log-scores of token per frame.
        mel_lens, token_lens: ``[B]``; an item needs at least as many frames as tokens.

    Returns: ``[B, T, N]`` of 0/1 (``log_probs``' dtype), zero past the lengths; its sum over
    frames gives the durations (:func:`durations_from_alignment`).
    """
    lp = log_probs.squeeze(1) if log_probs.dim() == 4 else log_probs
    batch, frames, tokens = lp.shape
    _check_lengths(mel_lens, token_lens, frames, tokens)
    # numpy on the CPU: the loops are over frames, each step a few small array operations,
    # which numpy runs several times faster than torch dispatches them
    mel_np = mel_lens.detach().cpu().long().numpy()
    tok_np = token_lens.detach().cpu().long().numpy()
    scores = lp.detach().float().cpu().numpy()
    scores = np.where(np.arange(tokens)[None, None, :] < tok_np[:, None, None], scores, -np.inf)
    # value[b, n]: the best score of a path ending at token n in the current frame
    value = np.full((batch, tokens), -np.inf, dtype=np.float32)
    value[:, 0] = scores[:, 0, 0]
    # advanced[b, t, n]: the best path into (t, n) came from token n - 1 at frame t - 1
    advanced = np.zeros((batch, frames, tokens), dtype=bool)
    came = np.full((batch, tokens), -np.inf, dtype=np.float32)
    for t in range(1, frames):
        came[:, 1:] = value[:, :-1]
        advance = came > value
        advanced[:, t] = advance
        value = np.where(advance, came, value)
        value += scores[:, t]
    # walk back from each item's last frame and last token
    hard = np.zeros((batch, frames, tokens), dtype=np.float32)
    rows = np.arange(batch)
    index = tok_np - 1
    for t in range(frames - 1, -1, -1):
        active = t < mel_np
        hard[rows, t, index] = active
        index = index - (advanced[rows, t, index] & active)
    return torch.from_numpy(hard).to(device=log_probs.device, dtype=log_probs.dtype)


def durations_from_alignment(hard: torch.Tensor) -> torch.Tensor:
    """Frames per token ``[B, N]`` (long) of a hard alignment ``[B, T, N]`` or
    ``[B, 1, T, N]``."""
    hard = hard.squeeze(1) if hard.dim() == 4 else hard
    return hard.sum(dim=1).round().long()


def binarization_loss(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """Minus the mean log soft-probability of the hard alignment's cells: low when the soft
    alignment puts its mass where the hard one is. ``hard`` and ``soft`` are ``[B, T, N]``
    or ``[B, 1, T, N]`` (soft: probabilities)."""
    hard = hard.squeeze(1) if hard.dim() == 4 else hard
    soft = soft.squeeze(1) if soft.dim() == 4 else soft
    chosen = torch.log(soft.clamp(min=1e-12)) * hard
    return -chosen.sum() / hard.sum().clamp(min=1.0)
