"""Helpers for ganglion-asr tests: tiny audio files made on the spot with soundfile, and the
modules of a tiny CTC model."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

#: The sub-module configs of a tiny EncDecCTCModel (32 mel bands, three small blocks, the
#: 28 English labels); tests add data sections, optim, sample_rate and labels.
TINY_ASR_MODULES = {
    "preprocessor": {"_target_": "AudioToMelSpectrogramPreprocessor", "features": 32},
    "spec_augment": {"_target_": "SpectrogramAugmentation", "freq_masks": 1, "freq_width": 4},
    "encoder": {
        "_target_": "ConvASREncoder",
        "feat_in": 32,
        "jasper": [
            {"filters": 32, "kernel": [11], "stride": [2], "separable": True},
            {"filters": 32, "repeat": 2, "kernel": [21], "residual": True, "separable": True},
            {"filters": 48, "kernel": [1]},
        ],
    },
    "decoder": {"_target_": "ConvASRDecoder", "feat_in": 48, "num_classes": 28},
}


def tiny_asr_config() -> dict:
    """A fresh config of a tiny EncDecCTCModel: 16 kHz, English labels, TINY_ASR_MODULES."""
    from ganglion_asr.data.vocab import ENGLISH_LABELS

    return {"sample_rate": 16000, "labels": list(ENGLISH_LABELS), **copy.deepcopy(TINY_ASR_MODULES)}


def write_tone(
    path: Path,
    seconds: float,
    sample_rate: int = 16000,
    freq: float = 440.0,
    fmt: str | None = None,
) -> Path:
    """A sine tone (with a little deterministic noise) written with soundfile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    rng = np.random.default_rng(int(freq))
    audio = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.shape)
    sf.write(str(path), audio.astype(np.float32), sample_rate, format=fmt)
    return path


def write_manifest_lines(path: Path, rows: list[dict | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"
)
