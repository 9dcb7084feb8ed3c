"""Tokenized datasets, padding collate, BERT masking, length bucketing and the loaders built
from dataset config sections."""

from __future__ import annotations

import logging
import pickle

import pytest
import torch
from nlp_model_fixtures import toy_corpus, toy_rows, toy_tokenizer, write_tsv

from ganglion.errors import ConfigError
from ganglion_nlp.data.collate import collate_classification, pad_batch
from ganglion_nlp.data.datasets import MaskedLMDataset, TextClassificationDataset, TokenSequences
from ganglion_nlp.data.loaders import classification_dataloader, masked_lm_dataloader
from ganglion_nlp.data.masking import IGNORE_INDEX, MaskingCollator, mask_tokens
from ganglion_nlp.data.sampler import LengthBucketBatchSampler
from ganglion_nlp.errors import TextFileError, UnknownLabelError
from ganglion_nlp.tokenizers import load_tokenizer


@pytest.fixture
def corpus(tmp_path):
    return toy_corpus(tmp_path / "corpus")


@pytest.fixture
def tok(tmp_path, corpus):
    return load_tokenizer(toy_tokenizer(tmp_path, corpus["text"], kind="char"))


def test_sequences_are_framed_and_truncated_with_one_warning(tok, caplog):
    texts = ["a cat", "x" * 40, "y" * 30, ""]
    with caplog.at_level(logging.WARNING):
        seqs = TokenSequences(texts, tok, max_length=12, name="demo.tsv")
    first = seqs[0].tolist()
    assert first[0] == tok.cls_id and first[-1] == tok.sep_id
    assert first[1:-1] == tok.text_to_ids("a cat")
    assert seqs.lengths == [7, 12, 12, 2] and seqs[1].dtype == torch.long
    assert seqs.truncated == 2 and seqs.longest == 42
    assert seqs[1].tolist()[-1] == tok.sep_id  # <sep> is kept when the tokens are cut
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert "demo.tsv: 2 of 4 texts are longer than max_length 12" in messages[0]
    assert "(the longest has 42)" in messages[0]


def test_collate_pads_to_the_batch_max_with_a_mask():
    ids, mask = pad_batch([torch.tensor([2, 7, 3]), torch.tensor([2, 3])], pad_id=0)
    assert ids.tolist() == [[2, 7, 3], [2, 3, 0]]
    assert mask.tolist() == [[True, True, True], [True, True, False]]
    ids, mask, labels = collate_classification(
        [(torch.tensor([2, 3]), 4), (torch.tensor([2, 9, 9, 3]), 1)]
    )
    assert ids.shape == (2, 4) and labels.tolist() == [4, 1] and mask.sum().item() == 6


def test_classification_dataset_items(tok):
    ds = TextClassificationDataset(["a cat", "a red saw"], [1, 0], tok, max_length=24)
    ids, label = ds[1]
    assert label == 0 and len(ids) == len("a red saw") + 2
    assert ds.lengths == [7, 11]
    assert list(ds.output_types) == ["input_ids", "attention_mask", "labels"]
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        TextClassificationDataset(["a", "b"], [0], tok, max_length=24)


def _batch(rows: int = 64, length: int = 40, vocab: int = 60) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, vocab, (rows, length), generator=gen)
    ids[:, 0], ids[:, -1] = 2, 3
    mask = torch.ones(rows, length, dtype=torch.bool)
    mask[::2, 30:] = False  # padding in half the rows
    ids[~mask] = 0
    return ids, mask


def test_masking_follows_bert_proportions_and_spares_specials():
    ids, mask = _batch(rows=400)
    inputs, targets = mask_tokens(
        ids, mask, vocab_size=60, mask_id=4, generator=torch.Generator().manual_seed(1)
    )
    chosen = targets != IGNORE_INDEX
    candidates = mask & (ids >= 5)
    assert not (chosen & ~candidates).any()  # never padding, <cls>, <sep>
    assert torch.equal(targets[chosen], ids[chosen])
    rate = chosen.sum().item() / candidates.sum().item()
    assert 0.14 < rate < 0.16
    n = chosen.sum().item()
    masked = (inputs == 4) & chosen
    unchanged = (inputs == ids) & chosen
    randomised = chosen & ~masked & ~unchanged
    assert 0.77 < masked.sum().item() / n < 0.83
    # a random replacement can draw the same id: ~1/55 of the 10 % look unchanged
    assert 0.08 < unchanged.sum().item() / n < 0.13
    assert 0.07 < randomised.sum().item() / n < 0.12
    assert ((inputs[randomised] >= 5) & (inputs[randomised] < 60)).all()
    assert torch.equal(inputs[~chosen], ids[~chosen])


def test_masking_always_chooses_at_least_one_token():
    ids = torch.tensor([[2, 9, 3]])
    for seed in range(20):
        _, targets = mask_tokens(
            ids, torch.ones_like(ids, dtype=torch.bool), vocab_size=20, mask_id=4,
            mask_prob=0.01, generator=torch.Generator().manual_seed(seed),
        )  # fmt: skip
        assert targets.tolist() == [[IGNORE_INDEX, 9, IGNORE_INDEX]]


def test_training_masks_change_each_pass_and_are_seeded():
    seqs = [torch.tensor([2, *range(5, 25), 3])] * 8
    a = MaskingCollator(vocab_size=40, mask_id=4, seed=7)
    b = MaskingCollator(vocab_size=40, mask_id=4, seed=7)
    first, second = a(seqs), a(seqs)
    assert not torch.equal(first[2], second[2])  # a new draw for the next epoch's batch
    assert torch.equal(b(seqs)[2], first[2])  # the same seed, the same stream
    other = MaskingCollator(vocab_size=40, mask_id=4, seed=8)
    assert not torch.equal(other(seqs)[2], first[2])


