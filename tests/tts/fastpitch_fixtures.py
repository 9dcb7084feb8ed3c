"""A tiny FastPitch config and hand-made batches in the spectrogram generator's batch format:
``(audio [B,S], audio_lens [B], tokens [B,N], token_lens [B], pitch [B,T])``."""

from __future__ import annotations

import copy
import math

import torch

#: the shared TTS mel settings (16 kHz, hop 256, 80 log-magnitude slaney bands)
TTS_PREPROCESSOR = {
    "_target_": "AudioToMelSpectrogramPreprocessor",
    "sample_rate": 16000,
    "n_window_size": 1024,
    "n_window_stride": 256,
    "n_fft": 1024,
    "window": "hann",
    "features": 80,
    "lowfreq": 0,
    "highfreq": 8000,
    "preemph": None,
    "normalize": None,
    "dither": 0.0,
    "pad_to": 0,
    "mag_power": 1.0,
    "log": True,
    "log_zero_guard_type": "clamp",
    "log_zero_guard_value": 1e-5,
    "mel_scale": "slaney",
    "mel_norm": "slaney",
}

TINY_FASTPITCH = {
    "_target_": "FastPitchModule",
    "d_model": 32,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "num_heads": 2,
    "ff_dim": 64,
    "predictor_filters": 32,
    "dropout": 0.0,
    "attention_dropout": 0.0,
    "predictor_dropout": 0.0,
}


def tiny_config(**overrides) -> dict:
    cfg = {
        "text_frontend": {},
        "pitch_mean": 180.0,
        "pitch_std": 60.0,
        "preprocessor": copy.deepcopy(TTS_PREPROCESSOR),
        "fastpitch": copy.deepcopy(TINY_FASTPITCH),
        "aligner": {"_target_": "AlignmentEncoder", "n_att_channels": 16},
        "alignment": {"binarization_start_step": 2},
        "optim": {"name": "adam", "lr": 3e-3},
    }
    cfg.update(overrides)
    return cfg


def tone_batch(token_ids: list[list[int]], seed: int = 0, hop: int = 256):
    """Each token is a tone of its own pitch lasting 3-6 frames; the pitch track is that
    pitch (0 for the space token, id 1, which is silent)."""
    gen = torch.Generator().manual_seed(seed)
    rate = 16000
    audios, pitches = [], []
    for ids in token_ids:
        durations = torch.randint(3, 7, (len(ids),), generator=gen).tolist()
        pieces, frame_pitch = [], []
        for token, frames in zip(ids, durations):
            samples = frames * hop
            freq = 0.0 if token == 1 else 100.0 + 9.0 * token
            t = torch.arange(samples) / rate
            pieces.append(0.3 * torch.sin(2 * math.pi * freq * t))
            frame_pitch += [freq] * frames
        audio = torch.cat(pieces)
        audios.append(audio)
        pitches.append(torch.tensor(frame_pitch + [frame_pitch[-1]]))  # S // hop + 1 frames
    batch = len(token_ids)
    audio_lens = torch.tensor([len(a) for a in audios])
    token_lens = torch.tensor([len(ids) for ids in token_ids])
    frames = int(audio_lens.max()) // hop + 1
    audio = torch.zeros(batch, int(audio_lens.max()))
    tokens = torch.zeros(batch, int(token_lens.max()), dtype=torch.long)
    pitch = torch.zeros(batch, frames)
    for i in range(batch):
        audio[i, : audio_lens[i]] = audios[i]
        tokens[i, : token_lens[i]] = torch.tensor(token_ids[i])
        pitch[i, : len(pitches[i])] = pitches[i]
    return audio, audio_lens, tokens, token_lens, pitch


#: token ids of the frontend's vocabulary (phonemes are 6..44, space 1)
BATCH_IDS = [[25, 9, 26, 1, 19, 11, 40], [41, 8, 28, 1, 36, 39], [12, 30, 7, 1, 22]]


def write_tone_corpus(folder, texts: list[str]):
    """A manifest of one 16 kHz wav per text (a gliding tone, 0.6 s + 0.1 s per character),
    with relative paths; returns the manifest path."""
    import json

    import numpy as np
    import soundfile as sf

    rate = 16000
    (folder / "wavs").mkdir(parents=True, exist_ok=True)
    lines = []
    for i, text in enumerate(texts):
        seconds = 0.6 + 0.1 * len(text)
        t = np.arange(int(seconds * rate)) / rate
        freq = 140.0 + 40.0 * t / seconds + 10.0 * i
        audio = 0.4 * np.sin(2 * np.pi * np.cumsum(freq) / rate)
        sf.write(folder / "wavs" / f"u{i}.wav", audio.astype(np.float32), rate, subtype="PCM_16")
        lines.append({"audio_filepath": f"wavs/u{i}.wav", "duration": seconds, "text": text})
    manifest = folder / "manifest.json"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return manifest


def constant_durations(model, frames: int) -> None:
    """Make a FastPitchModel's duration predictor say ``frames`` for every token."""
    head = model.fastpitch.duration_predictor.head
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(float(torch.log1p(torch.tensor(float(frames)))))
