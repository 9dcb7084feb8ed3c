"""TextClassificationModel: trains under Lightning, learns a toy task, round-trips an archive
(tokenizer included, with the original tokenizer gone), classifies and evaluates; config and
data errors are named."""

from __future__ import annotations

import shutil

import pytest
import torch
from ganglion_train_fixtures import quiet_trainer
from nlp_model_fixtures import tiny_config, toy_corpus, toy_rows, toy_tokenizer, write_tsv
from torch.nn import functional as F

from ganglion import ModelPT
from ganglion.errors import ConfigError
from ganglion_nlp.errors import NLPDataError, UnknownLabelError
from ganglion_nlp.metrics import classification_metrics, evaluation_report
from ganglion_nlp.models import Classification, TextClassificationModel

TEXTS = ["a cat here", "my drill now", "blue", "one purple again", "the spade there", "horse"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def corpus(tmp_path):
    return toy_corpus(tmp_path / "corpus")


@pytest.fixture
def tokenizer_dir(tmp_path, corpus):
    return toy_tokenizer(tmp_path / "tok", corpus["text"])


def _trainer(steps: int):
    return quiet_trainer(
        max_steps=steps,
        num_sanity_val_steps=0,
        val_check_interval=steps,
        check_val_every_n_epoch=None,
    )


def test_fit_validate_test_save_restore_classify(corpus, tokenizer_dir, tmp_path):
    torch.manual_seed(0)
    trainer = _trainer(30)
    model = TextClassificationModel(tiny_config(corpus, tokenizer_dir), trainer=trainer)
    assert model.labels == ["animal", "color", "tool"] == list(model.cfg.labels)
    assert model.cfg.embedding.vocab_size == model.tokenizer.vocab_size
    assert model.cfg.embedding.max_positions == 24 and model.cfg.head.num_classes == 3
    trainer.fit(model)
    metrics = trainer.callback_metrics
    assert {"train_loss", "val_loss", "val_acc", "val_f1"} <= set(metrics)
    assert metrics["val_acc"] > 0.9  # the toy task is learnt
    test = trainer.test(model, verbose=False)[0]
    assert set(test) == {"test_loss", "test_acc", "test_f1"}

    results = model.classify(TEXTS, batch_size=4)
    assert [r.label for r in results] == ["animal", "tool", "color", "color", "tool", "animal"]
    assert all(isinstance(r, Classification) for r in results)
    assert sum(results[0].probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert results[0].probability == max(results[0].probabilities.values())
    probabilities = model.predict_probabilities(TEXTS, batch_size=4)
    torch.testing.assert_close(model.predict_probabilities(TEXTS, batch_size=1), probabilities)

    # evaluate() on the test file agrees with the trainer's torchmetrics test metrics
    report = model.evaluate(corpus["test"], batch_size=5)
    assert report.total == 30
    assert report.accuracy == pytest.approx(float(test["test_acc"]), abs=1e-6)
    assert report.macro_f1 == pytest.approx(float(test["test_f1"]), abs=1e-6)

    archive = model.save_to(tmp_path / "toy.ganglion")
    shutil.rmtree(tokenizer_dir)  # the archive carries the tokenizer
    restored = ModelPT.restore_from(archive)
    assert type(restored) is TextClassificationModel and restored.labels == model.labels
    assert restored.tokenizer.directory.is_relative_to(tmp_path / "cache")
    torch.testing.assert_close(restored.predict_probabilities(TEXTS, batch_size=3), probabilities)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, restored.state_dict()[name]), name


def test_training_steps_reduce_the_loss(corpus, tokenizer_dir):
    torch.manual_seed(0)
    model = TextClassificationModel(tiny_config(corpus, tokenizer_dir))
    model.setup_training_data(model.cfg.train_ds)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = next(iter(model.train_dataloader()))
    model.train()
    losses = []
    for _ in range(30):
        logits = model(input_ids=batch[0], attention_mask=batch[1])
        loss = F.cross_entropy(logits, batch[2])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert logits.shape == (len(batch[2]), 3) and str(logits.neural_type) == "B,D:LogitsType"
    assert losses[-1] < 0.2 * losses[0]


def test_a_tokenizer_is_trained_on_the_training_texts_when_none_is_given(corpus, tmp_path):
    cfg = tiny_config(corpus, None)
    cfg["tokenizer"] = {"type": "char", "vocab_size": 60}
    model = TextClassificationModel(cfg)
    directory = model.tokenizer.directory
    assert directory.is_relative_to(tmp_path / "cache") and model.cfg.tokenizer.dir == str(
        directory
    )
    assert model.tokenizer.text_to_ids("cat") == [
        model.tokenizer.tokens_to_ids([c])[0] for c in "cat"
    ]
    again = TextClassificationModel(cfg)  # the same texts and settings: trained once
    assert again.tokenizer.directory == directory
    cfg["tokenizer"] = {}
    with pytest.raises(ConfigError, match="model.tokenizer: give dir .* or type"):
        TextClassificationModel(cfg)


def test_json_lines_data(corpus, tokenizer_dir, tmp_path):
    from nlp_model_fixtures import write_jsonl

    cfg = tiny_config(corpus, tokenizer_dir)
    cfg["train_ds"]["file_path"] = str(write_jsonl(tmp_path / "train.jsonl", toy_rows(30)))
    model = TextClassificationModel(cfg, trainer=_trainer(2))
    assert (
        model.labels == ["animal", "color", "tool"] and len(model.train_dataloader().dataset) == 30
    )


def test_config_and_data_errors(corpus, tokenizer_dir, tmp_path):
    cfg = tiny_config(corpus, tokenizer_dir)
    del cfg["train_ds"]
    with pytest.raises(
        ConfigError, match="model.train_ds.file_path is not set: the text classifier"
    ):
        TextClassificationModel(cfg)
    cfg = tiny_config(corpus, tokenizer_dir)
    cfg["head"]["num_classes"] = 4
    with pytest.raises(ConfigError, match="model.head.num_classes is 4, but model.labels gives 3"):
        TextClassificationModel(cfg)
    cfg = tiny_config(corpus, tokenizer_dir)
    cfg["embedding"]["max_positions"] = 16
    with pytest.raises(
        ConfigError, match="model.max_length 24 is more than model.embedding.max_positions 16"
    ):
        TextClassificationModel(cfg)
    cfg = tiny_config(corpus, tokenizer_dir, max_length=2)
    with pytest.raises(
        ConfigError, match="model.max_length: expected a whole number of at least 3"
    ):
        TextClassificationModel(cfg)
    one_label = write_tsv(tmp_path / "one.tsv", [("a cat", "animal"), ("a dog", "animal")])
    cfg = tiny_config(corpus, tokenizer_dir)
    cfg["train_ds"]["file_path"] = str(one_label)
    with pytest.raises(
        NLPDataError, match="every row has the label 'animal'; a classifier needs at least two"
    ):
        TextClassificationModel(cfg)


def test_unknown_validation_labels_fail_before_training(corpus, tokenizer_dir, tmp_path):
    cfg = tiny_config(corpus, tokenizer_dir)
    odd = write_tsv(
        tmp_path / "odd.tsv", [("a cat", "animal"), ("a rose", "plant"), ("a tulip", "plant")]
    )
    cfg["validation_ds"]["file_path"] = str(odd)
    with pytest.raises(UnknownLabelError, match=r"'plant' \(2 rows, first at line 2\)"):
        TextClassificationModel(cfg, trainer=_trainer(2))
    cfg["validation_ds"]["unknown_labels"] = "skip"
    model = TextClassificationModel(cfg, trainer=_trainer(2))
    assert len(model.val_dataloader().dataset) == 1


def test_evaluation_report_matches_torchmetrics():
    gen = torch.Generator().manual_seed(0)
    targets = torch.randint(0, 6, (300,), generator=gen)
    predictions = torch.where(
        torch.rand(300, generator=gen) < 0.6, targets, torch.randint(0, 5, (300,), generator=gen)
    )
    report = evaluation_report(predictions, targets, [f"c{i}" for i in range(7)])  # c6: never seen
    metrics = classification_metrics(7)
    metrics.update(predictions, targets)
    values = metrics.compute()
    assert report.accuracy == pytest.approx(float(values["acc"]))
    assert report.macro_f1 == pytest.approx(float(values["f1"]), abs=1e-6)
    true, predicted, count = report.most_confused(1)[0]
    assert count == int(((targets == int(true[1])) & (predictions == int(predicted[1]))).sum())
    recall = report.recall()
    assert "c6" not in recall and recall["c0"] == pytest.approx(
        float(((predictions == 0) & (targets == 0)).sum() / (targets == 0).sum())
    )
    summary = report.summary(worst=2, confused=2)
    assert (
        "accuracy: " in summary
        and "most confused" in summary
        and "lowest recall (2 of 6" in summary
    )


def test_models_and_configs_are_registered_by_the_plugin(ganglion_plugins):
    from ganglion_nlp.models import MaskedLMModel

    models = ganglion_plugins.registry("models")
    assert models.get("TextClassificationModel").load() is TextClassificationModel
    assert models.get("MaskedLMModel").load() is MaskedLMModel
    assert models.get("MaskedLMModel").provider.distribution == "ganglion-nlp"
    assert ganglion_plugins.registry("configs").get("nlp").load() == "pkg://ganglion_nlp.conf"


def test_class_balancing_weighs_the_loss_by_label_frequency(corpus, tokenizer_dir, tmp_path):
    from ganglion_nlp.data.labels import class_weights
    from ganglion_nlp.data.readers import LabelledText

    rows = [
        LabelledText(t, label, "x.tsv", i)
        for i, (t, label) in enumerate([("a", "common")] * 6 + [("b", "rare")] * 2)
    ]
    inverse = class_weights(rows, ["common", "rare"], power=1.0)
    # inverse frequency: each label weighs the same in total, the mean weight per row is 1
    assert inverse[0] * 6 == pytest.approx(inverse[1] * 2)
    assert (6 * inverse[0] + 2 * inverse[1]) / 8 == pytest.approx(1.0)
    assert class_weights(rows, ["common", "rare"], power=0.0) == [1.0, 1.0]
    root = class_weights(rows, ["common", "rare"], power=0.5)
    assert root[1] / root[0] == pytest.approx(3**0.5)

    cfg = tiny_config(corpus, tokenizer_dir)
    cfg["class_balancing"] = "weighted_loss"
    cfg["class_weight_power"] = 0.5
    rows = toy_rows(30)
    kept = [r for r in rows if r[1] != "tool"] + [r for r in rows if r[1] == "tool"][:2]
    cfg["train_ds"]["file_path"] = str(write_tsv(tmp_path / "skewed.tsv", kept))
    model = TextClassificationModel(cfg)
    weights = list(model.cfg.class_weights)
    assert len(weights) == 3 and torch.equal(model.class_weight, torch.tensor(weights))
    counts = [sum(1 for _, label in kept if label == x) for x in model.labels]
    assert counts == [10, 10, 2]
    raw = [(22 / (3 * n)) ** 0.5 for n in counts]
    mean = sum(w * n for w, n in zip(raw, counts)) / 22
    assert weights == pytest.approx([w / mean for w in raw])
    assert max(weights) == weights[counts.index(min(counts))]  # the rarest weighs most
    path = tmp_path / "balanced.ganglion"
    model.save_to(path)
    restored = TextClassificationModel.restore_from(path, map_location="cpu")
    assert list(restored.cfg.class_weights) == weights  # from the config: no data needed
    assert torch.equal(restored.class_weight, model.class_weight)

    cfg["class_balancing"] = "balanced"
    with pytest.raises(ConfigError, match="model.class_balancing is 'balanced'; use weighted_loss"):
        TextClassificationModel(cfg)
    cfg["class_balancing"] = "weighted_loss"
    cfg["class_weight_power"] = -1
    with pytest.raises(ConfigError, match="model.class_weight_power is -1; give a number >= 0"):
        TextClassificationModel(cfg)
    cfg["class_weight_power"] = 1.0
    cfg["class_weights"] = [1.0, 2.0]
    with pytest.raises(ConfigError, match="model.class_weights has 2 entries; give one number"):
        TextClassificationModel(cfg)


def test_prior_correction_takes_the_class_weights_back_out_of_predictions(
    corpus, tokenizer_dir, tmp_path
):
    cfg = tiny_config(corpus, tokenizer_dir)
    cfg["class_balancing"] = "weighted_loss"
    cfg["class_weights"] = [1.0, 4.0, 0.5]
    cfg["prior_correction"] = True
    model = TextClassificationModel(cfg)
    assert torch.allclose(model.prior_shift, -torch.tensor([1.0, 4.0, 0.5]).log())
    texts = ["a small dog", "a sharp knife for bread"]
    corrected = model.predict_probabilities(texts)
    shift, model.prior_shift = model.prior_shift, None
    raw = model.predict_probabilities(texts)
    model.prior_shift = shift
    # raw is p(c|x) * w_c renormalised: dividing the weights back out gives the correction
    expected = raw / torch.tensor([1.0, 4.0, 0.5])
    expected = expected / expected.sum(-1, keepdim=True)
    assert not torch.allclose(corrected, raw, atol=1e-3)
    assert torch.allclose(corrected, expected, atol=1e-5)
    path = tmp_path / "corrected.ganglion"
    model.save_to(path)
    restored = TextClassificationModel.restore_from(path, map_location="cpu")
    assert torch.allclose(restored.predict_probabilities(texts), expected, atol=1e-5)

    cfg["prior_correction"] = False
    plain = TextClassificationModel(cfg)
    assert plain.prior_shift is None
    cfg["prior_correction"] = "yes"
    with pytest.raises(ConfigError, match="model.prior_correction is 'yes'; give true"):
        TextClassificationModel(cfg)
    cfg["prior_correction"] = True
    cfg["class_balancing"] = None
    with pytest.raises(ConfigError, match="model.class_balancing is null: there are no class"):
        TextClassificationModel(cfg)
