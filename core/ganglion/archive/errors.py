"""The errors an archive raises: every refusal names the file and says what was refused."""

from __future__ import annotations

import os

from ganglion.errors import GanglionError

__all__ = ["ArchiveChecksumError", "ArchiveError", "UnsafeArchiveError", "refusal"]


class ArchiveError(GanglionError):
    """An archive cannot be written, or is not one ganglion can read (the message says why)."""


class UnsafeArchiveError(ArchiveError):
    """An archive tries something ganglion refuses: escaping paths, links, unregistered code."""


class ArchiveChecksumError(ArchiveError):
    """A member's content does not match the sha256 its manifest records."""


def refusal(
    path: str | os.PathLike[str], reason: str, error: type[ArchiveError] = UnsafeArchiveError
) -> ArchiveError:
    """The error refusing the archive at ``path``: "Refused archive <path>: <reason>"."""
    return error(f"Refused archive {path}: {reason}")
