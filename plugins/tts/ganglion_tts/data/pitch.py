"""F0 (pitch) per spectrogram frame: a vectorised YIN estimator.

>>> import numpy as np
>>> t = np.arange(16000) / 16000
>>> f0 = estimate_pitch(0.5 * np.sin(2 * np.pi * 200 * t), 16000)
>>> f0.shape, round(float(np.median(f0)))
((63,), 200)

One value per hop of ``hop_length`` samples, frames centred on ``i * hop_length`` (the signal
is zero-padded by half a window on each side), so a signal of ``S`` samples has
``S // hop_length + 1`` values: as many as the mel spectrogram of
``ganglion_asr.modules.features.AudioToMelSpectrogramPreprocessor`` with the same hop. ``0``
marks an unvoiced (or silent) frame.

YIN (de Cheveigné and Kawahara, 2002) in each frame of ``win_length`` samples:

1. the difference function ``d(τ) = Σ_j (x_j - x_{j+τ})²`` over all but the last ``τ_max + 2``
   samples of the frame, written as ``E(0) + E(τ) - 2 r(τ)``: energies from a cumulative sum, the
   cross-correlation ``r`` from one FFT product per frame (all frames of a chunk at once);
2. its cumulative mean normalised form ``d'(τ) = d(τ) τ / Σ_{k≤τ} d(k)``, which is near 1 for
   noise and dips towards 0 at each period of a periodic signal;
3. the first lag (between ``sr / fmax`` and ``sr / fmin``) where ``d'`` dips below
   ``threshold``, followed down to the bottom of that dip; none: unvoiced;
4. a parabola through ``d'`` around that lag, for a period finer than one sample.

Frames quieter than ``silence_db`` (RMS, dB full scale) are unvoiced whatever their shape.
"""

from __future__ import annotations

import math

import numpy as np

from ganglion_tts.errors import PitchSettingsError

__all__ = ["check_pitch_settings", "estimate_pitch", "num_frames"]


def num_frames(num_samples: int, hop_length: int) -> int:
    """Frames of a centred analysis of ``num_samples`` samples: ``num_samples // hop + 1``."""
    return int(num_samples) // int(hop_length) + 1


