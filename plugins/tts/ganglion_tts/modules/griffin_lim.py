"""Griffin-Lim: log-mel spectrograms back to audio with no trained weights.

The mels are the shared preprocessor's (:class:`ganglion_asr.modules.features.
AudioToMelSpectrogramPreprocessor`), so :class:`GriffinLim` is built from the same settings
(the ``preprocessor`` config a spectrogram generator keeps) and holds that preprocessor: the
window, the hop, the FFT size and the mel filterbank are the very ones the mels were made
with. The steps:

1. undo the log (the clamp guard's floor becomes silence), and the magnitude power;
2. mel -> linear magnitude: a non-negative least-squares fit of the filterbank, started from
   the pseudo-inverse clamped at zero and refined by a few multiplicative (Lee-Seung)
   updates, which keep every bin non-negative;
3. optional sharpening (``power`` > 1 deepens the valleys between harmonics);
4. phase recovery by the fast Griffin-Lim algorithm (Perraudin, Balazs, Soendergaard 2013):
   alternate projections between the spectrograms with the wanted magnitude and the
   consistent ones (those an STFT of some signal gives), with momentum.

``T`` mel frames give ``(T - 1) * hop`` samples, frame ``t`` centred on sample ``t * hop``
(the preprocessor's centred STFT): analysing the audio again gives ``T`` frames.

Measured on 20 espeak-ng utterances (45.6 s at 16 kHz, the TTS settings, one CPU thread):
the mel L1 of the re-analysed audio against the input (mean absolute log-mel difference), and
seconds of compute per second of audio, with ``nnls_iters=32`` (the default; 8 iterations
save 0.016 s/s and add 0.004 to the L1). The mel -> linear fit alone is off by 0.003 in the
same measure: the rest is the phase (with the true linear magnitudes, 32 iterations give
0.076). The random starting phase alone (``n_iter=0``) gives about 0.7.

=======  ======  =========
n_iter   mel L1  s per s
=======  ======  =========
16       0.170   0.025
32       0.157   0.044
60       0.152   0.074
100      0.149   0.117
=======  ======  =========

``power`` > 1 deepens the valleys between harmonics but moves the mels away (L1 0.52 at
1.2): it is off by default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from ganglion import typecheck
from ganglion.errors import ConfigError
from ganglion.module import NeuralModule
from ganglion_tts.modules.vocoder_ports import VocoderPorts

__all__ = ["TTS_MEL_SETTINGS", "GriffinLim", "mel_settings"]

_PREPROCESSOR = "AudioToMelSpectrogramPreprocessor"

#: The mel settings of the TTS recipe (16 kHz, 1024-sample Hann window, hop 256, 80 Slaney
#: mels up to 8 kHz, log magnitude clamped at 1e-5): the default of :class:`GriffinLim`.
TTS_MEL_SETTINGS: dict[str, Any] = {
    "_target_": _PREPROCESSOR,
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


def mel_settings(preprocessor: Mapping[str, Any] | None, where: str = "preprocessor") -> Any:
    """The shared preprocessor built from a ``preprocessor`` config (its ``_target_`` must be
    the preprocessor's, or absent); ``None`` gives :data:`TTS_MEL_SETTINGS`'s.

    Settings Griffin-Lim cannot invert are refused, naming the key: ``normalize`` (the
    per-utterance mean and variance are gone) and ``preemph`` (not undone here).
    """
    from ganglion_asr.modules.features import AudioToMelSpectrogramPreprocessor

    settings = dict(TTS_MEL_SETTINGS if preprocessor is None else _plain(preprocessor, where))
    target = settings.pop("_target_", None)
    if target is not None and str(target).rsplit(".", 1)[-1] != "AudioToMelSpectrogramPreprocessor":
        raise ConfigError(
            f"{where}._target_ is {target!r}; a vocoder reads the mels of {_PREPROCESSOR} "
            "(give its settings, with or without that _target_)"
        )
    try:
        preprocessor = AudioToMelSpectrogramPreprocessor(**settings)
    except TypeError as exc:
        raise ConfigError(f"{where}: not a setting of the mel preprocessor: {exc}") from None
    # the same settings make the same preprocessor: a key left out has the preprocessor's
    # default, and the ASR defaults normalise and pre-emphasise
    if preprocessor.normalize is not None:
        raise ConfigError(
            f"{where}.normalize={preprocessor.normalize!r}"
            f"{'' if 'normalize' in settings else ' (the default)'}: normalised mels cannot be "
            "turned back into audio (the per-utterance mean and variance are lost); set it to null"
        )
    if preprocessor.preemph not in (None, 0, 0.0):
        raise ConfigError(
            f"{where}.preemph={preprocessor.preemph!r}"
            f"{'' if 'preemph' in settings else ' (the default)'}: a vocoder here takes mels "
            "made without pre-emphasis; set it to null"
        )
    if preprocessor.pad_to:
        raise ConfigError(
            f"{where}.pad_to={preprocessor.pad_to}{'' if 'pad_to' in settings else ' (the default)'}"
            ": a vocoder needs exactly samples // hop + 1 frames per utterance; set it to 0"
        )
    return preprocessor


def _plain(cfg: Mapping[str, Any], where: str) -> dict[str, Any]:
    from omegaconf import DictConfig, OmegaConf

    if isinstance(cfg, DictConfig):
        return dict(OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"{where}: expected the mel preprocessor's settings, got {cfg!r}")
    return dict(cfg)


class GriffinLim(VocoderPorts, NeuralModule):
    """Log-mel spectrograms ``[B, n_mels, T]`` -> audio ``[B, (T - 1) * hop]``, no weights.

    Args:
        preprocessor: the settings the mels were made with (a ``preprocessor`` config, its
            ``_target_`` optional); default :data:`TTS_MEL_SETTINGS`. Single settings may
            also be given as keyword arguments, which win.
        n_iter: Griffin-Lim iterations (more: cleaner phase, slower; see the module's table).
        momentum: the fast Griffin-Lim momentum (0: the plain algorithm; 0.99 is the usual).
        power: sharpening exponent of the linear magnitude (1: none).
        nnls_iters: multiplicative updates refining the mel -> linear fit (0: the clamped
            pseudo-inverse alone).
        init: initial phase, ``"random"`` (drawn from ``seed``) or ``"zero"``.
        seed: seed of the random initial phase: the same input gives the same audio.

    Example::

        gl = GriffinLim(model.cfg.preprocessor, n_iter=32)
        audio, audio_len = gl(spec, spec_len)
    """

    def __init__(
        self,
        preprocessor: Mapping[str, Any] | None = None,
        n_iter: int = 32,
        momentum: float = 0.99,
        power: float = 1.0,
        nnls_iters: int = 32,
        init: str = "random",
        seed: int = 0,
        **settings: Any,
    ) -> None:
        super().__init__()
        if settings:
            merged = dict(TTS_MEL_SETTINGS if preprocessor is None else _plain(preprocessor, "x"))
            merged.update(settings)
            preprocessor = merged
        # built on the CPU even on the meta device (a restore's first build): see features.py
        self.analysis = mel_settings(preprocessor)
        for name, value, low in (("n_iter", n_iter, 0), ("nnls_iters", nnls_iters, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(
                    f"GriffinLim: {name} must be a whole number >= {low}, got {value!r}"
                )
        if not 0.0 <= float(momentum) < 1.0:
            raise ConfigError(f"GriffinLim: momentum must be in [0, 1), got {momentum!r}")
        if not float(power) > 0.0:
            raise ConfigError(f"GriffinLim: power must be positive, got {power!r}")
        if init not in ("random", "zero"):
            raise ConfigError(f"GriffinLim: init must be 'random' or 'zero', got {init!r}")
        self.n_iter = int(n_iter)
        self.momentum = float(momentum)
        self.power = float(power)
        self.nnls_iters = int(nnls_iters)
        self.init = init
        self.seed = int(seed)

    @property
    def sample_rate(self) -> int:
        return self.analysis.sample_rate

    @property
    def hop_length(self) -> int:
        return self.analysis.hop_length

    @typecheck()
    def forward(
        self, spec: torch.Tensor, spec_len: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio ``[B, (T - 1) * hop]`` and its lengths ``(spec_len - 1) * hop`` (frames past a
        row's length are silence)."""
        batch, bands, frames = spec.shape
        if bands != self.analysis.features:
            raise ValueError(
                f"GriffinLim: spec has {bands} mel bands, the settings say "
                f"{self.analysis.features} (preprocessor.features)"
            )
        if frames < 2:
            raise ValueError(f"GriffinLim: spec has {frames} frame(s); at least 2 are needed")
        if spec_len is None:
            spec_len = torch.full((batch,), frames, dtype=torch.long, device=spec.device)
        spec_len = spec_len.to(spec.device).long().clamp(1, frames)
        with torch.autocast(spec.device.type, enabled=False):
            magnitude = self.linear_magnitude(spec.float())
            valid = torch.arange(frames, device=spec.device)[None, :] < spec_len[:, None]
            magnitude = magnitude * valid[:, None, :]
            audio = self.phase_recovery(magnitude)
        audio_len = (spec_len - 1) * self.hop_length
        samples = torch.arange(audio.shape[1], device=audio.device)
        audio = audio.masked_fill(samples[None, :] >= audio_len[:, None], 0.0)
        return audio, audio_len

    def linear_magnitude(self, spec: torch.Tensor) -> torch.Tensor:
        """Linear STFT magnitudes ``[B, n_fft // 2 + 1, T]`` whose mels are ``spec``."""
        pre = self.analysis
        mel = spec
        if pre.log:
            if pre.log_zero_guard_type == "clamp":
                floor = math.log(pre.log_zero_guard_value)
                # the floor stands for "this quiet or quieter": silence
                mel = torch.where(spec > floor + 1e-4, spec.exp(), torch.zeros_like(spec))
            else:
                mel = (spec.exp() - pre.log_zero_guard_value).clamp(min=0.0)
        fb = pre.fb.to(device=spec.device, dtype=torch.float32)  # [n_mels, n_freq]
        energy = _nnls(fb, mel.clamp(min=0.0), self.nnls_iters)  # |X| ** mag_power
        magnitude = energy.pow(1.0 / pre.mag_power) if pre.mag_power != 1.0 else energy
        if self.power != 1.0:
            # deeper valleys between the peaks, each frame's energy kept
            sharpened = magnitude.pow(self.power)
            energy = magnitude.square().sum(dim=1, keepdim=True)
            scale = energy / sharpened.square().sum(dim=1, keepdim=True).clamp(min=1e-20)
            magnitude = sharpened * scale.sqrt()
        return magnitude

    def phase_recovery(self, magnitude: torch.Tensor) -> torch.Tensor:
        """Audio ``[B, (T - 1) * hop]`` whose STFT magnitudes approach ``magnitude``
        ``[B, n_freq, T]`` (fast Griffin-Lim)."""
        pre = self.analysis
        window = pre.window.to(device=magnitude.device, dtype=magnitude.dtype)
        length = (magnitude.shape[-1] - 1) * pre.hop_length

        def stft(audio: torch.Tensor) -> torch.Tensor:
            return torch.stft(
                audio,
                pre.n_fft,
                hop_length=pre.hop_length,
                win_length=pre.win_length,
                window=window,
                center=True,
                pad_mode="constant",
                return_complex=True,
            )

        def istft(spectrum: torch.Tensor) -> torch.Tensor:
            return torch.istft(
                spectrum,
                pre.n_fft,
                hop_length=pre.hop_length,
                win_length=pre.win_length,
                window=window,
                center=True,
                length=length,
            )

        if self.init == "random":
            generator = torch.Generator(device=magnitude.device).manual_seed(self.seed)
            angles = torch.rand(magnitude.shape, generator=generator, device=magnitude.device) * (
                2 * math.pi
            )
            phase = torch.polar(torch.ones_like(magnitude), angles)
        else:
            phase = torch.ones_like(magnitude, dtype=torch.complex64)
        estimate = magnitude * phase
        previous = None
        for _ in range(self.n_iter):
            consistent = stft(istft(estimate))  # the nearest spectrogram of a real signal
            moved = consistent
            if previous is not None and self.momentum > 0:
                moved = consistent + self.momentum * (consistent - previous)
            previous = consistent
            # keep the phase, impose the wanted magnitude
            estimate = magnitude * moved / moved.abs().clamp(min=1e-12)
        return istft(estimate)


def _nnls(fb: torch.Tensor, mel: torch.Tensor, iters: int) -> torch.Tensor:
    """Non-negative ``S`` ``[B, n_freq, T]`` with ``fb @ S`` close to ``mel`` ``[B, n_mels, T]``
    in least squares: the pseudo-inverse's solution clamped at zero, then ``iters``
    multiplicative updates ``S *= (fb' mel) / (fb' fb S)``, each of which lowers the error
    and keeps ``S`` non-negative (Lee and Seung's rule for this problem)."""
    solution = torch.linalg.pinv(fb.double()).float() @ mel
    solution = solution.clamp(min=0.0)
    if iters:
        target = fb.T @ mel
        # a bin the clamp zeroed could never grow again: start it from a small value
        solution = solution + 1e-3 * solution.mean(dim=1, keepdim=True)
        for _ in range(iters):
            solution = solution * target / (fb.T @ (fb @ solution)).clamp(min=1e-12)
    return solution
