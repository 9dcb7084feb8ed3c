"""The model archive (``.ganglion`` file): one plain tar holding everything a model needs.

Layout (``tar tvf model.ganglion`` lists it; ``tar xf`` unpacks it with any tool)::

    model_config.yaml            the model's config, resolved; artifact paths point into the archive
    <hash>_<basename>            each registered file artifact (``<hash>``: of its content)
    <hash>_<basename>/...        each registered directory artifact, file by file
    model_weights.safetensors    the state dict, in the safetensors format (never pickle)
    manifest.json                format and version, the model, ganglion's, torch's and the
                                 plugins' versions, and the sha256 and size of every member

Choices, and why:

* **No pickle, no code.** Weights are safetensors; the config is YAML read with the safe loader
  (aliases refused: no "billion laughs"), and OmegaConf resolvers in it are refused (an
  archive's config is stored resolved). A config's ``_target_`` must be a registered name or a
  class of an installed plugin (:func:`resolve_config_target`): ``_target_: os.system`` is
  refused before anything is imported.
* **Read in place.** The tar's member headers give each member's byte range; the manifest,
  config and weights are read straight from those ranges. Nothing is extracted to a temp dir.
* **Only artifacts are unpacked**, because libraries such as sentencepiece want a real file
  path. They go to a content-addressed cache (``$GANGLION_CACHE/artifacts/<sha256>/<name>``):
  checksummed, written to a temp dir and renamed into place, shared by every archive and every
  process holding the same file, and never rewritten once there.
* **Checked before use.** Member paths that are absolute, contain ``..``, or are links, devices
  or duplicates are refused, as are members the manifest does not list; every member's sha256
  is checked against the manifest as it is read. A refusal raises :class:`ArchiveError` (or a
  subclass) whose message says exactly what was refused, and happens before anything is
  written or built.
* **Fast.** Weights are streamed from each tensor's memory to the file with sha256 computed
  by a second thread at the same time, and the kernel's write-back started as they go (so the
  final rename does not have to flush the whole file). A restore maps the file copy-on-write
  and makes the tensors views of it: no copy, no allocation (see
  :meth:`ModelArchive.read_weights` for the catch; ``GANGLION_MMAP=0`` reads each tensor
  into fresh memory instead, hashed by a second thread as it is read).
  Since sha256 runs at about a third of memory-copy speed, a file whose checksums were all
  verified before (by the ``save_to`` that wrote it, or a restore) and that has not changed
  since (same device, inode, size, mtime and ctime) is not rehashed: see
  :func:`_stamp_matches`; ``GANGLION_VERIFY=always`` turns that off. Tensors are stored
  largest element size first, so each one is aligned for its dtype.
* **Atomic.** ``save_archive`` writes a hidden temp file in the destination directory and
  renames it over the destination, so an interrupted save never leaves a half archive.

Artifact kinds are pluggable: a plugin registers an :class:`ArtifactHandler` through the
``register_artifact_handlers`` hook (the core registers ``file`` and ``directory``).

Importing this module imports no torch; only reading or writing weights does.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import functools
import hashlib
import json
import math
import mmap as _mmap
import os
import queue
import re
import secrets
import shutil
import stat
import sys
import tarfile
import threading
import time
import types
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganglion.errors import GanglionError, UnknownNameError
from ganglion.registry import locate

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "ARTIFACT_SCHEME",
    "CONFIG_NAME",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "WEIGHTS_NAME",
    "ArchiveChecksumError",
    "ArchiveError",
    "ArchivedArtifact",
    "ArtifactHandler",
    "ArtifactSource",
    "DirectoryArtifactHandler",
    "FileArtifactHandler",
    "ModelArchive",
    "UnsafeArchiveError",
    "get_artifact_handler",
    "resolve_config_target",
    "save_archive",
]

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

_MAX_MANIFEST = 64 << 20
_MAX_CONFIG = 64 << 20
_MAX_WEIGHTS_HEADER = 256 << 20
_CHUNK = 8 << 20  # unit of the read/hash and write/hash pipelines
_ALIASES_KEY = "ganglion.aliases"
# what _safe_basename() produces after the hash: no separators, no leading dot
_ARTIFACT_MEMBER = re.compile(r"^[0-9a-f]{32}_[A-Za-z0-9_-][A-Za-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# safetensors dtype code -> (torch dtype attribute, bytes per element)
_DTYPES: dict[str, tuple[str, int]] = {
    "F64": ("float64", 8),
    "F32": ("float32", 4),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
    "F8_E4M3": ("float8_e4m3fn", 1),
    "F8_E5M2": ("float8_e5m2", 1),
    "C64": ("complex64", 8),
    "I64": ("int64", 8),
    "I32": ("int32", 4),
    "I16": ("int16", 2),
    "I8": ("int8", 1),
    "U64": ("uint64", 8),
    "U32": ("uint32", 4),
    "U16": ("uint16", 2),
    "U8": ("uint8", 1),
    "BOOL": ("bool", 1),
}


# -- errors -----------------------------------------------------------------------------------
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


# -- artifact handlers ------------------------------------------------------------------------
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


# -- what a config may name -------------------------------------------------------------------
#: Registry kinds whose names (and registered targets) a config's ``_target_`` may use.
TARGET_KINDS = ("models", "modules", "losses", "optimizers", "schedulers", "artifact_handlers")


def _plugin_packages() -> set[str]:
    """Top-level packages of every loaded plugin (and ganglion's own)."""
    from ganglion.plugins import get_plugin_manager

    roots = {"ganglion"}
    for info in get_plugin_manager().plugins.values():
        if info.entry_point:
            roots.add(info.entry_point.split(":")[0].split(".")[0])
        elif info.module is not None:
            module = info.module
            if isinstance(module, types.ModuleType):
                name = module.__name__
            elif isinstance(module, type):
                name = module.__module__
            else:
                name = type(module).__module__
            roots.add(name.split(".")[0])
    return roots


def _colon_forms(target: str) -> set[str]:
    """``a.b.C`` -> {``a.b:C``, ``a:b.C``}; a ``module:attr`` target is kept as is."""
    if ":" in target:
        return {target}
    parts = target.split(".")
    return {".".join(parts[:i]) + ":" + ".".join(parts[i:]) for i in range(1, len(parts))}


def resolve_config_target(target: Any, *, where: str) -> Any:
    """The class a restored config's ``_target_`` names, if an archive may name it at all.

    Allowed, in this order:

    1. a name registered by any plugin as a model, module, loss, optimizer, scheduler or
       artifact handler (``ganglion list modules`` …);
    2. the exact import path of such a registered class (``pkg.mod.Class`` or ``pkg.mod:Class``);
    3. a class (not a function) whose top-level package is an installed plugin's package or
       ganglion's, or a ``torch.nn`` module class (building a layer runs no foreign code).

    Anything else — ``os.system``, ``subprocess.Popen``, ``builtins.eval`` — is refused with
    :class:`UnsafeArchiveError` before its module is imported. ``where`` names the config key
    for the message.
    """
    from ganglion.plugins import registry

    if not isinstance(target, str) or not target.strip():
        raise UnsafeArchiveError(
            f"{where}: _target_ must be a name or an import path, got {target!r}"
        )
    registries = [registry(kind) for kind in TARGET_KINDS]
    for reg in registries:
        if target in reg:
            return reg.resolve(target, key=where)
    forms = _colon_forms(target)
    for reg in registries:
        for entry in reg:
            if entry.target_path in forms:
                return entry.load()
    roots = _plugin_packages()
    root = target.split(":")[0].split(".")[0]
    torch_layer = target.startswith(("torch.nn.", "torch.nn:"))
    if root in roots or torch_layer:
        try:
            obj = locate(target)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ArchiveError(f"{where}: cannot import {target!r}: {exc}") from exc
        if not isinstance(obj, type):
            raise UnsafeArchiveError(
                f"{where}: {target!r} is a {type(obj).__name__}, not a class; an archive's config "
                "may only name classes"
            )
        if torch_layer:
            import torch

            if not issubclass(obj, torch.nn.Module):
                raise UnsafeArchiveError(
                    f"{where}: {target!r} is not a torch.nn.Module; of torch, an archive's "
                    "config may only name layers"
                )
        return obj
    raise UnsafeArchiveError(
        f"{where}: {target!r} is neither a registered name nor a class of an installed plugin, "
        "so it was refused without being imported or called. Allowed: names listed by "
        "`ganglion list modules` (and models, losses, optimizers, schedulers), or classes in "
        f"the packages {', '.join(sorted(roots))}; a plugin adds names with its "
        "register_modules hook (ganglion.register_module at run time)"
    )


def _resolver_names(text: str) -> list[str]:
    """OmegaConf resolvers a string calls (``${oc.env:HOME}`` -> ``["oc.env"]``)."""
    names = []
    for match in re.finditer(r"\$\{\s*([\w.\-]+)\s*:", text):
        start = match.start()
        if start and text[start - 1] == "\\":
            continue  # an escaped literal
        names.append(match.group(1))
    return names


def check_config(config: Any, *, source: str) -> None:
    """Refuse a restored config that names unregistered code or calls OmegaConf resolvers.

    Every ``_target_`` goes through :func:`resolve_config_target`; a string calling a resolver
    (``${oc.env:SECRET}``, or any custom one) is refused, since saved configs are resolved.
    ``source`` (the archive and member) prefixes the messages.
    """

    def walk(node: Any, key: str) -> None:
        if isinstance(node, Mapping):
            for k, value in node.items():
                child = f"{key}.{k}" if key else str(k)
                if k == "_target_":
                    resolve_config_target(value, where=f"{source}: {child}")
                else:
                    walk(value, child)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{key}[{i}]")
        elif isinstance(node, str):
            resolvers = _resolver_names(node)
            if resolvers:
                raise UnsafeArchiveError(
                    f"{source}: {key} calls the OmegaConf resolver {resolvers[0]!r} ({node!r}); "
                    "archived configs are stored resolved, so resolvers are refused"
                )

    walk(config, "")


# -- config paths -----------------------------------------------------------------------------
def _split_config_path(config_path: str) -> list[str]:
    parts = config_path.split(".")
    if not config_path or any(not p for p in parts):
        raise GanglionError(
            f"artifact key {config_path!r} must be a dotted config path like 'tokenizer.model'"
        )
    return parts


def set_config_value(config: dict[str, Any], config_path: str, value: Any) -> None:
    """Set ``a.b.c`` in a plain nested dict (list items by index), creating missing dicts."""
    parts = _split_config_path(config_path)
    node: Any = config
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            nxt = node.get(part)
            if not isinstance(nxt, (dict, list)):
                nxt = node[part] = {}
            node = nxt
        else:
            raise GanglionError(f"cannot set {config_path!r}: {part!r} is not a mapping key")
    last = parts[-1]
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise GanglionError(f"cannot set {config_path!r}: {last!r} is not a mapping key")


# -- member names -----------------------------------------------------------------------------
def _name_problem(name: str) -> str | None:
    """Why ``name`` may not be a member of an archive, or None."""
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


def _safe_basename(name: str, default: str = "artifact") -> str:
    """``name`` as a plain file name: no separators or odd characters, no leading dot."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")
    return base or default


# -- tensors as bytes -------------------------------------------------------------------------
def _tensor_bytes(tensor: torch.Tensor) -> memoryview:
    """A zero-copy byte view of a contiguous CPU tensor (the caller keeps the tensor alive)."""
    nbytes = tensor.numel() * tensor.element_size()
    if nbytes == 0:
        return memoryview(b"")
    return memoryview((ctypes.c_char * nbytes).from_address(tensor.data_ptr())).cast("B")


def _dtype_code(dtype: Any) -> str:
    name = str(dtype).removeprefix("torch.")
    for code, (torch_name, _) in _DTYPES.items():
        if torch_name == name:
            return code
    raise ArchiveError(
        f"tensors of dtype {dtype} cannot be stored (safetensors holds "
        f"{', '.join(v[0] for v in _DTYPES.values())})"
    )


def _torch_dtype(code: str) -> Any:
    import torch

    return getattr(torch, _DTYPES[code][0], None)


def _check_byte_order() -> None:
    if sys.byteorder != "little":  # pragma: no cover - no big-endian CI
        raise ArchiveError("archives store little-endian tensors; this machine is big-endian")


class _BackgroundSha256:
    """sha256 computed by a worker thread, so hashing overlaps reading or writing.

    ``hashlib`` releases the GIL on large buffers, so the two really run at once. Chunks are
    hashed in the order given; ``keepalive`` holds whatever owns a chunk's memory until then.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._queue: queue.Queue[tuple[Any, Any] | None] = queue.Queue(maxsize=64)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ganglion-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is None:
                try:
                    self._hash.update(item[0])
                except BaseException as exc:  # reported by hexdigest()
                    self._error = exc

    def update(self, data: Any, keepalive: Any = None) -> None:
        self._queue.put((data, keepalive))

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        self.close()
        if self._error is not None:
            raise self._error
        return self._hash.hexdigest()

    def __enter__(self) -> _BackgroundSha256:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _NoHash:
    """Stands in for :class:`_BackgroundSha256` when a file's checksums are already known good."""

    def update(self, data: Any, keepalive: Any = None) -> None:
        pass

    def hexdigest(self) -> str:
        return ""

    def __enter__(self) -> _NoHash:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


# -- verified-file stamps -----------------------------------------------------------------------
#: Environment variable: ``always`` rehashes every member on every restore (no stamps).
ENV_VERIFY = "GANGLION_VERIFY"
#: Environment variable: ``0`` reads restored weights into fresh memory instead of making them
#: views of a copy-on-write memory map of the archive file (see :meth:`ModelArchive.read_weights`).
ENV_MMAP = "GANGLION_MMAP"


def _identity(st: os.stat_result) -> list[int]:
    # ctime cannot be set from user space: any write, chmod or rename of the file moves it
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _stamp_path(manifest_sha256: str) -> Path:
    from ganglion.pretrained import cache_dir

    return cache_dir() / "verified" / f"{manifest_sha256}.json"


def _stamp_matches(manifest_sha256: str, st: os.stat_result) -> bool:
    """Whether this file, unchanged, had its checksums verified before.

    Hashing every member on every restore would cost more than reading the weights (sha256
    runs at about a third of memory-copy speed), so, like git's index, ganglion trusts a
    file whose identity (device, inode, size, mtime, ctime) matches a stamp written after
    its members were last verified, by ``save_to`` (which hashed what it wrote) or by a
    restore. Any change to the file moves its ctime and voids the stamp. The stamps live in
    the cache (``$GANGLION_CACHE/verified``); ``GANGLION_VERIFY=always`` ignores them, and
    ``ganglion info`` always rehashes. The safety checks (paths, links, config targets) are
    done on every restore regardless.
    """
    if os.environ.get(ENV_VERIFY, "").lower() == "always":
        return False
    try:
        recorded = json.loads(_stamp_path(manifest_sha256).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(recorded, dict) and recorded.get("identity") == _identity(st)


def _write_stamp(manifest_sha256: str, st: os.stat_result) -> None:
    path = _stamp_path(manifest_sha256)
    with contextlib.suppress(OSError):  # only an optimisation: never fail a save or restore
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(json.dumps({"identity": _identity(st)}))
        os.replace(tmp, path)


def _sha256_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


# -- writing ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArtifactSource:
    """An artifact to pack: the config key it belongs to, where it is, and its handler."""

    config_path: str
    path: Path
    handler: str = "file"


@dataclass
class _PackedArtifact:
    config_path: str
    handler: str
    member: str
    digest: str
    is_dir: bool
    files: list[tuple[str, Path, str, int]]  # (relative name, source, sha256, size)


def _tree_digest(files: Iterable[tuple[str, Any, str, int]]) -> str:
    h = hashlib.sha256()
    for rel, _, sha, size in sorted(files, key=lambda f: f[0]):
        h.update(f"{rel}\0{sha}\0{size}\n".encode())
    return h.hexdigest()


def _pack_artifact(source: ArtifactSource) -> _PackedArtifact:
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
            problem = _name_problem(rel)
            if problem or rel in seen:
                raise ArchiveError(
                    f"artifact handler {source.handler!r} listed {rel!r} for {src}, which "
                    f"{problem or 'is listed twice'}"
                )
            seen.add(rel)
        path = Path(path)
        if not path.is_file():
            raise ArchiveError(f"artifact {source.config_path!r}: {path} is not a readable file")
        sha, size = _sha256_file(path)
        files.append((rel, path, sha, size))
    digest = files[0][2] if single else _tree_digest(files)
    member = f"{digest[:32]}_{_safe_basename(handler.basename(src))}"
    return _PackedArtifact(source.config_path, source.handler, member, digest, not single, files)


@dataclass
class _WeightsPlan:
    prefix: bytes  # 8-byte header length + the JSON header
    tensors: list[tuple[str, Any]]  # in file order
    size: int

    @classmethod
    def of(cls, state_dict: Mapping[str, Any]) -> _WeightsPlan:
        import torch

        seen: dict[tuple[Any, ...], str] = {}
        aliases: dict[str, str] = {}
        tensors: list[tuple[str, Any]] = []
        for name, value in state_dict.items():
            if not isinstance(name, str):
                raise ArchiveError(f"state_dict key {name!r} is not a string")
            if not isinstance(value, torch.Tensor):
                raise ArchiveError(
                    f"state_dict entry {name!r} is a {type(value).__name__}, not a tensor; "
                    "archives store tensors only (move extra state into the config)"
                )
            if value.layout != torch.strided:
                raise ArchiveError(f"state_dict entry {name!r} is a {value.layout} tensor")
            if value.device.type == "meta":
                raise ArchiveError(f"state_dict entry {name!r} is on the meta device (no data)")
            _dtype_code(value.dtype)
            if value.numel():
                # tied weights: the same view of the same memory is stored once
                key = (
                    str(value.device),
                    value.untyped_storage().data_ptr(),
                    value.storage_offset(),
                    tuple(value.shape),
                    tuple(value.stride()),
                    value.dtype,
                )
                if key in seen:
                    aliases[name] = seen[key]
                    continue
                seen[key] = name
            tensors.append((name, value))
        # widest elements first: every tensor starts aligned for its dtype
        tensors.sort(key=lambda item: (-item[1].element_size(), item[0]))
        header: dict[str, Any] = {}
        offset = 0
        for name, tensor in tensors:
            nbytes = tensor.numel() * tensor.element_size()
            header[name] = {
                "dtype": _dtype_code(tensor.dtype),
                "shape": list(tensor.shape),
                "data_offsets": [offset, offset + nbytes],
            }
            offset += nbytes
        metadata = {"format": "pt"}
        if aliases:
            metadata[_ALIASES_KEY] = json.dumps(aliases, sort_keys=True)
        header["__metadata__"] = metadata
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)  # the data section starts 8-byte aligned
        prefix = len(text).to_bytes(8, "little") + text
        return cls(prefix, tensors, len(prefix) + offset)

    def chunks(self) -> Iterator[tuple[memoryview, Any]]:
        """``(bytes, owner)`` pieces of the data section, in file order, without copies."""
        for _, tensor in self.tensors:
            t = tensor.detach()
            if t.device.type != "cpu":
                t = t.cpu()
            if not t.is_contiguous():
                t = t.contiguous()
            view = _tensor_bytes(t)
            for start in range(0, len(view), _CHUNK):
                yield view[start : start + _CHUNK], t


class _TarWriter:
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
        self._header(name, len(data), tarfile.REGTYPE)
        self.out.write(data)
        self._pad(len(data))
        self.records[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}

    def add_dir(self, name: str) -> None:
        self._header(name, 0, tarfile.DIRTYPE)
        self.records[name] = {"type": "directory"}

    def add_file(self, name: str, src: Path, sha: str, size: int) -> None:
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

    def add_weights(self, name: str, plan: _WeightsPlan) -> None:
        self._header(name, plan.size, tarfile.REGTYPE)
        with _BackgroundSha256() as hasher:
            self.out.write(plan.prefix)
            hasher.update(plan.prefix)
            for chunk, owner in plan.chunks():
                hasher.update(chunk, owner)  # first: the hashing thread is the slower one
                self.out.write(chunk)
            digest = hasher.hexdigest()
        self._pad(plan.size)
        self.records[name] = {"sha256": digest, "size": plan.size}

    def finish(self) -> None:
        self.out.write(b"\0" * (2 * tarfile.BLOCKSIZE))
        written = self.out.tell()
        if written % tarfile.RECORDSIZE:
            self.out.write(b"\0" * (tarfile.RECORDSIZE - written % tarfile.RECORDSIZE))


@functools.cache
def _libc_function(name: str, *argtypes: Any) -> Any:
    """A Linux system call's glibc wrapper through ctypes, or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        func = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    func.argtypes = list(argtypes)
    func.restype = ctypes.c_int
    return func


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_SYNC_FILE_RANGE_WRITE = 2  # start writing dirty pages out, without waiting for them
#: threads finishing earlier saves (see :func:`_replace`); joined by :func:`wait_for_saves`
_finishing: list[threading.Thread] = []
_finishing_lock = threading.Lock()


def _exchange(new: Path, path: Path) -> bool:
    """Swap two names in one atomic step; False where the system or the filesystem cannot,
    or ``path`` does not exist."""
    c_int, c_path = ctypes.c_int, ctypes.c_char_p
    func = _libc_function("renameat2", c_int, c_path, c_int, c_path, ctypes.c_uint)
    if func is None:
        return False
    return func(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(path), _RENAME_EXCHANGE) == 0


def _drop_cached(path: Path) -> None:
    """Drop the cached pages of the file about to be replaced (see :func:`atomic_output`)."""
    with contextlib.suppress(OSError, AttributeError):
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return  # a link, a FIFO, a device: nothing of ours to drop, nothing to open
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _finish_save(fd: int, old: Path | None) -> None:
    """Remove the replaced file, if any, and start writing the new one out; then close it."""
    try:
        if old is not None:
            with contextlib.suppress(OSError):
                os.unlink(old)
        c_off = ctypes.c_int64
        func = _libc_function("sync_file_range", ctypes.c_int, c_off, c_off, ctypes.c_uint)
        if func is not None:
            func(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)  # a failure here only loses the head start
    finally:
        os.close(fd)


def _replace(new: Path, path: Path, fd: int) -> None:
    """Put the file ``new`` (open as ``fd``, which this closes) at ``path`` atomically, and
    leave the rest of the work to a background thread.

    ``os.replace`` over an existing file frees the old file's blocks before it returns, and
    on ext4 also starts writing the new file out (``auto_da_alloc``); for a file of a few
    hundred MB that costs as much as writing it. Instead the two names are exchanged
    (``renameat2(RENAME_EXCHANGE)``, one atomic step: ``path`` always names a whole file,
    the old one or the new one), and a thread removes the old file, now under the temp
    name, and starts the new file's write-back, so that its pages are clean, and can be
    dropped (:func:`_drop_cached`), by the time it is replaced in turn. The interpreter
    waits for that thread at exit. Where exchanging is not possible (``path`` is new, not
    Linux, a filesystem without it) this is ``os.replace``.
    """
    try:
        old = new if _exchange(new, path) else None
        if old is None:
            os.replace(new, path)
    except BaseException:
        os.close(fd)
        raise
    thread = threading.Thread(target=_finish_save, args=(fd, old), name="ganglion-save")
    try:
        thread.start()
    except RuntimeError:  # no more threads (or the interpreter is shutting down): do it here
        _finish_save(fd, old)
        return
    with _finishing_lock:
        _finishing[:] = [t for t in _finishing if t.is_alive()]
        _finishing.append(thread)


def wait_for_saves() -> None:
    """Wait for the background work of earlier saves: removing the files they replaced and
    starting their write-back (see :func:`atomic_output`)."""
    with _finishing_lock:
        threads = _finishing[:]
        _finishing.clear()
    for thread in threads:
        thread.join()


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Any]:
    """A binary file that appears at ``path`` only when the ``with`` block completes.

    Written as a hidden temp file in the same directory (same filesystem), then moved to
    ``path`` in one atomic step (:func:`_replace`); on any error, ``KeyboardInterrupt``
    included, the temp file is removed and ``path`` is left as it was. The data is not
    fsync'ed (as with ``torch.save``), so a power cut right after a save may lose the new
    file, not corrupt it into a half file under the old name.

    Before writing, the cached pages of the file being replaced are dropped (its data stays
    on disk and readable; mapped pages, e.g. of a model restored from it, are kept): they
    are garbage once it is replaced, and the new file gets the memory they held instead of
    the page cache holding both versions. ``torch.save`` gets the same by truncating the old
    file before writing, and on a VM that hands freed memory back to its host (free page
    reporting) writing into memory freed moments ago costs several times less than into
    memory the host has to fault in again.
    """
    if path.is_dir():
        raise ArchiveError(f"cannot save to {path}: it is a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    _drop_cached(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies, as usual
    kept = -1  # a second descriptor of the temp file, for the background write-back
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as out:
            yield out
            out.flush()
            kept = os.dup(fd)
        handed, kept = kept, -1
        _replace(tmp, path, handed)  # closes it
    except BaseException:
        if kept >= 0:
            os.close(kept)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_output`; returns the path."""
    path = Path(path)
    with atomic_output(path) as out:
        out.write(text.encode("utf-8"))
    return path


def _versions() -> dict[str, Any]:
    import platform

    from ganglion import __version__
    from ganglion.plugins import get_plugin_manager

    plugins = {}  # distribution -> version, of every loaded plugin (in-process ones by name)
    for info in get_plugin_manager().plugins.values():
        if not info.builtin:
            plugins[info.distribution or info.name] = info.version
    versions: dict[str, Any] = {"ganglion": __version__, "python": platform.python_version()}
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
    _check_byte_order()
    path = Path(path)
    packed: dict[str, _PackedArtifact] = {}
    records = []
    plain_config = copy.deepcopy(dict(config))  # a private copy to rewrite artifact paths in
    for source in artifacts:
        art = _pack_artifact(source)
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
    plan = _WeightsPlan.of(state_dict)
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
        tar = _TarWriter(out)
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
    _write_stamp(hashlib.sha256(manifest_bytes).hexdigest(), os.stat(path))
    return path


# -- reading ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Member:
    name: str
    offset: int
    size: int
    is_dir: bool


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


@dataclass(frozen=True)
class _TensorEntry:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int
    numel: int  # number of elements: the product of the shape


@dataclass
class _WeightsHeader:
    prefix: bytes
    entries: list[_TensorEntry]
    aliases: dict[str, str]
    data_offset: int  # absolute offset of the data section in the archive file
    metadata: dict[str, str] = field(default_factory=dict)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


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
        #: checksum verified before, by ``save_to`` or a restore (see :func:`_stamp_matches`).
        self.verified_before = _stamp_matches(manifest_sha256, os.fstat(file.fileno()))
        self._weights_header: _WeightsHeader | None = None
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
            problem = _name_problem(name)
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
        if member.size > _MAX_MANIFEST:
            raise refuse(f"{MANIFEST_NAME} is {member.size} bytes, over the {_MAX_MANIFEST} limit")
        file.seek(member.offset)
        raw = file.read(member.size)
        try:
            manifest = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
        except (UnicodeDecodeError, ValueError) as exc:
            raise refuse(f"{MANIFEST_NAME} is not valid JSON ({exc})") from None
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
            if not (isinstance(sha, str) and _SHA256.match(sha)) or not isinstance(size, int):
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
            if not (isinstance(member, str) and _ARTIFACT_MEMBER.match(member)):
                raise refuse(f"{where}: member {member!r} is not '<32 hex>_<name>'")
            if member not in actual or actual[member].is_dir != is_dir:
                raise refuse(f"{where}: member {member!r} is missing or of the wrong type")
            if not isinstance(path, str) or any(not p for p in path.split(".")):
                raise refuse(f"{where}: config_path {path!r} is not a dotted config path")
            if not isinstance(handler, str) or not handler:
                raise refuse(f"{where}: no handler named", ArchiveError)
            sha = rec.get("sha256")
            if not (isinstance(sha, str) and _SHA256.match(sha)):
                raise refuse(f"{where}: no sha256", ArchiveError)
            art = ArchivedArtifact(path, member, handler, is_dir, sha)
            # the digest names the artifact's cache entry: it must be the content's own
            if sha != self._artifact_digest(art) or not sha.startswith(member[:32]):
                raise refuse(f"{where}: sha256 {sha} is not the digest of member {member!r}")
            self.artifacts.append(art)

    def _artifact_digest(self, art: ArchivedArtifact) -> str:
        """An artifact's digest from the manifest's member checksums (see _tree_digest)."""
        listed = self.manifest["members"]
        if not art.is_dir:
            return listed[art.member]["sha256"]
        prefix = art.member + "/"
        return _tree_digest(
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

    def read_member(self, name: str, *, limit: int = _MAX_CONFIG) -> bytes:
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
        import yaml

        raw = self.read_member(CONFIG_NAME)
        where = f"{CONFIG_NAME}"
        try:
            text = raw.decode("utf-8")
            for event in yaml.parse(text, Loader=yaml.SafeLoader):
                if isinstance(event, yaml.AliasEvent):
                    raise self._refuse(
                        f"{where} uses a YAML alias (*{event.anchor}); archived configs are "
                        "plain data and aliases are refused (they can blow up memory)"
                    )
            config = yaml.safe_load(text)
        except UnicodeDecodeError as exc:
            raise self._refuse(f"{where} is not UTF-8 ({exc})", ArchiveError) from None
        except yaml.YAMLError as exc:
            raise self._refuse(f"{where} is not valid YAML ({exc})", ArchiveError) from None
        if not isinstance(config, dict):
            raise self._refuse(f"{where} is not a mapping", ArchiveError)
        return config

    def check_config(self, config: Mapping[str, Any]) -> None:
        """Refuse a config naming unregistered code or calling resolvers (see :func:`check_config`)."""
        check_config(config, source=f"Refused archive {self.path}: {CONFIG_NAME}")

    # -- weights --------------------------------------------------------------------------------
    def weights_header(self) -> _WeightsHeader:
        """The parsed, checked safetensors header of the weights (no tensor data is read)."""
        if self._weights_header is not None:
            return self._weights_header
        member = self._members[WEIGHTS_NAME]
        where = WEIGHTS_NAME
        if member.size < 8:
            raise self._refuse(f"{where} is too short to be safetensors", ArchiveError)
        length = int.from_bytes(self._pread(member.offset, 8), "little")
        if length > member.size - 8 or length > _MAX_WEIGHTS_HEADER:
            raise self._refuse(
                f"{where}: header length {length} does not fit the member", ArchiveError
            )
        raw = self._pread(member.offset + 8, length)
        try:
            header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
        except (UnicodeDecodeError, ValueError) as exc:
            raise self._refuse(f"{where}: header is not valid JSON ({exc})", ArchiveError) from None
        if not isinstance(header, dict):
            raise self._refuse(f"{where}: header is not a JSON object", ArchiveError)
        metadata = header.pop("__metadata__", None) or {}
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise self._refuse(f"{where}: __metadata__ must map strings to strings", ArchiveError)
        data_size = member.size - 8 - length
        entries = []
        for name, spec in header.items():
            entries.append(self._tensor_entry(name, spec))
        entries.sort(key=lambda e: e.begin)
        position = 0
        for e in entries:
            if e.begin != position:
                raise self._refuse(
                    f"{where}: tensor {e.name!r} starts at byte {e.begin}, expected {position} "
                    "(tensors must be contiguous, without gaps or overlaps)",
                    ArchiveError,
                )
            position = e.end
        if position != data_size:
            raise self._refuse(
                f"{where}: tensors cover {position} bytes but the data section has {data_size}",
                ArchiveError,
            )
        try:
            aliases = json.loads(metadata.get(_ALIASES_KEY, "{}"))
        except ValueError as exc:
            raise self._refuse(
                f"{where}: {_ALIASES_KEY} is not JSON ({exc})", ArchiveError
            ) from None
        names = {e.name for e in entries}
        if not isinstance(aliases, dict) or not all(
            isinstance(a, str) and isinstance(o, str) and o in names and a not in names
            for a, o in aliases.items()
        ):
            raise self._refuse(
                f"{where}: {_ALIASES_KEY} must map new names to stored tensors", ArchiveError
            )
        self._weights_header = _WeightsHeader(
            prefix=length.to_bytes(8, "little") + raw,
            entries=entries,
            aliases=aliases,
            data_offset=member.offset + 8 + length,
            metadata=metadata,
        )
        return self._weights_header

    def _tensor_entry(self, name: str, spec: Any) -> _TensorEntry:
        where = f"{WEIGHTS_NAME}: tensor {name!r}"
        if not isinstance(spec, dict):
            raise self._refuse(f"{where} has no description", ArchiveError)
        dtype, shape, offsets = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
        if dtype not in _DTYPES:
            raise self._refuse(f"{where} has unknown dtype {dtype!r}", ArchiveError)
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise self._refuse(f"{where} has an invalid shape {shape!r}", ArchiveError)
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            and 0 <= offsets[0] <= offsets[1]
        ):
            raise self._refuse(f"{where} has invalid data_offsets {offsets!r}", ArchiveError)
        numel = math.prod(shape)
        if numel * _DTYPES[dtype][1] != offsets[1] - offsets[0]:
            raise self._refuse(
                f"{where}: shape {shape} of {dtype} needs {numel * _DTYPES[dtype][1]} bytes, "
                f"data_offsets give {offsets[1] - offsets[0]}",
                ArchiveError,
            )
        return _TensorEntry(name, dtype, tuple(shape), offsets[0], offsets[1], numel)

    def parameter_count(self) -> int:
        """Number of scalars in the stored tensors (tied tensors counted once)."""
        return sum(e.numel for e in self.weights_header().entries)

    def read_weights(self, *, mmap: bool | None = None) -> dict[str, torch.Tensor]:
        """Every stored tensor, checked against the sha256; tied names share one tensor.

        ``mmap``: map the file (True) or read each tensor into fresh memory (False); ``None``
        (the default) takes it from ``GANGLION_MMAP`` (``0`` turns mapping off), else True.

        Mapped, the tensors are views of a private (copy-on-write) memory map of the archive file:
        nothing is copied, and pages come from the page cache when first touched. A file
        not verified before (:attr:`verified_before`) is hashed through the same mapping first, so what was
        checked is what the tensors hold; :class:`ArchiveChecksumError` is raised (and
        nothing returned) if it does not match. Writing to a tensor copies its page, never
        touching the file, and ``save_to`` replaces a file by renaming a new one over it,
        leaving a mapped old file intact. The catch (as with ``torch.load(mmap=True)``): a
        tool that rewrites the file in place while the model lives (``cp`` over it) changes
        the mapped weights, and truncating it crashes the process (SIGBUS). Set
        ``GANGLION_MMAP=0`` to read each tensor into fresh memory instead (hashed by a
        second thread as it is read); a file that cannot be mapped, or a tensor not aligned
        for its dtype, is read that way too.
        """
        _check_byte_order()
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

    def _map_weights(self, header: _WeightsHeader, mapped: _mmap.mmap) -> dict[str, torch.Tensor]:
        import torch

        end = header.data_offset + (header.entries[-1].end if header.entries else 0)
        if len(mapped) < end:  # shrank since it was opened
            raise self._refuse("the file ends early (truncated)", ArchiveError)
        view = memoryview(mapped)
        if not self.verified_before:
            h = hashlib.sha256(header.prefix)
            h.update(view[header.data_offset : end])  # one call: hashlib drops the GIL
            if h.hexdigest() != self._expected(WEIGHTS_NAME):
                raise self._mismatch(WEIGHTS_NAME, h.hexdigest())
        tensors: dict[str, torch.Tensor] = {}
        for e in header.entries:
            dtype = self._entry_dtype(e)
            start = header.data_offset + e.begin
            if not e.numel:
                tensors[e.name] = torch.empty(e.shape, dtype=dtype)
            elif start % _DTYPES[e.dtype][1]:  # misaligned (not written by ganglion): copy
                tensor = torch.empty(e.shape, dtype=dtype)
                _tensor_bytes(tensor)[:] = view[start : header.data_offset + e.end]
                tensors[e.name] = tensor
            else:
                flat = torch.frombuffer(mapped, dtype=dtype, count=e.numel, offset=start)
                tensors[e.name] = flat.view(e.shape)
        view.release()
        return tensors

    def _entry_dtype(self, e: _TensorEntry) -> Any:
        dtype = _torch_dtype(e.dtype)
        if dtype is None:
            import torch

            raise self._refuse(
                f"{WEIGHTS_NAME}: tensor {e.name!r} is {e.dtype}, which this torch "
                f"({torch.__version__}) does not have",
                ArchiveError,
            )
        return dtype

    def _read_weights_copying(self, header: _WeightsHeader) -> dict[str, torch.Tensor]:
        """The tensors read into fresh memory while another thread hashes them."""
        import torch

        tensors: dict[str, torch.Tensor] = {}
        with _NoHash() if self.verified_before else _BackgroundSha256() as hasher:
            hasher.update(header.prefix)
            self._file.seek(header.data_offset)
            for e in header.entries:
                tensor = torch.empty(e.shape, dtype=self._entry_dtype(e))
                view = _tensor_bytes(tensor)
                for start in range(0, len(view), _CHUNK):
                    chunk = view[start : start + _CHUNK]
                    self._readinto(chunk)
                    hasher.update(chunk, tensor)
                tensors[e.name] = tensor
            digest = hasher.hexdigest() or self._expected(WEIGHTS_NAME)
        if digest != self._expected(WEIGHTS_NAME):
            raise self._mismatch(WEIGHTS_NAME, digest)
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
        the unchanged file skips the hashing (see :func:`_stamp_matches`). Does nothing
        unless every file member was verified through this object."""
        if self.verified_before:
            return
        files = {n for n, m in self._members.items() if not m.is_dir and n != MANIFEST_NAME}
        if files <= self._verified:
            _write_stamp(self._manifest_sha256, os.fstat(self._file.fileno()))

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
        renamed into place, so a reader never sees a half-written artifact. The value is what
        the artifact's handler makes of the unpacked path (by default, the path).
        """
        handlers = self.artifact_handlers()
        self.verify_artifacts()
        if root is None:
            from ganglion.pretrained import cache_dir

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
            tmp = root / f".{art.sha256}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
            tmp.mkdir()
        except OSError as exc:
            from ganglion.pretrained import ENV_CACHE

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


def replace_artifact_references(config: Any, values_by_member: Mapping[str, str]) -> Any:
    """A copy of ``config`` with every ``ganglion:<member>`` string replaced by its value."""
    if isinstance(config, str) and config.startswith(ARTIFACT_SCHEME):
        return values_by_member.get(config[len(ARTIFACT_SCHEME) :], config)
    if isinstance(config, Mapping):
        return {k: replace_artifact_references(v, values_by_member) for k, v in config.items()}
    if isinstance(config, list):
        return [replace_artifact_references(v, values_by_member) for v in config]
    return config
