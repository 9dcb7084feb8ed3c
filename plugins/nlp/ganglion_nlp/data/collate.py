"""Collating token sequences into padded batches with an attention mask."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn.utils.rnn import pad_sequence

__all__ = ["collate_classification", "pad_batch"]


def pad_batch(
    sequences: Sequence[torch.Tensor], pad_id: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids [B, T], attention_mask [B, T])``: the sequences padded with ``pad_id`` to the
    longest of the batch, and a boolean mask that is true at real tokens."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    ids = pad_sequence(list(sequences), batch_first=True, padding_value=pad_id)
    mask = torch.arange(ids.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
    return ids, mask


def collate_classification(
    batch: Sequence[tuple[torch.Tensor, int]], pad_id: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(input_ids [B, T], attention_mask [B, T], labels [B])`` from ``(ids, label)`` items."""
    sequences, labels = zip(*batch)
    input_ids, attention_mask = pad_batch(sequences, pad_id)
    return input_ids, attention_mask, torch.tensor(labels, dtype=torch.long)
