"""Fixtures for ganglion-asr tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from asr_fixtures import write_manifest_lines, write_tone


@pytest.fixture
def tone_corpus(tmp_path: Path) -> Path:
    """A manifest of five tones of 0.5-2.5 s with relative paths; returns the manifest."""
    rows = []
    for i, (secs, text) in enumerate(
        [(0.5, "one"), (1.0, "two three"), (1.5, "four"), (2.0, "five six"), (2.5, "seven")]
    ):
        write_tone(tmp_path / "wavs" / f"u{i}.wav", secs, freq=200 + 100 * i)
        rows.append({"audio_filepath": f"wavs/u{i}.wav", "duration": secs, "text": text})
    return write_manifest_lines(tmp_path / "manifest.json", rows)
