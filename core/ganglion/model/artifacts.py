"""Artifacts: the files a model needs besides its weights (a tokenizer model, a vocabulary).

A model declares each one with :meth:`ModelPT.register_artifact
<ganglion.model.ModelPT.register_artifact>` (implemented by :func:`register_artifact`);
``save_to`` packs them into the archive. While an archive is restored, its artifacts are
unpacked first and :func:`unpacked_artifacts` tells the rebuilt model's constructor where they
are, so that ``register_artifact`` returns the unpacked path whatever the packed config says.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ganglion.archive import (
    ARTIFACT_SCHEME,
    ArchivedArtifact,
    ArtifactSource,
    get_artifact_handler,
)
from ganglion.errors import GanglionError

__all__ = ["UnpackedArtifacts", "register_artifact", "restoring", "unpacked_artifacts"]


@dataclass(frozen=True)
class UnpackedArtifacts:
    """The artifacts of the archive being restored, unpacked into the cache."""

    by_config_path: dict[str, str]  # artifact key -> unpacked value
    by_member: dict[str, str]  # archive member -> unpacked value
    records: dict[str, ArchivedArtifact]  # artifact key -> what the manifest records

    def record_of_member(self, member: str) -> ArchivedArtifact | None:
        """The record of the artifact stored as ``member``, if any."""
        return next((r for r in self.records.values() if r.member == member), None)


# Set while a model is rebuilt from an archive, in this thread or task only.
_UNPACKED: contextvars.ContextVar[UnpackedArtifacts | None] = contextvars.ContextVar(
    "ganglion_unpacked_artifacts", default=None
)


@contextlib.contextmanager
def restoring(unpacked: UnpackedArtifacts) -> Iterator[None]:
    """Models built inside this context are being restored with ``unpacked`` artifacts."""
    token = _UNPACKED.set(unpacked)
    try:
        yield
    finally:
        _UNPACKED.reset(token)


def unpacked_artifacts() -> UnpackedArtifacts | None:
    """The artifacts of the archive being restored, or None outside a restore."""
    return _UNPACKED.get()


def register_artifact(
    artifacts: dict[str, ArtifactSource],
    config_path: str,
    src: str | os.PathLike[str] | None,
    *,
    verify_src_exists: bool = True,
    handler: str | None = None,
) -> str | None:
    """Record the artifact ``config_path`` -> ``src`` in ``artifacts`` (a model's table) and
    return the path to use; see :meth:`ModelPT.register_artifact
    <ganglion.model.ModelPT.register_artifact>` for the arguments."""
    unpacked = _UNPACKED.get()
    if unpacked is not None:
        value = unpacked.by_config_path.get(config_path)
        record = unpacked.records.get(config_path)
        if value is None and isinstance(src, str) and src.startswith(ARTIFACT_SCHEME):
            member = src[len(ARTIFACT_SCHEME) :]
            value = unpacked.by_member.get(member)
            record = unpacked.record_of_member(member)
        if value is not None and record is not None:
            artifacts[config_path] = ArtifactSource(config_path, Path(value), record.handler)
            return value
    if src is None or os.fspath(src) == "":
        if verify_src_exists:
            raise GanglionError(f"register_artifact({config_path!r}): no src given")
        return None
    text = os.fspath(src)
    if text.startswith(ARTIFACT_SCHEME):
        raise GanglionError(
            f"register_artifact({config_path!r}): {text!r} names a file inside an archive, "
            "but no archive is being restored; use restore_from to load the model"
        )
    path = Path(text).expanduser()
    if not path.exists():
        if verify_src_exists:
            raise GanglionError(
                f"register_artifact({config_path!r}): {path} does not exist; pass "
                "verify_src_exists=False if the artifact is optional"
            )
        return None
    name = handler or ("directory" if path.is_dir() else "file")
    get_artifact_handler(name, key=f"register_artifact({config_path!r}) handler").check(path)
    artifacts[config_path] = ArtifactSource(config_path, path.resolve(), name)
    return str(path)
