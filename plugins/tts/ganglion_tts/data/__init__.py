"""ganglion-tts's data: a single-voice corpus synthesised with espeak-ng, a YIN pitch
estimator, and the dataset, collate function and loader of the spectrogram generator.

    from ganglion_tts.data import TTSDataset, collate_tts, estimate_pitch

Attributes are imported on first access, so importing this package imports neither torch
nor numpy.
"""

from ganglion.lazy import lazy_attributes

_LAZY = {
    "estimate_pitch": "ganglion_tts.data.pitch:estimate_pitch",
    "check_pitch_settings": "ganglion_tts.data.pitch:check_pitch_settings",
    "TTSDataset": "ganglion_tts.data.dataset:TTSDataset",
    "collate_tts": "ganglion_tts.data.dataset:collate_tts",
    "tts_dataloader": "ganglion_tts.data.dataset:tts_dataloader",
    "TTSCorpusConfig": "ganglion_tts.data.corpus:TTSCorpusConfig",
    "build_tts_corpus": "ganglion_tts.data.corpus:build_tts_corpus",
}
__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
