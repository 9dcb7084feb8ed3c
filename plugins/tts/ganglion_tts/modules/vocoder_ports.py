"""The ports every vocoder module has: log-mels and their lengths in, audio and its lengths
out (at the module's ``sample_rate``)."""

from __future__ import annotations

from collections.abc import Mapping

from ganglion.types import LengthsType, NeuralType

__all__ = ["VocoderPorts"]


class VocoderPorts:
    """Mixin of a vocoder ``NeuralModule`` (before it in the bases) that has a
    ``sample_rate``: ``spec [B, D, T]`` mel spectrogram and optional ``spec_len [B]`` in,
    ``audio [B, T]`` at that rate and ``audio_len [B]`` out."""

    sample_rate: int

    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        from ganglion_asr.types import MelSpectrogramType

        return {
            "spec": NeuralType(("B", "D", "T"), MelSpectrogramType()),
            "spec_len": NeuralType(("B",), LengthsType(), optional=True),
        }

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        from ganglion_asr.types import AudioSignal

        return {
            "audio": NeuralType(("B", "T"), AudioSignal(freq=self.sample_rate)),
            "audio_len": NeuralType(("B",), LengthsType()),
        }
