"""Writing an archive: the tar stream, member by member, and :func:`save_archive`."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import tarfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ganglion.archive.artifacts import ArtifactSource, PackedArtifact, pack_artifact
from ganglion.archive.atomic import atomic_output
from ganglion.archive.config_paths import set_config_value
from ganglion.archive.errors import ArchiveError
from ganglion.archive.format import (
    ARTIFACT_SCHEME,
    CONFIG_NAME,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST_NAME,
    WEIGHTS_NAME,
)
from ganglion.archive.stamps import write_stamp
from ganglion.archive.weights import WeightsPlan, check_byte_order

__all__ = ["TarWriter", "save_archive"]


class TarWriter:
    """Writes tar members one after the other, recording each one's sha256 and size."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.mtime = int(time.time())
        self.records: dict[str, dict[str, Any]] = {}

    def _header(self, name: str, size: int, kind: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = self.mtime
        info.type = kind
        info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
        info.uname = info.gname = ""
        self.out.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))

    def _pad(self, size: int) -> None:
        if size % tarfile.BLOCKSIZE:
            self.out.write(b"\0" * (tarfile.BLOCKSIZE - size % tarfile.BLOCKSIZE))

    def add_bytes(self, name: str, data: bytes) -> None:
        """Write a member holding ``data``."""
        self._header(name, len(data), tarfile.REGTYPE)
        self.out.write(data)
        self._pad(len(data))
        self.records[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}

    def add_dir(self, name: str) -> None:
        """Write a directory member."""
        self._header(name, 0, tarfile.DIRTYPE)
        self.records[name] = {"type": "directory"}

    def add_file(self, name: str, src: Path, sha: str, size: int) -> None:
        """Write a member copied from the file ``src``, which must still have the ``sha``
        and ``size`` it had when it was packed (an artifact changed meanwhile is an error)."""
        self._header(name, size, tarfile.REGTYPE)
        h = hashlib.sha256()
        written = 0
        with open(src, "rb") as f:
            while written < size and (chunk := f.read(min(1 << 20, size - written))):
                self.out.write(chunk)
                h.update(chunk)
                written += len(chunk)
        if written != size or h.hexdigest() != sha:
            raise ArchiveError(f"artifact file {src} changed while the archive was being written")
        self._pad(size)
        self.records[name] = {"sha256": sha, "size": size}

    def add_weights(self, name: str, plan: WeightsPlan) -> None:
        """Write the weights member planned by ``plan``, streamed from the tensors' memory."""
        self._header(name, plan.size, tarfile.REGTYPE)
        h = hashlib.sha256(plan.prefix)
        self.out.write(plan.prefix)
        for chunk in plan.chunks():
            self.out.write(chunk)
            h.update(chunk)
        self._pad(plan.size)
        self.records[name] = {"sha256": h.hexdigest(), "size": plan.size}

    def finish(self) -> None:
        """Write the end-of-archive marker and pad to a whole tar record."""
        self.out.write(b"\0" * (2 * tarfile.BLOCKSIZE))
        written = self.out.tell()
        if written % tarfile.RECORDSIZE:
            self.out.write(b"\0" * (tarfile.RECORDSIZE - written % tarfile.RECORDSIZE))


def _versions() -> dict[str, Any]:
    import platform

    from ganglion import __version__
    from ganglion.plugins import get_plugin_manager

    plugins = {}  # distribution -> version, of every loaded plugin (in-process ones by name)
    for info in get_plugin_manager().plugins.values():
        if not info.builtin:
            plugins[info.distribution or info.name] = info.version
    versions: dict[str, Any] = {"ganglion-core": __version__, "python": platform.python_version()}
    with contextlib.suppress(ImportError):
        import torch

        versions["torch"] = torch.__version__
    versions["plugins"] = dict(sorted(plugins.items()))
    return versions


def _dump_config(config: Mapping[str, Any]) -> bytes:
    import yaml

    def escape(node: Any) -> Any:
        # a literal "${...}" in a resolved config must stay literal when read back by OmegaConf
        if isinstance(node, str):
            return node.replace("${", "\\${")
        if isinstance(node, Mapping):
            return {k: escape(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [escape(v) for v in node]
        return node

    try:
        text = yaml.safe_dump(escape(config), sort_keys=False, allow_unicode=True)
    except yaml.YAMLError as exc:
        raise ArchiveError(f"the model config cannot be written as plain YAML: {exc}") from exc
    return text.encode()


def save_archive(
    path: str | os.PathLike[str],
    *,
    config: Mapping[str, Any],
    state_dict: Mapping[str, Any],
    model_class: str,
    model_name: str | None = None,
    model_provider: str | None = None,
    artifacts: Sequence[ArtifactSource] = (),
) -> Path:
    """Write a ``.ganglion`` archive atomically; returns its path.

    Args:
        path: the destination (parent directories are created).
        config: the model config as plain data (dicts, lists, scalars), interpolations resolved.
        state_dict: name -> tensor; tensors sharing the same memory view (tied weights) are
            stored once and come back shared.
        model_class: the model's import path (``pkg.mod:Class``).
        model_name: the name the model is registered under (how a restore finds its class).
        model_provider: who registered it, for the manifest.
        artifacts: files to pack; the packed config's value at each ``config_path`` becomes
            ``ganglion:<member>``.

    Most users call :meth:`ganglion.ModelPT.save_to` instead.
    """
    check_byte_order()
    path = Path(path)
    packed: dict[str, PackedArtifact] = {}
    records = []
    plain_config = copy.deepcopy(dict(config))  # a private copy to rewrite artifact paths in
    for source in artifacts:
        art = pack_artifact(source)
        packed.setdefault(art.member, art)  # same content, same name: stored once
        set_config_value(plain_config, source.config_path, ARTIFACT_SCHEME + art.member)
        records.append(
            {
                "config_path": source.config_path,
                "member": art.member,
                "handler": source.handler,
                "type": "directory" if art.is_dir else "file",
                "sha256": art.digest,
            }
        )
    config_bytes = _dump_config(plain_config)
    plan = WeightsPlan.of(state_dict)
    manifest: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model": {"name": model_name, "class": model_class, "provider": model_provider},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": _versions(),
        "config": CONFIG_NAME,
        "weights": WEIGHTS_NAME,
        "artifacts": records,
    }
    with atomic_output(path) as out:
        tar = TarWriter(out)
        tar.add_bytes(CONFIG_NAME, config_bytes)
        for art in packed.values():
            if art.is_dir:
                tar.add_dir(art.member)
                for rel, src, sha, size in art.files:
                    tar.add_file(f"{art.member}/{rel}", src, sha, size)
            else:
                _, src, sha, size = art.files[0]
                tar.add_file(art.member, src, sha, size)
        tar.add_weights(WEIGHTS_NAME, plan)
        manifest["members"] = tar.records
        manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
        tar.add_bytes(MANIFEST_NAME, manifest_bytes)
        tar.finish()
    # every checksum was computed from what was written: a restore of this file need not rehash
    write_stamp(hashlib.sha256(manifest_bytes).hexdigest(), os.stat(path))
    return path
