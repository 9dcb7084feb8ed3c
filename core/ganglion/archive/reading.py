"""Reading an archive: :class:`ModelArchive` checks a ``.ganglion`` file's structure and
manifest, then reads its members in place (nothing is extracted) and checks each against its
sha256 as it is read; only artifacts are unpacked, into a content-addressed cache, because
libraries such as sentencepiece want a real file path."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import mmap as _mmap
import os
import shutil
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganglion.archive.artifacts import (
    ArchivedArtifact,
    ArtifactHandler,
    get_artifact_handler,
    tree_digest,
)
from ganglion.archive.atomic import remove_stale_temps, temp_path
from ganglion.archive.errors import (
    ArchiveChecksumError,
    ArchiveError,
    UnsafeArchiveError,
    refusal,
)
from ganglion.archive.format import (
    ARTIFACT_MEMBER,
    CONFIG_NAME,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST_NAME,
    MAX_CONFIG_BYTES,
    MAX_MANIFEST_BYTES,
    SHA256_HEX,
    SUPPORTED_FORMAT_VERSIONS,
    WEIGHTS_NAME,
    member_name_problem,
)
from ganglion.archive.parsing import load_json, load_yaml
from ganglion.archive.policy import check_config
from ganglion.archive.stamps import stamp_matches, write_stamp
from ganglion.archive.weights import (
    CHUNK_BYTES,
    WeightsHeader,
    check_byte_order,
    entry_dtype,
    parse_header,
    tensor_bytes,
    tensors_from_buffer,
)
from ganglion.cache import ENV_CACHE, cache_dir
from ganglion.errors import UnknownNameError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["ENV_MMAP", "ModelArchive"]

#: Environment variable: ``0`` reads restored weights into fresh memory instead of making them
#: views of a copy-on-write memory map of the archive file (see :meth:`ModelArchive.read_weights`).
ENV_MMAP = "GANGLION_MMAP"


@dataclass(frozen=True)
class _Member:
    """Where a member's bytes are in the archive file."""

    name: str
    offset: int
    size: int
    is_dir: bool


_COMPRESSED = {
    b"\x1f\x8b": "gzip-compressed (a NeMo .nemo file is a .tar.gz)",
    b"BZh": "bzip2-compressed",
    b"\xfd7zXZ\x00": "xz-compressed",
    b"\x28\xb5\x2f\xfd": "zstd-compressed",
    b"PK\x03\x04": "a zip file (a torch.save checkpoint?)",
}


