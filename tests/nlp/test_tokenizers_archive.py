"""A model's tokenizer travels in its ``.ganglion`` archive (the ``tokenizer`` artifact handler):
restored elsewhere, with the training directory gone, it gives the same ids."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest
import torch
from tokenizer_fixtures import write_corpus

import ganglion
from ganglion import ModelPT
from ganglion.errors import GanglionError
from ganglion_nlp.tokenizers import (
    META_FILE,
    TOKENIZER_TYPES,
    TokenizerLoadError,
    load_tokenizer,
    train_tokenizer,
)
from ganglion_nlp.tokenizers.artifact import TokenizerArtifactHandler

TEXTS = ["The lazy dog sleeps.", "a quick <mask> fox", "never ☃ twice"]


class TokenizedModel(ModelPT):
    """A linear layer and a tokenizer registered as an artifact, as the NLP models do."""

    def __init__(self, cfg, trainer=None):
        super().__init__(cfg, trainer)
        self.proj = torch.nn.Linear(3, 2)
        path = self.register_artifact("tokenizer.dir", self.cfg.tokenizer.dir, handler="tokenizer")
        self.tokenizer = load_tokenizer(path)


@pytest.fixture(autouse=True)
def _setup(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))
    ganglion.register_model("TokenizedModel", TokenizedModel)


@pytest.mark.parametrize("name", TOKENIZER_TYPES)
def test_a_restored_model_tokenizes_as_the_saved_one_with_the_training_dir_gone(tmp_path, name):
    training = tmp_path / "training-machine"
    corpus = write_corpus(training / "corpus.txt", n=150)
    tok = train_tokenizer(name, [corpus], training / "tok", vocab_size=100)
    expected = tok.batch_text_to_ids(TEXTS)
    model = TokenizedModel({"tokenizer": {"dir": str(tok.directory)}})
    archive = model.save_to(training / "model.ganglion")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    moved = Path(shutil.move(archive, elsewhere / "model.ganglion"))
    shutil.rmtree(training)

    with tarfile.open(moved) as tar:  # the archive names no path of the training machine
        for member in tar.getmembers():
            if member.isfile():
                data = tar.extractfile(member).read()
                assert str(training).encode() not in data, member.name
        names = [m.name for m in tar.getmembers()]
    assert any(n.endswith(f"_tok/{META_FILE}") for n in names)

    restored = TokenizedModel.restore_from(moved)
    assert restored.tokenizer.type_name == name
    assert restored.tokenizer.batch_text_to_ids(TEXTS) == expected
    assert str(training) not in restored.cfg.tokenizer.dir
    assert Path(restored.cfg.tokenizer.dir).is_relative_to(tmp_path / "cache")

    # the restored model saves again, and that archive restores too
    again = restored.save_to(elsewhere / "again.ganglion")
    assert TokenizedModel.restore_from(again).tokenizer.batch_text_to_ids(TEXTS) == expected


def test_the_handler_packs_every_file_of_the_directory(tmp_path):
    tok = train_tokenizer(
        "sentencepiece-unigram", [write_corpus(tmp_path / "c.txt")], tmp_path / "tok", 100
    )
    files = TokenizerArtifactHandler().files(tok.directory)
    assert sorted(rel for rel, _ in files) == sorted(p.name for p in tok.directory.iterdir())
    assert sorted(rel for rel, _ in files) == [META_FILE, "spm.model", "spm.vocab"]


def test_registering_something_that_is_not_a_tokenizer_is_refused(tmp_path):
    tok = train_tokenizer("char", [write_corpus(tmp_path / "c.txt")], tmp_path / "tok", 100)
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "vocab.txt").write_text("a\n")
    with pytest.raises(TokenizerLoadError, match=f"{plain} is not a tokenizer directory"):
        TokenizedModel({"tokenizer": {"dir": str(plain)}})
    with pytest.raises(TokenizerLoadError, match=rf"is a file.*\(give {tok.directory} instead\)"):
        TokenizedModel({"tokenizer": {"dir": str(tok.directory / "vocab.json")}})
    (tok.directory / "vocab.json").write_text("[")
    with pytest.raises(GanglionError, match="vocab.json is not a readable"):
        TokenizedModel({"tokenizer": {"dir": str(tok.directory)}})
