"""FastPitch: the module's shapes and ports, the length regulator, per-token pitch, training
on a tiny fixed batch (losses fall, durations add up to the mel length), Lightning fit and
validation, the archive round trip, parse errors, and pace."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from fastpitch_fixtures import (
    BATCH_IDS,
    constant_durations,
    tiny_config,
    tone_batch,
    write_tone_corpus,
)

from ganglion import ModelPT
from ganglion.errors import ConfigError
from ganglion.types import NeuralTypeError
from ganglion_asr.types import MelSpectrogramType
from ganglion_tts.models.base import SpectrogramGenerator
from ganglion_tts.models.fastpitch import FastPitchModel, average_pitch_per_token
from ganglion_tts.modules.fastpitch import FastPitchModule, regulate_length
from ganglion_tts.text import TTSTextError
from ganglion_tts.types import TokenDurationType


@pytest.fixture
def model() -> FastPitchModel:
    torch.manual_seed(0)
    return FastPitchModel(tiny_config())


def test_length_regulator_repeats_tokens_by_their_durations():
    x = torch.arange(1.0, 7.0).view(2, 3, 1)  # tokens 1,2,3 and 4,5,6
    durations = torch.tensor([[2, 0, 3], [1, 1, 0]])
    frames, lengths = regulate_length(x, durations)
    assert lengths.tolist() == [5, 2]
    assert frames[..., 0].tolist() == [[1, 1, 3, 3, 3], [4, 5, 0, 0, 0]]


def test_average_pitch_per_token_uses_voiced_frames_only():
    pitch = torch.tensor([[100.0, 0.0, 200.0, 220.0, 0.0, 0.0]])
    durations = torch.tensor([[2, 2, 1, 0]])  # the last frame is past the tokens
    result = average_pitch_per_token(pitch, durations, mean=150.0, std=50.0)
    assert torch.allclose(result, torch.tensor([[-1.0, 1.2, 0.0, 0.0]]))


def test_module_shapes_ports_and_teacher_forcing():
    torch.manual_seed(0)
    module = FastPitchModule(vocab_size=45, d_model=32, num_heads=2, ff_dim=64, encoder_layers=1)
    tokens = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]])
    token_lens = torch.tensor([4, 2])
    durations = torch.tensor([[1, 2, 3, 4], [5, 1, 0, 0]])
    spect, lens, log_durs, pitch, used = module(
        tokens=tokens, token_lens=token_lens, durations=durations, pitch=torch.zeros(2, 4)
    )
    assert spect.shape == (2, 80, 10) and lens.tolist() == [10, 6]
    assert log_durs.shape == pitch.shape == (2, 4) and torch.equal(used, durations)
    assert isinstance(spect.neural_type.elements_type, MelSpectrogramType)
    assert isinstance(used.neural_type.elements_type, TokenDurationType)
    with pytest.raises(NeuralTypeError, match="tokens"):
        module(tokens=torch.zeros(4, dtype=torch.long), token_lens=token_lens)
    with pytest.raises(ConfigError, match="num_heads 3 does not divide d_model 32"):
        FastPitchModule(vocab_size=45, d_model=32, num_heads=3)


def test_training_on_a_tiny_batch_lowers_the_losses(model):
    batch = tone_batch(BATCH_IDS)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(15):
        losses = model._losses(batch)
        first = first or {k: v.item() for k, v in losses.items()}
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
    last = {k: v.item() for k, v in model._losses(batch).items()}
    assert last["loss"] < 0.8 * first["loss"]
    assert last["mel_loss"] < first["mel_loss"]
    assert last["forward_sum_loss"] < first["forward_sum_loss"]
    # the aligner's durations cover every frame of the reference mel exactly
    audio, audio_lens, tokens, token_lens, _ = batch
    mel, mel_lens = model.preprocessor(input_signal=audio, length=audio_lens)
    assert mel_lens.tolist() == (audio_lens // 256 + 1).tolist()
    *_, durations = model.align(mel, mel_lens, tokens, token_lens)
    assert torch.equal(durations.sum(dim=1), mel_lens)
    for row, n in zip(durations, token_lens.tolist()):
        assert (row[:n] >= 1).all() and (row[n:] == 0).all()


def test_lightning_fit_logs_training_and_validation_losses():
    torch.manual_seed(0)
    batch = tone_batch(BATCH_IDS)
    loader = torch.utils.data.DataLoader([batch], batch_size=None)
    trainer = pl.Trainer(
        max_steps=3,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    model = FastPitchModel(tiny_config(), trainer=trainer)
    trainer.fit(model, train_dataloaders=loader, val_dataloaders=loader)
    metrics = trainer.callback_metrics
    for key in ("train_loss", "val_loss", "val_duration_loss", "val_pitch_loss"):
        assert torch.isfinite(metrics[key]), key
    assert "val_forward_sum_loss" in metrics


def test_archive_round_trip_gives_the_same_spectrogram(model, tmp_path):
    constant_durations(model, 3)
    tokens = model.parse("call five one two")
    spect = model.generate_spectrogram(tokens=tokens)
    archive = model.save_to(tmp_path / "fastpitch.ganglion")
    restored = ModelPT.restore_from(archive)
    assert type(restored) is FastPitchModel and isinstance(restored, SpectrogramGenerator)
    assert restored.mel_settings == model.mel_settings
    assert restored.cfg.fastpitch.vocab_size == 45
    assert restored.cfg.pitch_mean == 180.0
    assert torch.equal(restored.parse("call five one two"), tokens)
    # the same weights in a new module instance: equal up to float rounding (oneDNN may pick
    # another kernel for the restored tensors' layout; 4e-7 apart was seen on one machine)
    torch.testing.assert_close(
        restored.generate_spectrogram(tokens=tokens), spect, atol=1e-5, rtol=1e-5
    )


def test_generate_spectrogram_is_log_mel_whose_length_follows_pace(model):
    constant_durations(model, 6)
    tokens = model.parse("five one")
    n = tokens.shape[1]
    model.train()
    spect, lens = model.generate_spectrogram(tokens=tokens, return_lengths=True)
    assert model.training  # left as it was
    assert spect.shape == (1, 80, 6 * n) and lens.tolist() == [6 * n]
    assert model.generate_spectrogram(tokens=tokens, pace=2.0).shape[2] == 3 * n
    assert model.generate_spectrogram(tokens=tokens, pace=0.5).shape[2] == 12 * n
    # a batch: the shorter row is padded with silence (the log of the mel floor)
    batch = torch.zeros(2, n, dtype=torch.long)
    batch[0], batch[1, :2] = tokens[0], tokens[0, :2]
    spect, lens = model.generate_spectrogram(tokens=batch, return_lengths=True)
    assert lens.tolist() == [6 * n, 12]
    assert torch.allclose(spect[1, :, 12:], torch.full_like(spect[1, :, 12:], -11.512925))
    with pytest.raises(ValueError, match="pace must be a positive number"):
        model.generate_spectrogram(tokens=tokens, pace=0)
    with pytest.raises(ValueError, match="token ids must be in 0..44"):
        model.generate_spectrogram(tokens=tokens + 100)


def test_parse_refuses_empty_or_unreadable_text(model, caplog):
    assert model.parse("call five").dtype == torch.long
    with pytest.raises(TTSTextError, match="Empty text"):
        model.parse("   ")
    with pytest.raises(TTSTextError, match="Nothing readable"):
        model.parse("§ ¤ ¶")
    with caplog.at_level("INFO", logger="ganglion_tts.text"):
        model.parse("call zorblax")
    # logged once, saying what was guessed
    assert len(caplog.records) == 1 and "not in the lexicon" in caplog.records[0].message


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="model.fastpitch.vocab_size is 50"):
        FastPitchModel(tiny_config(fastpitch={**tiny_config()["fastpitch"], "vocab_size": 50}))
    with pytest.raises(ConfigError, match="model.loss.mel"):
        FastPitchModel(tiny_config(loss={"mel": "huber"}))
    with pytest.raises(ConfigError, match="pitch_mean and model.pitch_std go together"):
        FastPitchModel(tiny_config(pitch_std=None))
    with pytest.raises(ConfigError, match="model.preprocessor is missing"):
        FastPitchModel({k: v for k, v in tiny_config().items() if k != "preprocessor"})
    model = FastPitchModel(tiny_config(pitch_mean=None, pitch_std=None))
    with pytest.raises(ConfigError, match="pitch_mean and pitch_std are not set"):
        model._losses(tone_batch(BATCH_IDS))


TEXTS = ["call five one two", "seven", "the cat sat", "nine four"]


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))  # pitch tracks
    return write_tone_corpus(tmp_path / "corpus", TEXTS)


def test_trains_from_manifests_and_fills_pitch_statistics(corpus):
    from ganglion_tts.data.dataset import TTSDataset

    torch.manual_seed(0)
    data = {"manifest_filepath": str(corpus), "batch_size": 2}
    cfg = tiny_config(pitch_mean=None, pitch_std=None, train_ds=data, validation_ds=data)
    trainer = pl.Trainer(
        max_steps=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1,
    )
    model = FastPitchModel(cfg, trainer=trainer)
    stats = TTSDataset(str(corpus)).pitch_statistics()
    assert model.cfg.pitch_mean == pytest.approx(stats["mean"], abs=1e-3)
    assert model.cfg.pitch_std == pytest.approx(stats["std"], abs=1e-3)
    assert 140 < model.cfg.pitch_mean < 230
    trainer.fit(model)
    assert torch.isfinite(trainer.callback_metrics["val_loss"])


def test_write_training_mels_matches_the_audio_frame_for_frame(corpus, tmp_path):
    import json

    import numpy as np
    import soundfile as sf

    torch.manual_seed(0)
    model = FastPitchModel(tiny_config())
    copy = model.write_training_mels(corpus, tmp_path / "mels_out", batch_size=3)
    assert copy == tmp_path / "mels_out" / "manifest.json"
    lines = [json.loads(line) for line in copy.read_text().splitlines()]
    assert [line["text"] for line in lines] == TEXTS  # every line, in order
    for line in lines:
        samples = sf.info(line["audio_filepath"]).frames
        mel = np.load(copy.parent / line["mel_filepath"])
        assert mel.dtype == np.float32 and mel.shape == (80, samples // 256 + 1)
        assert np.isfinite(mel).all()
    assert not list((tmp_path / "mels_out").rglob("*.tmp"))
    # the vocoder's segment dataset takes the copy as it is (mel frames checked against audio)
    from ganglion_tts.data.segments import AudioSegmentDataset

    segments = AudioSegmentDataset(str(copy), segment_length=None, n_mels=80)
    assert len(segments) == len(TEXTS)
    # the same as the teacher-forced output of the same batch
    first = json.loads(copy.read_text().splitlines()[1])
    again = model.write_training_mels(corpus, tmp_path / "again", batch_size=1)
    second = json.loads(again.read_text().splitlines()[1])
    assert np.allclose(
        np.load(copy.parent / first["mel_filepath"]),
        np.load(again.parent / second["mel_filepath"]),
        atol=1e-4,
    )


def test_a_user_lexicon_is_packed_into_the_archive(tmp_path, caplog):
    lexicon = tmp_path / "extra.dict"
    lexicon.write_text("zorblax  Z AO1 R B L AE2 K S\n")
    torch.manual_seed(0)
    model = FastPitchModel(tiny_config(text_frontend={"lexicon": str(lexicon)}))
    with caplog.at_level("INFO", logger="ganglion_tts.text"):
        tokens = model.parse("zorblax")
    assert tokens.shape == (1, 8) and not caplog.records  # from the lexicon: nothing guessed
    archive = model.save_to(tmp_path / "lex.ganglion")
    lexicon.unlink()  # the restored model reads the packed copy
    restored = ModelPT.restore_from(archive)
    assert torch.equal(restored.parse("zorblax"), tokens)
    with pytest.raises(ConfigError, match="model.text_frontend: unknown key"):
        FastPitchModel(tiny_config(text_frontend={"lexikon": str(lexicon)}))
