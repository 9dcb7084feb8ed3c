"""Reading audio: soundfile for decoding, soxr for band-limited resampling.

Everything returns mono ``float32`` numpy arrays in [-1, 1] at the requested sample rate.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable

import numpy as np

from ganglion_asr.errors import AudioLoadError


def resample(audio: np.ndarray, orig_sr: int, target_sr: int, *, quality: str = "HQ") -> np.ndarray:
    """Resample mono ``audio`` from ``orig_sr`` to ``target_sr`` Hz with soxr.

    soxr is a band-limited (windowed-sinc, polyphase) resampler, so content above the new
    Nyquist frequency is filtered out instead of aliasing back into the speech band.
    ``quality`` is one of soxr's presets ("QQ", "LQ", "MQ", "HQ", "VHQ").
    """
    if orig_sr == target_sr:
        return audio
    import soxr  # imported here: only needed when rates differ

    out = soxr.resample(np.ascontiguousarray(audio, dtype=np.float32), orig_sr, target_sr, quality)
    return np.asarray(out, dtype=np.float32)


def audio_info(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(sample_rate, frames)`` of an audio file, without decoding it."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises RuntimeError/LibsndfileError for bad files
        raise _load_error(path, exc) from None
    return int(info.samplerate), int(info.frames)


def audio_duration(path: str | os.PathLike[str]) -> float:
    """Duration of an audio file in seconds, from its header."""
    rate, frames = audio_info(path)
    return frames / rate


def describe_conversion(paths: Iterable[str | os.PathLike[str]], sample_rate: int) -> str | None:
    """One sentence saying what :func:`load_audio` will do to these files to reach mono
    ``sample_rate`` Hz (read from their headers), or ``None`` when they already are.

    Every file takes the same path: channels are averaged, then soxr resamples band-limited
    to the model's rate; audio recorded at 8 kHz (a telephone line) is upsampled and holds
    nothing above 4 kHz, which models trained with telephone augmentation expect.
    """
    import soundfile as sf

    rates: Counter[int] = Counter()
    multichannel = 0
    for path in dict.fromkeys(str(p) for p in paths):
        try:
            info = sf.info(path)
        except Exception as exc:
            raise _load_error(path, exc) from None
        if info.samplerate != sample_rate:
            rates[int(info.samplerate)] += 1
        multichannel += info.channels > 1
    parts = []
    if rates:
        listed = ", ".join(f"{count} at {rate} Hz" for rate, count in sorted(rates.items()))
        parts.append(f"resampled {listed} to {sample_rate} Hz (soxr, band-limited)")
    if multichannel:
        parts.append(f"averaged the channels of {multichannel} multichannel file(s) to mono")
    return "input audio: " + "; ".join(parts) if parts else None


def load_audio(
    path: str | os.PathLike[str],
    sample_rate: int,
    *,
    offset: float | None = None,
    duration: float | None = None,
) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sample_rate`` Hz.

    ``offset`` and ``duration`` (seconds) select a segment; channels are averaged; a file at
    another rate is resampled. A missing, empty or undecodable file raises
    :class:`AudioLoadError` naming it.
    """
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as handle:
            file_sr = handle.samplerate
            start = int(round((offset or 0.0) * file_sr))
            if start:
                handle.seek(min(start, handle.frames))
            frames = -1 if duration is None else int(round(duration * file_sr))
            audio = handle.read(frames=frames, dtype="float32", always_2d=True)
    except Exception as exc:
        raise _load_error(path, exc) from None
    if audio.shape[0] == 0:
        where = f" at offset {offset}s" if offset else ""
        raise AudioLoadError(f"audio file {path} holds no samples{where}")
    mono = audio.mean(axis=1) if audio.shape[1] > 1 else audio[:, 0]
    return resample(mono, file_sr, sample_rate)


def _load_error(path: str | os.PathLike[str], exc: Exception) -> AudioLoadError:
    if not os.path.exists(path):
        return AudioLoadError(f"audio file {path} does not exist")
    return AudioLoadError(f"cannot decode audio file {path}: {exc}")
