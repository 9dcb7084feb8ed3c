"""The TTS dataset: items and batches of the generator's contract, checks made once at
construction (texts, audio, sample rates, speakers), the pitch cache and the data loader."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from ganglion.errors import ConfigError
from ganglion_asr.errors import AudioLoadError, ManifestError
from ganglion_tts.data import dataset as tts_dataset
from ganglion_tts.data.dataset import TTSDataset, collate_tts, pitch_cache_dir, tts_dataloader
from ganglion_tts.errors import MultiSpeakerError, TTSDataError
from ganglion_tts.text import TextFrontend

PREPROCESSOR = {"sample_rate": 16000, "n_window_size": 1024, "n_window_stride": 256}


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Pitch tracks go to this test's cache folder, never the user's."""
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def frontend():
    return TextFrontend()


def _tone(path: Path, seconds: float, freq: float, rate: int = 16000) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate, "PCM_16")
    return path.name


def _manifest(root: Path, rows: list[tuple], name: str = "m.json") -> Path:
    """Rows of (seconds, f0, text, speaker or None[, sample rate]) as tone wavs + manifest."""
    lines = []
    for i, (seconds, freq, text, speaker, *rate) in enumerate(rows):
        wav = _tone(root / "wavs" / f"u{i}.wav", seconds, freq, *rate)
        line = {"audio_filepath": f"wavs/{wav}", "duration": seconds, "text": text}
        if speaker is not None:
            line["speaker"] = speaker
        lines.append(json.dumps(line))
    path = root / name
    path.write_text("\n".join(lines) + "\n")
    return path


ROWS = [
    (0.5, 120.0, "three one four", "en-us"),
    (1.1, 200.0, "The house was very old.", "en-us"),
    (0.8, 160.0, "nine", "en-us"),
]


