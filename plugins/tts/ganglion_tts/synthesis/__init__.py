"""Speech synthesis from trained models: text -> spectrogram -> audio -> wav.

:func:`synthesize` runs a :class:`~ganglion_tts.models.base.SpectrogramGenerator` and a
:class:`~ganglion_tts.models.base.Vocoder` (Griffin-Lim when none is given) after
:func:`check_mel_settings` has made sure the vocoder reads the generator's mels;
``ganglion-tts synthesize`` (:mod:`ganglion_tts.synthesis.command`) does it from archives.
"""

from ganglion_tts.synthesis.pipeline import default_vocoder, synthesize, write_wav
from ganglion_tts.synthesis.settings import (
    MelSettingsMismatchError,
    check_mel_settings,
    effective_mel_settings,
)

__all__ = [
    "MelSettingsMismatchError",
    "check_mel_settings",
    "default_vocoder",
    "effective_mel_settings",
    "synthesize",
    "write_wav",
]
