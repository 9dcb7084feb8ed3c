"""The vocoder's segment dataset: random crops on frame boundaries, repeatable under a seed;
mel files cropped to the frames centred in the audio segment; whole utterances for
validation; each bad manifest line named with what is wrong."""

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
from ganglion_tts.data.segments import AudioSegmentDataset
from ganglion_tts.errors import TTSDataError
from ganglion_tts.modules.griffin_lim import mel_settings

HOP = 256


def _speechlike(samples: int, seed: int, rate: int = 16000) -> np.ndarray:
    """Harmonics of a gliding pitch under a slow envelope, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / rate
    f0 = 110 + 40 * seed + 30 * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    audio = sum(np.sin(k * phase) / k for k in range(1, 8))
    audio *= 0.5 + 0.5 * np.sin(2 * np.pi * 2.0 * t) ** 2
    audio = 0.2 * audio / np.abs(audio).max() + 0.003 * rng.standard_normal(samples)
    return audio.astype(np.float32)


def _corpus(
    root: Path, lengths: list[int], *, mels: bool = False, rate: int = 16000
) -> tuple[Path, list[np.ndarray]]:
    """Wavs of ``lengths`` samples (and, with ``mels``, their .npy mels) and a manifest."""
    pre = mel_settings(None)
    rows, audios = [], []
    for i, n in enumerate(lengths):
        audio = _speechlike(n, i, rate)
        (root / "wavs").mkdir(parents=True, exist_ok=True)
        sf.write(root / "wavs" / f"u{i}.wav", audio, rate, subtype="FLOAT")
        row = {"audio_filepath": f"wavs/u{i}.wav", "duration": n / rate, "text": "x"}
        if mels:
            mel, _ = pre(torch.from_numpy(audio)[None], torch.tensor([n]))
            (root / "mels").mkdir(exist_ok=True)
            np.save(root / "mels" / f"u{i}.npy", mel[0].numpy())
            row["mel_filepath"] = f"mels/u{i}.npy"
        rows.append(row)
        audios.append(audio)
    manifest = root / "manifest.json"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest, audios


def _start_of(piece: np.ndarray, audio: np.ndarray) -> int:
    """Where ``piece`` was cut from ``audio`` (the only matching offset)."""
    starts = [
        s
        for s in range(0, len(audio) - len(piece) + 1)
        if np.array_equal(audio[s : s + len(piece)], piece)
    ]
    assert len(starts) == 1
    return starts[0]


def test_segments_are_cut_on_frame_boundaries_and_repeat_under_the_same_seed(tmp_path):
    manifest, audios = _corpus(tmp_path, [12000, 9000])
    ds = AudioSegmentDataset(manifest, segment_length=2048, hop_length=HOP, seed=3)
    starts = []
    for _ in range(6):
        piece, real, mel = ds[0]
        assert piece.shape == (2048,) and real == 2048 and mel is None
        start = _start_of(piece.numpy(), audios[0])
        assert start % HOP == 0
        starts.append(start)
    assert len(set(starts)) > 1  # a new crop each time
    again = AudioSegmentDataset(manifest, segment_length=2048, hop_length=HOP, seed=3)
    assert [_start_of(again[0][0].numpy(), audios[0]) for _ in range(6)] == starts
    other = AudioSegmentDataset(manifest, segment_length=2048, hop_length=HOP, seed=4)
    assert [_start_of(other[0][0].numpy(), audios[0]) for _ in range(6)] != starts


def test_a_short_utterance_is_padded_and_its_real_length_kept(tmp_path):
    manifest, audios = _corpus(tmp_path, [1000])
    ds = AudioSegmentDataset(manifest, segment_length=2048, hop_length=HOP)
    piece, real, _ = ds[0]
    assert real == 1000 and piece.shape == (2048,)
    assert np.array_equal(piece[:1000].numpy(), audios[0]) and not piece[1000:].any()


def test_validation_takes_whole_utterances_or_a_fixed_crop(tmp_path):
    manifest, audios = _corpus(tmp_path, [5000, 3000])
    whole = AudioSegmentDataset(manifest, segment_length=None, hop_length=HOP)
    audio, lengths, mel, mel_lens = whole.collate_fn([whole[0], whole[1]])
    assert audio.shape == (2, 5000) and lengths.tolist() == [5000, 3000]
    assert mel is None and mel_lens is None
    assert np.array_equal(audio[1, :3000].numpy(), audios[1]) and not audio[1, 3000:].any()
    fixed = AudioSegmentDataset(manifest, segment_length=1024, hop_length=HOP, random_crop=False)
    assert all(np.array_equal(fixed[0][0].numpy(), audios[0][:1024]) for _ in range(3))


def test_mel_files_are_cropped_to_the_frames_of_the_audio_segment(tmp_path):
    manifest, audios = _corpus(tmp_path, [9000, 7000], mels=True)
    pre = mel_settings(None)
    ds = AudioSegmentDataset(manifest, segment_length=2048, hop_length=HOP, n_mels=80, seed=1)
    assert ds.has_mels
    full = np.load(tmp_path / "mels" / "u0.npy")
    for _ in range(4):
        piece, _, mel = ds[0]
        first = _start_of(piece.numpy(), audios[0]) // HOP
        assert mel.shape == (80, 2048 // HOP + 1)
        assert np.array_equal(mel.numpy(), full[:, first : first + 9])
        # the crop describes the segment: away from its edges (half a window = 2 hops) the
        # segment's own mels are the same frames
        own, _ = pre(piece[None], torch.tensor([2048]))
        assert torch.allclose(own[0, :, 2:-2], mel[:, 2:-2], atol=1e-4)
    batch = ds.collate_fn([ds[0], ds[1]])
    assert batch[2].shape == (2, 80, 9) and batch[3].tolist() == [9, 9]


def test_whole_utterances_with_mel_files_pad_mels_with_the_log_floor(tmp_path):
    manifest, _ = _corpus(tmp_path, [5000, 3000], mels=True)
    ds = AudioSegmentDataset(manifest, segment_length=None, hop_length=HOP, mel_pad_value=-11.5)
    audio, lengths, mel, mel_lens = ds.collate_fn([ds[0], ds[1]])
    assert mel.shape == (2, 80, 5000 // HOP + 1) and mel_lens.tolist() == [20, 12]
    assert (mel[1, :, 12:] == -11.5).all()
    assert np.array_equal(mel[1, :, :12].numpy(), np.load(tmp_path / "mels" / "u1.npy"))


def test_a_missing_audio_file_names_the_manifest_line(tmp_path):
    manifest, _ = _corpus(tmp_path, [3000, 3000])
    (tmp_path / "wavs" / "u1.wav").unlink()
    with pytest.raises(AudioLoadError, match=r"manifest\.json:2: .*u1\.wav does not exist"):
        AudioSegmentDataset(manifest, hop_length=HOP)


def test_mel_file_errors_name_the_line_and_the_numbers(tmp_path):
    manifest, _ = _corpus(tmp_path, [3000, 4000], mels=True)
    np.save(tmp_path / "mels" / "u1.npy", np.zeros((80, 10), np.float32))
    with pytest.raises(TTSDataError, match=r"manifest\.json:2: .*10 frames.*4000 samples make 16"):
        AudioSegmentDataset(manifest, hop_length=HOP)
    np.save(tmp_path / "mels" / "u1.npy", np.zeros((64, 16), np.float32))
    with pytest.raises(TTSDataError, match=r"manifest\.json:2: .*64 mel bands.*80"):
        AudioSegmentDataset(manifest, hop_length=HOP, n_mels=80)
    (tmp_path / "mels" / "u1.npy").unlink()
    with pytest.raises(TTSDataError, match=r"manifest\.json:2: mel file .*u1\.npy does not exist"):
        AudioSegmentDataset(manifest, hop_length=HOP)


def test_mels_on_some_lines_only_are_refused(tmp_path):
    manifest, _ = _corpus(tmp_path, [3000, 3000], mels=True)
    lines = manifest.read_text().splitlines()
    row = json.loads(lines[1])
    del row["mel_filepath"]
    manifest.write_text(lines[0] + "\n" + json.dumps(row) + "\n")
    with pytest.raises(ManifestError, match=r"manifest\.json:2: some lines have a 'mel_filepath'"):
        AudioSegmentDataset(manifest, hop_length=HOP)


def test_a_segment_length_off_the_hop_is_refused(tmp_path):
    manifest, _ = _corpus(tmp_path, [3000])
    with pytest.raises(ConfigError, match="multiple of the hop"):
        AudioSegmentDataset(manifest, segment_length=1000, hop_length=HOP)


def test_audio_at_another_rate_is_resampled_and_said_once(tmp_path, caplog):
    manifest, _ = _corpus(tmp_path, [4410, 6615], rate=22050)
    with caplog.at_level(logging.WARNING, logger="ganglion_tts.data.segments"):
        ds = AudioSegmentDataset(manifest, segment_length=None, hop_length=HOP)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "2 of 2 audio files" in warnings[0] and "22050 Hz" in warnings[0]
    assert ds[0][0].shape[0] == 3200  # 0.2 s at 16 kHz
