"""Waveform perturbations for training: each acts on one mono float32 utterance.

Every perturbation is called as ``perturbation(audio, sample_rate, rng)`` with a numpy
``Generator``; it draws all its random choices from that generator (never from a global
one), so the same generator state gives the same output in any process. ``prob`` is the
chance that it acts at all; when it does not, the input comes back unchanged. Only
:class:`SpeedPerturbation` changes the length; the others keep it exactly.
"""

from __future__ import annotations

import abc
import math
import os
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "EqualizerPerturbation",
    "GainPerturbation",
    "NoisePerturbation",
    "Perturbation",
    "PitchPerturbation",
    "ReverbPerturbation",
    "SpeedPerturbation",
    "TelephonePerturbation",
    "coloured_noise",
]


def _resample(
    audio: np.ndarray, orig_sr: float, target_sr: float, quality: str = "MQ"
) -> np.ndarray:
    import soxr

    out = soxr.resample(np.ascontiguousarray(audio, dtype=np.float32), orig_sr, target_sr, quality)
    return np.asarray(out, dtype=np.float32)


def _fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    if audio.shape[0] >= length:
        return audio[:length]
    return np.pad(audio, (0, length - audio.shape[0]))


def _power(audio: np.ndarray) -> float:
    return float(np.mean(np.square(audio, dtype=np.float64))) if audio.size else 0.0


