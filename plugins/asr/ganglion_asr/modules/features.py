"""Audio to log-mel features: the preprocessor in front of every CTC model.

The mel filterbank is computed here (no audio library at run time) with the two usual mel
scales: ``"slaney"`` (linear below 1 kHz, logarithmic above; what librosa uses by default)
and ``"htk"`` (``2595 log10(1 + f/700)``), and Slaney's area normalisation or none.

The window and the filterbank are computed on the CPU even while the preprocessor is built on
the meta device (as a restore builds a model before giving it the archive's weights): they are
derived from the config, never stored in archives, so the module must hold their values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from ganglion import typecheck
from ganglion.errors import ConfigError
from ganglion.module import NeuralModule
from ganglion.types import LengthsType, NeuralType

_WINDOWS = {
    "hann": torch.hann_window,
    "hamming": torch.hamming_window,
    "blackman": torch.blackman_window,
    "bartlett": torch.bartlett_window,
}

# Slaney's scale: 3 mels per 200 Hz up to 1 kHz, then 27 mels per factor of 6.4
_SLANEY_F_SP = 200.0 / 3.0
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP
_SLANEY_LOGSTEP = math.log(6.4) / 27.0

#: The longest STFT frame the preprocessor takes (1.4 s at 48 kHz). The window and the mel
#: filterbank are derived from the config, not stored in archives, so this bounds what a
#: config (an archive's included) can make the constructor allocate.
MAX_FFT = 1 << 16


def _float64(values: Any) -> torch.Tensor:
    """``values`` as a float64 tensor: a tensor stays on its device, anything else is made on
    the CPU (explicitly: a default device such as ``meta`` would make it hold no values)."""
    if isinstance(values, torch.Tensor):
        return values.to(torch.float64)
    return torch.as_tensor(values, dtype=torch.float64, device="cpu")


def hz_to_mel(freqs: Any, scale: str = "slaney") -> torch.Tensor:
    """Frequencies in Hz (a tensor, or numbers: on the CPU) to mels on the ``"slaney"`` or
    ``"htk"`` scale."""
    freqs = _float64(freqs)
    if scale == "htk":
        return 2595.0 * torch.log10(1.0 + freqs / 700.0)
    if scale != "slaney":
        raise ConfigError(f"mel scale {scale!r} must be 'slaney' or 'htk'")
    linear = freqs / _SLANEY_F_SP
    log_part = _SLANEY_MIN_LOG_MEL + torch.log(freqs.clamp(min=1e-10) / _SLANEY_MIN_LOG_HZ) / (
        _SLANEY_LOGSTEP
    )
    return torch.where(freqs >= _SLANEY_MIN_LOG_HZ, log_part, linear)


def mel_to_hz(mels: Any, scale: str = "slaney") -> torch.Tensor:
    """Mels on the ``"slaney"`` or ``"htk"`` scale to Hz (the inverse of :func:`hz_to_mel`)."""
    mels = _float64(mels)
    if scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    if scale != "slaney":
        raise ConfigError(f"mel scale {scale!r} must be 'slaney' or 'htk'")
    linear = mels * _SLANEY_F_SP
    log_part = _SLANEY_MIN_LOG_HZ * torch.exp(_SLANEY_LOGSTEP * (mels - _SLANEY_MIN_LOG_MEL))
    return torch.where(mels >= _SLANEY_MIN_LOG_MEL, log_part, linear)


def mel_filterbank(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    fmin: float = 0.0,
    fmax: float | None = None,
    *,
    scale: str = "slaney",
    norm: str | None = "slaney",
) -> torch.Tensor:
    """Triangular mel filters as a ``[n_mels, n_fft // 2 + 1]`` float32 matrix, on the CPU.

    Filter ``m`` rises from mel point ``m`` to ``m + 1`` and falls to ``m + 2``, the
    ``n_mels + 2`` points spaced evenly in mels between ``fmin`` and ``fmax`` (default: the
    Nyquist frequency). ``norm="slaney"`` scales each filter by ``2 / bandwidth`` so every
    filter has the same area (equal energy per band); ``None`` leaves peaks at 1.
    """
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    if not 0 <= fmin < fmax <= sample_rate / 2.0:
        raise ConfigError(
            f"mel filterbank needs 0 <= lowfreq < highfreq <= sample_rate/2 "
            f"({sample_rate / 2.0:g}); got lowfreq={fmin}, highfreq={fmax}"
        )
    if norm not in ("slaney", None):
        raise ConfigError(f"mel_norm {norm!r} must be 'slaney' or null")
    cpu = torch.device("cpu")
    fft_freqs = torch.linspace(
        0.0, sample_rate / 2.0, n_fft // 2 + 1, dtype=torch.float64, device=cpu
    )
    low, high = hz_to_mel([float(fmin), fmax], scale).tolist()
    mel_points = torch.linspace(low, high, n_mels + 2, dtype=torch.float64, device=cpu)
    hz_points = mel_to_hz(mel_points, scale)
    widths = hz_points[1:] - hz_points[:-1]  # [n_mels + 1]
    offsets = hz_points[:, None] - fft_freqs[None, :]  # [n_mels + 2, n_freq]
    rising = -offsets[:-2] / widths[:-1, None]
    falling = offsets[2:] / widths[1:, None]
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    if norm == "slaney":
        weights *= (2.0 / (hz_points[2:] - hz_points[:-2]))[:, None]
    return weights.to(torch.float32)


class AudioToMelSpectrogramPreprocessor(NeuralModule):
    """Waveforms to normalised log-mel spectrograms, batched, with lengths.

    The steps, in order: dither (training only), pre-emphasis, zeroing of each row's padding
    (so a batch gives each utterance the same features as it would get alone), a short-time
    Fourier transform (``torch.stft``, centred, zero-padded), power spectrum, mel filterbank,
    log, per-utterance normalisation, and padding of the time axis to a multiple of
    ``pad_to``. Features are computed in float32 even under mixed precision.

    Args (NeMo's names):
        sample_rate: input rate in Hz.
        window_size, window_stride: analysis window and hop in seconds (or
            ``n_window_size``/``n_window_stride`` in samples, which win).
        window: ``"hann"``, ``"hamming"``, ``"blackman"``, ``"bartlett"`` or ``"none"``.
        normalize: ``"per_feature"`` (each mel band to zero mean, unit variance over the
            utterance's frames), ``"all_features"`` (one mean and std per utterance) or null.
        n_fft: FFT size (default: the next power of two at or above the window).
        preemph: pre-emphasis coefficient (null: none).
        features: number of mel bands.
        lowfreq, highfreq: filterbank range in Hz (highfreq null: Nyquist).
        log: take the log of the mel energies.
        log_zero_guard_type, log_zero_guard_value: ``"add"`` (log(x + v)) or ``"clamp"``
            (log(max(x, v))); the value may be ``"tiny"`` or ``"eps"`` (float32's).
        dither: amplitude of Gaussian noise added in training (0: none).
        pad_to: pad frames to a multiple of this (0: no padding).
        pad_value: value of padded frames.
        mag_power: 2 for the power spectrum, 1 for the magnitude.
        mel_scale: ``"slaney"`` or ``"htk"``; mel_norm: ``"slaney"`` or null.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        window_size: float = 0.02,
        window_stride: float = 0.01,
        n_window_size: int | None = None,
        n_window_stride: int | None = None,
        window: str = "hann",
        normalize: str | None = "per_feature",
        n_fft: int | None = None,
        preemph: float | None = 0.97,
        features: int = 64,
        lowfreq: float = 0.0,
        highfreq: float | None = None,
        log: bool = True,
        log_zero_guard_type: str = "add",
        log_zero_guard_value: float | str = 2**-24,
        dither: float = 1e-5,
        pad_to: int = 16,
        pad_value: float = 0.0,
        mag_power: float = 2.0,
        mel_scale: str = "slaney",
        mel_norm: str | None = "slaney",
    ) -> None:
        super().__init__()
        self.sample_rate = int(sample_rate)
        self.win_length = int(n_window_size or round(window_size * sample_rate))
        self.hop_length = int(n_window_stride or round(window_stride * sample_rate))
        if self.win_length < 1 or self.hop_length < 1:
            raise ConfigError(
                f"preprocessor: window of {self.win_length} and hop of {self.hop_length} "
                "samples; both must be at least 1"
            )
        self.n_fft = int(n_fft or 2 ** math.ceil(math.log2(self.win_length)))
        if self.n_fft < self.win_length:
            raise ConfigError(
                f"preprocessor: n_fft={self.n_fft} is shorter than the window "
                f"({self.win_length} samples)"
            )
        if self.n_fft > MAX_FFT:
            raise ConfigError(
                f"preprocessor: n_fft={self.n_fft} (window {self.win_length} samples) is more "
                f"than {MAX_FFT} samples; use a shorter window or n_fft"
            )
        if normalize not in ("per_feature", "all_features", None):
            raise ConfigError(
                f"preprocessor: normalize={normalize!r} must be 'per_feature', "
                "'all_features' or null"
            )
        if log_zero_guard_type not in ("add", "clamp"):
            raise ConfigError(
                f"preprocessor: log_zero_guard_type={log_zero_guard_type!r} must "
                "be 'add' or 'clamp'"
            )
        if isinstance(log_zero_guard_value, str):
            finfo = torch.finfo(torch.float32)
            guards = {"tiny": finfo.tiny, "eps": finfo.eps}
            if log_zero_guard_value not in guards:
                raise ConfigError(
                    "preprocessor: log_zero_guard_value must be a number, 'tiny' "
                    f"or 'eps'; got {log_zero_guard_value!r}"
                )
            log_zero_guard_value = guards[log_zero_guard_value]
        window_fn = _WINDOWS.get(window) if window not in (None, "none", "ones") else None
        if window_fn is None and window not in (None, "none", "ones"):
            raise ConfigError(
                f"preprocessor: window={window!r}; known: {', '.join(_WINDOWS)}, none"
            )
        bins = self.n_fft // 2 + 1
        if not 1 <= int(features) <= bins:
            # more bands than frequency bins leaves filters empty; it also bounds the
            # filterbank, which no archive's weights size (it is derived from the config)
            raise ConfigError(
                f"preprocessor: features={features} mel bands need 1 to n_fft // 2 + 1 = {bins} "
                f"frequency bins (n_fft={self.n_fft}); lower features or raise n_fft"
            )
        cpu = torch.device("cpu")
        win = (
            window_fn(self.win_length, periodic=True, device=cpu)
            if window_fn is not None
            else torch.ones(self.win_length, device=cpu)
        )
        fb = mel_filterbank(
            self.sample_rate,
            self.n_fft,
            features,
            lowfreq,
            highfreq,
            scale=mel_scale,
            norm=mel_norm,
        )
        # derived from the config: rebuilt, never stored; computed on the CPU, then put on the
        # default device, except the meta device, where they would hold no values
        device = torch.get_default_device()
        if device.type != "meta":
            win, fb = win.to(device), fb.to(device)
        self.register_buffer("window", win, persistent=False)
        self.register_buffer("fb", fb, persistent=False)
        self.features = int(features)
        self.normalize = normalize
        self.preemph = preemph
        self.log = log
        self.log_zero_guard_type = log_zero_guard_type
        self.log_zero_guard_value = float(log_zero_guard_value)
        self.dither = float(dither)
        self.pad_to = int(pad_to or 0)
        self.pad_value = float(pad_value)
        self.mag_power = float(mag_power)

    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        from ganglion_asr.types import AudioSignal

        return {
            "input_signal": NeuralType(("B", "T"), AudioSignal(freq=self.sample_rate)),
            "length": NeuralType(("B",), LengthsType()),
        }

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        from ganglion_asr.types import MelSpectrogramType

        return {
            "processed_signal": NeuralType(("B", "D", "T"), MelSpectrogramType()),
            "processed_length": NeuralType(("B",), LengthsType()),
        }

    def get_seq_len(self, length: torch.Tensor) -> torch.Tensor:
        """Number of feature frames of signals of ``length`` samples (centred STFT)."""
        return torch.div(length, self.hop_length, rounding_mode="floor").long() + 1

    @typecheck()
    def forward(
        self, input_signal: torch.Tensor, length: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast(input_signal.device.type, enabled=False):
            return self._featurize(input_signal.float(), length)

    def _featurize(self, x: torch.Tensor, length: torch.Tensor) -> tuple[torch.Tensor, Any]:
        seq_len = self.get_seq_len(length)
        samples = torch.arange(x.shape[1], device=x.device)
        valid = samples[None, :] < length[:, None]
        if self.training and self.dither > 0:
            x = x + self.dither * torch.randn_like(x)
        if self.preemph is not None and self.preemph != 0:
            x = torch.cat((x[:, :1], x[:, 1:] - self.preemph * x[:, :-1]), dim=1)
        x = x.masked_fill(~valid, 0.0)
        spec = torch.stft(
            x,
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        # |X|^2 without a sqrt (and 10x faster than summing a view_as_real over its last axis)
        power = torch.addcmul(spec.real.square(), spec.imag, spec.imag)
        if self.mag_power != 2.0:
            power = power.pow(self.mag_power / 2.0)
        feats = torch.matmul(self.fb, power)  # [B, n_mels, frames]
        if self.log:
            if self.log_zero_guard_type == "add":
                feats = torch.log(feats + self.log_zero_guard_value)
            else:
                feats = torch.log(feats.clamp(min=self.log_zero_guard_value))
        frames = feats.shape[-1]
        mask = torch.arange(frames, device=x.device)[None, :] < seq_len[:, None]  # [B, T]
        if self.normalize is not None:
            feats = _normalize(feats, mask, seq_len, self.normalize)
        feats = feats.masked_fill(~mask[:, None, :], self.pad_value)
        if self.pad_to > 0:
            extra = (-frames) % self.pad_to
            if extra:
                feats = torch.nn.functional.pad(feats, (0, extra), value=self.pad_value)
        return feats, seq_len


def _normalize(
    feats: torch.Tensor, mask: torch.Tensor, seq_len: torch.Tensor, mode: str
) -> torch.Tensor:
    """Zero mean and unit variance over each utterance's valid frames (unbiased std)."""
    m = mask[:, None, :].to(feats.dtype)
    if mode == "per_feature":
        count = seq_len.to(feats.dtype)[:, None, None]  # [B, 1, 1]
        mean = (feats * m).sum(-1, keepdim=True) / count
        var = (((feats - mean) * m) ** 2).sum(-1, keepdim=True) / (count - 1).clamp(min=1)
    else:  # all_features
        count = (seq_len.to(feats.dtype) * feats.shape[1])[:, None, None]
        mean = (feats * m).sum((1, 2), keepdim=True) / count
        var = (((feats - mean) * m) ** 2).sum((1, 2), keepdim=True) / (count - 1).clamp(min=1)
    return (feats - mean) / (var.sqrt() + 1e-5)
