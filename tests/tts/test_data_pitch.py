"""The YIN pitch estimator: frame count, accuracy on tones, silence and noise, espeak-ng speech."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ganglion_tts.data.pitch import estimate_pitch, num_frames
from ganglion_tts.errors import PitchSettingsError

SR = 16000
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def _time(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


@pytest.mark.parametrize("samples", [0, 1, 255, 256, 257, 1000, 16000, 16001])
def test_one_value_per_hop_of_centred_frames(samples):
    f0 = estimate_pitch(np.zeros(samples, np.float32), SR)
    assert f0.shape == (samples // 256 + 1,) == (num_frames(samples, 256),)
    assert f0.dtype == np.float32
    assert estimate_pitch(np.zeros(samples), SR, hop_length=160).shape == (samples // 160 + 1,)


@pytest.mark.parametrize("f0", [65.0, 100.0, 147.3, 220.0, 333.0, 440.0, 495.0])
def test_sine_and_harmonic_tones_within_two_percent(f0):
    t = _time(1.0)
    sine = 0.5 * np.sin(2 * np.pi * f0 * t)
    # a buzzy tone whose second harmonic is stronger than its fundamental
    harmonic = sum(
        a * np.sin(2 * np.pi * f0 * k * t + k) for k, a in [(1, 0.2), (2, 0.6), (3, 0.4), (4, 0.2)]
    )
    for tone in (sine, harmonic):
        track = estimate_pitch(tone, SR)[3:-3]  # edge frames are mostly padding
        assert np.all(track > 0)
        assert np.max(np.abs(track / f0 - 1)) < 0.02


def test_a_glide_is_followed_and_a_gap_is_unvoiced():
    t = _time(1.0)
    freq = np.linspace(120, 240, t.size)
    glide = 0.5 * np.sin(2 * np.pi * np.cumsum(freq) / SR)
    audio = np.concatenate([glide, np.zeros(SR // 2), glide])
    track = estimate_pitch(audio, SR)
    centre = np.arange(track.size) * 256
    inside = (centre > 1024) & (centre < SR - 1024)
    truth = np.interp(centre[inside], np.arange(t.size), freq)
    assert np.max(np.abs(track[inside] / truth - 1)) < 0.02
    gap = (centre > SR + 600) & (centre < SR * 1.5 - 600)
    assert np.all(track[gap] == 0)


def test_silence_and_noise_are_unvoiced():
    rng = np.random.default_rng(0)
    assert not estimate_pitch(np.zeros(SR), SR).any()
    assert not estimate_pitch(rng.standard_normal(2 * SR) * 0.3, SR).any()
    brown = np.cumsum(rng.standard_normal(2 * SR))
    assert not estimate_pitch(0.5 * brown / np.abs(brown).max(), SR).any()
    # a tone far below the silence floor (-60 dBFS) counts as silence
    assert not estimate_pitch(1e-4 * np.sin(2 * np.pi * 200 * _time(1)), SR).any()


def test_values_stay_within_fmin_fmax():
    low = 0.5 * np.sin(2 * np.pi * 40 * _time(1))
    assert not estimate_pitch(low, SR, fmin=60)[3:-3].any()
    high = 0.5 * np.sin(2 * np.pi * 700 * _time(1))
    capped = estimate_pitch(high, SR, fmax=500)
    assert np.all((capped == 0) | ((capped >= 60) & (capped <= 500)))
    assert np.allclose(estimate_pitch(high, SR, fmax=800)[3:-3], 700, rtol=0.02)


@needs_espeak
def test_espeak_speech_has_a_plausible_male_pitch(tmp_path):
    from ganglion_asr.data.audio import load_audio
    from ganglion_asr.data.synth_digits import UtteranceSpec, synthesize_utterance

    spec = UtteranceSpec(
        "u1", "train", "The quiet house was very old.", "en-us", 165, 50, 0, -3.0, 0.0, 0.0,
        None, None, 0,
    )  # fmt: skip
    (tmp_path / "wavs" / "train").mkdir(parents=True)
    synthesize_utterance(spec, str(tmp_path), SR)
    audio = load_audio(tmp_path / spec.relative_path, SR)
    track = estimate_pitch(audio, SR)
    voiced = track[track > 0]
    assert track.size == audio.size // 256 + 1
    assert 0.3 < voiced.size / track.size < 0.9
    # espeak-ng's en-us at pitch 50 speaks around 100-120 Hz
    assert 80 < np.median(voiced) < 140
    assert np.percentile(voiced, 95) < 200


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"win_length": 400}, "win_length=400 is too short for fmin=60"),
        ({"fmax": 9000.0}, "above the Nyquist frequency"),
        ({"fmin": 300.0, "fmax": 200.0}, "need 0 < fmin < fmax"),
        ({"hop_length": 0}, "hop_length must be a positive whole number"),
        ({"threshold": 1.5}, "threshold must lie in"),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(PitchSettingsError, match=message):
        estimate_pitch(np.zeros(SR), SR, **kwargs)


def test_bad_audio_is_refused():
    with pytest.raises(PitchSettingsError, match="one mono channel"):
        estimate_pitch(np.zeros((2, SR)), SR)
    with pytest.raises(PitchSettingsError, match="NaN"):
        estimate_pitch(np.full(SR, np.nan), SR)
