"""Test helpers for hand-edited archives, shared by the core's and the plugins' tests
(tests/conftest.py puts this folder on sys.path): a copy of an archive with some members
replaced and the manifest's checksums updated — what someone who edits an archive by hand
produces — and the peak memory a call adds."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ganglion.archive import MANIFEST_NAME


def members(path: Path) -> dict[str, bytes]:
    """Every regular member of the archive at ``path``, by name."""
    with tarfile.open(path) as tar:
        return {i.name: tar.extractfile(i).read() for i in tar.getmembers() if i.isfile()}


def with_members(path: Path, dst: Path, replaced: Mapping[str, bytes]) -> Path:
    """A copy of the archive at ``path`` written to ``dst`` whose members named in ``replaced``
    hold those bytes, every member relisted in the manifest with its sha256 and size."""
    files = members(path)
    manifest = json.loads(files.pop(MANIFEST_NAME))
    files.update(replaced)
    for name, data in files.items():
        manifest["members"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    files[MANIFEST_NAME] = json.dumps(manifest).encode()
    with tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dst


def peak_rss_rise(fn: Callable[[], Any]) -> tuple[int | None, Exception | None]:
    """Call ``fn``; the rise of the peak resident set size during the call in bytes (None
    where /proc cannot reset the peak), and the exception it raised."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak resident set size, to the current size
        before = _vm_hwm_kib()
    except (OSError, ValueError):
        before = None
    raised = None
    try:
        fn()
    except Exception as exc:
        raised = exc
    return (None if before is None else (_vm_hwm_kib() - before) * 1024), raised


def _vm_hwm_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise ValueError("no VmHWM in /proc/self/status")
