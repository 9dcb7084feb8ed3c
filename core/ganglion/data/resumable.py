"""Data loaders that resume exactly where an interrupted run stopped.

Lightning restores a mid-epoch data position only when the training dataloader has
``state_dict`` / ``load_state_dict``; torch's ``DataLoader`` has neither, and its shuffling
draws from the global random generator, so a restarted run would see other batches. Models
build their loaders with :func:`resumable_dataloader` instead::

    from ganglion.data import resumable_dataloader

    def setup_training_data(self, cfg):
        self._train_dl = resumable_dataloader(
            dataset, batch_size=cfg.batch_size, shuffle=cfg.shuffle, num_workers=cfg.num_workers
        )

It is torchdata's ``StatefulDataLoader`` (the loader keeps its position, worker processes
included) over a :class:`ResumableSampler`, whose order is a pure function of
``(seed, epoch)`` and which shards itself across ranks in multi-process runs, so the same
data position comes back after a restart whether the run stopped mid-epoch or between
epochs, on one process or several.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import Dataset, IterableDataset
from torch.utils.data.distributed import DistributedSampler

__all__ = ["ResumableSampler", "resumable_dataloader"]


class ResumableSampler(DistributedSampler):
    """Shuffled (or ordered) indices of a map-style dataset, resumable mid-epoch.

    * The order of epoch ``e`` comes from a generator seeded with ``seed + e`` (Lightning calls
      :meth:`set_epoch` at every epoch start), never from the global random state.
    * ``state_dict()`` holds ``seed``, ``epoch`` and how many indices this epoch has yielded;
      after ``load_state_dict()`` the next iteration of that epoch continues from there.
    * In a multi-process run it takes its rank's share, like ``DistributedSampler`` (whose
      subclass it is, so Lightning keeps it instead of swapping in its own): ranks and world
      size are read when iterating, so the sampler can be built before the process group.

    Args:
        dataset: a sized, map-style dataset.
        shuffle: a new permutation each epoch (else ``0 .. len-1``).
        seed: the base seed; ``None`` takes ``$PL_GLOBAL_SEED`` (set by Lightning's
            ``seed_everything``) or 0. Every rank must use the same one.
        drop_last: across ranks, drop the tail instead of padding with repeated indices.
        num_replicas / rank: fix the world size and rank instead of asking torch.distributed.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        shuffle: bool = True,
        seed: int | None = None,
        drop_last: bool = False,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        # DistributedSampler.__init__ needs a process group; the attributes it would set are
        # provided here (world size and rank as properties, resolved when iterating)
        try:
            size = len(dataset)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(
                f"ResumableSampler needs a sized, map-style dataset; {type(dataset).__name__} "
                "has no len() (an IterableDataset keeps its own position: make it Stateful)"
            ) from None
        del size
        if seed is None:
            seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        self._fixed_replicas = num_replicas
        self._fixed_rank = rank
        self._yielded = 0
        self._resume: tuple[int, int] | None = None  # (epoch, indices already yielded)

    # -- world -------------------------------------------------------------------------
    @property
    def num_replicas(self) -> int:  # type: ignore[override]
        if self._fixed_replicas is not None:
            return self._fixed_replicas
        dist = torch.distributed
        return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1

    @num_replicas.setter
    def num_replicas(self, value: int) -> None:
        self._fixed_replicas = value

    @property
    def rank(self) -> int:  # type: ignore[override]
        if self._fixed_rank is not None:
            return self._fixed_rank
        dist = torch.distributed
        return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0

    @rank.setter
    def rank(self, value: int) -> None:
        self._fixed_rank = value

    @property
    def num_samples(self) -> int:  # type: ignore[override]
        size, replicas = len(self.dataset), self.num_replicas  # type: ignore[arg-type]
        if self.drop_last and size % replicas:
            return size // replicas
        return math.ceil(size / replicas)

    @property
    def total_size(self) -> int:  # type: ignore[override]
        return self.num_samples * self.num_replicas

    def __len__(self) -> int:
        return self.num_samples

    # -- order -------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` for the next iteration."""
        self.epoch = int(epoch)

    def _indices(self) -> list[int]:
        size = len(self.dataset)  # type: ignore[arg-type]
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            indices = torch.randperm(size, generator=generator).tolist()
        else:
            indices = list(range(size))
        total = self.total_size
        if total > size:  # pad by repeating from the start so every rank has as many
            indices += (indices * math.ceil((total - size) / size))[: total - size]
        else:
            indices = indices[:total]
        return indices[self.rank : total : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return self._iterate()

    def _iterate(self) -> Iterator[int]:
        # a generator: nothing is computed until the first index is asked for, which Lightning
        # does only after set_epoch() for the epoch being run
        skip = 0
        if self._resume is not None:
            epoch, done = self._resume
            self._resume = None
            if epoch == self.epoch:
                skip = done
        indices = self._indices()
        self._yielded = skip
        for index in indices[skip:]:
            self._yielded += 1
            yield index

    # -- state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, int]:
        """Where this sampler is: ``{"seed", "epoch", "yielded"}``."""
        return {"seed": self.seed, "epoch": self.epoch, "yielded": self._yielded}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``: the next iteration of its epoch skips what it yielded."""
        try:
            self.seed = int(state["seed"])
            self.epoch = int(state["epoch"])
            yielded = int(state["yielded"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f"not a ResumableSampler state (expected seed, epoch, yielded): {state!r}"
            ) from None
        self._resume = (self.epoch, yielded)
        self._yielded = yielded


def resumable_dataloader(
    dataset: Dataset,
    *,
    batch_size: int = 1,
    shuffle: bool = False,
    seed: int | None = None,
    drop_last: bool = False,
    num_workers: int = 0,
    batch_sampler: Callable[[ResumableSampler], Iterable[list[int]]] | None = None,
    **kwargs: Any,
) -> Any:
    """A ``torchdata.stateful_dataloader.StatefulDataLoader`` that resumes exactly.

    Map-style datasets get a :class:`ResumableSampler` (``shuffle``, ``seed``); iterable
    datasets are passed as they are (make them ``Stateful`` to resume mid-epoch). ``drop_last``
    drops the last incomplete batch; ``kwargs`` go to the loader (``collate_fn``,
    ``pin_memory``, ``persistent_workers``, ``prefetch_factor``, …).

    ``batch_sampler`` groups indices into batches some other way (by length, say): it is
    called with the :class:`ResumableSampler` and returns the batch sampler the loader uses,
    which then decides the batch size and what happens to the last batch::

        resumable_dataloader(ds, shuffle=True, batch_sampler=lambda s: BatchSampler(s, 8, False))
    """
    from torchdata.stateful_dataloader import StatefulDataLoader

    if isinstance(dataset, IterableDataset):
        if shuffle:
            raise ValueError(
                "shuffle=True needs a map-style dataset; an IterableDataset shuffles itself"
            )
        if batch_sampler is not None:
            raise ValueError("batch_sampler needs a map-style dataset, not an IterableDataset")
        sampler = None
    else:
        sampler = ResumableSampler(dataset, shuffle=shuffle, seed=seed)
    if batch_sampler is not None:
        if batch_size != 1 or drop_last:
            raise ValueError(
                "batch_size and drop_last belong to the batch sampler when batch_sampler is "
                "given; pass them to the batch sampler instead"
            )
        loader_args: dict[str, Any] = {"batch_sampler": batch_sampler(sampler)}
    else:
        loader_args = {"batch_size": batch_size, "sampler": sampler, "drop_last": drop_last}
    with warnings.catch_warnings():
        # torchdata 0.11 calls a torch API that torch deprecated since; the warning says
        # nothing a user can act on
        warnings.filterwarnings("ignore", message=".*set_vital.*", category=UserWarning)
        return StatefulDataLoader(dataset, num_workers=num_workers, **loader_args, **kwargs)
