"""Artifacts: the files a model needs besides its weights (a tokenizer, a vocabulary, a
lexicon), how each kind is packed (:class:`ArtifactHandler`, pluggable through the
``register_artifact_handlers`` hook; the core registers ``file`` and ``directory``), and how
the manifest records them.

A packed artifact is the member ``<hash>_<basename>`` (a directory artifact: one member per
file under it), where ``<hash>`` is the first 32 hex digits of its content's sha256 (a
directory's: :func:`tree_digest` of its files), so equal content is stored once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganglion.archive.errors import ArchiveError
from ganglion.archive.format import member_name_problem, safe_basename
from ganglion.errors import GanglionError

__all__ = [
    "ArchivedArtifact",
    "ArtifactHandler",
    "ArtifactSource",
    "DirectoryArtifactHandler",
    "FileArtifactHandler",
    "PackedArtifact",
    "get_artifact_handler",
    "pack_artifact",
    "sha256_file",
    "tree_digest",
]


class ArtifactHandler:
    """How one kind of artifact is packed into an archive and handed back after a restore.

    A handler is registered by name through the ``register_artifact_handlers`` hook and chosen
    with ``model.register_artifact(config_path, src, handler="name")``. It describes an artifact
    as a set of files; ganglion does the hashing, packing, checking and unpacking:

    * :meth:`check` refuses a ``src`` that is not this kind of artifact (at registration);
    * :meth:`files` lists the files that make up ``src``: ``[("", src)]`` for a single file,
      otherwise ``(relative/posix/path, file on disk)`` pairs, unpacked as a directory;
    * :meth:`basename` names the artifact inside the archive (after its hash);
    * :meth:`resolve` turns the unpacked artifact back into what ``register_artifact`` returns
      (and the restored config holds): by default its path. That value must itself be a valid
      ``src`` for the handler, so that a restored model can be saved again.

    Example: a tokenizer that needs its vocabulary beside its model file::

        class SentencePieceHandler(ArtifactHandler):
            def check(self, src):
                if src.suffix != ".model":
                    raise GanglionError(f"{src} is not a sentencepiece .model file")

            def files(self, src):
                return [("tokenizer.model", src), ("vocab.txt", src.with_name("vocab.txt"))]

            def resolve(self, path):
                return str(path / "tokenizer.model")
    """

    def check(self, src: Path) -> None:
        """Raise :class:`~ganglion.errors.GanglionError` if ``src`` is not this kind."""

    def files(self, src: Path) -> list[tuple[str, Path]]:
        """The files making up the artifact at ``src`` (see the class docstring)."""
        return [("", src)]

    def basename(self, src: Path) -> str:
        """The artifact's name inside the archive (after ``<hash>_``)."""
        return src.name

    def resolve(self, path: Path) -> str:
        """What ``register_artifact`` returns for the artifact unpacked at ``path``."""
        return str(path)


class FileArtifactHandler(ArtifactHandler):
    """A single file (a tokenizer model, a vocabulary, a lexicon). Registered as ``file``."""

    def check(self, src: Path) -> None:
        if not src.is_file():
            raise GanglionError(f"artifact {src} is not a file (the 'file' handler packs one file)")


class DirectoryArtifactHandler(ArtifactHandler):
    """A directory, packed file by file (empty directories are dropped). Registered as
    ``directory``. Symbolic links inside it are followed: the archive holds their content."""

    def check(self, src: Path) -> None:
        if not src.is_dir():
            raise GanglionError(f"artifact {src} is not a directory")

    def files(self, src: Path) -> list[tuple[str, Path]]:
        out: list[tuple[str, Path]] = []
        seen: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(src, followlinks=True):
            real = os.path.realpath(dirpath)
            if real in seen:
                raise GanglionError(
                    f"artifact directory {src} reaches {real} twice, at {dirpath} (a symbolic "
                    "link loop, or two links to one directory); remove the extra link"
                )
            seen.add(real)
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if path.is_file():
                    out.append((path.relative_to(src).as_posix(), path))
        return out


def get_artifact_handler(name: str, *, key: str | None = None) -> ArtifactHandler:
    """The artifact handler registered as ``name`` (an instance; classes are instantiated)."""
    from ganglion.plugins import registry

    obj = registry("artifact_handlers").resolve(name, key=key)
    return obj() if isinstance(obj, type) else obj


# -- packing ----------------------------------------------------------------------------------
def sha256_file(path: Path) -> tuple[str, int]:
    """The sha256 and size of the file at ``path``."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


@dataclass(frozen=True)
class ArtifactSource:
    """An artifact to pack: the config key it belongs to, where it is, and its handler."""

    config_path: str
    path: Path
    handler: str = "file"


@dataclass
class PackedArtifact:
    """An artifact ready to be written: its member name, digest and files, each hashed."""

    config_path: str
    handler: str
    member: str
    digest: str
    is_dir: bool
    files: list[tuple[str, Path, str, int]]  # (relative name, source, sha256, size)


def tree_digest(files: Iterable[tuple[str, Any, str, int]]) -> str:
    """A directory artifact's digest, from its files' ``(relative name, _, sha256, size)``."""
    h = hashlib.sha256()
    for rel, _, sha, size in sorted(files, key=lambda f: f[0]):
        h.update(f"{rel}\0{sha}\0{size}\n".encode())
    return h.hexdigest()


def pack_artifact(source: ArtifactSource) -> PackedArtifact:
    """Check ``source`` with its handler, list its files and hash them."""
    handler = get_artifact_handler(source.handler, key=f"artifact {source.config_path!r}")
    src = Path(source.path)
    if not src.exists():
        raise ArchiveError(
            f"artifact {source.config_path!r} was registered from {src}, which no longer exists"
        )
    handler.check(src)
    listed = list(handler.files(src))
    single = len(listed) == 1 and listed[0][0] == ""
    files: list[tuple[str, Path, str, int]] = []
    seen: set[str] = set()
    for rel, path in listed:
        if not single:
            problem = member_name_problem(rel)
            if problem or rel in seen:
                raise ArchiveError(
                    f"artifact handler {source.handler!r} listed {rel!r} for {src}, which "
                    f"{problem or 'is listed twice'}"
                )
            seen.add(rel)
        path = Path(path)
        if not path.is_file():
            raise ArchiveError(f"artifact {source.config_path!r}: {path} is not a readable file")
        sha, size = sha256_file(path)
        files.append((rel, path, sha, size))
    digest = files[0][2] if single else tree_digest(files)
    member = f"{digest[:32]}_{safe_basename(handler.basename(src))}"
    return PackedArtifact(source.config_path, source.handler, member, digest, not single, files)


# -- as recorded in an archive ------------------------------------------------------------------
@dataclass(frozen=True)
class ArchivedArtifact:
    """An artifact as the manifest records it."""

    config_path: str
    member: str
    handler: str
    is_dir: bool
    sha256: str

    @property
    def basename(self) -> str:
        """The artifact's original (sanitized) name, without the hash prefix."""
        return self.member[33:]