def test_items_hold_audio_tokens_and_one_pitch_value_per_hop(tmp_path, frontend):
    ds = TTSDataset(_manifest(tmp_path, ROWS), frontend=frontend)
    assert len(ds) == 3 and ds.speaker == "en-us" and ds.durations == [0.5, 1.1, 0.8]
    audio, tokens, pitch = ds[1]
    assert audio.dtype == torch.float32 and audio.shape == (17600,)
    assert tokens.dtype == torch.long and tokens.tolist() == frontend.encode(ROWS[1][2])
    assert pitch.dtype == torch.float32 and pitch.shape == (17600 // 256 + 1,)
    assert torch.allclose(pitch[4:-4], torch.tensor(200.0), rtol=0.02)


def test_collate_pads_with_zeros_to_the_longest_row(tmp_path, frontend):
    ds = TTSDataset(_manifest(tmp_path, ROWS), frontend=frontend)
    audio, audio_lens, tokens, token_lens, pitch = collate_tts([ds[0], ds[1], ds[2]])
    assert audio_lens.tolist() == [8000, 17600, 12800] and audio.shape == (3, 17600)
    assert audio_lens.dtype == token_lens.dtype == torch.long
    assert tokens.shape == (3, int(token_lens.max())) and tokens.dtype == torch.long
    assert pitch.shape == (3, int(audio_lens.max()) // 256 + 1) == (3, 69)
    assert not audio[0, 8000:].any() and not tokens[2, token_lens[2] :].any()
    assert not pitch[0, 8000 // 256 + 1 :].any()
    assert token_lens.tolist() == [len(ds.tokens[i]) for i in range(3)]
    assert ds.collate_fn([ds[2]])[4].shape == (1, 12800 // 256 + 1)


def test_other_sample_rates_are_resampled_and_said_once(tmp_path, frontend, caplog):
    rows = [
        (0.5, 150.0, "one two", None, 22050),
        (0.6, 150.0, "three four", None, 22050),
        (0.7, 150.0, "five", None),
        (0.4, 150.0, "six", None, 8000),
    ]
    with caplog.at_level(logging.WARNING, logger="ganglion_tts.data.dataset"):
        ds = TTSDataset(_manifest(tmp_path, rows), frontend=frontend)
        items = [ds[i] for i in range(len(ds))]
    said = [r.getMessage() for r in caplog.records if "resampled" in r.getMessage()]
    assert len(said) == 1 and ds.resampled_files == 3
    assert said[0].startswith("3 of 4 audio files are not at the model's 16000 Hz")
    assert "1 at 8000 Hz, 2 at 22050 Hz" in said[0]
    assert items[0][0].shape == (8000,) and items[3][0].shape == (6400,)


def test_several_speakers_are_refused_naming_them_and_one_can_be_kept(tmp_path, frontend):
    rows = [*ROWS, (0.5, 220.0, "eight", "en-gb"), (0.5, 220.0, "seven", "en-gb")]
    manifest = _manifest(tmp_path, rows)
    with pytest.raises(MultiSpeakerError) as info:
        TTSDataset(manifest, frontend=frontend, key="model.train_ds")
    message = str(info.value)
    assert "names 2 speakers" in message
    assert f"'en-us': 3 utterance(s), first at {manifest}:1" in message
    assert f"'en-gb': 2 utterance(s), first at {manifest}:4" in message
    assert "model.train_ds.speaker=en-us" in message
    ds = TTSDataset(manifest, frontend=frontend, speaker="en-gb")
    assert len(ds) == 2 and ds.speaker == "en-gb"
    with pytest.raises(MultiSpeakerError, match="no utterance of speaker 'fr-fr'.*'en-gb'"):
        TTSDataset(manifest, frontend=frontend, speaker="fr-fr")


def test_unreadable_text_names_the_manifest_line(tmp_path, frontend):
    manifest = _manifest(tmp_path, [ROWS[0], (0.5, 100.0, "♪ ♪", None)])
    with pytest.raises(TTSDataError, match=rf"{manifest}:2: the text frontend cannot read"):
        TTSDataset(manifest, frontend=frontend)


def test_guesses_and_drops_are_reported_once_per_dataset(tmp_path, frontend, caplog):
    rows = [(0.3, 100.0, "xkcd ♪ one", None), (0.3, 100.0, "xkcd ♪ two", None)] * 3
    manifest = _manifest(tmp_path, rows)
    with caplog.at_level(logging.INFO):
        TTSDataset(manifest, frontend=frontend)
    ours = [r for r in caplog.records if r.name == "ganglion_tts.data.dataset"]
    assert [r.levelno for r in ours] == [logging.WARNING, logging.INFO]
    assert f"dropped 1 character(s) it cannot read: '♪' (first at {manifest}:1)" in (
        ours[0].getMessage()
    )
    assert "1 word(s) are not in the pronouncing dictionary" in ours[1].getMessage()
    assert not [r for r in caplog.records if r.name == "ganglion_tts.text"]  # not per text


def test_missing_audio_names_the_manifest_line(tmp_path, frontend):
    manifest = _manifest(tmp_path, ROWS)
    (tmp_path / "wavs" / "u2.wav").unlink()
    with pytest.raises(AudioLoadError, match=rf"{manifest}:3: audio file .*u2.wav does not exist"):
        TTSDataset(manifest, frontend=frontend)


def test_pitch_is_cached_in_memory_and_on_disk(tmp_path, frontend, monkeypatch):
    calls = []
    real = tts_dataset.estimate_pitch

    def counting(audio, *args, **kwargs):
        calls.append(audio.shape)
        return real(audio, *args, **kwargs)

    manifest = _manifest(tmp_path, ROWS)
    first = TTSDataset(manifest, frontend=frontend)
    monkeypatch.setattr(tts_dataset, "estimate_pitch", counting)
    tracks = [first[i][2] for i in range(3)] + [first[i][2] for i in range(3)]
    assert len(calls) == 3  # once per utterance
    cached = sorted(pitch_cache_dir().rglob("*.npy"))
    assert len(cached) == 3 and str(pitch_cache_dir()).startswith(str(tmp_path / "cache"))
    assert not list(tmp_path.glob("wavs/*.npy"))  # nothing beside the user's audio
    second = TTSDataset(manifest, frontend=frontend)
    assert all(torch.equal(second[i][2], tracks[i]) for i in range(3))
    assert len(calls) == 3  # read from disk
    # other settings, or other audio, are other entries
    TTSDataset(manifest, frontend=frontend, pitch_fmax=400.0)[0]
    _tone(tmp_path / "wavs" / "u0.wav", 0.5, 130.0)
    third = TTSDataset(manifest, frontend=frontend)
    assert torch.allclose(third[0][2][4:-4], torch.tensor(130.0), rtol=0.02)
    assert len(calls) == 5
    # a damaged cache file is recomputed
    for path in pitch_cache_dir().rglob("*.npy"):
        path.write_bytes(b"broken")
    assert torch.equal(TTSDataset(manifest, frontend=frontend)[1][2], tracks[1])


def test_dataloader_batches_by_duration_with_the_preprocessor_settings(tmp_path, frontend):
    manifest = _manifest(tmp_path, ROWS + [(0.6, 180.0, "two two", "en-us")])
    cfg = {"manifest_filepath": str(manifest), "batch_size": 2, "shuffle": False}
    loader = tts_dataloader(cfg, frontend=frontend, preprocessor_cfg=PREPROCESSOR, key="m.ds")
    batches = list(loader)
    assert [b[1].tolist() for b in batches] == [[8000, 9600], [12800, 17600]]
    assert all(b[4].shape[1] == int(b[1].max()) // 256 + 1 for b in batches)
    hop160 = dict(PREPROCESSOR, n_window_stride=160, n_window_size=640)
    batch = next(iter(tts_dataloader(cfg, frontend=frontend, preprocessor_cfg=hop160)))
    assert batch[4].shape[1] == int(batch[1].max()) // 160 + 1


def test_dataloader_config_errors_name_the_key(tmp_path, frontend):
    manifest = str(_manifest(tmp_path, ROWS))
    with pytest.raises(ConfigError, match=r"m\.train_ds: unknown key\(s\) batchsize"):
        tts_dataloader(
            {"manifest_filepath": manifest, "batchsize": 2},
            frontend=frontend,
            preprocessor_cfg=PREPROCESSOR,
            key="m.train_ds",
        )
    with pytest.raises(ManifestError, match=r"m\.train_ds has no manifest_filepath"):
        tts_dataloader({}, frontend=frontend, preprocessor_cfg=PREPROCESSOR, key="m.train_ds")
    with pytest.raises(ConfigError, match=r"m\.train_ds\.sample_rate=22050 differs"):
        tts_dataloader(
            {"manifest_filepath": manifest, "sample_rate": 22050},
            frontend=frontend,
            preprocessor_cfg=PREPROCESSOR,
            key="m.train_ds",
        )


def test_pitch_statistics_cover_the_voiced_frames(tmp_path, frontend):
    ds = TTSDataset(_manifest(tmp_path, ROWS), frontend=frontend)
    stats = ds.pitch_statistics()
    assert 120 * 0.98 < stats["min"] < stats["mean"] < stats["max"] < 200 * 1.02
    assert stats["std"] > 20 and stats["voiced_frames"] > 100
    silent = tmp_path / "silent"
    manifest = _manifest(silent, [(0.5, 100.0, "one", None)])
    sf.write(silent / "wavs" / "u0.wav", np.zeros(8000, np.float32), 16000)
    with pytest.raises(TTSDataError, match="no voiced frame"):
        TTSDataset(manifest, frontend=frontend).pitch_statistics()
