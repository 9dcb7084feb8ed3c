"""HiFi-GAN: the generator's frames-to-samples alignment and lengths, the discriminators'
outputs, the losses; HifiGanModel lowers its mel L1 on one batch, counts its two optimizers'
steps, takes the discriminators' optimizer from its config, starts them when told, and comes
back from an archive making the same audio. The shipped config trains through
``ganglion train``'s own path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import soundfile as sf
import torch
from torch.nn.utils import parametrize

from ganglion import ModelPT
from ganglion.errors import ConfigError
from ganglion.training import compose_config, train
from ganglion.types import NeuralType
from ganglion_asr.types import AudioSignal
from ganglion_tts.models.base import Vocoder
from ganglion_tts.models.hifigan import HifiGanModel
from ganglion_tts.modules.griffin_lim import mel_settings
from ganglion_tts.modules.hifigan import (
    HifiGanGenerator,
    MultiPeriodDiscriminator,
    MultiScaleDiscriminator,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
    multi_resolution_stft_loss,
)

HOP = 256
TINY_GENERATOR = {
    "upsample_initial_channel": 16,
    "resblock_kernel_sizes": [3],
    "resblock_dilations": [[1, 3]],
}
TINY_MPD = {"periods": [2, 3], "channels": [4, 8]}
TINY_MSD = {"scales": 2, "channels": [4, 8]}


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def _speechlike(samples: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 16000
    phase = 2 * np.pi * np.cumsum(130 + 30 * seed + 20 * np.sin(2 * np.pi * 2 * t)) / 16000
    audio = sum(np.sin(k * phase) / k for k in range(1, 10)) * (0.4 + 0.6 * np.sin(3 * t) ** 2)
    return (0.3 * audio / np.abs(audio).max() + 0.002 * rng.standard_normal(samples)).astype(
        np.float32
    )


def _manifest(root: Path, lengths: list[int], name: str = "manifest.json") -> Path:
    rows = []
    for i, n in enumerate(lengths):
        path = root / "wavs" / f"{name}{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, _speechlike(n, i), 16000, subtype="FLOAT")
        rows.append({"audio_filepath": str(path), "duration": n / 16000, "text": "x"})
    manifest = root / name
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def _config(tmp_path: Path, **extra) -> dict:
    return {
        "generator": dict(TINY_GENERATOR),
        "train_ds": {
            "manifest_filepath": str(_manifest(tmp_path, [4096], "train.json")),
            "segment_length": 2048,
            "random_crop": False,  # the same batch every step
            "batch_size": 1,
        },
        "validation_ds": {
            "manifest_filepath": str(_manifest(tmp_path, [3000], "val.json")),
            "batch_size": 1,
        },
        "optim": {"name": "adamw", "lr": 3e-3, "betas": [0.8, 0.99]},
        **extra,
    }


def _trainer(steps: int) -> pl.Trainer:
    return pl.Trainer(
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )


# -- modules -----------------------------------------------------------------------------------
def test_the_generator_makes_hop_samples_per_frame_centred_like_the_mels():
    torch.manual_seed(0)
    gen = HifiGanGenerator(n_mels=80, sample_rate=16000, **TINY_GENERATOR)
    assert gen.hop_length == HOP
    spec = torch.randn(2, 80, 12)
    audio, audio_len = gen(spec, torch.tensor([12, 7]))
    # T frames -> (T - 1) * hop samples: the preprocessor makes T frames of them again
    assert audio.shape == (2, 11 * HOP) and audio_len.tolist() == [11 * HOP, 6 * HOP]
    assert mel_settings(None).get_seq_len(audio_len).tolist() == [12, 7]
    assert not audio[1, 6 * HOP :].any() and audio[1, : 6 * HOP].any()
    assert audio.abs().max() <= 1.0
    assert audio.neural_type == NeuralType(("B", "T"), AudioSignal(16000))
    # weight norm on every convolution; folding it away keeps the output
    assert parametrize.is_parametrized(gen.conv_pre, "weight")
    gen.remove_weight_norm()
    assert not parametrize.is_parametrized(gen.conv_pre, "weight")
    assert torch.allclose(gen(spec, torch.tensor([12, 7]))[0], audio, atol=1e-6)


def test_generator_settings_that_break_the_lengths_are_refused():
    with pytest.raises(ConfigError, match=r"upsample_kernel_sizes\[1\]=9 with rate 8"):
        HifiGanGenerator(upsample_kernel_sizes=[16, 9, 8])
    with pytest.raises(ConfigError, match="one kernel per upsampling"):
        HifiGanGenerator(upsample_kernel_sizes=[16, 16])
    with pytest.raises(ConfigError, match="resblock_dilations"):
        HifiGanGenerator(resblock_kernel_sizes=[3, 5], resblock_dilations=[[1]])


def test_the_discriminators_score_each_sub_discriminator_and_return_its_features():
    audio = torch.randn(2, 2048) * 0.1
    scores, features = MultiPeriodDiscriminator(**TINY_MPD)(audio)
    assert len(scores) == 2 and len(features) == 2
    assert all(s.shape[0] == 2 and s.dim() == 2 for s in scores)
    assert [len(f) for f in features] == [3, 3]  # two layers + the output
    assert features[1][0].shape[-1] == 3  # folded by period 3
    scores, features = MultiScaleDiscriminator(**TINY_MSD)(audio[:, :2047])  # any length
    assert len(scores) == 2 and [len(f) for f in features] == [4, 4]
    assert scores[1].shape[1] < scores[0].shape[1]  # the pooled scale is shorter


def test_the_losses_vanish_where_they_should():
    ones, zeros = [torch.ones(2, 5)], [torch.zeros(2, 5)]
    assert discriminator_loss(ones, zeros) == 0 and discriminator_loss(zeros, ones) == 2
    assert generator_loss(ones) == 0 and generator_loss(zeros) == 1
    feats = [[torch.randn(2, 3, 4)]]
    assert feature_matching_loss(feats, feats) == 0
    audio = torch.randn(2, 4096)
    assert multi_resolution_stft_loss(audio, audio) < 1e-5
    assert multi_resolution_stft_loss(audio * 0.5, audio) > 0.3


# -- the model ---------------------------------------------------------------------------------
def test_training_lowers_the_mel_l1_of_one_batch(tmp_path):
    torch.manual_seed(0)
    model = HifiGanModel(_config(tmp_path), trainer=(trainer := _trainer(15)))
    batch = next(iter(model.train_dataloader()))

    def mel_l1() -> float:
        _, mel, mel_len, target, target_len = model._mels(batch)
        with torch.no_grad():
            fake, fake_len = model.generator(spec=mel, spec_len=mel_len)
            return float(model._mel_l1(fake, fake_len, target, target_len))

    before = mel_l1()
    trainer.fit(model)
    assert trainer.global_step == 15 and model.mpd is None and model.msd is None
    assert len(trainer.optimizers) == 1
    assert mel_l1() < 0.8 * before  # measured 1.92 -> 0.82


def test_with_discriminators_both_optimizers_step_after_the_start_step(tmp_path):
    torch.manual_seed(0)
    cfg = _config(
        tmp_path,
        mpd=TINY_MPD,
        msd=TINY_MSD,
        discriminator_start_step=2,
        discriminator_optim={"name": "adam", "lr": 1e-4},
    )
    model = HifiGanModel(cfg, trainer=(trainer := _trainer(6)))
    before = [p.detach().clone() for p in model.mpd.parameters()]
    seen = []

    class Record(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, *args):
            seen.append("train_d_loss" in trainer.callback_metrics)

    trainer.callbacks.append(Record())
    trainer.fit(model)
    g_opt, d_opt = trainer.optimizers
    assert type(d_opt).__name__ == "Adam" and d_opt.param_groups[0]["lr"] == 1e-4
    assert type(g_opt).__name__ == "AdamW" and g_opt.param_groups[0]["lr"] == 3e-3
    # two generator-only steps, then two optimizer steps per batch (Lightning counts both)
    assert seen == [False, False, True, True] and trainer.global_step == 6
    assert model._generator_steps == 4
    assert any(not torch.equal(a, b) for a, b in zip(before, model.mpd.parameters()))
    assert {"train_adv_loss", "train_fm_loss"} <= set(trainer.callback_metrics)


def test_the_archive_brings_back_the_same_generator_output(tmp_path):
    torch.manual_seed(0)
    model = HifiGanModel({"generator": TINY_GENERATOR, "mpd": TINY_MPD})
    assert isinstance(model, Vocoder) and model.sample_rate == 16000
    assert model.mel_settings["features"] == 80 and model.cfg.generator.n_mels == 80
    spec = torch.randn(1, 80, 9) - 4
    model.train()
    audio = model.convert_spectrogram_to_audio(spec=spec)
    assert model.training and not audio.requires_grad and audio.shape == (1, 8 * HOP)
    restored = ModelPT.restore_from(model.save_to(tmp_path / "hifigan.ganglion"))
    assert isinstance(restored, HifiGanModel) and restored.mpd is not None
    assert torch.equal(restored.convert_spectrogram_to_audio(spec=spec), audio)


def test_model_config_mistakes_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"hop is 128"):
        HifiGanModel({"preprocessor": {**mel_settings_dict(), "n_window_stride": 128}})
    with pytest.raises(ConfigError, match=r"model\.loss: unknown key.*mell"):
        HifiGanModel({"generator": TINY_GENERATOR, "loss": {"mell": 1.0}})
    with pytest.raises(
        ConfigError,
        match=r"model\.generator\.n_mels is 64, but model\.preprocessor\.features gives 80",
    ):
        HifiGanModel({"generator": {**TINY_GENERATOR, "n_mels": 64}})
    model = HifiGanModel({"generator": TINY_GENERATOR})
    with pytest.raises(ConfigError, match=r"model\.train_ds\.manifest_filepath is not set"):
        model.setup_training_data({"batch_size": 2})


def mel_settings_dict() -> dict:
    from ganglion_tts.modules.griffin_lim import TTS_MEL_SETTINGS

    return dict(TTS_MEL_SETTINGS)


def test_the_shipped_config_trains_through_ganglion_train(tmp_path):
    train_manifest = _manifest(tmp_path, [9000, 8500], "train.json")
    val_manifest = _manifest(tmp_path, [4000], "val.json")
    cfg = compose_config(
        "hifigan",
        [
            f"model.train_ds.manifest_filepath={train_manifest}",
            f"model.validation_ds.manifest_filepath={val_manifest}",
            "model.train_ds.batch_size=2",
            "model.generator.upsample_initial_channel=16",
            "model.mpd={periods: [2], channels: [4, 8]}",
            "model.msd={scales: 1, channels: [4, 8]}",
            "trainer.max_steps=4",
            "trainer.enable_progress_bar=false",
            "trainer.enable_model_summary=false",
        ],
    )
    result = train(cfg)
    model = result.model
    assert isinstance(model, HifiGanModel) and len(result.trainer.optimizers) == 2
    assert "val_loss" in result.trainer.callback_metrics
    assert result.archive is not None and result.archive.is_file()
    restored = ModelPT.restore_from(result.archive)
    spec = torch.randn(1, 80, 6) - 4
    assert torch.equal(
        restored.convert_spectrogram_to_audio(spec=spec),
        model.convert_spectrogram_to_audio(spec=spec),
    )
