"""Errors raised by ganglion-nlp's data, models and command: each names the file, line, key or
label at fault and what would fix it.

The tokenizers' own errors live in :mod:`ganglion_nlp.tokenizers.errors`.
"""

from __future__ import annotations

from ganglion.errors import GanglionError

__all__ = [
    "NLPDataError",
    "PretrainedEncoderError",
    "TextFileError",
    "UnknownLabelError",
]


class NLPDataError(GanglionError, ValueError):
    """Bad text data: a file, a row, a label."""


class TextFileError(NLPDataError):
    """A text data file that cannot be read as it is: missing, not UTF-8, empty lines, a row
    without a label or with tabs in the wrong place, bad JSON."""


class UnknownLabelError(NLPDataError):
    """Validation or test rows whose labels the training file never has (the model cannot
    predict them)."""


class PretrainedEncoderError(GanglionError):
    """``model.init_from`` names an archive whose encoder cannot start this model: not a
    masked-LM archive, or layers of other shapes."""
