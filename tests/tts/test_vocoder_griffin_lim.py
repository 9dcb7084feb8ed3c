"""Griffin-Lim: audio -> mel (the shared preprocessor) -> GriffinLim -> mel again comes back
close, with the right lengths, the same under a seed; its ports are typed; settings it
cannot invert are refused by key; GriffinLimModel synthesises and saves like any model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganglion import ModelPT
from ganglion.errors import ConfigError
from ganglion.types import NeuralType, NeuralTypeError
from ganglion_asr.types import AudioSignal, MFCCSpectrogramType
from ganglion_tts.models.base import Vocoder
from ganglion_tts.models.griffin_lim import GriffinLimModel
from ganglion_tts.modules.griffin_lim import TTS_MEL_SETTINGS, GriffinLim, mel_settings

HOP = 256


def _speechlike(samples: int, seed: int = 0) -> torch.Tensor:
    """Harmonics of a gliding pitch under a slow envelope: a voiced-speech stand-in."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 16000
    f0 = 120 + 40 * np.sin(2 * np.pi * 1.3 * t) + 25 * seed
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    audio = sum(np.sin(k * phase + rng.uniform(0, 6)) * np.exp(-k / 6) for k in range(1, 20))
    audio *= 0.3 + 0.7 * np.sin(2 * np.pi * 1.7 * t) ** 2
    audio = 0.3 * audio / np.abs(audio).max() + 0.002 * rng.standard_normal(samples)
    return torch.from_numpy(audio.astype(np.float32))


@pytest.fixture(scope="module")
def example():
    """Two utterances of 12000 and 8000 samples, batched, and their mels."""
    pre = mel_settings(None)
    audio = torch.zeros(2, 12000)
    audio[0] = _speechlike(12000)
    audio[1, :8000] = _speechlike(8000, seed=1)
    lengths = torch.tensor([12000, 8000])
    mel, mel_len = pre(audio, lengths)
    return pre, mel, mel_len


def _mel_l1(pre, audio, audio_len, mel, mel_len) -> float:
    again, again_len = pre(audio, audio_len)
    assert again.shape == mel.shape and torch.equal(again_len, mel_len)
    valid = torch.arange(mel.shape[2])[None, :] < mel_len[:, None]
    return float(((again - mel).abs() * valid[:, None]).sum() / (valid.sum() * mel.shape[1]))


def test_the_round_trip_mel_comes_back_close_with_the_right_lengths(example):
    pre, mel, mel_len = example
    audio, audio_len = GriffinLim(n_iter=32)(mel, mel_len)
    assert audio.shape == (2, (mel.shape[2] - 1) * HOP)
    assert audio_len.tolist() == [(47 - 1) * HOP, (32 - 1) * HOP]  # 12000 // 256 + 1 = 47
    assert not audio[1, audio_len[1] :].any()  # past its length: silence
    error = _mel_l1(pre, audio, audio_len, mel, mel_len)
    # measured 0.13 (32 iterations); no iterations (the random phase) gives 0.73
    assert error < 0.2
    noisy, _ = GriffinLim(n_iter=0)(mel, mel_len)
    assert _mel_l1(pre, noisy, audio_len, mel, mel_len) > 3 * error


def test_the_nonnegative_fit_beats_the_clamped_pseudo_inverse(example):
    pre, mel, _ = example
    errors = []
    for iters in (0, 32):
        magnitude = GriffinLim(nnls_iters=iters).linear_magnitude(mel)
        assert (magnitude >= 0).all()
        rebuilt = torch.log((pre.fb @ magnitude).clamp(min=1e-5))
        errors.append(float((rebuilt - mel).abs().mean()))
    assert errors[1] < 0.5 * errors[0]  # measured 0.018 vs 0.080


def test_the_same_seed_gives_the_same_audio(example):
    _, mel, mel_len = example
    first, _ = GriffinLim(n_iter=4, seed=7)(mel, mel_len)
    again, _ = GriffinLim(n_iter=4, seed=7)(mel, mel_len)
    other, _ = GriffinLim(n_iter=4, seed=8)(mel, mel_len)
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_the_ports_are_typed(example):
    _, mel, _ = example
    gl = GriffinLim(n_iter=1)
    audio, audio_len = gl(mel)  # lengths are optional: every frame counts
    assert audio.neural_type == NeuralType(("B", "T"), AudioSignal(16000))
    assert audio_len.tolist() == [(mel.shape[2] - 1) * HOP] * 2
    mfcc = mel.clone()
    mfcc.neural_type = NeuralType(("B", "D", "T"), MFCCSpectrogramType())
    with pytest.raises(NeuralTypeError, match="spec"):
        gl(mfcc)
    with pytest.raises(ValueError, match="64 mel bands"):
        gl(mel[:, :64])


def test_settings_it_cannot_invert_are_refused_by_key():
    with pytest.raises(ConfigError, match=r"preprocessor\.normalize='per_feature'"):
        GriffinLim({**TTS_MEL_SETTINGS, "normalize": "per_feature"})
    # a key left out is the preprocessor's default, which normalises
    settings = {k: v for k, v in TTS_MEL_SETTINGS.items() if k != "normalize"}
    with pytest.raises(ConfigError, match=r"normalize='per_feature' \(the default\)"):
        GriffinLim(settings)
    with pytest.raises(ConfigError, match="preemph"):
        GriffinLim(preemph=0.97)
    with pytest.raises(ConfigError, match="_target_"):
        GriffinLim({"_target_": "ConvASREncoder"})
    with pytest.raises(ConfigError, match="n_iter"):
        GriffinLim(n_iter=-1)


def test_settings_given_as_keys_win_over_the_preprocessor_config():
    gl = GriffinLim(TTS_MEL_SETTINGS, features=40, n_iter=1)
    assert gl.analysis.features == 40 and gl.hop_length == HOP


def test_the_model_synthesises_for_a_generators_settings_and_restores(tmp_path, example):
    _, mel, mel_len = example
    model = GriffinLimModel.from_settings(TTS_MEL_SETTINGS, n_iter=8)
    assert isinstance(model, Vocoder) and model.sample_rate == 16000
    assert model.mel_settings == TTS_MEL_SETTINGS
    audio = model.convert_spectrogram_to_audio(spec=mel, spec_len=mel_len)
    assert audio.shape == (2, (mel.shape[2] - 1) * HOP) and not audio.requires_grad
    path = model.save_to(tmp_path / "gl.ganglion")
    restored = ModelPT.restore_from(path)
    assert isinstance(restored, GriffinLimModel) and restored.cfg.n_iter == 8
    assert restored.mel_settings == TTS_MEL_SETTINGS
    assert torch.equal(restored.convert_spectrogram_to_audio(spec=mel, spec_len=mel_len), audio)


def test_the_model_refuses_unknown_options_and_training():
    with pytest.raises(ConfigError, match="n_iters"):
        GriffinLimModel.from_settings(TTS_MEL_SETTINGS, n_iters=8)
    with pytest.raises(ConfigError, match="model: unknown key"):
        GriffinLimModel({"preprocessor": TTS_MEL_SETTINGS, "iterations": 3})
    with pytest.raises(ConfigError, match="no weights to train"):
        GriffinLimModel({}).configure_optimizers()