def test_fixed_masks_depend_on_the_batch_only():
    seqs = [torch.tensor([2, *range(5, 25), 3])] * 8
    fixed = MaskingCollator(vocab_size=40, mask_id=4, seed=7, fixed=True)
    assert torch.equal(fixed(seqs)[0], fixed(seqs)[0])
    clone = pickle.loads(pickle.dumps(fixed))
    assert torch.equal(clone(seqs)[0], fixed(seqs)[0])


def test_masking_options_are_checked():
    with pytest.raises(ValueError, match="mask_prob must be above 0"):
        MaskingCollator(vocab_size=40, mask_id=4, mask_prob=0.0)
    with pytest.raises(ValueError, match="replace_prob \\+ random_prob must be at most 1"):
        MaskingCollator(vocab_size=40, mask_id=4, replace_prob=0.9, random_prob=0.2)


def test_length_bucketing_groups_similar_lengths_and_covers_every_index():
    lengths = [(i * 37) % 50 + 3 for i in range(200)]
    indices = list(torch.randperm(200, generator=torch.Generator().manual_seed(0)).tolist())
    sampler = LengthBucketBatchSampler(indices, 10, lengths=lengths, pool_batches=5, shuffle=True)
    epoch1 = list(sampler)
    epoch2 = list(sampler)
    assert len(epoch1) == len(sampler) == 20
    assert sorted(i for b in epoch1 for i in b) == list(range(200))
    spreads = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in epoch1]
    assert sum(spreads) / len(spreads) < 10  # random batches would spread ~40
    assert epoch1 != epoch2  # the batch order changes from epoch to epoch
    whole = LengthBucketBatchSampler(range(200), 10, lengths=lengths, pool_batches=None)
    flat = [lengths[i] for b in whole for i in b]
    assert flat == sorted(flat)


def test_classification_loader_from_a_config(corpus, tok):
    loader = classification_dataloader(
        {"file_path": str(corpus["train"]), "batch_size": 8},
        tokenizer=tok, labels=["animal", "color", "tool"], max_length=24, split="train",
        key="model.train_ds",
    )  # fmt: skip
    batches = list(loader)
    assert sum(len(b[2]) for b in batches) == 96 and len(batches) == 12
    ids, mask, labels = batches[0]
    assert ids.shape == mask.shape and (ids[~mask] == 0).all() and labels.max() <= 2


def test_loader_config_errors_name_the_key(corpus, tok, tmp_path):
    def build(section, labels=("animal", "color", "tool"), max_length=24):
        return classification_dataloader(
            section, tokenizer=tok, labels=list(labels), max_length=max_length,
            split="validation", key="model.validation_ds",
        )  # fmt: skip

    with pytest.raises(ConfigError, match=r"model.validation_ds: unknown key\(s\) batchsize"):
        build({"file_path": str(corpus["train"]), "batchsize": 8})
    with pytest.raises(ConfigError, match="model.validation_ds.file_path is not set"):
        build({"batch_size": 8})
    with pytest.raises(
        TextFileError, match=r"model.validation_ds.file_path: no such file: .*nope.tsv"
    ):
        build({"file_path": str(tmp_path / "nope.tsv")})
    with pytest.raises(ConfigError, match="max_length 40 is more than the model's max_length 24"):
        build({"file_path": str(corpus["train"]), "max_length": 40})
    with pytest.raises(ConfigError, match="unknown_labels: 'drop'; known: error, skip"):
        build({"file_path": str(corpus["train"]), "unknown_labels": "drop"})
    with pytest.raises(UnknownLabelError, match="'tool' .*model.validation_ds.unknown_labels"):
        build({"file_path": str(corpus["train"])}, labels=("animal", "color"))
    skipped = build(
        {"file_path": str(corpus["train"]), "unknown_labels": "skip"}, labels=("animal", "color")
    )
    assert len(skipped.dataset) == 64


def test_several_files_and_max_examples(corpus, tok, tmp_path):
    extra = write_tsv(tmp_path / "more.tsv", toy_rows(10, seed=5))
    loader = classification_dataloader(
        {"file_path": f"{corpus['train']},{extra}", "max_examples": 100, "bucketing": False},
        tokenizer=tok, labels=["animal", "color", "tool"], max_length=24, split="test",
        key="model.test_ds",
    )  # fmt: skip
    assert len(loader.dataset) == 100


def test_masked_lm_loader_masks_training_batches(corpus, tok):
    loader = masked_lm_dataloader(
        {"file_path": str(corpus["text"]), "batch_size": 16},
        tokenizer=tok, max_length=24, split="train", key="model.train_ds", seed=3,
    )  # fmt: skip
    assert isinstance(loader.dataset, MaskedLMDataset)
    inputs, mask, targets = next(iter(loader))
    assert inputs.shape == mask.shape == targets.shape
    assert (targets != IGNORE_INDEX).any() and (inputs == tok.mask_id).any()
    with pytest.raises(ConfigError, match="model.masking: mask_prob must be within 0..1"):
        masked_lm_dataloader(
            {"file_path": str(corpus["text"])}, tokenizer=tok, max_length=24, split="train",
            key="model.train_ds", masking={"mask_prob": 1.5},
        )  # fmt: skip
