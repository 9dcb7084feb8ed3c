"""The ``.ganglion`` format's fixed facts: member names, format version, size limits, and
what a member name or an artifact name may look like.

An archive is a plain (uncompressed) tar::

    model_config.yaml            the model's config, resolved; artifact paths point into the archive
    <hash>_<basename>            each registered file artifact (``<hash>``: of its content)
    <hash>_<basename>/...        each registered directory artifact, file by file
    model_weights.safetensors    the state dict, in the safetensors format (never pickle)
    manifest.json                format and version, the model, ganglion's, torch's and the
                                 plugins' versions, and the sha256 and size of every member

The manifest is written last; a reader finds it by name in the tar's member headers.
"""

from __future__ import annotations

import re

__all__ = [
    "ARTIFACT_MEMBER",
    "ARTIFACT_SCHEME",
    "CONFIG_NAME",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "MAX_CONFIG_BYTES",
    "MAX_MANIFEST_BYTES",
    "SHA256_HEX",
    "SUPPORTED_FORMAT_VERSIONS",
    "WEIGHTS_NAME",
    "member_name_problem",
    "safe_basename",
]

#: The manifest's ``format`` value.
FORMAT_NAME = "ganglion-archive"
#: The format version this ganglion writes.
FORMAT_VERSION = 1
#: The format versions this ganglion reads.
SUPPORTED_FORMAT_VERSIONS = (1,)

MANIFEST_NAME = "manifest.json"
CONFIG_NAME = "model_config.yaml"
WEIGHTS_NAME = "model_weights.safetensors"
#: Prefix of a packed config value that refers to an artifact member: ``ganglion:<member>``.
ARTIFACT_SCHEME = "ganglion:"

#: Largest manifest a reader accepts (a real one is a few KiB).
MAX_MANIFEST_BYTES = 64 << 20
#: Largest config (or other small member read whole) a reader accepts.
MAX_CONFIG_BYTES = 64 << 20

#: An artifact member's name: 32 hex digits of its digest, ``_``, a :func:`safe_basename`.
ARTIFACT_MEMBER = re.compile(r"^[0-9a-f]{32}_[A-Za-z0-9_-][A-Za-z0-9._-]*$")
#: A sha256 digest as the manifest records it: 64 lowercase hex digits.
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def member_name_problem(name: str) -> str | None:
    """Why ``name`` may not be a member of an archive (it would escape it, or is not a plain
    relative path), or None when it may."""
    if not name:
        return "has an empty name"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "has an absolute path; archive members must be relative"
    parts = re.split(r"[/\\]", name)
    if ".." in parts:
        return "escapes the archive ('..' in its path)"
    if any(p in ("", ".") for p in parts):
        return "is not a normalized path (empty or '.' components)"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "has control characters in its name"
    return None


def safe_basename(name: str, default: str = "artifact") -> str:
    """``name`` as a plain file name: no separators or odd characters, no leading dot
    (``default`` when nothing is left)."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")
    return base or default
