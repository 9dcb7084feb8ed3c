"""MaskedLMModel: pretrains under Lightning with tied weights that survive an archive round
trip, and a classifier starts from its archive (model.init_from): embedding, encoder and
tokenizer; anything else is refused by name."""

from __future__ import annotations

import shutil

import pytest
import torch
from ganglion_train_fixtures import quiet_trainer
from nlp_model_fixtures import tiny_config, tiny_mlm_config, toy_corpus, toy_tokenizer

from ganglion import ModelPT
from ganglion.errors import ConfigError
from ganglion_nlp.data.masking import IGNORE_INDEX
from ganglion_nlp.errors import PretrainedEncoderError
from ganglion_nlp.models import MaskedLMModel, TextClassificationModel


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def corpus(tmp_path):
    return toy_corpus(tmp_path / "corpus")


@pytest.fixture
def tokenizer_dir(tmp_path, corpus):
    return toy_tokenizer(tmp_path / "tok", corpus["text"], kind="char")


def _trainer(steps: int):
    return quiet_trainer(
        max_steps=steps,
        num_sanity_val_steps=0,
        val_check_interval=steps,
        check_val_every_n_epoch=None,
    )


@pytest.fixture
def pretrained(corpus, tokenizer_dir, tmp_path):
    """A MaskedLMModel trained a few steps and its archive; the tokenizer directory it was
    trained with is deleted (the archive carries it)."""
    torch.manual_seed(0)
    trainer = _trainer(8)
    model = MaskedLMModel(tiny_mlm_config(corpus, tokenizer_dir), trainer=trainer)
    trainer.fit(model)
    archive = model.save_to(tmp_path / "mlm.ganglion")
    shutil.rmtree(tokenizer_dir)
    return model, archive, trainer.callback_metrics


def test_pretraining_logs_and_ties_and_round_trips(pretrained):
    model, archive, metrics = pretrained
    assert {"train_loss", "val_loss", "val_acc", "val_ppl"} <= set(metrics)
    assert metrics["val_ppl"] == pytest.approx(float(metrics["val_loss"].exp()), rel=1e-5)
    assert model.head.decoder.weight is model.embedding.token_embedding.weight
    assert model.cfg.head.vocab_size == model.tokenizer.vocab_size
    restored = ModelPT.restore_from(archive)
    assert type(restored) is MaskedLMModel
    assert restored.head.decoder.weight is restored.embedding.token_embedding.weight
    ids = torch.tensor([[2, 7, 8, 9, 3]])
    model.eval()
    restored.eval()
    logits = restored(input_ids=ids)
    assert logits.shape == (1, 5, model.tokenizer.vocab_size)
    torch.testing.assert_close(logits, model(input_ids=ids))


def test_training_steps_reduce_the_masked_lm_loss(corpus, tokenizer_dir):
    torch.manual_seed(0)
    model = MaskedLMModel(tiny_mlm_config(corpus, tokenizer_dir))
    model.setup_training_data(model.cfg.train_ds)
    batch = next(iter(model.train_dataloader()))
    inputs, mask, targets = batch
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        logits, wanted = model.masked_logits(inputs, mask, targets)
        loss = torch.nn.functional.cross_entropy(logits, wanted)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert logits.shape == (int((targets != IGNORE_INDEX).sum()), model.tokenizer.vocab_size)
    assert losses[-1] < 0.3 * losses[0]


def test_a_classifier_starts_from_the_pretrained_archive(pretrained, corpus, tmp_path):
    model, archive, _ = pretrained
    cfg = tiny_config(corpus, None, init_from=str(archive))
    cfg["tokenizer"] = {"type": "word"}  # used without init_from only: the archive's wins
    del cfg["encoder"]["num_layers"]  # taken from the archive
    cfg["encoder"]["dropout"] = 0.2  # a key given here overrides the archive's
    classifier = TextClassificationModel(cfg, trainer=_trainer(2))
    for name in ("embedding", "encoder"):
        ours, theirs = getattr(classifier, name).state_dict(), getattr(model, name).state_dict()
        assert ours.keys() == theirs.keys()
        assert all(torch.equal(ours[k], theirs[k]) for k in ours), name
    assert classifier.tokenizer.type_name == "char"
    assert classifier.tokenizer.text_to_ids("a cat") == model.tokenizer.text_to_ids("a cat")
    assert classifier.cfg.encoder.num_layers == 1 and classifier.cfg.encoder.dropout == 0.2
    # the classifier's archive is complete: the pretrained archive is not needed to restore it
    saved = classifier.save_to(tmp_path / "clf.ganglion")
    archive.unlink()
    restored = ModelPT.restore_from(saved)
    texts = ["a cat here", "the saw there"]
    torch.testing.assert_close(
        restored.predict_probabilities(texts), classifier.predict_probabilities(texts)
    )


def test_init_from_refuses_what_cannot_start_the_classifier(pretrained, corpus, tmp_path):
    _, archive, _ = pretrained
    wider = tiny_config(corpus, None, init_from=str(archive))
    wider["encoder"]["ff_dim"] = 48
    with pytest.raises(
        PretrainedEncoderError,
        match=r"layers.0.ff_in.weight: \[64, 32\] in the archive, \[48, 32\] here",
    ):
        TextClassificationModel(wider)
    deeper = tiny_config(corpus, None, init_from=str(archive))
    deeper["encoder"]["num_layers"] = 2
    with pytest.raises(PretrainedEncoderError, match="only on one side: layers.1"):
        TextClassificationModel(deeper)
    with pytest.raises(PretrainedEncoderError, match=r"does not exist; .*init_from=null"):
        TextClassificationModel(
            tiny_config(corpus, None, init_from=str(tmp_path / "none.ganglion"))
        )
    long = tiny_config(corpus, None, init_from=str(archive), max_length=40)
    with pytest.raises(
        ConfigError, match="model.max_length 40 is more than the pretrained embedding's 24"
    ):
        TextClassificationModel(long)
    other_tokenizer = tiny_config(corpus, tmp_path / "elsewhere", init_from=str(archive))
    with pytest.raises(ConfigError, match="brings its own tokenizer"):
        TextClassificationModel(other_tokenizer)


def test_init_from_refuses_a_classifier_archive(pretrained, corpus, tmp_path):
    _, archive, _ = pretrained
    classifier = TextClassificationModel(tiny_config(corpus, None, init_from=str(archive)))
    saved = classifier.save_to(tmp_path / "clf.ganglion")
    with pytest.raises(
        PretrainedEncoderError, match="holds a TextClassificationModel, not a MaskedLMModel"
    ):
        TextClassificationModel(tiny_config(corpus, None, init_from=str(saved)))


def test_masking_config_is_checked(corpus, tokenizer_dir):
    cfg = tiny_mlm_config(corpus, tokenizer_dir, masking={"mask_probability": 0.2})
    with pytest.raises(ConfigError, match=r"model.masking: unknown key\(s\) mask_probability"):
        MaskedLMModel(cfg)
    cfg = tiny_mlm_config(corpus, tokenizer_dir, masking={"random_prob": 0.5})
    with pytest.raises(ConfigError, match="replace_prob \\+ random_prob must be at most 1"):
        MaskedLMModel(cfg, trainer=_trainer(1))
