"""EncDecCTCModel: trains a few steps under Lightning, evaluates WER, round-trips an archive,
transcribes files (batching-independent), and the transcribe command reproduces the test WER."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from asr_fixtures import TINY_ASR_MODULES, write_manifest_lines, write_tone

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
        **copy.deepcopy(TINY_ASR_MODULES),
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


def _record_batches(model: EncDecCTCModel, monkeypatch) -> list:
    """Events of transcribe: ("load", path, offset) per decoded item, ("run", lengths) per
    batch the model runs."""
    import ganglion_asr.models as models

    events: list = []
    load = models.load_entry_audio

    def recording_load(entry, rate):
        events.append(("load", Path(entry.audio_filepath).name, entry.offset))
        return load(entry, rate)

    monkeypatch.setattr(models, "load_entry_audio", recording_load)
    model.preprocessor.register_forward_pre_hook(
        lambda _, args: events.append(("run", args[1].tolist()))
    )
    return events


def test_transcribe_decodes_only_each_segment_of_a_manifest(corpus, tmp_path, monkeypatch):
    import numpy as np
    import soundfile as sf

    from ganglion_asr.data.manifest import read_manifest

    torch.manual_seed(0)
    model = EncDecCTCModel(_config(corpus))
    first, second = corpus.parent / "wavs" / "u2.wav", corpus.parent / "wavs" / "u7.wav"
    joined = np.concatenate([sf.read(first, dtype="float32")[0], sf.read(second)[0]])
    sf.write(tmp_path / "long.wav", joined, 16000)
    n1, n2 = sf.info(first).frames, sf.info(second).frames  # 9600 and 17600 samples
    manifest = write_manifest_lines(
        tmp_path / "segments.json",
        [
            {"audio_filepath": "long.wav", "offset": 0.0, "duration": n1 / 16000, "text": "one"},
            {
                "audio_filepath": "long.wav",
                "offset": n1 / 16000,
                "duration": n2 / 16000,
                "text": "two",
            },
        ],
    )
    entries = read_manifest(manifest)
    expected = model.transcribe([first, second], batch_size=1)

    events = _record_batches(model, monkeypatch)
    assert model.transcribe(entries, batch_size=1) == expected
    assert [e[1] for e in events if e[0] == "run"] == [[n1], [n2]]  # not the whole file twice
    events.clear()
    segments = [(tmp_path / "long.wav", 0.0, n1 / 16000), (tmp_path / "long.wav", n1 / 16000, None)]
    assert model.transcribe(segments, batch_size=1) == expected
    assert [e[1] for e in events if e[0] == "run"] == [[n1], [n2]]

    archive = model.save_to(tmp_path / "tiny.ganglion")
    out = tmp_path / "out.jsonl"
    assert (
        main(["transcribe", str(archive), "--manifest", str(manifest), "--output", str(out)]) == 0
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["pred_text"] for r in rows] == expected
    assert [(r["offset"], r["duration"], r["text"]) for r in rows] == [
        (0.0, n1 / 16000, "one"),
        (n1 / 16000, n2 / 16000, "two"),
    ]


def test_transcribe_sorts_by_header_length_and_decodes_one_batch_at_a_time(corpus, monkeypatch):
    model = EncDecCTCModel(_config(corpus))
    names = ["u5.wav", "u1.wav", "u3.wav", "u0.wav"]  # 0.9, 0.5, 0.7 and 0.4 s
    events = _record_batches(model, monkeypatch)
    texts = model.transcribe([corpus.parent / "wavs" / n for n in names], batch_size=2)
    assert len(texts) == 4
    assert events == [
        ("load", "u0.wav", None),
        ("load", "u1.wav", None),
        ("run", [6400, 8000]),
        ("load", "u3.wav", None),
        ("load", "u5.wav", None),
        ("run", [11200, 14400]),
    ]


def test_transcribe_rejects_what_is_not_audio(corpus):
    model = EncDecCTCModel(_config(corpus))
    with pytest.raises(TypeError, match=r"\(path, offset, duration\) tuples; got 3"):
        model.transcribe([3])