class ModelArchive:
    """An open ``.ganglion`` file whose structure and manifest have been checked.

    ``ModelArchive.open(path)`` refuses an archive whose members escape it (absolute paths,
    ``..``), are links or special files, are duplicated, or are not exactly the members its
    manifest lists; and one with no manifest or an unknown format version. Members are then
    read in place, each checked against its sha256 as it is read. Use it as a context manager
    (it holds the file open, so what is checked is what is used).

    Example::

        with ModelArchive.open("model.ganglion") as archive:
            print(archive.model_name, archive.parameter_count())
            archive.verify()
    """

    def __init__(
        self,
        path: Path,
        file: Any,
        members: dict[str, _Member],
        manifest: dict[str, Any],
        manifest_sha256: str,
    ) -> None:
        self.path = path
        self._file = file
        self._members = members
        self.manifest = manifest
        self._manifest_sha256 = manifest_sha256
        self._verified: set[str] = set()
        #: True when this very file (same device, inode, size, mtime and ctime) had every
        #: checksum verified before, by ``save_to`` or a restore (see
        #: :mod:`~ganglion.archive.stamps`).
        self.verified_before = stamp_matches(manifest_sha256, os.fstat(file.fileno()))
        self._weights_header: WeightsHeader | None = None
        #: The artifacts the manifest records (filled when the manifest is checked).
        self.artifacts: list[ArchivedArtifact] = []

    # -- opening and structure ---------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ModelArchive:
        """Open and check ``path`` (see the class docstring); raises :class:`ArchiveError`."""
        path = Path(path)
        try:
            if not path.is_file():
                raise ArchiveError(
                    f"no archive at {path}" + (" (a directory)" if path.is_dir() else "")
                )
            file = open(path, "rb")  # noqa: SIM115 - owned by the archive, closed by close()
        except OSError as exc:  # permission denied, I/O error: a message, not a traceback
            raise ArchiveError(f"cannot read {path}: {exc}") from exc
        try:
            members = cls._scan(path, file)
            manifest, manifest_sha256 = cls._read_manifest(path, file, members)
            archive = cls(path, file, members, manifest, manifest_sha256)
            archive._check_members()
        except OSError as exc:
            file.close()
            raise ArchiveError(f"cannot read {path}: {exc}") from exc
        except BaseException:
            file.close()
            raise
        return archive

    def close(self) -> None:
        """Close the archive file."""
        self._file.close()

    def __enter__(self) -> ModelArchive:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _refuse(self, reason: str, error: type[ArchiveError] = UnsafeArchiveError) -> ArchiveError:
        return refusal(self.path, reason, error)

    @staticmethod
    def _scan(path: Path, file: Any) -> dict[str, _Member]:
        refuse = functools.partial(refusal, path)
        magic = file.read(8)
        for prefix, what in _COMPRESSED.items():
            if magic.startswith(prefix):
                raise refuse(
                    f"it is {what}, not an uncompressed tar; a .ganglion file is a plain tar",
                    ArchiveError,
                )
        file.seek(0)
        size = os.fstat(file.fileno()).st_size
        try:
            with tarfile.open(fileobj=file, mode="r:") as tar:
                infos = tar.getmembers()
        except (tarfile.TarError, EOFError) as exc:
            raise refuse(f"it is not a tar archive ({exc})", ArchiveError) from None
        members: dict[str, _Member] = {}
        for info in infos:
            name = info.name
            problem = member_name_problem(name)
            if problem:
                raise refuse(f"member {name!r} {problem}")
            if info.issym():
                raise refuse(
                    f"member {name!r} is a symbolic link (to {info.linkname!r}); archives hold "
                    "regular files and directories only"
                )
            if info.islnk():
                raise refuse(
                    f"member {name!r} is a hard link (to {info.linkname!r}); archives hold "
                    "regular files and directories only"
                )
            if info.issparse() or not (info.isreg() or info.isdir()):
                raise refuse(
                    f"member {name!r} is a special file (tar type {info.type!r}); archives hold "
                    "regular files and directories only"
                )
            if name in members:
                raise refuse(f"member {name!r} appears twice")
            if info.offset_data + info.size > size:
                raise refuse(
                    f"member {name!r} runs past the end of the file (truncated)", ArchiveError
                )
            members[name] = _Member(name, info.offset_data, info.size, info.isdir())
        return members

    @staticmethod
    def _read_manifest(
        path: Path, file: Any, members: dict[str, _Member]
    ) -> tuple[dict[str, Any], str]:
        from ganglion import __version__

        refuse = functools.partial(refusal, path, error=ArchiveError)
        member = members.get(MANIFEST_NAME)
        if member is None or member.is_dir:
            raise refuse(f"it has no {MANIFEST_NAME}, so it is not a ganglion archive")
        if member.size > MAX_MANIFEST_BYTES:
            raise refuse(
                f"{MANIFEST_NAME} is {member.size} bytes, over the {MAX_MANIFEST_BYTES} limit"
            )
        file.seek(member.offset)
        raw = file.read(member.size)
        manifest = load_json(raw, archive=path, what=MANIFEST_NAME)
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
            raise refuse(f"{MANIFEST_NAME} does not describe a {FORMAT_NAME}")
        version = manifest.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise refuse(f"{MANIFEST_NAME} has no integer format_version (got {version!r})")
        if version not in SUPPORTED_FORMAT_VERSIONS:
            newer = (
                " (written by a newer ganglion: upgrade ganglion)"
                if version > FORMAT_VERSION
                else ""
            )
            raise refuse(
                f"format version {version} is not supported by ganglion {__version__}, which "
                f"reads version(s) {', '.join(map(str, SUPPORTED_FORMAT_VERSIONS))}{newer}"
            )
        return manifest, hashlib.sha256(raw).hexdigest()

    def _check_members(self) -> None:
        """The manifest is well formed and lists exactly the tar's members."""
        m = self.manifest
        refuse = self._refuse

        listed = m.get("members")
        if not isinstance(listed, dict):
            raise refuse(f"{MANIFEST_NAME} has no 'members' table", ArchiveError)
        for name, rec in listed.items():
            if not isinstance(rec, dict):
                raise refuse(f"{MANIFEST_NAME}: entry for {name!r} is not a table", ArchiveError)
            if rec.get("type") == "directory":
                continue
            sha, size = rec.get("sha256"), rec.get("size")
            if not (isinstance(sha, str) and SHA256_HEX.match(sha)) or not isinstance(size, int):
                raise refuse(
                    f"{MANIFEST_NAME}: entry for {name!r} lacks a sha256 and size", ArchiveError
                )
        actual = {n: mem for n, mem in self._members.items() if n != MANIFEST_NAME}
        for name, member in actual.items():
            rec = listed.get(name)
            if rec is None:
                raise refuse(f"member {name!r} is not listed in {MANIFEST_NAME} (no checksum)")
            if member.is_dir != (rec.get("type") == "directory"):
                kind = "a directory" if member.is_dir else "a file"
                raise refuse(f"member {name!r} is {kind}, unlike what {MANIFEST_NAME} says")
            if not member.is_dir and rec["size"] != member.size:
                raise refuse(
                    f"member {name!r} is {member.size} bytes but {MANIFEST_NAME} says "
                    f"{rec['size']} (truncated or modified)",
                    ArchiveChecksumError,
                )
        for name in listed:
            if name not in actual:
                raise refuse(
                    f"{MANIFEST_NAME} lists {name!r} but the archive has no such member",
                    ArchiveError,
                )
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            if name not in actual or actual[name].is_dir:
                raise refuse(f"it has no {name}", ArchiveError)
        model = m.get("model")
        if not isinstance(model, dict) or not isinstance(model.get("class"), str):
            raise refuse(f"{MANIFEST_NAME} does not name the model class", ArchiveError)
        if model.get("name") is not None and not isinstance(model.get("name"), str):
            raise refuse(f"{MANIFEST_NAME}: model name must be a string", ArchiveError)
        arts = m.get("artifacts", [])
        if not isinstance(arts, list):
            raise refuse(f"{MANIFEST_NAME}: 'artifacts' must be a list", ArchiveError)
        for i, rec in enumerate(arts):
            where = f"{MANIFEST_NAME}: artifacts[{i}]"
            if not isinstance(rec, dict):
                raise refuse(f"{where} is not a table", ArchiveError)
            member, path, handler = rec.get("member"), rec.get("config_path"), rec.get("handler")
            is_dir = rec.get("type") == "directory"
            if not (isinstance(member, str) and ARTIFACT_MEMBER.match(member)):
                raise refuse(f"{where}: member {member!r} is not '<32 hex>_<name>'")
            if member not in actual or actual[member].is_dir != is_dir:
                raise refuse(f"{where}: member {member!r} is missing or of the wrong type")
            if not isinstance(path, str) or any(not p for p in path.split(".")):
                raise refuse(f"{where}: config_path {path!r} is not a dotted config path")
            if not isinstance(handler, str) or not handler:
                raise refuse(f"{where}: no handler named", ArchiveError)
            sha = rec.get("sha256")
            if not (isinstance(sha, str) and SHA256_HEX.match(sha)):
                raise refuse(f"{where}: no sha256", ArchiveError)
            art = ArchivedArtifact(path, member, handler, is_dir, sha)
            # the digest names the artifact's cache entry: it must be the content's own
            if sha != self._artifact_digest(art) or not sha.startswith(member[:32]):
                raise refuse(f"{where}: sha256 {sha} is not the digest of member {member!r}")
            self.artifacts.append(art)

    def _artifact_digest(self, art: ArchivedArtifact) -> str:
        """An artifact's digest from the manifest's member checksums (see :func:`tree_digest`)."""
        listed = self.manifest["members"]
        if not art.is_dir:
            return listed[art.member]["sha256"]
        prefix = art.member + "/"
        return tree_digest(
            (name[len(prefix) :], None, listed[name]["sha256"], listed[name]["size"])
            for name in self._artifact_files(art)
        )

    # -- facts ---------------------------------------------------------------------------------
    @property
    def model_name(self) -> str | None:
        """The registered name of the archived model (``None`` if it was not registered)."""
        return self.manifest["model"].get("name")

    @property
    def model_class(self) -> str:
        """The archived model's import path, as recorded at save time."""
        return self.manifest["model"]["class"]

    def member_names(self) -> list[str]:
        """Every member, in archive order."""
        return list(self._members)

    # -- reading members ---------------------------------------------------------------------
    def _pread(self, offset: int, size: int) -> bytes:
        self._file.seek(offset)
        data = self._file.read(size)
        if len(data) != size:
            raise self._refuse("the file ends early (truncated)", ArchiveError)
        return data

    def _expected(self, name: str) -> str:
        return self.manifest["members"][name]["sha256"]

    def _mismatch(self, name: str, got: str) -> ArchiveError:
        return self._refuse(
            f"checksum mismatch for member {name!r}: {MANIFEST_NAME} says sha256 "
            f"{self._expected(name)}, its content has {got}; the file is corrupt or was modified",
            ArchiveChecksumError,
        )

    def _member_chunks(self, name: str) -> Iterator[bytes]:
        member = self._members[name]
        self._file.seek(member.offset)
        left = member.size
        while left:
            chunk = self._file.read(min(left, 1 << 20))
            if not chunk:
                raise self._refuse("the file ends early (truncated)", ArchiveError)
            left -= len(chunk)
            yield chunk

    def verify_member(self, name: str) -> None:
        """Check one file member against its sha256 (raises :class:`ArchiveChecksumError`)."""
        h = hashlib.sha256()
        for chunk in self._member_chunks(name):
            h.update(chunk)
        if h.hexdigest() != self._expected(name):
            raise self._mismatch(name, h.hexdigest())
        self._verified.add(name)

    def verify(self) -> dict[str, str | None]:
        """Check every file member; returns name -> ``None`` (good) or what is wrong."""
        results: dict[str, str | None] = {}
        for name, member in self._members.items():
            if member.is_dir or name == MANIFEST_NAME:
                continue
            try:
                self.verify_member(name)
                results[name] = None
            except ArchiveError as exc:
                results[name] = str(exc)
        return results

    def read_member(self, name: str, *, limit: int = MAX_CONFIG_BYTES) -> bytes:
        """A small member's bytes, checked against its sha256."""
        member = self._members.get(name)
        if member is None or member.is_dir:
            raise self._refuse(f"it has no file member {name!r}", ArchiveError)
        if member.size > limit:
            raise self._refuse(
                f"member {name!r} is {member.size} bytes, over the {limit} limit", ArchiveError
            )
        data = self._pread(member.offset, member.size)
        got = hashlib.sha256(data).hexdigest()
        if got != self._expected(name):
            raise self._mismatch(name, got)
        self._verified.add(name)
        return data

    def read_config(self) -> dict[str, Any]:
        """The packed model config as plain data (checked; YAML aliases refused)."""
        config = load_yaml(self.read_member(CONFIG_NAME), archive=self.path, what=CONFIG_NAME)
        if not isinstance(config, dict):
            raise self._refuse(f"{CONFIG_NAME} is not a mapping", ArchiveError)
        return config

    def check_config(self, config: Mapping[str, Any]) -> None:
        """Refuse a config naming unregistered code or calling resolvers
        (see :func:`~ganglion.archive.policy.check_config`)."""
        check_config(config, source=f"Refused archive {self.path}: {CONFIG_NAME}")

    # -- weights --------------------------------------------------------------------------------
    def weights_header(self) -> WeightsHeader:
        """The parsed, checked safetensors header of the weights (no tensor data is read)."""
        if self._weights_header is None:
            member = self._members[WEIGHTS_NAME]
            self._weights_header = parse_header(
                self._pread,
                archive=self.path,
                member_offset=member.offset,
                member_size=member.size,
            )
        return self._weights_header

    def parameter_count(self) -> int:
        """Number of scalars in the stored tensors (tied tensors counted once)."""
        return sum(e.numel for e in self.weights_header().entries)

    def read_weights(self, *, mmap: bool | None = None) -> dict[str, torch.Tensor]:
        """Every stored tensor, checked against the sha256; tied names share one tensor.

        Args:
            mmap: ``True`` makes the tensors views of a private (copy-on-write) memory map of
                the archive file; ``False`` reads each tensor into fresh memory, hashing it as
                it is read; ``None`` (the default) takes the choice from the environment
                variable ``GANGLION_MMAP`` (``0``: copy), else maps.

        Mapped, nothing is copied and pages come from the page cache when first touched. A
        file not verified before (:attr:`verified_before`) is hashed through the same mapping
        first, so what was checked is what the tensors hold; :class:`ArchiveChecksumError` is
        raised (and nothing returned) if it does not match. Writing to a tensor copies its
        page, never touching the file.

        The catch, as with ``torch.load(mmap=True)``: a mapping shows the file as it is now.
        A tool that rewrites the file *in place* while the model lives (``cp other.ganglion
        model.ganglion``, ``dd``, an editor saving over it) changes the mapped weights under
        the model, and truncating it kills the process with SIGBUS on the next touch of a
        lost page. ganglion's own saves never do that: ``save_to`` writes a new file and
        renames it over the old one, so a model mapped from the old file keeps its weights.
        Pass ``mmap=False`` where other tools may overwrite archives in place. A file that
        cannot be mapped, or a tensor not aligned for its dtype, is read by copying anyway.
        """
        check_byte_order()
        header = self.weights_header()
        mapped = None
        if mmap is None:
            mmap = os.environ.get(ENV_MMAP, "1") != "0"
        if mmap:
            with contextlib.suppress(OSError, ValueError):
                mapped = _mmap.mmap(self._file.fileno(), 0, access=_mmap.ACCESS_COPY)
        if mapped is None:
            tensors = self._read_weights_copying(header)
        else:
            tensors = self._map_weights(header, mapped)
        self._verified.add(WEIGHTS_NAME)
        for alias, original in header.aliases.items():
            tensors[alias] = tensors[original]
        return tensors

    def _map_weights(self, header: WeightsHeader, mapped: _mmap.mmap) -> dict[str, torch.Tensor]:
        end = header.data_offset + (header.entries[-1].end if header.entries else 0)
        if len(mapped) < end:  # shrank since it was opened
            raise self._refuse("the file ends early (truncated)", ArchiveError)
        if not self.verified_before:
            h = hashlib.sha256(header.prefix)
            with memoryview(mapped) as view:
                h.update(view[header.data_offset : end])  # one call: hashlib drops the GIL
            if h.hexdigest() != self._expected(WEIGHTS_NAME):
                raise self._mismatch(WEIGHTS_NAME, h.hexdigest())
        return tensors_from_buffer(header, mapped, archive=self.path)

    def _read_weights_copying(self, header: WeightsHeader) -> dict[str, torch.Tensor]:
        """The tensors read into fresh memory, hashed as they are read."""
        import torch

        h = None if self.verified_before else hashlib.sha256(header.prefix)
        tensors: dict[str, torch.Tensor] = {}
        self._file.seek(header.data_offset)
        for e in header.entries:
            tensor = torch.empty(e.shape, dtype=entry_dtype(e, archive=self.path))
            view = tensor_bytes(tensor)
            for start in range(0, len(view), CHUNK_BYTES):
                chunk = view[start : start + CHUNK_BYTES]
                self._readinto(chunk)
                if h is not None:
                    h.update(chunk)
            tensors[e.name] = tensor
        if h is not None and h.hexdigest() != self._expected(WEIGHTS_NAME):
            raise self._mismatch(WEIGHTS_NAME, h.hexdigest())
        return tensors

    def _readinto(self, view: memoryview) -> None:
        done = 0
        while done < len(view):
            n = self._file.readinto(view[done:])
            if not n:
                raise self._refuse("the file ends early (truncated)", ArchiveError)
            done += n

    def mark_verified(self) -> None:
        """Remember that every member of this file checked out, so that the next restore of
        the unchanged file skips the hashing (see :mod:`~ganglion.archive.stamps`). Does nothing
        unless every file member was verified through this object."""
        if self.verified_before:
            return
        files = {n for n, m in self._members.items() if not m.is_dir and n != MANIFEST_NAME}
        if files <= self._verified:
            write_stamp(self._manifest_sha256, os.fstat(self._file.fileno()))

    # -- artifacts ------------------------------------------------------------------------------
    def _artifact_files(self, art: ArchivedArtifact) -> list[str]:
        if not art.is_dir:
            return [art.member]
        prefix = art.member + "/"
        return [n for n, m in self._members.items() if n.startswith(prefix) and not m.is_dir]

    def artifact_handlers(self) -> dict[str, ArtifactHandler]:
        """Handler name -> handler, for every artifact (an uninstalled handler is an error)."""
        handlers: dict[str, ArtifactHandler] = {}
        for art in self.artifacts:
            if art.handler not in handlers:
                try:
                    handlers[art.handler] = get_artifact_handler(art.handler)
                except UnknownNameError as exc:
                    raise self._refuse(
                        f"artifact {art.config_path!r} needs the artifact handler "
                        f"{art.handler!r}: {exc}",
                        ArchiveError,
                    ) from None
        return handlers

    def verify_artifacts(self) -> None:
        """Check every artifact member against its sha256 (reads, writes nothing)."""
        if self.verified_before:
            return
        for art in self.artifacts:
            for name in self._artifact_files(art):
                if name not in self._verified:
                    self.verify_member(name)

    def materialize_artifacts(self, root: str | os.PathLike[str] | None = None) -> dict[str, str]:
        """Unpack the artifacts into the content-addressed cache; config_path -> usable value.

        ``root`` defaults to ``$GANGLION_CACHE/artifacts``. An artifact already there (same
        sha256) is reused as is; a new one is copied to a temp dir beside it, checked, and
        renamed into place, so a reader never sees a half-written artifact. A restore killed
        while unpacking cannot remove its temp dir: the next unpack into the cache removes
        those of processes that no longer exist
        (:func:`~ganglion.archive.atomic.remove_stale_temps`). The value is what the
        artifact's handler makes of the unpacked path (by default, the path).
        """
        handlers = self.artifact_handlers()
        self.verify_artifacts()
        if root is None:
            root = cache_dir() / "artifacts"
        root = Path(root)
        values: dict[str, str] = {}
        placed: dict[str, Path] = {}
        for art in self.artifacts:
            if art.member not in placed:
                placed[art.member] = self._place(art, root)
            values[art.config_path] = handlers[art.handler].resolve(placed[art.member])
        return values

    def _place(self, art: ArchivedArtifact, root: Path) -> Path:
        final_dir = root / art.sha256
        final = final_dir / art.basename
        if final.exists():
            return final
        try:
            root.mkdir(parents=True, exist_ok=True)
            remove_stale_temps(root)  # of restores killed while unpacking
            tmp = temp_path(root / art.sha256)  # .<sha256>.<pid>@<host>.<random>.tmp
            tmp.mkdir()
        except OSError as exc:
            raise ArchiveError(
                f"cannot unpack the artifacts of {self.path} into {root}: {exc}; set {ENV_CACHE} "
                "to a writable directory"
            ) from exc
        try:
            target = tmp / art.basename
            prefix = art.member + "/"
            if art.is_dir:
                target.mkdir()
            for name in self._artifact_files(art):
                dest = target / name[len(prefix) :] if art.is_dir else target
                dest.parent.mkdir(parents=True, exist_ok=True)
                h = hashlib.sha256()
                with open(dest, "wb") as out:
                    for chunk in self._member_chunks(name):
                        out.write(chunk)
                        h.update(chunk)
                if h.hexdigest() != self._expected(name):  # changed since verify_artifacts()
                    raise self._mismatch(name, h.hexdigest())
            try:
                os.rename(tmp, final_dir)
            except OSError:
                # the content's directory exists: the same content under another name (this
                # archive's or another's), or a concurrent restore; add this name to it
                try:
                    final_dir.mkdir(exist_ok=True)
                    os.rename(target, final)
                except OSError as exc:
                    if not final.exists():  # not a concurrent restore that won the race
                        raise ArchiveError(
                            f"cannot unpack artifact {art.config_path!r} of {self.path} to "
                            f"{final}: {exc}"
                        ) from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return final
