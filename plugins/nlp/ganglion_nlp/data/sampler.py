"""Batching by length: texts of similar length together, so little of a batch is padding."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import BatchSampler, Sampler

__all__ = ["LengthBucketBatchSampler"]


class LengthBucketBatchSampler(BatchSampler):
    """Groups the indices ``sampler`` yields into batches of texts of similar length.

    The inner sampler's order is cut into pools of ``pool_batches * batch_size`` indices; each
    pool is sorted by length and cut into batches, and the batches are shuffled when
    ``shuffle`` ("sortish" batching: random every epoch, little padding). With
    ``pool_batches=None`` the whole set is one pool: a plain sort by length, the usual choice
    for evaluation.

    ``lengths`` defaults to the ``lengths`` attribute of the dataset under ``sampler``. The
    constructor keeps ``BatchSampler``'s shape (``sampler, batch_size, drop_last``), so
    Lightning can rebuild it around a distributed sampler.
    """

    def __init__(
        self,
        sampler: Sampler[int] | Sequence[int],
        batch_size: int,
        drop_last: bool = False,
        *,
        lengths: Sequence[int] | None = None,
        pool_batches: int | None = 50,
        shuffle: bool = False,
        seed: int = 0,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if pool_batches is not None and pool_batches < 1:
            raise ValueError(f"pool_batches must be a positive integer or None, got {pool_batches}")
        if lengths is None:
            lengths = _find_lengths(sampler)
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.lengths = torch.as_tensor(list(lengths), dtype=torch.long)
        self.pool_batches = pool_batches
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` for the next pass (forwarded to the inner sampler too)."""
        self.epoch = epoch
        inner = getattr(self.sampler, "set_epoch", None)
        if callable(inner):
            inner(epoch)

    def _batches(self) -> list[list[int]]:
        indices = torch.as_tensor(list(iter(self.sampler)), dtype=torch.long)
        pool = len(indices) if self.pool_batches is None else self.pool_batches * self.batch_size
        batches: list[list[int]] = []
        for start in range(0, len(indices), max(pool, 1)):
            chunk = indices[start : start + pool]
            chunk = chunk[torch.sort(self.lengths[chunk], stable=True).indices]
            for b in range(0, len(chunk), self.batch_size):
                batch = chunk[b : b + self.batch_size]
                if len(batch) == self.batch_size or not self.drop_last:
                    batches.append(batch.tolist())
        if self.shuffle and len(batches) > 1:
            # a function of (seed, epoch): the inner sampler's when it has them (a resumed
            # run restores its epoch), so a resumed run sees the same batches
            epoch = getattr(self.sampler, "epoch", self.epoch)
            seed = getattr(self.sampler, "seed", self.seed)
            gen = torch.Generator().manual_seed(int(seed) * 100_003 + int(epoch))
            batches = [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._batches()
        self.epoch += 1  # an inner sampler without epochs still gets a new order next pass
        yield from batches

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        if self.pool_batches is None:
            full, rest = divmod(n, self.batch_size)
            return full + (1 if rest and not self.drop_last else 0)
        pool = self.pool_batches * self.batch_size
        whole, tail = divmod(n, pool)
        full, rest = divmod(tail, self.batch_size)
        return whole * self.pool_batches + full + (1 if rest and not self.drop_last else 0)


def _find_lengths(sampler: Any) -> Sequence[int]:
    """The ``lengths`` of the dataset under ``sampler`` (through wrappers Lightning adds)."""
    seen: set[int] = set()
    stack = [(sampler, 0)]
    while stack:
        obj, level = stack.pop()
        if obj is None or id(obj) in seen or level > 6:
            continue
        seen.add(id(obj))
        lengths = getattr(obj, "lengths", None)
        if lengths is not None:
            return lengths
        for attr in ("data_source", "dataset", "_sampler", "sampler"):
            stack.append((getattr(obj, attr, None), level + 1))
    raise ValueError(
        "LengthBucketBatchSampler needs lengths: pass lengths=... or use a sampler over a "
        "dataset with a 'lengths' attribute"
    )
