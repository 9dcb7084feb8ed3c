"""Data loading every model shares: loaders that resume exactly where an interrupted run
stopped (:mod:`ganglion.data.resumable`) and batching by length, so little of a batch is
padding (:mod:`ganglion.data.bucketing`).

Importing this package imports torch.
"""

from ganglion.data.bucketing import BucketBatchSampler
from ganglion.data.resumable import ResumableSampler, resumable_dataloader

__all__ = ["BucketBatchSampler", "ResumableSampler", "resumable_dataloader"]
