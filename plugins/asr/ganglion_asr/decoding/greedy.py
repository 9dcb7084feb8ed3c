"""Greedy CTC decoding: best class per frame, repeats merged, blanks removed."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ganglion_asr.data.vocab import CharVocabulary


def ctc_greedy_ids(
    log_probs: torch.Tensor, lengths: torch.Tensor | None, blank_id: int
) -> list[list[int]]:
    """Label ids per utterance from ``log_probs`` [B, T, C] (or argmax ids [B, T]).

    Vectorised over the batch and time: a frame is kept when its best class differs from the
    previous frame's, is not the blank, and lies within the utterance's ``lengths``.
    """
    ids = log_probs.argmax(dim=-1) if log_probs.dim() == 3 else log_probs
    batch, frames = ids.shape
    keep = ids != blank_id
    keep[:, 1:] &= ids[:, 1:] != ids[:, :-1]
    if lengths is not None:
        keep &= torch.arange(frames, device=ids.device)[None, :] < lengths.to(ids.device)[:, None]
    counts = keep.sum(dim=1).tolist()
    flat = ids[keep].tolist()
    out: list[list[int]] = []
    start = 0
    for n in counts:
        out.append(flat[start : start + n])
        start += n
    return out


class GreedyCTCDecoder:
    """Turns log-probabilities into text with a label list (blank = ``len(labels)``).

    Example::

        decoder = GreedyCTCDecoder([" ", *"abcdefghijklmnopqrstuvwxyz", "'"])
        texts = decoder(log_probs, encoded_lengths)
    """

    def __init__(self, labels: Sequence[str] | CharVocabulary, blank_id: int | None = None) -> None:
        self.vocabulary = labels if isinstance(labels, CharVocabulary) else CharVocabulary(labels)
        self.labels = self.vocabulary.labels
        self.blank_id = self.vocabulary.blank_id if blank_id is None else blank_id

    def ids_to_text(self, ids: Sequence[int]) -> str:
        """Text of label ids (ids outside the labels are skipped)."""
        return self.vocabulary.decode(ids)

    def __call__(self, log_probs: torch.Tensor, lengths: torch.Tensor | None = None) -> list[str]:
        return [self.ids_to_text(ids) for ids in ctc_greedy_ids(log_probs, lengths, self.blank_id)]

    def targets_to_text(self, targets: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        """Reference texts of padded label ids [B, U] and their lengths."""
        rows = targets.tolist()
        return [self.ids_to_text(row[:n]) for row, n in zip(rows, lengths.tolist())]
