"""Batching by duration: batches of utterances of similar length, so little of a batch is padding.

:class:`DurationBucketBatchSampler` wraps an index sampler the way PyTorch's ``BatchSampler``
does, and keeps its constructor shape (``sampler, batch_size, drop_last``). That matters for
distributed training: Lightning (``Trainer(use_distributed_sampler=True)``, the default)
swaps the inner sampler for a ``DistributedSampler`` and rebuilds the batch sampler around it,
so every rank buckets its own shard and all ranks get the same number of batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import BatchSampler, Sampler


def _find_durations(sampler: Any, depth: int = 6) -> Sequence[float] | None:
    """The ``durations`` of the dataset under ``sampler`` (through wrappers Lightning adds)."""
    seen: set[int] = set()
    stack = [(sampler, 0)]
    while stack:
        obj, level = stack.pop()
        if obj is None or id(obj) in seen or level > depth:
            continue
        seen.add(id(obj))
        durations = getattr(obj, "durations", None)
        if durations is not None:
            return durations
        for attr in ("data_source", "dataset", "_sampler", "sampler"):
            stack.append((getattr(obj, attr, None), level + 1))
    return None


class DurationBucketBatchSampler(BatchSampler):
    """Groups the indices ``sampler`` yields into batches of similar duration.

    The inner sampler's order is cut into pools of ``pool_batches * batch_size`` indices;
    each pool is sorted by duration and cut into batches, and the batches of all pools are
    shuffled (when ``shuffle``). With a ``RandomSampler`` inside this is "sortish" bucketing:
    random every epoch, yet each batch holds utterances of similar length. With a
    ``SequentialSampler`` and ``pool_batches=None`` (one pool: the whole set) it is a
    plain sort by duration, the usual choice for evaluation.

    ``durations[i]`` is utterance ``i``'s length in seconds; when omitted it is taken from the
    dataset under ``sampler`` (its ``durations`` attribute), which is what lets Lightning
    rebuild this sampler around a ``DistributedSampler``.

    Example::

        sampler = DurationBucketBatchSampler(RandomSampler(ds), batch_size=32, shuffle=True)
        loader = DataLoader(ds, batch_sampler=sampler, collate_fn=ds.collate_fn)
    """

    def __init__(
        self,
        sampler: Sampler[int] | Sequence[int],
        batch_size: int,
        drop_last: bool = False,
        *,
        durations: Sequence[float] | None = None,
        pool_batches: int | None = 50,
        shuffle: bool | None = None,
        seed: int = 0,
    ) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if pool_batches is not None and pool_batches < 1:
            raise ValueError(f"pool_batches must be a positive integer or None, got {pool_batches}")
        if durations is None:
            durations = _find_durations(sampler)
            if durations is None:
                raise ValueError(
                    "DurationBucketBatchSampler needs durations: pass durations=... or use a "
                    "sampler over a dataset with a 'durations' attribute"
                )
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.durations = torch.as_tensor(list(durations), dtype=torch.float64)
        self.pool_batches = pool_batches
        # shuffle batch order when the inner sampler shuffles (RandomSampler, DistributedSampler)
        if shuffle is None:
            shuffle = bool(getattr(sampler, "shuffle", False)) or _is_random(sampler)
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` for the next pass (also forwarded to the inner sampler)."""
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
            # stable sort: equal durations keep the inner sampler's order
            chunk = chunk[torch.sort(self.durations[chunk], stable=True).indices]
            for b in range(0, len(chunk), self.batch_size):
                batch = chunk[b : b + self.batch_size]
                if len(batch) == self.batch_size or not self.drop_last:
                    batches.append(batch.tolist())
        if self.shuffle and len(batches) > 1:
            # the inner sampler's epoch and seed when it has them (Lightning sets its epoch;
            # a resumed run restores it), so the batch order is a function of (seed, epoch)
            epoch = getattr(self.sampler, "epoch", self.epoch)
            seed = getattr(self.sampler, "seed", self.seed)
            gen = torch.Generator().manual_seed(int(seed) * 100_003 + int(epoch))
            order = torch.randperm(len(batches), generator=gen).tolist()
            batches = [batches[i] for i in order]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._batches()
        # an inner sampler without an epoch (RandomSampler): advance our own, so that the
        # batch order changes from one pass to the next
        self.epoch += 1
        yield from batches

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        if self.pool_batches is None:
            full, rest = divmod(n, self.batch_size)
            return full + (1 if rest and not self.drop_last else 0)
        pool = self.pool_batches * self.batch_size
        whole_pools, tail = divmod(n, pool)
        full, rest = divmod(tail, self.batch_size)
        return whole_pools * self.pool_batches + full + (1 if rest and not self.drop_last else 0)


def _is_random(sampler: Any) -> bool:
    from torch.utils.data import RandomSampler

    return isinstance(sampler, RandomSampler)
