"""Speech-recognition element types: audio, spectrograms and acoustic encodings.

Registered by the plugin's ``register_element_types`` hook, so configs and serialized graphs
can name them (``"B,T:AudioSignal(16000)"``). Importing this module imports no torch.

Inheritance says what may stand in for what: a port asking for ``SpectrogramType`` accepts
mel and MFCC spectrograms (GREATER), while mel and MFCC are not interchangeable.
"""

from __future__ import annotations

from ganglion.types import ChannelType, ElementType, EncodedRepresentation


class AudioSignal(ElementType):
    """Audio samples; ``freq`` is the sample rate in Hz (``None``: any rate).

    ``AudioSignal(16000)`` and ``AudioSignal(8000)`` are the same type with incompatible
    parameters: a 16 kHz model cannot take 8 kHz audio.
    """

    parameters = ("freq",)

    def __init__(self, freq: int | None = None) -> None:
        super().__init__(freq=freq)

    @property
    def freq(self) -> int | None:
        """The sample rate in Hz, or ``None`` when any rate will do."""
        return self.type_parameters["freq"]


class SpectrogramType(ChannelType):
    """Spectrogram features: energies per frequency band and frame."""


class MelSpectrogramType(SpectrogramType):
    """Log-mel spectrogram features."""


class MFCCSpectrogramType(SpectrogramType):
    """Mel-frequency cepstral coefficients."""


class AcousticEncodedRepresentation(EncodedRepresentation):
    """Hidden features of an acoustic encoder (the input of an ASR decoder)."""


#: The element types this plugin registers, by name.
ASR_ELEMENT_TYPES: tuple[type[ElementType], ...] = (
    AudioSignal,
    SpectrogramType,
    MelSpectrogramType,
    MFCCSpectrogramType,
    AcousticEncodedRepresentation,
)
