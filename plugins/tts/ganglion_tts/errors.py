"""Errors raised by ganglion-tts: each names the file, line, key or setting at fault and the fix.

The text frontend has its own (:mod:`ganglion_tts.text.errors`). Data errors are
``ganglion_asr.errors.DataError`` subclasses (the TTS recipe reads ASR manifests), so code
that handles bad speech data handles these too; every one is a ``GanglionError``, which the
``ganglion`` and ``ganglion-tts`` commands print as one line.
"""

from __future__ import annotations

from ganglion_asr.errors import DataError

__all__ = ["CorpusError", "MultiSpeakerError", "PitchSettingsError", "TTSDataError"]


class TTSDataError(DataError):
    """Speech data a TTS model cannot train on: texts the frontend cannot read, speakers."""


class MultiSpeakerError(TTSDataError):
    """A manifest names several speakers, and the model speaks with one voice."""


class CorpusError(TTSDataError):
    """A TTS corpus cannot be built: a bad setting, an unknown voice, missing sentence
    sources, or a folder holding a corpus made with other settings."""


class PitchSettingsError(TTSDataError):
    """Pitch estimation settings that cannot work (a window too short for ``fmin``, ...), or
    audio that is not one channel of finite numbers."""
