"""Speech-synthesis models: spectrogram generators (text -> mel) and vocoders (mel -> audio).

Importing this package imports torch; the plugin's hooks name each model by a lazy path.
"""

from ganglion_tts.models.base import SpectrogramGenerator, Vocoder

__all__ = ["SpectrogramGenerator", "Vocoder"]
