"""The two kinds of speech-synthesis model, as a user calls them.

A :class:`SpectrogramGenerator` turns text into a log-mel spectrogram; a :class:`Vocoder`
turns that spectrogram into audio. Any generator works with any vocoder whose mel settings
(the ``preprocessor`` config both keep) are the same::

    generator = ModelPT.restore_from("fastpitch.ganglion")
    vocoder = ModelPT.restore_from("hifigan.ganglion")
    tokens = generator.parse("call five one two")
    spec = generator.generate_spectrogram(tokens=tokens)
    audio = vocoder.convert_spectrogram_to_audio(spec=spec)
"""

from __future__ import annotations

import abc
from typing import Any

import torch

from ganglion.model import ModelPT

__all__ = ["SpectrogramGenerator", "Vocoder"]


class SpectrogramGenerator(ModelPT, abc.ABC):
    """Text -> log-mel spectrogram ``[B, n_mels, T]``."""

    @abc.abstractmethod
    def parse(self, text: str) -> torch.Tensor:
        """Token ids ``[1, N]`` (long) of ``text``, as :meth:`generate_spectrogram` takes them;
        what the text frontend had to guess or drop is logged once."""

    @abc.abstractmethod
    def generate_spectrogram(self, tokens: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Log-mel spectrograms ``[B, n_mels, T]`` of token ids ``[B, N]`` (0 = padding)."""

    @property
    @abc.abstractmethod
    def mel_settings(self) -> dict[str, Any]:
        """The settings of the mels it makes (its ``preprocessor`` config): a vocoder must
        have the same to turn them into audio."""


class Vocoder(ModelPT, abc.ABC):
    """Log-mel spectrogram ``[B, n_mels, T]`` -> audio ``[B, S]``."""

    @abc.abstractmethod
    def convert_spectrogram_to_audio(self, spec: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Audio ``[B, S]`` (float32 in [-1, 1], at :attr:`sample_rate`) of log-mel
        spectrograms ``[B, n_mels, T]``."""

    @property
    @abc.abstractmethod
    def mel_settings(self) -> dict[str, Any]:
        """The settings of the mels it reads (its ``preprocessor`` config)."""

    @property
    def sample_rate(self) -> int:
        """The rate of the audio it makes, in Hz."""
        return int(self.mel_settings["sample_rate"])
