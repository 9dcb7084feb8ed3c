"""Batching by duration: batches of utterances of similar length, so little of a batch is
padding. The bucketing itself is the core's (:class:`ganglion.data.BucketBatchSampler`); an
utterance's size here is its duration in seconds."""

from __future__ import annotations

from collections.abc import Sequence

from torch.utils.data import Sampler

from ganglion.data import BucketBatchSampler

__all__ = ["DurationBucketBatchSampler"]


class DurationBucketBatchSampler(BucketBatchSampler):
    """:class:`~ganglion.data.BucketBatchSampler` by duration: ``durations[i]`` is utterance
    ``i``'s length in seconds, by default the ``durations`` attribute of the dataset under
    ``sampler`` (:class:`~ganglion_asr.data.dataset.AudioToCharDataset` has one).

    Example::

        sampler = DurationBucketBatchSampler(RandomSampler(ds), batch_size=32, shuffle=True)
        loader = DataLoader(ds, batch_sampler=sampler, collate_fn=ds.collate_fn)
    """

    size_attribute = "durations"

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
        super().__init__(
            sampler,
            batch_size,
            drop_last,
            sizes=durations,
            pool_batches=pool_batches,
            shuffle=shuffle,
            seed=seed,
        )
