"""Batching by length: texts of similar length together, so little of a batch is padding.
The bucketing itself is the core's (:class:`ganglion.data.BucketBatchSampler`); a text's size
here is its number of token ids."""

from __future__ import annotations

from collections.abc import Sequence

from torch.utils.data import Sampler

from ganglion.data import BucketBatchSampler

__all__ = ["LengthBucketBatchSampler"]


class LengthBucketBatchSampler(BucketBatchSampler):
    """:class:`~ganglion.data.BucketBatchSampler` by length: ``lengths[i]`` is text ``i``'s
    number of token ids, by default the ``lengths`` attribute of the dataset under
    ``sampler``."""

    size_attribute = "lengths"

    def __init__(
        self,
        sampler: Sampler[int] | Sequence[int],
        batch_size: int,
        drop_last: bool = False,
        *,
        lengths: Sequence[int] | None = None,
        pool_batches: int | None = 50,
        shuffle: bool | None = False,
        seed: int = 0,
    ) -> None:
        super().__init__(
            sampler,
            batch_size,
            drop_last,
            sizes=lengths,
            pool_batches=pool_batches,
            shuffle=shuffle,
            seed=seed,
        )