class Perturbation(abc.ABC):
    """Base class: ``prob`` is the chance of acting; subclasses implement :meth:`apply`."""

    #: the key of this perturbation in an ``augmentor`` config mapping
    name: ClassVar[str] = ""

    def __init__(self, prob: float = 1.0) -> None:
        self.prob = float(prob)

    def __call__(self, audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        if self.prob <= 0.0 or audio.size == 0 or rng.random() >= self.prob:
            return audio
        out = self.apply(np.asarray(audio, dtype=np.float32), int(sample_rate), rng)
        return np.ascontiguousarray(out, dtype=np.float32)

    @abc.abstractmethod
    def apply(self, audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        """The perturbed ``audio`` (float32 at ``sample_rate``), drawing from ``rng`` only."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class SpeedPerturbation(Perturbation):
    """Plays the utterance faster or slower by a factor in ``[min_rate, max_rate]``.

    Resampling by the factor (soxr, band-limited) changes tempo, pitch and formants
    together, as a tape played at another speed; a rate of 1.1 makes the audio 1/1.1 as
    long. With ``num_rates`` > 0 the rate is one of that many evenly spaced values (3 gives
    the classic 0.9 / 1.0 / 1.1), else any value in the range.
    """

    name = "speed"

    def __init__(
        self, prob: float = 1.0, min_rate: float = 0.9, max_rate: float = 1.1, num_rates: int = 0
    ) -> None:
        super().__init__(prob)
        self.min_rate = float(min_rate)
        self.max_rate = float(max_rate)
        self.num_rates = int(num_rates)

    def draw_rate(self, rng: np.random.Generator) -> float:
        if self.num_rates > 0:
            rates = np.linspace(self.min_rate, self.max_rate, self.num_rates)
            return float(rates[rng.integers(self.num_rates)])
        return float(rng.uniform(self.min_rate, self.max_rate))

    def apply(self, audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        rate = self.draw_rate(rng)
        if abs(rate - 1.0) < 1e-6:
            return audio
        return _resample(audio, sample_rate, sample_rate / rate)


def _time_stretch(audio: np.ndarray, factor: float, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """Phase-vocoder time stretch: ``factor`` > 1 makes the audio longer, pitch unchanged.

    Frames are cut with a stride view and summed back by reshaping (``hop`` divides
    ``n_fft``), so the whole stretch is a few array operations, all in single precision
    (``scipy.fft`` keeps float32; numpy's FFT would compute in float64). Magnitudes and
    phases are taken once per analysis frame and interpolated from there.
    """
    from scipy import fft

    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)  # periodic Hann: sums to constant
    # reflected at the start, so the first frame (whose phases seed the rest) holds signal
    padded = np.pad(audio, (n_fft, 0), mode="reflect")
    padded = np.pad(padded, (0, n_fft + (-len(audio)) % hop))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop] * window
    spec = fft.rfft(frames, axis=1)  # [frames, bins], complex64
    magnitude, angle = np.abs(spec), np.angle(spec)
    steps = np.arange(0.0, spec.shape[0] - 1, 1.0 / factor)
    left = steps.astype(np.int64)
    frac = (steps - left).astype(np.float32)[:, None]
    mag = magnitude[left]
    mag += frac * (magnitude[left + 1] - mag)
    two_pi = np.float32(2 * np.pi)
    omega = (two_pi * hop / n_fft) * np.arange(spec.shape[1], dtype=np.float32)
    advance = angle[left + 1] - angle[left] - omega
    advance -= two_pi * np.round(advance / two_pi)
    advance += omega
    phase = np.cumsum(advance, axis=0)
    phase -= advance
    phase += angle[0]
    stretched = np.empty(mag.shape, dtype=np.complex64)  # mag * exp(i phase), but cheaper
    stretched.real = mag * np.cos(phase)
    stretched.imag = mag * np.sin(phase)
    out_frames = fft.irfft(stretched, n=n_fft, axis=1)
    out_frames *= window
    # overlap-add: n_fft // hop interleaved groups of frames, each a plain concatenation
    count, per = out_frames.shape[0], n_fft // hop
    total = (count - 1) * hop + n_fft
    out = np.zeros(total + n_fft, dtype=np.float32)
    for k in range(per):
        group = out_frames[k::per].reshape(-1)
        out[k * hop : k * hop + group.shape[0]] += group
    norm = np.float32(np.sum(window**2) / hop)  # the squared windows' overlap sum
    return out[n_fft : n_fft + int(round(len(audio) * factor))] / norm


class PitchPerturbation(Perturbation):
    """Vocal-tract-length / pitch perturbation by a factor in ``[min_factor, max_factor]``.

    All frequencies are scaled by the factor (formants and pitch alike, as a longer or
    shorter vocal tract with its voice) while the duration stays the same: a phase-vocoder
    time stretch by the factor followed by resampling back to the original length. This
    is done on the waveform, so it works with any feature front end, keeps the utterance's
    length (labels and alignments unaffected) and costs two short-time Fourier transforms.
    """

    name = "pitch"

    def __init__(self, prob: float = 1.0, min_factor: float = 0.9, max_factor: float = 1.1) -> None:
        super().__init__(prob)
        self.min_factor = float(min_factor)
        self.max_factor = float(max_factor)

    def apply(self, audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        factor = float(rng.uniform(self.min_factor, self.max_factor))
        if abs(factor - 1.0) < 1e-6 or audio.shape[0] < 1024:
            return audio
        stretched = _time_stretch(audio, factor)
        # played faster by `factor`: back to the original duration, frequencies times factor
        shifted = _resample(stretched, sample_rate * factor, sample_rate)
        return _fit_length(shifted, audio.shape[0])


def coloured_noise(colour: str, length: int, rng: np.random.Generator) -> np.ndarray:
    """``length`` samples of unit-power ``white``, ``pink`` (1/f) or ``brown`` (1/f²) noise,
    float32 (shaped in single precision by ``scipy.fft``)."""
    white = rng.standard_normal(length, dtype=np.float32)
    if colour != "white":
        from scipy import fft

        # shaped over a length the FFT is fast for (a prime length can take 10x as long)
        size = fft.next_fast_len(length, real=True)
        spectrum = fft.rfft(white, n=size)
        freqs = np.arange(spectrum.shape[0], dtype=np.float32)
        freqs[0] = 1.0
        exponent = 0.5 if colour == "pink" else 1.0  # amplitude ~ f^-1/2 (pink), f^-1 (brown)
        spectrum /= freqs**exponent
        spectrum[0] = 0.0
        white = fft.irfft(spectrum, n=size)[:length]
    power = _power(white)
    return white / np.float32(math.sqrt(power)) if power > 0 else white


class NoisePerturbation(Perturbation):
    """Adds noise at a signal-to-noise ratio drawn from ``[min_snr_db, max_snr_db]``.

    The noise is synthesised (one of ``colours``: white, pink, brown) or, with probability
    ``file_prob``, a random stretch of a noise recording from ``files`` (looped when
    shorter than the utterance). The SNR is the ratio of the utterance's mean power to the
    noise's over the whole utterance. A silent utterance is left as it is.
    """

    name = "noise"

    def __init__(
        self,
        prob: float = 1.0,
        min_snr_db: float = 5.0,
        max_snr_db: float = 30.0,
        colours: Sequence[str] = ("white", "pink", "brown"),
        files: Sequence[str | os.PathLike[str]] = (),
        file_prob: float = 0.5,
    ) -> None:
        super().__init__(prob)
        self.min_snr_db = float(min_snr_db)
        self.max_snr_db = float(max_snr_db)
        self.colours = tuple(colours)
        self.files = tuple(str(f) for f in files)
        self.file_prob = float(file_prob) if self.files else 0.0
        if not self.colours:
            self.file_prob = 1.0
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(vars(self))
        state["_cache"] = {}  # each worker process reads the files it needs itself
        return state

    def _file_noise(self, length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        from ganglion_asr.data.audio import load_audio

        path = self.files[int(rng.integers(len(self.files)))]
        noise = self._cache.get((path, sample_rate))
        if noise is None:
            noise = load_audio(path, sample_rate)
            self._cache[(path, sample_rate)] = noise
        if noise.shape[0] < length:
            noise = np.tile(noise, length // noise.shape[0] + 1)
        start = int(rng.integers(noise.shape[0] - length + 1))
        return noise[start : start + length]

    def apply(self, audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        snr_db = float(rng.uniform(self.min_snr_db, self.max_snr_db))
        signal_power = _power(audio)
        if signal_power <= 1e-12:
            return audio
        if self.file_prob > 0 and rng.random() < self.file_prob:
            noise = self._file_noise(audio.shape[0], sample_rate, rng)
        else:
            colour = self.colours[int(rng.integers(len(self.colours)))]
            noise = coloured_noise(colour, audio.shape[0], rng)
        noise_power = _power(noise)
        if noise_power <= 1e-12:
            return audio
        scale = math.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10)))
        return audio + scale * noise


class ReverbPerturbation(Perturbation):
    """Room reverberation: convolution with a generated impulse response.

    The response is a direct path followed, after a short pre-delay, by an exponentially
    decaying noise tail whose energy falls 60 dB in a reverberation time (RT60) drawn from
    ``[min_rt60, max_rt60]`` seconds; high frequencies decay faster (the tail is low-pass
    filtered progressively). The direct-to-reverberant energy ratio is drawn from
    ``[min_drr_db, max_drr_db]``. The output keeps the input's length and mean power.
    """

    name = "reverb"

    def __init__(
        self,
        prob: float = 1.0,
        min_rt60: float = 0.2,
        max_rt60: float = 0.8,
        min_drr_db: float = 0.0,
        max_drr_db: float = 10.0,
    ) -> None:
        super().__init__(prob)
        self.min_rt60 = float(min_rt60)
        self.max_rt60 = float(max_rt60)
        self.min_drr_db = float(min_drr_db)
        self.max_drr_db = float(max_drr_db)

    def impulse_response(self, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        """One random impulse response at ``sample_rate``."""
        from scipy.signal import lfilter

        rt60 = float(rng.uniform(self.min_rt60, self.max_rt60))
        drr_db = float(rng.uniform(self.min_drr_db, self.max_drr_db))
        predelay = int(rng.uniform(0.002, 0.01) * sample_rate)
        length = max(int(rt60 * sample_rate), 16)
        t = np.arange(length, dtype=np.float32) / np.float32(sample_rate)
        # -60 dB at rt60
        tail = rng.standard_normal(length, dtype=np.float32) * np.exp(np.float32(-6.908 / rt60) * t)
        # air and walls absorb highs: smooth the tail more as it goes (two one-pole blends)
        smooth = lfilter(np.float32([0.3]), np.float32([1.0, -0.7]), tail)
        late = np.clip(t / np.float32(rt60), 0.0, 1.0)
        tail += late * (smooth - tail)
        tail_energy = _power(tail) * length
        tail *= np.float32(math.sqrt(10 ** (-drr_db / 10) / tail_energy) if tail_energy > 0 else 0)
        ir = np.zeros(predelay + length, dtype=np.float32)
        ir[0] = 1.0
        ir[predelay:] += tail
        return ir

    def apply(self, audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        from scipy.signal import oaconvolve

        ir = self.impulse_response(sample_rate, rng)
        wet = oaconvolve(audio, ir)[: audio.shape[0]]  # float32 throughout
        before, after = _power(audio), _power(wet)
        if after > 0:
            wet *= np.float32(math.sqrt(before / after))
        return wet


def _mu_law(audio: np.ndarray, mu: float = 255.0) -> np.ndarray:
    """8-bit mu-law coding and decoding (G.711-style companding, 256 levels)."""
    companded = np.sign(audio) * np.log1p(mu * np.abs(audio)) / math.log1p(mu)
    codes = np.round((companded + 1) / 2 * mu)  # 0 .. 255
    y = codes / mu * 2 - 1
    return np.sign(y) * ((1 + mu) ** np.abs(y) - 1) / mu


def _block_adaptive(audio: np.ndarray, block: int = 40, bits: int = 3) -> np.ndarray:
    """A GSM-like coarse quantiser: each 5 ms block (at 8 kHz) scaled by its peak, coded on a
    logarithmic 6-bit scale, and its samples coded on ``bits`` bits (as GSM's RPE stage)."""
    n = audio.shape[0]
    padded = np.pad(audio, (0, (-n) % block)).reshape(-1, block)
    peak = np.abs(padded).max(axis=1, keepdims=True)
    peak = np.where(peak > 0, 2.0 ** (np.ceil(np.log2(np.maximum(peak, 1e-9)) * 2) / 2), 1.0)
    levels = 2 ** (bits - 1)
    coded = np.clip(np.round(padded / peak * levels), -levels, levels - 1) / levels * peak
    return coded.reshape(-1)[:n]


class TelephonePerturbation(Perturbation):
    """A telephone line: band-limit, 8 kHz, gain and clipping, companding codec, and back.

    The audio is band-passed to ``[low_hz, high_hz]`` (4th-order Butterworth), resampled to
    8 kHz, given a gain from ``[min_gain_db, max_gain_db]`` and clipped to [-1, 1] (a hot
    line), coded with 8-bit mu-law, and with probability ``gsm_prob`` also put through a
    GSM-like block-adaptive 3-bit quantiser; then resampled back to the model's rate at the
    original length, within [-1, 1]. Nothing above ~3.4 kHz survives.
    """

    name = "telephone"

    def __init__(
        self,
        prob: float = 1.0,
        low_hz: float = 300.0,
        high_hz: float = 3400.0,
        min_gain_db: float = -6.0,
        max_gain_db: float = 12.0,
        gsm_prob: float = 0.0,
    ) -> None:
        super().__init__(prob)
        self.low_hz = float(low_hz)
        self.high_hz = float(high_hz)
        self.min_gain_db = float(min_gain_db)
        self.max_gain_db = float(max_gain_db)
        self.gsm_prob = float(gsm_prob)
        self._sos: dict[float, np.ndarray] = {}

    def apply(self, audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        from scipy.signal import butter, sosfilt

        gain_db = float(rng.uniform(self.min_gain_db, self.max_gain_db))
        gsm = self.gsm_prob > 0 and rng.random() < self.gsm_prob
        line_sr = 8000
        narrow = _resample(audio, sample_rate, line_sr, "HQ") if sample_rate != line_sr else audio
        high = min(self.high_hz, 0.49 * line_sr)
        sos = self._sos.get(high)
        if sos is None:
            sos = self._sos[high] = butter(
                4, [self.low_hz, high], btype="bandpass", fs=line_sr, output="sos"
            )
        narrow = sosfilt(sos, narrow)
        narrow = np.clip(narrow * 10 ** (gain_db / 20), -1.0, 1.0)
        coded = _mu_law(narrow)
        if gsm:
            coded = _block_adaptive(coded)
        out = _resample(coded, line_sr, sample_rate, "HQ") if sample_rate != line_sr else coded
        # recorded at the far end as fixed-point audio: resampling ripple is clipped too
        return np.clip(_fit_length(out, audio.shape[0]), -1.0, 1.0)


def _biquad(kind: str, freq: float, gain_db: float, q: float, sample_rate: int) -> np.ndarray:
    """One second-order section ``[b0, b1, b2, 1, a1, a2]``: a peaking, low-shelf or
    high-shelf filter (the usual bilinear-transform designs)."""
    amp = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * freq / sample_rate
    cos_w, alpha = math.cos(w0), math.sin(w0) / (2 * q)
    if kind == "peak":
        b = [1 + alpha * amp, -2 * cos_w, 1 - alpha * amp]
        a = [1 + alpha / amp, -2 * cos_w, 1 - alpha / amp]
    else:
        root = 2 * math.sqrt(amp) * alpha
        sign = 1 if kind == "low_shelf" else -1
        b = [
            amp * ((amp + 1) - sign * (amp - 1) * cos_w + root),
            sign * 2 * amp * ((amp - 1) - sign * (amp + 1) * cos_w),
            amp * ((amp + 1) - sign * (amp - 1) * cos_w - root),
        ]
        a = [
            (amp + 1) + sign * (amp - 1) * cos_w + root,
            -sign * 2 * ((amp - 1) + sign * (amp + 1) * cos_w),
            (amp + 1) + sign * (amp - 1) * cos_w - root,
        ]
    return np.array(b + a, dtype=np.float64) / a[0]


class EqualizerPerturbation(Perturbation):
    """A random equaliser: ``min_bands`` to ``max_bands`` peaking or shelving filters.

    Each band is a peak (at a log-uniform frequency in ``[min_freq, max_freq]``), a low
    shelf or a high shelf, with a gain in ``[min_gain_db, max_gain_db]`` and a Q in
    ``[min_q, max_q]``; the cascade runs through ``scipy.signal.sosfilt``. The length is
    kept.
    """

    name = "eq"

    def __init__(
        self,
        prob: float = 1.0,
        min_bands: int = 1,
        max_bands: int = 3,
        min_gain_db: float = -8.0,
        max_gain_db: float = 8.0,
        min_freq: float = 100.0,
        max_freq: float = 6000.0,
        min_q: float = 0.5,
        max_q: float = 2.0,
    ) -> None:
        super().__init__(prob)
        self.min_bands = int(min_bands)
        self.max_bands = int(max_bands)
        self.min_gain_db = float(min_gain_db)
        self.max_gain_db = float(max_gain_db)
        self.min_freq = float(min_freq)
        self.max_freq = float(max_freq)
        self.min_q = float(min_q)
        self.max_q = float(max_q)

    def apply(self, audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        from scipy.signal import sosfilt

        bands = int(rng.integers(self.min_bands, self.max_bands + 1))
        if bands == 0:
            return audio
        top = min(self.max_freq, 0.45 * sample_rate)
        low = min(self.min_freq, top)
        sections = []
        for _ in range(bands):
            kind = ("peak", "low_shelf", "high_shelf")[int(rng.integers(3))]
            freq = float(math.exp(rng.uniform(math.log(low), math.log(top))))
            gain = float(rng.uniform(self.min_gain_db, self.max_gain_db))
            q = float(rng.uniform(self.min_q, self.max_q))
            sections.append(_biquad(kind, freq, gain, q, sample_rate))
        return sosfilt(np.stack(sections), audio)


class GainPerturbation(Perturbation):
    """Scales the utterance by a gain drawn from ``[min_gain_db, max_gain_db]`` dB; with
    ``clip`` the result is clipped to [-1, 1] as a fixed-point recording would be."""

    name = "gain"

    def __init__(
        self,
        prob: float = 1.0,
        min_gain_db: float = -10.0,
        max_gain_db: float = 10.0,
        clip: bool = False,
    ) -> None:
        super().__init__(prob)
        self.min_gain_db = float(min_gain_db)
        self.max_gain_db = float(max_gain_db)
        self.clip = bool(clip)

    def apply(self, audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        out = audio * np.float32(
            10 ** (float(rng.uniform(self.min_gain_db, self.max_gain_db)) / 20)
        )
        return np.clip(out, -1.0, 1.0) if self.clip else out
