"""Helpers for ganglion-asr tests: tiny audio files made on the spot with soundfile."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


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
