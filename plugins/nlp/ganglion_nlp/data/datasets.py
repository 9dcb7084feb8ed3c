"""Datasets of tokenized texts: classification (ids + label) and masked-LM (ids only).

Texts are tokenized once, when the dataset is built, and each becomes
``<cls> tokens... <sep>``, cut to ``max_length`` ids (the tokens are truncated, ``<sep>``
stays). How many texts were truncated is reported once per dataset (a log warning, and the
``truncated`` attribute). The ids of all texts live in one flat array, which is small and
cheap to hand to DataLoader workers.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from ganglion_nlp.data.collate import collate_classification
from ganglion_nlp.data.masking import MaskingCollator

__all__ = ["MaskedLMDataset", "TextClassificationDataset", "TokenSequences"]

log = logging.getLogger(__name__)


class _Tokenizer(Protocol):
    vocab_size: int
    pad_id: int
    cls_id: int
    sep_id: int
    mask_id: int

    def batch_text_to_ids(self, texts: Sequence[str]) -> list[list[int]]: ...


class TokenSequences:
    """Texts tokenized and framed as ``<cls> ... <sep>``, at most ``max_length`` ids each.

    Attributes:
        lengths: each sequence's length (``<cls>`` and ``<sep>`` included), a list of ints.
        truncated: how many texts were longer than ``max_length`` and cut.
        longest: the longest text's length before cutting (framing included).
    """

    def __init__(
        self, texts: Sequence[str], tokenizer: _Tokenizer, max_length: int, *, name: str
    ) -> None:
        if max_length < 3:
            raise ValueError(
                f"max_length must be at least 3 (<cls>, a token, <sep>), got {max_length}"
            )
        keep = max_length - 2
        ids = tokenizer.batch_text_to_ids(list(texts))
        full = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        kept = np.minimum(full, keep)
        cls, sep = int(tokenizer.cls_id), int(tokenizer.sep_id)
        self._flat = np.fromiter(
            itertools.chain.from_iterable((cls, *x[:keep], sep) for x in ids),
            dtype=np.int32,
            count=int(kept.sum()) + 2 * len(ids),
        )
        self._offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(kept + 2, out=self._offsets[1:])
        self.lengths: list[int] = (kept + 2).tolist()
        self.truncated = int((full > keep).sum())
        self.longest = int(full.max()) + 2 if len(full) else 0
        self.max_length = max_length
        if self.truncated:
            log.warning(
                "%s: %d of %d texts are longer than max_length %d ids with <cls> and <sep> "
                "(the longest has %d); they were truncated to their first %d tokens",
                name,
                self.truncated,
                len(ids),
                max_length,
                self.longest,
                keep,
            )

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index: int) -> torch.Tensor:
        start, end = self._offsets[index], self._offsets[index + 1]
        return torch.from_numpy(self._flat[start:end].astype(np.int64))


class TextClassificationDataset(Dataset):
    """Texts with label indices: items ``(ids [T], label)``; :meth:`collate_fn` pads them into
    ``(input_ids [B, T], attention_mask [B, T], labels [B])``.

    Example::

        rows = read_labelled_texts("train.tsv")
        labels = labels_of(rows)
        ds = TextClassificationDataset([r.text for r in rows],
                                       [labels.index(r.label) for r in rows], tok, max_length=64)
    """

    def __init__(
        self,
        texts: Sequence[str],
        label_ids: Sequence[int],
        tokenizer: _Tokenizer,
        max_length: int,
        *,
        name: str = "dataset",
    ) -> None:
        if len(texts) != len(label_ids):
            raise ValueError(f"{len(texts)} texts but {len(label_ids)} labels")
        self.sequences = TokenSequences(texts, tokenizer, max_length, name=name)
        self.label_ids = torch.as_tensor(list(label_ids), dtype=torch.long)
        self.pad_id = int(tokenizer.pad_id)

    @property
    def lengths(self) -> list[int]:
        """Each item's length in ids (for length bucketing)."""
        return self.sequences.lengths

    @property
    def truncated(self) -> int:
        """How many texts were cut to ``max_length``."""
        return self.sequences.truncated

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.sequences[index], int(self.label_ids[index])

    def collate_fn(self, batch: Sequence[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, ...]:
        return collate_classification(batch, self.pad_id)

    @property
    def output_types(self) -> dict[str, Any]:
        """The neural types of a collated batch, in order."""
        from ganglion.types import LabelsType, MaskType, NeuralType
        from ganglion_nlp.types import TokenIndex

        return {
            "input_ids": NeuralType(("B", "T"), TokenIndex()),
            "attention_mask": NeuralType(("B", "T"), MaskType()),
            "labels": NeuralType(("B",), LabelsType()),
        }


class MaskedLMDataset(Dataset):
    """Texts for masked-LM pretraining: items are ids ``[T]``; :attr:`collate_fn` (a
    :class:`~ganglion_nlp.data.masking.MaskingCollator`) pads and masks them into
    ``(inputs [B, T], attention_mask [B, T], targets [B, T])``.

    Args:
        texts, tokenizer, max_length, name: as for :class:`TextClassificationDataset`.
        mask_prob, replace_prob, random_prob: the masking (BERT's 0.15, 0.8, 0.1).
        seed: the masking generator's seed.
        fixed_masks: the same masks every epoch (for validation).
    """

    def __init__(
        self,
        texts: Sequence[str],
        tokenizer: _Tokenizer,
        max_length: int,
        *,
        name: str = "dataset",
        mask_prob: float = 0.15,
        replace_prob: float = 0.8,
        random_prob: float = 0.1,
        seed: int = 0,
        fixed_masks: bool = False,
    ) -> None:
        self.sequences = TokenSequences(texts, tokenizer, max_length, name=name)
        self.collate_fn = MaskingCollator(
            vocab_size=int(tokenizer.vocab_size),
            mask_id=int(tokenizer.mask_id),
            pad_id=int(tokenizer.pad_id),
            mask_prob=mask_prob,
            replace_prob=replace_prob,
            random_prob=random_prob,
            seed=seed,
            fixed=fixed_masks,
        )

    @property
    def lengths(self) -> list[int]:
        return self.sequences.lengths

    @property
    def truncated(self) -> int:
        return self.sequences.truncated

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.sequences[index]

    @property
    def output_types(self) -> dict[str, Any]:
        """The neural types of a collated batch, in order."""
        from ganglion.types import LabelsType, MaskType, NeuralType
        from ganglion_nlp.types import TokenIndex

        return {
            "input_ids": NeuralType(("B", "T"), TokenIndex()),
            "attention_mask": NeuralType(("B", "T"), MaskType()),
            "targets": NeuralType(("B", "T"), LabelsType()),
        }
