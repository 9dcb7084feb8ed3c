"""ResumableSampler / resumable_dataloader: the data position survives a restart."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import BatchSampler, IterableDataset, TensorDataset

from ganglion.data import ResumableSampler, resumable_dataloader


def dataset(size: int = 40) -> TensorDataset:
    return TensorDataset(torch.arange(size))


def batches(loader) -> list[list[int]]:
    return [b[0].tolist() for b in loader]


def test_order_is_a_function_of_seed_and_epoch():
    a, b = ResumableSampler(dataset(), seed=5), ResumableSampler(dataset(), seed=5)
    torch.rand(10)  # the global generator plays no part
    assert list(a) == list(b)
    a.set_epoch(1)
    assert list(a) != list(b)
    b.set_epoch(1)
    assert list(a) == list(b)
    assert sorted(a) == list(range(40))
    assert list(ResumableSampler(dataset(), shuffle=False)) == list(range(40))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_loader_resumes_mid_epoch_from_its_state(num_workers):
    def loader():
        return resumable_dataloader(
            dataset(), batch_size=3, shuffle=True, seed=7, num_workers=num_workers
        )

    first = loader()
    first.sampler.set_epoch(2)
    iterator = iter(first)
    seen = [next(iterator)[0].tolist() for _ in range(4)]
    state = first.state_dict()
    rest = [b[0].tolist() for b in iterator]

    restarted = loader()  # a fresh process: epoch 0 until the state says otherwise
    restarted.load_state_dict(state)
    assert batches(restarted) == rest
    assert sorted(sum(seen + rest, [])) == list(range(40))
    restarted.sampler.set_epoch(3)  # the next epoch is whole again
    assert len(batches(restarted)) == 14


def test_state_of_a_finished_epoch_does_not_skip_the_next():
    sampler = ResumableSampler(dataset(), seed=1)
    sampler.set_epoch(4)
    list(sampler)
    state = sampler.state_dict()
    restored = ResumableSampler(dataset(), seed=99)
    restored.load_state_dict(state)
    assert restored.seed == 1
    restored.set_epoch(5)
    assert len(list(restored)) == 40


def test_ranks_take_disjoint_equal_shares():
    shares = [list(ResumableSampler(dataset(41), seed=3, num_replicas=2, rank=r)) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == 21  # padded to equal length
    assert set(shares[0]) | set(shares[1]) == set(range(41))
    dropped = [
        list(ResumableSampler(dataset(41), drop_last=True, num_replicas=2, rank=r)) for r in (0, 1)
    ]
    assert len(dropped[0]) == 20 and not set(dropped[0]) & set(dropped[1])


def test_iterable_datasets_cannot_be_shuffled_by_the_loader():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(5))

    with pytest.raises(ValueError, match="IterableDataset shuffles itself"):
        resumable_dataloader(Stream(), shuffle=True)
    assert [int(x) for x in resumable_dataloader(Stream())] == [0, 1, 2, 3, 4]
    with pytest.raises(TypeError, match="needs a sized, map-style dataset"):
        ResumableSampler(Stream())


@pytest.mark.parametrize("num_workers", [0, 2])
def test_a_custom_batch_sampler_wraps_the_resumable_sampler_and_resumes(num_workers):
    def loader():
        return resumable_dataloader(
            dataset(),
            shuffle=True,
            seed=7,
            num_workers=num_workers,
            batch_sampler=lambda sampler: BatchSampler(sampler, 3, drop_last=True),
        )

    first = loader()
    assert isinstance(first.batch_sampler.sampler, ResumableSampler)
    first.batch_sampler.sampler.set_epoch(2)
    iterator = iter(first)
    seen = [next(iterator)[0].tolist() for _ in range(4)]
    state = first.state_dict()
    rest = [b[0].tolist() for b in iterator]
    assert len(seen + rest) == 13  # drop_last is the batch sampler's: 40 // 3

    restarted = loader()
    # Lightning sets the checkpoint's epoch, then the loader skips the batches it had yielded
    restarted.batch_sampler.sampler.set_epoch(2)
    restarted.load_state_dict(state)
    assert batches(restarted) == rest


def test_batch_size_and_drop_last_belong_to_a_custom_batch_sampler():
    with pytest.raises(ValueError, match="pass them to the batch sampler"):
        resumable_dataloader(
            dataset(), batch_size=4, batch_sampler=lambda s: BatchSampler(s, 4, False)
        )


def test_bucket_batch_sampler_groups_by_size_and_finds_sizes_on_the_dataset():
    from torch.utils.data import SequentialSampler

    from ganglion.data import BucketBatchSampler

    class Sized:
        def __init__(self, sizes):
            self.sizes = sizes

        def __len__(self):
            return len(self.sizes)

    sizes = [5, 1, 4, 2, 3, 6]
    sampler = BucketBatchSampler(SequentialSampler(Sized(sizes)), batch_size=2, pool_batches=None)
    assert not sampler.shuffle and len(sampler) == 3
    assert [[sizes[i] for i in b] for b in sampler] == [[1, 2], [3, 4], [5, 6]]

    class ByTokens(BucketBatchSampler):
        size_attribute = "tokens"

    with pytest.raises(ValueError, match="ByTokens needs tokens: pass tokens=... or use a"):
        ByTokens(SequentialSampler(Sized(sizes)), batch_size=2)
