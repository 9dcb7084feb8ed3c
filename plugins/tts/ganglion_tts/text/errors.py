"""Errors raised by ganglion-tts's text frontend: each names the text, word, file or line at
fault and what would fix it."""

from __future__ import annotations

from ganglion.errors import GanglionError


class TTSTextError(GanglionError, ValueError):
    """Text the frontend cannot turn into phonemes: empty text, text that normalises to
    nothing, an unknown phoneme symbol or id."""


class LexiconError(TTSTextError):
    """A pronunciation lexicon file is missing or malformed (the message names file and line)."""


class G2PModelError(TTSTextError):
    """The letter-to-sound model file is missing or malformed, or training data is unusable."""
