"""BERT-style masking for masked-LM pretraining.

Of each sequence's real, non-special tokens, ``mask_prob`` (15 %) are chosen as targets; of
those, 80 % are replaced by ``<mask>``, 10 % by a random ordinary token and 10 % left as they
are, so the model cannot tell which inputs it will be asked about. Positions not chosen have
the target ``IGNORE_INDEX`` (skipped by the loss).

The masks are drawn in the collate function, batch by batch, so a text is masked afresh every
epoch. :class:`MaskingCollator` draws from a generator of its own: seeded with ``seed`` in the
process that loads the data, or, in a DataLoader worker, with the seed torch gives that
worker (a new one each epoch, derived from the run's seed by ``seed_everything``). Its
``fixed`` mode draws each batch's masks from a seed computed from the batch's content, so a
validation set is masked the same way every epoch and its loss is comparable across epochs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from ganglion_nlp.data.collate import pad_batch

__all__ = ["IGNORE_INDEX", "MaskingCollator", "mask_tokens"]

#: The target of positions that are not predicted (``cross_entropy``'s ``ignore_index``).
IGNORE_INDEX = -100


def mask_tokens(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    vocab_size: int,
    mask_id: int,
    first_ordinary_id: int = 5,
    mask_prob: float = 0.15,
    replace_prob: float = 0.8,
    random_prob: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked inputs and targets for a padded batch ``input_ids`` [B, T].

    Only real tokens (``attention_mask`` true) with ids ``>= first_ordinary_id`` (not the
    special tokens) are chosen. If none in the whole batch is chosen, one is, so the loss is
    always defined. Returns ``(inputs, targets)``: targets hold the original id at chosen
    positions and :data:`IGNORE_INDEX` elsewhere.
    """
    candidates = attention_mask.bool() & (input_ids >= first_ordinary_id)
    draw = torch.rand(input_ids.shape, generator=generator)
    chosen = candidates & (draw < mask_prob)
    if not bool(chosen.any()) and bool(candidates.any()):
        flat = candidates.flatten().nonzero().squeeze(1)
        pick = flat[torch.randint(len(flat), (1,), generator=generator)]
        chosen = chosen.flatten().index_fill(0, pick, True).view_as(chosen)
    targets = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    how = torch.rand(input_ids.shape, generator=generator)
    to_mask = chosen & (how < replace_prob)
    to_random = chosen & (how >= replace_prob) & (how < replace_prob + random_prob)
    inputs = input_ids.masked_fill(to_mask, mask_id)
    if vocab_size > first_ordinary_id:
        random_ids = torch.randint(
            first_ordinary_id, vocab_size, input_ids.shape, generator=generator
        )
        inputs = torch.where(to_random, random_ids, inputs)
    return inputs, targets


class MaskingCollator:
    """Pads a list of token-id tensors and masks them (:func:`mask_tokens`).

    Returns ``(inputs [B, T], attention_mask [B, T] bool, targets [B, T])``. Picklable, so
    DataLoader workers can use it (each worker then seeds its own generator, see the module
    docstring).

    Args:
        vocab_size, mask_id, pad_id: the tokenizer's.
        mask_prob, replace_prob, random_prob: see :func:`mask_tokens`.
        seed: the generator's seed in the loading process.
        fixed: draw each batch's masks from its content (the same masks every epoch).
    """

    def __init__(
        self,
        *,
        vocab_size: int,
        mask_id: int,
        pad_id: int = 0,
        first_ordinary_id: int = 5,
        mask_prob: float = 0.15,
        replace_prob: float = 0.8,
        random_prob: float = 0.1,
        seed: int = 0,
        fixed: bool = False,
    ) -> None:
        for name, value in (
            ("mask_prob", mask_prob),
            ("replace_prob", replace_prob),
            ("random_prob", random_prob),
        ):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {value!r}")
        if replace_prob + random_prob > 1.0:
            raise ValueError(
                f"replace_prob + random_prob must be at most 1, got {replace_prob} + {random_prob}"
            )
        if mask_prob <= 0.0:
            raise ValueError(
                "mask_prob must be above 0: with none masked there is nothing to learn"
            )
        self.vocab_size = int(vocab_size)
        self.mask_id = int(mask_id)
        self.pad_id = int(pad_id)
        self.first_ordinary_id = int(first_ordinary_id)
        self.mask_prob = float(mask_prob)
        self.replace_prob = float(replace_prob)
        self.random_prob = float(random_prob)
        self.seed = int(seed)
        self.fixed = bool(fixed)
        self._generator: torch.Generator | None = None
        self._owner: tuple[int, int] | None = None  # (pid, worker id) the generator belongs to

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_generator"] = state["_owner"] = None  # a worker seeds its own
        return state

    def _stream(self, input_ids: torch.Tensor) -> torch.Generator:
        if self.fixed:
            # the batch's content picks the seed: the same batch is masked the same way
            positions = torch.arange(input_ids.numel(), dtype=torch.long).view_as(input_ids)
            content = (int(input_ids.sum()), int((input_ids * (positions % 9973 + 1)).sum()))
            mixed = hash((self.seed, tuple(input_ids.shape), content)) & 0x7FFF_FFFF_FFFF_FFFF
            return torch.Generator().manual_seed(mixed)
        info = torch.utils.data.get_worker_info()
        owner = (os.getpid(), info.id if info is not None else -1)
        if self._generator is None or self._owner != owner:
            seed = torch.initial_seed() if info is not None else self.seed
            self._generator = torch.Generator().manual_seed(seed & 0x7FFF_FFFF_FFFF_FFFF)
            self._owner = owner
        return self._generator

    def __call__(
        self, batch: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        input_ids, attention_mask = pad_batch(batch, self.pad_id)
        inputs, targets = mask_tokens(
            input_ids,
            attention_mask,
            vocab_size=self.vocab_size,
            mask_id=self.mask_id,
            first_ordinary_id=self.first_ordinary_id,
            mask_prob=self.mask_prob,
            replace_prob=self.replace_prob,
            random_prob=self.random_prob,
            generator=self._stream(input_ids),
        )
        return inputs, attention_mask, targets
