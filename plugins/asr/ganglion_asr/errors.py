"""Errors raised by ganglion-asr: each names the file, line or key at fault and the fix."""

from __future__ import annotations

from ganglion.errors import GanglionError


class DataError(GanglionError, ValueError):
    """Bad speech data: a manifest, an audio file or a transcript."""


class ManifestError(DataError):
    """A manifest is missing, empty, malformed, or points at audio that cannot be used."""


class AudioLoadError(DataError):
    """An audio file could not be read (missing, corrupt, or an unsupported format)."""


class VocabularyError(DataError):
    """Transcripts hold characters outside the configured vocabulary."""
