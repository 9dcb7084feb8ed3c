"""Errors raised by ganglion-nlp's tokenizers: each names the file, type or value at fault and
the fix."""

from __future__ import annotations

from ganglion.errors import GanglionError

__all__ = ["TokenizerError", "TokenizerTrainingError", "TokenizerLoadError"]


class TokenizerError(GanglionError, ValueError):
    """A tokenizer could not be trained, saved or loaded, or was asked for something it lacks."""


class TokenizerTrainingError(TokenizerError):
    """Training data or settings that no tokenizer can be trained from (a missing, empty or
    non-UTF-8 file, a vocabulary size too small)."""


class TokenizerLoadError(TokenizerError):
    """A tokenizer directory that cannot be loaded (missing, or a file in it missing or
    corrupt)."""
