"""EncDecCTCModel: trains a few steps under Lightning, evaluates WER, round-trips an archive,
transcribes files (batching-independent), and the transcribe command reproduces the test WER."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from asr_fixtures import write_manifest_lines, write_tone

from ganglion import ModelPT
from ganglion.errors import ConfigError
from ganglion_asr.cli import main
from ganglion_asr.data.vocab import ENGLISH_LABELS
from ganglion_asr.models import EncDecCTCModel

TEXTS = ["one two", "three", "four five six"]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    rows = []
    for i in range(12):
        write_tone(tmp_path / "wavs" / f"u{i}.wav", 0.4 + 0.1 * i, freq=200 + 50 * i)
        rows.append(
            {"audio_filepath": f"wavs/u{i}.wav", "duration": 0.4 + 0.1 * i, "text": TEXTS[i % 3]}
        )
    return write_manifest_lines(tmp_path / "manifest.json", rows)


def _config(manifest: Path) -> dict:
    return {
        "sample_rate": 16000,
        "labels": list(ENGLISH_LABELS),
        "train_ds": {"manifest_filepath": str(manifest), "batch_size": 4, "shuffle": True},
        "validation_ds": {"manifest_filepath": str(manifest), "batch_size": 6},
        "test_ds": {"manifest_filepath": str(manifest), "batch_size": 5},
        "preprocessor": {"_target_": "AudioToMelSpectrogramPreprocessor", "features": 32},
        "spec_augment": {"_target_": "SpectrogramAugmentation", "freq_masks": 1, "freq_width": 4},
        "encoder": {
            "_target_": "ConvASREncoder",
            "feat_in": 32,
            "jasper": [
                {"filters": 32, "kernel": [11], "stride": [2], "separable": True},
                {"filters": 32, "repeat": 2, "kernel": [21], "residual": True, "separable": True},
                {"filters": 48, "kernel": [1]},
            ],
        },
        "decoder": {"_target_": "ConvASRDecoder", "feat_in": 48, "num_classes": 28},
        "optim": {"name": "adam", "lr": 3e-3},
    }


def _trainer(steps: int) -> pl.Trainer:
    return pl.Trainer(
        max_steps=steps,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        val_check_interval=steps,
        check_val_every_n_epoch=None,
    )


def test_fit_validate_test_save_restore_and_transcribe(corpus, tmp_path, capsys):
    torch.manual_seed(0)
    trainer = _trainer(6)
    model = EncDecCTCModel(_config(corpus), trainer=trainer)
    trainer.fit(model)
    metrics = trainer.callback_metrics
    assert {"train_loss", "val_loss", "val_wer", "val_cer"} <= set(metrics)
    assert torch.isfinite(metrics["train_loss"])
    test = trainer.test(model, verbose=False)[0]
    assert set(test) == {"test_loss", "test_wer", "test_cer"}

    paths = [str(corpus.parent / "wavs" / f"u{i}.wav") for i in range(12)]
    texts = model.transcribe(paths, batch_size=5)
    assert len(texts) == 12 and all(isinstance(t, str) for t in texts)
    assert model.transcribe(paths, batch_size=1) == texts  # batching changes nothing

    archive = model.save_to(tmp_path / "tiny.ganglion")
    restored = ModelPT.restore_from(archive)
    assert type(restored) is EncDecCTCModel
    assert restored.transcribe(paths, batch_size=3) == texts
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, restored.state_dict()[name]), name

    # the command on the archive reproduces the test-set WER of the trainer
    assert (
        main(
            [
                "transcribe",
                str(archive),
                "--manifest",
                str(corpus),
                "--show",
                "2",
                "--output",
                str(tmp_path / "out.jsonl"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"WER {float(test['test_wer']):.2%}" in out
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 12


def test_training_steps_reduce_the_loss(corpus):
    torch.manual_seed(0)
    model = EncDecCTCModel(_config(corpus), trainer=None)
    model.setup_training_data(model.cfg.train_ds)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = next(iter(model.train_dataloader()))
    model.train()
    losses = []
    for _ in range(15):
        log_probs, enc_len, greedy = model(input_signal=batch[0], input_signal_length=batch[1])
        loss = model.loss(log_probs, batch[2], enc_len, batch[3])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert log_probs.shape[:2] == greedy.shape and log_probs.shape[-1] == 29
    assert losses[-1] < 0.5 * losses[0]


def test_model_config_errors_name_the_missing_sections(corpus):
    cfg = _config(corpus)
    del cfg["encoder"]
    with pytest.raises(ConfigError, match="model.encoder"):
        EncDecCTCModel(cfg)
    cfg = _config(corpus)
    cfg["decoder"]["num_classes"] = 10
    with pytest.raises(ConfigError, match="set model.decoder.num_classes to 28"):
        EncDecCTCModel(cfg)


def test_forward_needs_audio_or_features(corpus):
    model = EncDecCTCModel(_config(corpus))
    with pytest.raises(ValueError, match="either input_signal"):
        model()
    feats, n = model.preprocessor(torch.randn(2, 8000), torch.tensor([8000, 6000]))
    log_probs, lengths, _ = model(processed_signal=feats, processed_signal_length=n)
    assert log_probs.shape[0] == 2 and lengths.tolist() == [26, 19]


def test_model_is_registered_for_configs_and_archives():
    from ganglion.plugins import registry

    assert registry("models").get("EncDecCTCModel").load() is EncDecCTCModel
    assert registry("losses").get("CTCLoss").load().__name__ == "CTCLoss"
    assert "ConvASREncoder" in registry("modules")
