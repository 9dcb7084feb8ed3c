"""Synthesis: a generator and a vocoder whose mel settings agree make a readable wav; one whose
settings differ is refused before anything is written, naming each differing setting;
``ganglion-tts synthesize`` does the same from archives, with one-line errors."""

from __future__ import annotations

import copy

import pytest
import soundfile as sf
import torch
from fastpitch_fixtures import TTS_PREPROCESSOR, constant_durations, tiny_config

from ganglion.errors import ConfigError, GanglionError
from ganglion_tts.cli import main
from ganglion_tts.models.fastpitch import FastPitchModel
from ganglion_tts.models.griffin_lim import GriffinLimModel
from ganglion_tts.models.hifigan import HifiGanModel
from ganglion_tts.synthesis import (
    MelSettingsMismatchError,
    check_mel_settings,
    effective_mel_settings,
    synthesize,
    write_wav,
)

TINY_GENERATOR = {
    "upsample_initial_channel": 16,
    "resblock_kernel_sizes": [3],
    "resblock_dilations": [[1, 3]],
}


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def generator() -> FastPitchModel:
    torch.manual_seed(0)
    return FastPitchModel(tiny_config())


def _settings(**changes) -> dict:
    settings = copy.deepcopy(TTS_PREPROCESSOR)
    settings.update(changes)
    return settings


# -- the settings ------------------------------------------------------------------------------
def test_the_same_mels_spelled_differently_are_the_same_settings():
    spelled_out = _settings()
    # seconds instead of samples, the target left out, dither and padding changed
    other = {k: v for k, v in spelled_out.items() if k not in ("_target_", "n_window_size")}
    other.update(window_size=1024 / 16000, dither=1e-5, pad_to=16)
    assert effective_mel_settings(spelled_out) == effective_mel_settings(other)
    check_mel_settings(spelled_out, other)


def test_differing_settings_are_each_named_with_both_values():
    with pytest.raises(MelSettingsMismatchError) as info:
        check_mel_settings(_settings(), _settings(n_window_stride=200, highfreq=7600))
    message = str(info.value)
    assert "n_window_stride: generator 256, vocoder 200" in message
    assert "highfreq: generator 8000, vocoder 7600" in message
    assert "features" not in message and isinstance(info.value, ConfigError)


def test_a_default_that_differs_is_a_difference():
    # mag_power left out means the preprocessor's default (2.0: power, not magnitude)
    vocoder = {k: v for k, v in _settings().items() if k != "mag_power"}
    with pytest.raises(MelSettingsMismatchError, match=r"mag_power: generator 1\.0, vocoder 2\.0"):
        check_mel_settings(_settings(), vocoder)


def test_settings_that_are_not_the_preprocessors_are_refused():
    with pytest.raises(ConfigError, match="hop_size is not a setting"):
        effective_mel_settings(_settings(hop_size=256))
    with pytest.raises(ConfigError, match="_target_ is 'MFCCPreprocessor'"):
        effective_mel_settings(_settings(_target_="MFCCPreprocessor"))


# -- synthesis ---------------------------------------------------------------------------------
def test_synthesis_with_griffin_lim_makes_the_predicted_length(generator, tmp_path):
    constant_durations(generator, 3)
    tokens = generator.parse("one two")
    audio, rate = synthesize(generator, "one two")
    frames = 3 * tokens.shape[1]
    assert rate == 16000 and audio.dtype.name == "float32" and audio.ndim == 1
    assert len(audio) == (frames - 1) * 256 and abs(audio).max() <= 1.0
    path = write_wav(tmp_path / "out" / "one.wav", audio, rate)
    read, read_rate = sf.read(path, dtype="float32")
    assert read_rate == 16000 and read.shape == audio.shape
    assert abs(read - audio).max() < 1e-4
    assert sorted(p.name for p in path.parent.iterdir()) == ["one.wav"]  # no temp file left


def test_a_neural_vocoder_of_the_same_settings_is_used(generator):
    constant_durations(generator, 2)
    torch.manual_seed(0)
    vocoder = HifiGanModel({"generator": TINY_GENERATOR})
    audio, rate = synthesize(generator, "five", vocoder=vocoder)
    spec = generator.generate_spectrogram(generator.parse("five"))
    expected = vocoder.convert_spectrogram_to_audio(spec=spec)[0].clamp(-1, 1).numpy()
    assert rate == 16000 and (audio == expected).all()


