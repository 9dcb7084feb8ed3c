"""Verified-file stamps: a file whose every checksum was verified, and that has not changed
since, is not rehashed on the next restore.

Hashing every member on every restore would cost more than reading the weights (sha256 runs
at about a third of memory-copy speed), so, like git's index, ganglion trusts a file whose
identity (device, inode, size, mtime, ctime) matches a stamp written after its members were
last verified, by ``save_to`` (which hashed what it wrote) or by a restore. Any change to the
file moves its ctime (which user space cannot set) and voids the stamp. The stamps live in the
cache (``$GANGLION_CACHE/verified/<manifest sha256>.json``); ``GANGLION_VERIFY=always``
ignores them, and ``ganglion info`` always rehashes. The safety checks (paths, links, config
targets) are done on every restore regardless.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from ganglion.archive.atomic import atomic_output
from ganglion.archive.errors import ArchiveError
from ganglion.cache import cache_dir

__all__ = ["ENV_VERIFY", "stamp_matches", "write_stamp"]

#: Environment variable: ``always`` rehashes every member on every restore (no stamps).
ENV_VERIFY = "GANGLION_VERIFY"


def _identity(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _stamp_path(manifest_sha256: str) -> Path:
    return cache_dir() / "verified" / f"{manifest_sha256}.json"


def stamp_matches(manifest_sha256: str, st: os.stat_result) -> bool:
    """Whether the file with manifest digest ``manifest_sha256`` and status ``st`` had its
    checksums verified before and has not changed since (see the module docstring)."""
    if os.environ.get(ENV_VERIFY, "").lower() == "always":
        return False
    try:
        with open(_stamp_path(manifest_sha256), "rb") as f:
            recorded = json.loads(f.read())
    except (OSError, ValueError, RecursionError):  # none, unreadable or not ours: rehash
        return False
    return isinstance(recorded, dict) and recorded.get("identity") == _identity(st)


def write_stamp(manifest_sha256: str, st: os.stat_result) -> None:
    """Record that the file with status ``st`` had every checksum verified. Never fails: a
    stamp is only an optimisation."""
    # not durable: a stamp lost in a power cut only costs one rehash
    with (
        contextlib.suppress(OSError, ArchiveError),
        atomic_output(_stamp_path(manifest_sha256), durable=False) as out,
    ):
        out.write(json.dumps({"identity": _identity(st)}).encode())