def check_pitch_settings(
    sample_rate: int,
    hop_length: int = 256,
    win_length: int = 1024,
    fmin: float = 60.0,
    fmax: float = 500.0,
    threshold: float = 0.3,
) -> tuple[int, int]:
    """The shortest and longest period searched, ``(tau_min, tau_max)`` in samples; settings
    that cannot work raise a :class:`PitchSettingsError` naming the setting and the fix."""
    for name, value in (
        ("sample_rate", sample_rate),
        ("hop_length", hop_length),
        ("win_length", win_length),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise PitchSettingsError(f"{name} must be a positive whole number, got {value!r}")
    if not (math.isfinite(fmin) and math.isfinite(fmax) and 0 < fmin < fmax):
        raise PitchSettingsError(f"need 0 < fmin < fmax (Hz), got fmin={fmin}, fmax={fmax}")
    if fmax > sample_rate / 2:
        raise PitchSettingsError(
            f"fmax={fmax} Hz lies above the Nyquist frequency of {sample_rate} Hz audio "
            f"({sample_rate / 2:g} Hz); lower fmax"
        )
    if not 0 < threshold < 1:
        raise PitchSettingsError(f"threshold must lie in (0, 1), got {threshold}")
    tau_max = math.ceil(sample_rate / fmin)
    tau_min = max(2, math.floor(sample_rate / fmax))
    if win_length < 2 * tau_max + 2:
        raise PitchSettingsError(
            f"win_length={win_length} is too short for fmin={fmin:g} Hz at {sample_rate} Hz: "
            f"a frame must hold two periods of the lowest pitch ({2 * tau_max + 2} samples); "
            "raise win_length or fmin"
        )
    if tau_min >= tau_max:
        raise PitchSettingsError(
            f"fmin={fmin:g} and fmax={fmax:g} Hz leave no period range at {sample_rate} Hz; "
            "widen them"
        )
    return tau_min, tau_max


def estimate_pitch(
    audio: np.ndarray,
    sample_rate: int,
    hop_length: int = 256,
    win_length: int = 1024,
    fmin: float = 60.0,
    fmax: float = 500.0,
    *,
    threshold: float = 0.3,
    silence_db: float = -60.0,
    chunk_frames: int = 1024,
) -> np.ndarray:
    """F0 in Hz of each frame of mono ``audio`` (``0``: unvoiced), float32 of shape
    ``[len(audio) // hop_length + 1]``.

    ``fmin``/``fmax`` bound the pitch found (a frame must hold two periods of ``fmin``:
    ``win_length >= 2 * sample_rate / fmin``). ``threshold`` is YIN's dip threshold (lower:
    fewer frames voiced, fewer octave errors). ``chunk_frames`` frames are analysed at once
    (memory: about ``chunk_frames * win_length * 64`` bytes). See the module docstring.
    """
    tau_min, tau_max = check_pitch_settings(
        sample_rate, hop_length, win_length, fmin, fmax, float(threshold)
    )
    x = np.asarray(audio)
    if x.ndim != 1:
        raise PitchSettingsError(f"audio must be one mono channel [samples], got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        raise PitchSettingsError(f"audio must hold numbers, got dtype {x.dtype}")
    x = x.astype(np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        raise PitchSettingsError("audio holds NaN or infinite samples")
    n_frames = num_frames(x.shape[0], hop_length)
    left = win_length // 2
    padded = np.pad(x, (left, win_length - left))  # zeros, like the centred STFT of the mels
    frames = np.lib.stride_tricks.sliding_window_view(padded, win_length)[::hop_length]
    frames = frames[:n_frames]
    f0 = np.zeros(n_frames, dtype=np.float32)
    for start in range(0, n_frames, max(1, int(chunk_frames))):
        chunk = frames[start : start + max(1, int(chunk_frames))]
        f0[start : start + chunk.shape[0]] = _yin(
            chunk, sample_rate, tau_min, tau_max, fmin, fmax, float(threshold), silence_db
        )
    return f0


def _yin(
    frames: np.ndarray,
    sample_rate: int,
    tau_min: int,
    tau_max: int,
    fmin: float,
    fmax: float,
    threshold: float,
    silence_db: float,
) -> np.ndarray:
    """YIN on a ``[F, W]`` block of frames; F0 per frame (0: unvoiced)."""
    from scipy import fft

    num, width = frames.shape
    lags = tau_max + 2  # one lag past tau_max, for the parabola at tau_max
    window = width - lags  # the integration window: no frame sample is read past its end
    n_fft = fft.next_fast_len(width, real=True)
    # r[τ] = Σ_{j<window} x_j x_{j+τ}; x_{j+τ} never wraps since j + τ < width <= n_fft
    head = fft.rfft(frames[:, :window], n_fft, axis=1)
    whole = fft.rfft(frames, n_fft, axis=1)
    corr = fft.irfft(np.conj(head) * whole, n_fft, axis=1)[:, :lags]
    power = np.concatenate([np.zeros((num, 1)), np.cumsum(frames**2, axis=1)], axis=1)
    energy_at = power[:, window : window + lags] - power[:, :lags]  # E(τ) = Σ x_{j+τ}²
    diff = energy_at[:, :1] + energy_at - 2.0 * corr
    np.maximum(diff, 0.0, out=diff)  # rounding can push a true zero below it
    diff[:, 0] = 0.0
    # cumulative mean normalised difference
    running = np.cumsum(diff[:, 1:], axis=1)
    taus = np.arange(1, lags, dtype=np.float64)
    cmnd = np.ones_like(diff)
    with np.errstate(divide="ignore", invalid="ignore"):
        cmnd[:, 1:] = np.where(running > 0, diff[:, 1:] * taus / running, 1.0)
    # the first dip below the threshold, followed to its bottom: the first lag in range that
    # is below the threshold and not above the next one
    inner = cmnd[:, tau_min : tau_max + 1]
    after = cmnd[:, tau_min + 1 : tau_max + 2]
    hit = (inner < threshold) & (inner <= after)
    voiced = hit.any(axis=1)
    tau = tau_min + np.argmax(hit, axis=1)
    rows = np.arange(num)
    before, here, nxt = cmnd[rows, tau - 1], cmnd[rows, tau], cmnd[rows, tau + 1]
    curve = before - 2.0 * here + nxt
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(curve > 0, 0.5 * (before - nxt) / curve, 0.0)
    period = tau + np.clip(shift, -1.0, 1.0)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = rms > 10.0 ** (silence_db / 20.0)
    with np.errstate(divide="ignore"):
        f0 = np.where(voiced & loud, sample_rate / period, 0.0)
    f0[(f0 < fmin) | (f0 > fmax)] = 0.0
    return f0.astype(np.float32)
