"""The weights member's layout: safetensors, written and read in place inside the tar.

A safetensors file is an 8-byte little-endian header length, a JSON header (``name ->
{dtype, shape, data_offsets}`` plus ``__metadata__``), then the tensors' bytes. ganglion
writes one as a tar member, streamed from each tensor's memory (:class:`WeightsPlan`), and
reads it back in place (:func:`parse_header`, :func:`tensors_from_buffer`). The safetensors
library is not used for this at run time: ``safe_open`` opens whole files, not a byte range
of a tar; ``safetensors.torch.load(bytes)`` would copy the member into memory, losing the
zero-copy memory map; ``safetensors.torch.save`` builds the whole file in memory before it can
be written. ``tests/core/test_archive_safetensors.py`` proves the two interchangeable: the
library reads what this writes, this reads what the library writes, tensor for tensor.

Two choices of ours, both within the format: tensors are stored largest element size first,
so each one starts aligned for its dtype and a memory map can be viewed as tensors without
copying; tied tensors (the same memory viewed the same way) are stored once and their other
names listed in the metadata key ``ganglion.aliases``.

Importing this module imports no torch; the functions that handle tensors do.
"""

from __future__ import annotations

import functools
import json
import math
import operator
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ganglion.archive.errors import ArchiveError, refusal
from ganglion.archive.format import WEIGHTS_NAME
from ganglion.archive.parsing import load_json

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "ALIASES_KEY",
    "CHUNK_BYTES",
    "DTYPES",
    "TensorEntry",
    "WeightsHeader",
    "WeightsPlan",
    "check_byte_order",
    "entry_dtype",
    "parse_header",
    "tensor_bytes",
    "tensors_from_buffer",
]

#: Largest weights header a reader accepts.
MAX_HEADER_BYTES = 256 << 20
#: Unit in which weights are written, read and hashed.
CHUNK_BYTES = 8 << 20
#: Metadata key listing tied tensors: JSON ``{"other name": "stored name"}``.
ALIASES_KEY = "ganglion.aliases"

_BEGIN = operator.attrgetter("begin")

#: safetensors dtype code -> (torch dtype attribute, bytes per element)
DTYPES: dict[str, tuple[str, int]] = {
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


def check_byte_order() -> None:
    """Refuse to run on a big-endian machine (safetensors stores little-endian tensors)."""
    if sys.byteorder != "little":  # pragma: no cover - no big-endian CI
        raise ArchiveError("archives store little-endian tensors; this machine is big-endian")


def tensor_bytes(tensor: torch.Tensor) -> memoryview:
    """A zero-copy, writable byte view of a contiguous CPU tensor (the view keeps the tensor's
    memory alive). Goes through numpy, as safetensors does, because a tensor does not offer
    Python's buffer protocol itself."""
    import torch

    if not tensor.numel():
        return memoryview(bytearray())
    return memoryview(tensor.detach().reshape(-1).view(torch.uint8).numpy())


#: torch dtype attribute -> safetensors dtype code (the inverse of :data:`DTYPES`)
_CODES = {torch_name: code for code, (torch_name, _) in DTYPES.items()}


def _dtype_code(dtype: Any) -> str:
    code = _CODES.get(str(dtype).removeprefix("torch."))
    if code is not None:
        return code
    raise ArchiveError(
        f"tensors of dtype {dtype} cannot be stored (safetensors holds "
        f"{', '.join(v[0] for v in DTYPES.values())})"
    )


# -- writing ------------------------------------------------------------------------------------
@dataclass
class WeightsPlan:
    """The weights member to write for a state dict: its header and its tensors in file order."""

    prefix: bytes  # 8-byte header length + the JSON header
    tensors: list[tuple[str, Any]]  # in file order
    size: int  # of the whole member

    @classmethod
    def of(cls, state_dict: Mapping[str, Any]) -> WeightsPlan:
        """Plan ``state_dict`` (name -> tensor); raises :class:`ArchiveError` naming an entry
        that cannot be stored."""
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
            metadata[ALIASES_KEY] = json.dumps(aliases, sort_keys=True)
        header["__metadata__"] = metadata
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)  # the data section starts 8-byte aligned
        prefix = len(text).to_bytes(8, "little") + text
        return cls(prefix, tensors, len(prefix) + offset)

    def chunks(self) -> Iterator[memoryview]:
        """Pieces of the data section, in file order, without copies (each view keeps its
        tensor's memory alive)."""
        for _, tensor in self.tensors:
            t = tensor.detach()
            if t.device.type != "cpu":
                t = t.cpu()
            if not t.is_contiguous():
                t = t.contiguous()
            view = tensor_bytes(t)
            for start in range(0, len(view), CHUNK_BYTES):
                yield view[start : start + CHUNK_BYTES]


