"""The shipped configs compose and train through ``ganglion train``'s own path (compose,
validate, train): the WordNet recipe (masked-LM pretraining, then a classifier starting from
its archive) and the generic config on other data with only the file paths changed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from nlp_model_fixtures import GROUPS, toy_corpus, toy_rows, write_jsonl

from ganglion.errors import ConfigError
from ganglion.training import compose_config, train
from ganglion_nlp.cli import main
from ganglion_nlp.models import MaskedLMModel, TextClassificationModel

#: shrink the WordNet configs' model and run: the same sizes for both, so init_from fits
TINY = [
    "model.max_length=24",
    "model.tokenizer.type=char",
    "model.tokenizer.vocab_size=60",
    "model.embedding.d_model=32",
    "model.encoder.num_layers=1",
    "model.encoder.ff_dim=64",
    "model.train_ds.batch_size=16",
    "trainer.max_epochs=1",
    "trainer.max_steps=4",
    "model.optim.sched.warmup_steps=1",  # the configs warm up for 300 and 200 steps
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # the configs' relative paths: data, ganglion_experiments


def test_the_wordnet_recipe_pretrains_then_fine_tunes(tmp_path, capsys):
    corpus = toy_corpus(tmp_path / "data" / "nlp_wordnet")
    torch.manual_seed(0)
    pretraining = train(compose_config("masked_lm_wordnet", TINY))
    assert isinstance(pretraining.model, MaskedLMModel)
    pretrained = Path("ganglion_experiments/MaskedLMWordNet/pretrained/MaskedLMWordNet.ganglion")
    assert pretraining.archive.resolve() == pretrained.resolve()

    result = train(compose_config("text_classification_wordnet", TINY))
    model = result.model
    assert isinstance(model, TextClassificationModel)
    assert model.cfg.init_from == str(pretrained) and model.labels == sorted(GROUPS)
    assert model.tokenizer.type_name == "char"  # the pretrained archive's tokenizer
    assert {"test_acc", "test_f1", "test_loss"} <= set(result.test_results[0])
    capsys.readouterr()
    assert main(["evaluate", str(result.archive), "--data", str(corpus["test"])]) == 0
    assert "macro-F1:" in capsys.readouterr().out


def test_the_generic_config_takes_other_data_by_its_paths_only(tmp_path):
    groups = {"sport": ["ball", "goal", "race"], "food": ["bread", "soup", "rice", "cake"]}
    train_file = write_jsonl(tmp_path / "mine" / "train.jsonl", toy_rows(40, groups=groups))
    dev_file = write_jsonl(tmp_path / "mine" / "dev.jsonl", toy_rows(10, seed=3, groups=groups))
    cfg = compose_config(
        "text_classification",
        [
            f"model.train_ds.file_path={train_file}",
            f"model.validation_ds.file_path={dev_file}",
            "trainer.max_steps=2",
            "trainer.enable_progress_bar=false",
            "trainer.enable_model_summary=false",
        ],
    )
    result = train(cfg)
    model = result.model
    assert model.labels == ["food", "sport"] and model.cfg.head.num_classes == 2
    assert model.tokenizer.type_name == "sentencepiece-bpe"
    assert model.cfg.embedding.vocab_size == model.tokenizer.vocab_size
    assert result.archive is not None and result.archive.is_file()


def test_the_configs_ask_for_their_data(tmp_path):
    with pytest.raises(ConfigError, match="model.train_ds.file_path is not set"):
        train(compose_config("text_classification", ["trainer.max_steps=1"]))
    # the generic config requires validation data (???): forgetting it is an error, not a
    # run without validation; null goes without
    train_file = write_jsonl(tmp_path / "train.jsonl", toy_rows(20))
    with pytest.raises(ConfigError, match=r"model.validation_ds.file_path is required \(the"):
        train(
            compose_config(
                "text_classification",
                [f"model.train_ds.file_path={train_file}", "trainer.max_steps=1"],
            )
        )
