"""Text -> audio with a spectrogram generator and a vocoder, and the wav file it goes to.

>>> audio, rate = synthesize(generator, "call five one two", vocoder=vocoder)
>>> write_wav("call.wav", audio, rate)

Without a vocoder, Griffin-Lim built from the generator's own mel settings turns the
spectrogram into audio. A vocoder whose mel settings differ from the generator's is refused
before anything is synthesised (:func:`~ganglion_tts.synthesis.settings.check_mel_settings`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ganglion.errors import ConfigError, GanglionError
from ganglion_tts.models.base import SpectrogramGenerator, Vocoder
from ganglion_tts.synthesis.settings import check_mel_settings

__all__ = ["default_vocoder", "synthesize", "write_wav"]


def default_vocoder(generator: SpectrogramGenerator) -> Vocoder:
    """Griffin-Lim for the mels of ``generator`` (no weights, always available)."""
    from ganglion_tts.models.griffin_lim import GriffinLimModel

    return GriffinLimModel.from_settings(generator.mel_settings)


def synthesize(
    generator: SpectrogramGenerator,
    text: str,
    *,
    vocoder: Vocoder | None = None,
    pace: float = 1.0,
) -> tuple[np.ndarray, int]:
    """``(audio, sample_rate)`` of ``text``: float32 samples in [-1, 1], one channel.

    ``vocoder`` ``None`` uses :func:`default_vocoder`; one whose mel settings differ from the
    generator's is a :class:`~ganglion_tts.synthesis.settings.MelSettingsMismatchError`.
    What the text frontend guessed or dropped is logged on ``ganglion_tts.text``.
    """
    import torch

    if not isinstance(generator, SpectrogramGenerator):
        raise ConfigError(
            f"synthesize: the generator must be a spectrogram generator (such as "
            f"FastPitchModel), got {type(generator).__name__}"
        )
    if vocoder is None:
        vocoder = default_vocoder(generator)
    elif not isinstance(vocoder, Vocoder):
        raise ConfigError(
            f"synthesize: the vocoder must be a Vocoder (HifiGanModel, GriffinLimModel), got "
            f"{type(vocoder).__name__}"
        )
    check_mel_settings(generator.mel_settings, vocoder.mel_settings)
    tokens = generator.parse(text)
    spec, lens = generator.generate_spectrogram(tokens=tokens, pace=pace, return_lengths=True)
    with torch.no_grad():
        audio = vocoder.convert_spectrogram_to_audio(spec=spec, spec_len=lens)
    samples = audio[0].detach().float().cpu().numpy()
    return np.clip(samples, -1.0, 1.0).astype(np.float32), vocoder.sample_rate


def write_wav(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int) -> Path:
    """Write ``audio`` (float, one channel) as a 16-bit PCM wav at ``path``, whole or not at
    all (a temp file renamed into place); returns the path."""
    import soundfile

    from ganglion.archive.atomic import atomic_output

    path = Path(path)
    if path.suffix.lower() != ".wav":
        raise GanglionError(f"output {path}: give a .wav file name")
    with atomic_output(path) as handle:
        soundfile.write(handle, np.asarray(audio), int(sample_rate), format="WAV", subtype="PCM_16")
    return path