# -- reading ------------------------------------------------------------------------------------
class TensorEntry(NamedTuple):
    """One tensor as the header describes it (offsets relative to the data section)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int
    numel: int  # number of elements: the product of the shape


@dataclass
class WeightsHeader:
    """A checked weights header: the tensors in file order, tied names, where the data is."""

    prefix: bytes  # the 8-byte length and the header, as stored (hashed with the data)
    entries: list[TensorEntry]
    aliases: dict[str, str]
    data_offset: int  # absolute offset of the data section in the archive file
    metadata: dict[str, str] = field(default_factory=dict)


def _tensor_entry(archive: Path, name: str, spec: Any) -> TensorEntry:
    """The checked description of tensor ``name``; the checks run for every tensor of every
    restore, so the common case is a straight line and only a bad one is explained."""
    if type(spec) is dict:
        dtype, shape, offsets = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
        if dtype in DTYPES and type(shape) is list and type(offsets) is list and len(offsets) == 2:
            begin, end = offsets
            for d in shape:
                if type(d) is not int or d < 0:  # a bool is not an int by type
                    break
            else:
                if type(begin) is int and type(end) is int and 0 <= begin <= end:
                    numel = math.prod(shape)
                    if numel * DTYPES[dtype][1] == end - begin:
                        return TensorEntry(name, dtype, tuple(shape), begin, end, numel)
    raise _entry_problem(archive, name, spec)


def _entry_problem(archive: Path, name: str, spec: Any) -> ArchiveError:
    """What is wrong with the description ``spec`` of tensor ``name``."""
    where = f"{WEIGHTS_NAME}: tensor {name!r}"
    if not isinstance(spec, dict):
        return refusal(archive, f"{where} has no description", ArchiveError)
    dtype, shape, offsets = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
    if dtype not in DTYPES:
        return refusal(archive, f"{where} has unknown dtype {dtype!r}", ArchiveError)
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        return refusal(archive, f"{where} has an invalid shape {shape!r}", ArchiveError)
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        and 0 <= offsets[0] <= offsets[1]
    ):
        return refusal(archive, f"{where} has invalid data_offsets {offsets!r}", ArchiveError)
    needed = math.prod(shape) * DTYPES[dtype][1]
    return refusal(
        archive,
        f"{where}: shape {shape} of {dtype} needs {needed} bytes, "
        f"data_offsets give {offsets[1] - offsets[0]}",
        ArchiveError,
    )


def parse_header(
    read: Any, *, archive: Path, member_offset: int, member_size: int
) -> WeightsHeader:
    """Read and check the header of the weights member at ``member_offset`` (``read(offset,
    size)`` returns bytes of the archive file): every tensor has a known dtype, a shape that
    matches its byte range, and the ranges tile the data section without gaps or overlaps.
    No tensor data is read."""
    where = WEIGHTS_NAME

    def refuse(reason: str) -> ArchiveError:
        return refusal(archive, f"{where}{reason}", ArchiveError)

    if member_size < 8:
        raise refuse(" is too short to be safetensors")
    length = int.from_bytes(read(member_offset, 8), "little")
    if length > member_size - 8 or length > MAX_HEADER_BYTES:
        raise refuse(f": header length {length} does not fit the member")
    raw = read(member_offset + 8, length)
    header = load_json(raw, archive=archive, what=f"{where}: header")
    if not isinstance(header, dict):
        raise refuse(": header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise refuse(": __metadata__ must map strings to strings")
    data_size = member_size - 8 - length
    entries = [_tensor_entry(archive, name, spec) for name, spec in header.items()]
    entries.sort(key=_BEGIN)
    position = 0
    for e in entries:
        if e.begin != position:
            raise refuse(
                f": tensor {e.name!r} starts at byte {e.begin}, expected {position} "
                "(tensors must be contiguous, without gaps or overlaps)"
            )
        position = e.end
    if position != data_size:
        raise refuse(f": tensors cover {position} bytes but the data section has {data_size}")
    listed = metadata.get(ALIASES_KEY)
    aliases = (
        {}
        if listed is None
        else load_json(listed.encode(), archive=archive, what=f"{where}: {ALIASES_KEY}")
    )
    names = {e.name for e in entries}
    if not isinstance(aliases, dict) or not all(
        isinstance(a, str) and isinstance(o, str) and o in names and a not in names
        for a, o in aliases.items()
    ):
        raise refuse(f": {ALIASES_KEY} must map new names to stored tensors")
    return WeightsHeader(
        prefix=length.to_bytes(8, "little") + raw,
        entries=entries,
        aliases=aliases,
        data_offset=member_offset + 8 + length,
        metadata=metadata,
    )


@functools.cache
def _torch_dtype(code: str) -> Any:
    """The torch dtype of safetensors dtype ``code``, None when this torch lacks it."""
    import torch

    return getattr(torch, DTYPES[code][0], None)


def entry_dtype(entry: TensorEntry, *, archive: Path) -> Any:
    """The torch dtype of ``entry`` (refused when this torch lacks it)."""
    dtype = _torch_dtype(entry.dtype)
    if dtype is None:
        import torch

        raise refusal(
            archive,
            f"{WEIGHTS_NAME}: tensor {entry.name!r} is {entry.dtype}, which this torch "
            f"({torch.__version__}) does not have",
            ArchiveError,
        )
    return dtype


def tensors_from_buffer(
    header: WeightsHeader, buffer: Any, *, archive: Path
) -> dict[str, torch.Tensor]:
    """The stored tensors as views of ``buffer`` (the whole archive file, e.g. a memory map):
    no copy, except of a tensor not aligned for its dtype (not written by ganglion)."""
    import torch

    view = memoryview(buffer)
    tensors: dict[str, torch.Tensor] = {}
    try:
        for e in header.entries:
            dtype = entry_dtype(e, archive=archive)
            start = header.data_offset + e.begin
            if not e.numel:
                tensors[e.name] = torch.empty(e.shape, dtype=dtype)
            elif start % DTYPES[e.dtype][1]:
                tensor = torch.empty(e.shape, dtype=dtype)
                tensor_bytes(tensor)[:] = view[start : header.data_offset + e.end]
                tensors[e.name] = tensor
            else:
                flat = torch.frombuffer(buffer, dtype=dtype, count=e.numel, offset=start)
                tensors[e.name] = flat.view(e.shape)
    finally:
        view.release()
    return tensors
