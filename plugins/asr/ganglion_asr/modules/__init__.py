"""ganglion-asr's neural modules (names resolved on first access; importing this is cheap).

* :class:`AudioToMelSpectrogramPreprocessor` — waveform -> normalised log-mel features
* :class:`SpectrogramAugmentation` — SpecAugment masks in training
* :class:`ConvASREncoder` — Jasper / QuartzNet convolutional encoder
* :class:`ConvASRDecoder` — CTC head (1x1 convolution + log-softmax)
"""

from __future__ import annotations

from ganglion.lazy import lazy_attributes

_LAZY: dict[str, str] = {
    "AudioToMelSpectrogramPreprocessor": "ganglion_asr.modules.features:AudioToMelSpectrogramPreprocessor",
    "mel_filterbank": "ganglion_asr.modules.features:mel_filterbank",
    "SpectrogramAugmentation": "ganglion_asr.modules.augment:SpectrogramAugmentation",
    "ConvASREncoder": "ganglion_asr.modules.conv_asr:ConvASREncoder",
    "ConvASRDecoder": "ganglion_asr.modules.conv_asr:ConvASRDecoder",
    "JasperBlock": "ganglion_asr.modules.conv_asr:JasperBlock",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
