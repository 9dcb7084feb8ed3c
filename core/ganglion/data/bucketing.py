"""Batching by size: examples of similar length together, so little of a batch is padding.

:class:`BucketBatchSampler` wraps an index sampler the way PyTorch's ``BatchSampler`` does and
keeps its constructor shape (``sampler, batch_size, drop_last``). That matters for distributed
training: Lightning (``Trainer(use_distributed_sampler=True)``, the default) swaps the inner
sampler for a ``DistributedSampler`` and rebuilds the batch sampler around it, so every rank
buckets its own shard and all ranks get the same number of batches. The sizes are then found
on the dataset under the new sampler, by the attribute the class names (``size_attribute``).

Domains subclass it with their own measure of size: seconds of audio
(``ganglion_asr.data.sampler.DurationBucketBatchSampler``), tokens of text
(``ganglion_nlp.data.sampler.LengthBucketBatchSampler``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import torch
from torch.utils.data import BatchSampler, RandomSampler, Sampler

__all__ = ["BucketBatchSampler"]

_SEARCH_DEPTH = 6


class BucketBatchSampler(BatchSampler):
    """Groups the indices ``sampler`` yields into batches of examples of similar size.

    The inner sampler's order is cut into pools of ``pool_batches * batch_size`` indices;
    each pool is sorted by size and cut into batches, and the batches of all pools are
    shuffled (when ``shuffle``). With a ``RandomSampler`` inside this is "sortish" bucketing:
    random every epoch, yet each batch holds examples of similar size. With a
    ``SequentialSampler`` and ``pool_batches=None`` (one pool: the whole set) it is a plain
    sort by size, the usual choice for evaluation.

    ``sizes[i]`` is example ``i``'s size (any unit); when omitted it is taken from the dataset
    under ``sampler``, its attribute named by :attr:`size_attribute`, which is what lets
    Lightning rebuild this sampler around a ``DistributedSampler``. ``shuffle=None`` shuffles
    the batches when the inner sampler shuffles. The batch order is a function of the seed
    and the epoch (the inner sampler's, when it has them), so a resumed run sees the same
    batches.

    Example::

        sampler = BucketBatchSampler(RandomSampler(ds), batch_size=32, sizes=lengths)
        loader = DataLoader(ds, batch_sampler=sampler, collate_fn=collate)
    """

    #: the dataset attribute holding every example's size, when ``sizes`` is not given
    size_attribute: ClassVar[str] = "sizes"

    def __init__(
        self,
        sampler: Sampler[int] | Sequence[int],
        batch_size: int,
        drop_last: bool = False,
        *,
        sizes: Sequence[float] | None = None,
        pool_batches: int | None = 50,
        shuffle: bool | None = None,
        seed: int = 0,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if pool_batches is not None and pool_batches < 1:
            raise ValueError(f"pool_batches must be a positive integer or None, got {pool_batches}")
        if sizes is None:
            sizes = self._find_sizes(sampler)
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sizes = torch.as_tensor(list(sizes), dtype=torch.float64)
        self.pool_batches = pool_batches
        if shuffle is None:
            shuffle = bool(getattr(sampler, "shuffle", False)) or isinstance(sampler, RandomSampler)
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    @classmethod
    def _find_sizes(cls, sampler: Any) -> Sequence[float]:
        """The sizes on the dataset under ``sampler`` (through the wrappers Lightning adds)."""
        seen: set[int] = set()
        stack = [(sampler, 0)]
        while stack:
            obj, level = stack.pop()
            if obj is None or id(obj) in seen or level > _SEARCH_DEPTH:
                continue
            seen.add(id(obj))
            sizes = getattr(obj, cls.size_attribute, None)
            if sizes is not None:
                return sizes
            for attr in ("data_source", "dataset", "_sampler", "sampler"):
                stack.append((getattr(obj, attr, None), level + 1))
        name = cls.size_attribute
        raise ValueError(
            f"{cls.__name__} needs {name}: pass {name}=... or use a sampler over a dataset with "
            f"a {name!r} attribute"
        )

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
            # stable sort: equal sizes keep the inner sampler's order
            chunk = chunk[torch.sort(self.sizes[chunk], stable=True).indices]
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
            batches = [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]
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
