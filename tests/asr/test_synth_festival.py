"""Festival as a second engine of the synthetic digit corpus, and the reserved test voices."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
import soundfile as sf
from asr_fixtures import needs_espeak

from ganglion_asr.data import synth_digits
from ganglion_asr.data.manifest import read_manifest
from ganglion_asr.data.reserved import reserved_recording, reserved_voice
from ganglion_asr.data.synth_digits import (
    FESTIVAL_REGISTERS,
    SPLITS,
    DigitCorpusConfig,
    SynthesisError,
    plan_corpus,
    synthesize_digit_corpus,
    synthesize_utterance,
)
from ganglion_asr.errors import DataError

needs_festival = pytest.mark.skipif(
    shutil.which("text2wave") is None or shutil.which("festival") is None,
    reason="festival is not installed (apt-get install festival festvox-kdlpc16k)",
)

BOTH = ["espeak-ng", "festival"]
SMALL = dict(
    num_train=6,
    num_validation=3,
    num_test=3,
    max_digits=3,
    voices=["en-us", "en-gb"],
    variants=["", "f1", "m3", "klatt"],
    engines=BOTH,
    festival_share=0.5,
    seed=3,
)


def _quiet(out, config):
    return synthesize_digit_corpus(out, config, jobs=1, progress=False, log=lambda _: None)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("festival_voices", ["kal_diphone"]),
        ("festival_voices", ["cmu_us_slt_arctic_hts"]),
        ("festival_voices", ["us-slt-hts"]),
        ("festival_voices", ["cmu_us_awb_cg"]),
        ("festival_voices", ["festival:cmu_us_rms_cg"]),
        ("engines", ["espeak-ng", "flite"]),
    ],
)
def test_reserved_voices_are_refused_by_name(setting, value, tmp_path):
    config = DigitCorpusConfig(**{**SMALL, setting: value})
    with pytest.raises(DataError, match=r"is a reserved voice .*independent test voice"):
        synthesize_digit_corpus(tmp_path, config, progress=False, log=lambda _: None)
    assert not any(tmp_path.iterdir())  # refused before anything is written
    assert reserved_voice("ked_diphone") is None and reserved_voice("flite_kal") == "flite"
    # the same material by file path (noise recordings, say)
    assert reserved_recording("/usr/share/asterisk/sounds/en/digits/1.gsm") == "asterisk/sounds"
    assert reserved_recording("voices/english/kal_diphone/group/kallpc16k.group") == "kal_diphone"
    assert reserved_recording("/usr/share/festival/voices/english/ked_diphone/x.wav") is None


def test_default_corpus_is_espeak_only_and_records_no_festival_settings():
    config = DigitCorpusConfig()
    assert config.engines == ["espeak-ng"]
    settings = synth_digits._settings(config)
    assert not any(key.startswith("festival") or key == "engines" for key in settings)
    _, specs = plan_corpus(replace(config, num_train=50), ["en-us", "en-gb"], ["", "f1", "m3"])
    assert {s.engine for s in specs} == {"espeak-ng"}
    assert "festival_share" in synth_digits._settings(replace(config, engines=BOTH))


def test_plan_splits_festival_speakers_apart_and_draws_their_prosody():
    config = DigitCorpusConfig(**{**SMALL, "num_train": 200, "num_test": 60})
    speakers, specs = plan_corpus(config, ["en-us", "en-gb"], ["", "f1", "m3"], ["ked_diphone"])
    festival = {
        split: [s for s in speakers[split] if s.startswith("festival:")] for split in SPLITS
    }
    assert all(festival.values())  # every split hears festival
    assert len({s for group in festival.values() for s in group}) == len(FESTIVAL_REGISTERS)
    for spec in specs:
        assert spec.voice in speakers[spec.split]
        if spec.engine == "festival":
            low, high = FESTIVAL_REGISTERS[spec.voice.rsplit("+", 1)[1]]
            assert low <= spec.f0_mean <= high
            assert 0.8 <= spec.stretch <= 1.35 and 8 <= spec.f0_std <= 35
    share = sum(s.engine == "festival" for s in specs if s.split == "train") / 200
    assert 0.35 < share < 0.65
    assert plan_corpus(config, ["en-us", "en-gb"], ["", "f1", "m3"], ["ked_diphone"])[1] == specs


def test_missing_festival_names_the_debian_packages(monkeypatch, tmp_path):
    monkeypatch.setattr(synth_digits, "FESTIVAL", "festival-not-here")
    monkeypatch.setattr(synth_digits, "TEXT2WAVE", "text2wave-not-here")
    config = DigitCorpusConfig(**{**SMALL, "engines": ["festival"]})
    with pytest.raises(SynthesisError, match="apt-get install festival festvox-kdlpc16k"):
        _quiet(tmp_path, config)


@needs_festival
def test_unknown_festival_voice_lists_the_installed_ones(tmp_path):
    config = DigitCorpusConfig(**{**SMALL, "festival_voices": ["nosuch_diphone"]})
    with pytest.raises(DataError, match="no English voice nosuch_diphone .*ked_diphone"):
        _quiet(tmp_path, config)


@needs_festival
def test_festival_stretch_slows_the_voice_down(tmp_path):
    config = DigitCorpusConfig(**{**SMALL, "engines": ["festival"]})
    _, specs = plan_corpus(config, [], [], ["ked_diphone"])
    spec = replace(
        specs[0], text="seven eight nine", lead_silence=0.0, trail_silence=0.0, noise=None
    )
    (tmp_path / "wavs" / spec.split).mkdir(parents=True)
    fast = synthesize_utterance(replace(spec, stretch=0.8), str(tmp_path), 16000)
    (tmp_path / spec.relative_path).unlink()
    slow = synthesize_utterance(replace(spec, stretch=1.4), str(tmp_path), 16000)
    assert slow > 1.5 * fast


@needs_espeak
@needs_festival
def test_corpus_with_both_engines_has_each_and_is_identical_for_a_seed(tmp_path):
    config = DigitCorpusConfig(**SMALL)
    first = _quiet(tmp_path / "a", config)
    assert first["festival_voices"] == ["ked_diphone"] and "festival" in first
    engines = set()
    for split in SPLITS:
        rows = read_manifest(tmp_path / "a" / f"{split}_manifest.json")
        for row in rows:
            info = sf.info(row.audio_filepath)
            assert (info.samplerate, info.channels) == (16000, 1)
            engines.add("festival" if row.speaker.startswith("festival:") else "espeak-ng")
    assert engines == {"espeak-ng", "festival"}
    second = _quiet(tmp_path / "b", config)
    assert first["speakers"] == second["speakers"]
    for split in SPLITS:
        name = f"{split}_manifest.json"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    for wav in sorted((tmp_path / "a" / "wavs").rglob("*.wav")):
        twin = tmp_path / "b" / wav.relative_to(tmp_path / "a")
        assert wav.read_bytes() == twin.read_bytes(), wav.name