def test_a_vocoder_of_other_settings_is_refused_before_synthesis(generator, monkeypatch):
    vocoder = GriffinLimModel.from_settings(_settings(features=64))
    monkeypatch.setattr(
        generator, "generate_spectrogram", lambda *a, **k: pytest.fail("synthesised anyway")
    )
    with pytest.raises(MelSettingsMismatchError, match="features: generator 80, vocoder 64"):
        synthesize(generator, "five", vocoder=vocoder)


def test_models_of_the_wrong_kind_are_named(generator):
    with pytest.raises(ConfigError, match="must be a spectrogram generator"):
        synthesize(GriffinLimModel({}), "five")
    with pytest.raises(ConfigError, match="must be a Vocoder .* got FastPitchModel"):
        synthesize(generator, "five", vocoder=generator)


def test_a_wav_name_is_required(tmp_path):
    with pytest.raises(GanglionError, match="give a .wav file name"):
        write_wav(tmp_path / "out.mp3", torch.zeros(8).numpy(), 16000)


# -- the command -------------------------------------------------------------------------------
@pytest.fixture
def archives(generator, tmp_path):
    constant_durations(generator, 2)
    gen = generator.save_to(tmp_path / "gen.ganglion")
    torch.manual_seed(0)
    same = HifiGanModel({"generator": TINY_GENERATOR}).save_to(tmp_path / "voc.ganglion")
    other = HifiGanModel(
        {"generator": TINY_GENERATOR, "preprocessor": _settings(highfreq=7000)}
    ).save_to(tmp_path / "other.ganglion")
    return gen, same, other


def test_the_command_writes_a_wav_with_either_vocoder(archives, tmp_path, capsys):
    gen, voc, _ = archives
    assert main(["synthesize", str(gen), "call five one two", "-o", str(tmp_path / "g.wav")]) == 0
    assert main(["synthesize", str(gen), str(voc), "nine", "-o", str(tmp_path / "h.wav")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "(Griffin-Lim)" in out[0] and "(voc.ganglion)" in out[1]
    for name in ("g.wav", "h.wav"):
        audio, rate = sf.read(tmp_path / name)
        assert rate == 16000 and len(audio) > 0


def test_the_command_says_lines_of_a_file_into_a_folder(archives, tmp_path, capsys):
    gen, _, _ = archives
    lines = tmp_path / "lines.txt"
    lines.write_text("one two\n\nthree ☃ xqzt\n", encoding="utf-8")
    assert main(["synthesize", str(gen), "--file", str(lines), "-o", str(tmp_path / "wavs")]) == 0
    assert sorted(p.name for p in (tmp_path / "wavs").iterdir()) == ["0001.wav", "0002.wav"]
    err = capsys.readouterr().err
    # what the frontend guessed and dropped, said once, on stderr
    assert err.count("SNOWMAN") == 1 and "'xqzt'" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["{gen}", "{other}", "nine", "-o", "{tmp}/x.wav"], "highfreq: generator 8000, vocoder"),
        (["{gen}", "   ", "-o", "{tmp}/x.wav"], "empty text"),
        (["{gen}", "-o", "{tmp}/x.wav"], "give the text to say"),
        (["{tmp}/missing.ganglion", "nine", "-o", "{tmp}/x.wav"], "missing.ganglion: no such"),
        (["{voc}", "nine", "-o", "{tmp}/x.wav"], "not a SpectrogramGenerator"),
        (["{gen}", "{gen}", "nine", "-o", "{tmp}/x.wav"], "not a Vocoder"),
        (["{gen}", "nine", "-o", "{tmp}/x.mp3"], "give a .wav file name"),
        (["{gen}", "{voc}", "{voc}", "nine", "-o", "{tmp}/x.wav"], "too many arguments"),
    ],
)
def test_command_mistakes_are_one_line_and_write_nothing(
    archives, tmp_path, capsys, args, expected
):
    gen, voc, other = archives
    names = {"gen": gen, "voc": voc, "other": other, "tmp": tmp_path}
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["synthesize", *(a.format(**names) for a in args)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganglion-tts synthesize: error:") and expected in err
    assert len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_file_that_is_not_utf8_is_located(archives, tmp_path, capsys):
    gen, _, _ = archives
    lines = tmp_path / "lines.txt"
    lines.write_bytes(b"one\ntw\xe9\n")
    assert main(["synthesize", str(gen), "--file", str(lines), "-o", str(tmp_path / "w")]) == 2
    assert "lines.txt:2: byte 0xe9 at byte offset 6" in capsys.readouterr().err
