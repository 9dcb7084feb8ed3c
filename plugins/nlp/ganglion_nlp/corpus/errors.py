"""Errors raised while building a corpus: each names the file, line or folder at fault and the fix."""

from __future__ import annotations

from ganglion.errors import GanglionError


class CorpusError(GanglionError, ValueError):
    """A corpus could not be built."""


class CorpusSourceError(CorpusError):
    """The source data is not installed or not where it was looked for."""


class CorpusFormatError(CorpusError):
    """A source file is malformed (names the file and the line or byte offset)."""


class CorpusOutputError(CorpusError):
    """The output folder cannot be used (not empty, or not a folder)."""


class UnknownCorpusError(CorpusError):
    """A corpus name that ``make-corpus`` does not know."""
