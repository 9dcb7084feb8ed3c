"""The weights member is plain safetensors, both ways: the reference library reads what ganglion
writes, and ganglion's in-place reader reads what the reference library writes."""

from __future__ import annotations

import json

import pytest
import torch
from archive_edits import members, with_members
from safetensors import safe_open
from safetensors.torch import load, save

import ganglion
from ganglion import ModelPT
from ganglion.archive import WEIGHTS_NAME, ModelArchive, save_archive


def _every_dtype() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    floats = torch.randn(3, 5, generator=gen)
    return {
        "f64": torch.randn(2, 3, generator=gen, dtype=torch.float64),
        "f32": floats,
        "f16": floats.half(),
        "bf16": floats.bfloat16(),
        "f8_e4m3": floats.to(torch.float8_e4m3fn),
        "f8_e5m2": floats.to(torch.float8_e5m2),
        "c64": torch.randn(4, generator=gen, dtype=torch.complex64),
        "i64": torch.arange(-3, 3, dtype=torch.int64),
        "i32": torch.arange(-3, 3, dtype=torch.int32).reshape(2, 3),
        "i16": torch.arange(-3, 3, dtype=torch.int16),
        "i8": torch.arange(-3, 3, dtype=torch.int8),
        "u8": torch.arange(7, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
    }


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert set(a) == set(b)
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert a[name].shape == b[name].shape, name
        # compare bytes: float8 tensors have no equality, NaN != NaN
        assert (
            a[name].view(-1).view(torch.uint8).tolist()
            == b[name].reshape(-1).view(torch.uint8).tolist()
        ), name


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))


def test_the_reference_library_reads_our_weights_member_identically(tmp_path):
    tensors = _every_dtype()
    tensors["tied"] = tensors["f32"]  # stored once, listed in the metadata
    path = save_archive(tmp_path / "w.ganglion", config={}, state_dict=tensors, model_class="m:M")
    blob = members(path)[WEIGHTS_NAME]
    loaded = load(blob)
    stored = dict(tensors)
    del stored["tied"]
    _same(loaded, stored)
    (tmp_path / "w.safetensors").write_bytes(blob)
    with safe_open(tmp_path / "w.safetensors", framework="pt") as f:
        assert json.loads(f.metadata()["ganglion.aliases"]) == {"tied": "f32"}


@pytest.mark.parametrize("mmap", [True, False], ids=["mapped", "copied"])
def test_our_reader_reads_a_reference_library_blob_identically(tmp_path, mmap):
    tensors = _every_dtype()
    path = save_archive(tmp_path / "w.ganglion", config={}, state_dict={}, model_class="m:M")
    theirs = with_members(
        path, tmp_path / "t.g", {WEIGHTS_NAME: save(tensors, metadata={"who": "safetensors"})}
    )
    with ModelArchive.open(theirs) as archive:
        assert archive.weights_header().metadata == {"who": "safetensors"}
        _same(archive.read_weights(mmap=mmap), tensors)


@pytest.mark.parametrize("mmap", [True, False], ids=["mapped", "copied"])
def test_a_misaligned_blob_is_read_by_both_the_same(tmp_path, mmap):
    # one byte first, then float32 at an odd offset: valid safetensors the library never writes
    header = {
        "b": {"dtype": "U8", "shape": [3], "data_offsets": [0, 3]},
        "f": {"dtype": "F32", "shape": [2], "data_offsets": [3, 11]},
    }
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    data = bytes([1, 2, 3]) + torch.tensor([1.5, -2.0]).numpy().tobytes()
    blob = len(text).to_bytes(8, "little") + text + data
    path = save_archive(tmp_path / "w.ganglion", config={}, state_dict={}, model_class="m:M")
    theirs = with_members(path, tmp_path / "t.g", {WEIGHTS_NAME: blob})
    with ModelArchive.open(theirs) as archive:
        ours = archive.read_weights(mmap=mmap)
    _same(ours, load(blob))
    assert ours["f"].tolist() == [1.5, -2.0]


class Net(ModelPT):
    def __init__(self, cfg, trainer=None):
        super().__init__(cfg, trainer)
        self.embed = torch.nn.Embedding(10, 4)
        self.proj = torch.nn.Linear(4, 3)
        self.register_buffer("halves", torch.zeros(2, dtype=torch.float16))


def test_a_model_restores_from_a_reference_library_blob(tmp_path):
    ganglion.register_model("SafetensorsNet", Net)
    model = Net({})
    with torch.no_grad():
        model.halves.copy_(torch.tensor([0.5, 3.0]))
    path = model.save_to(tmp_path / "net.ganglion")
    blob = save({k: v.contiguous() for k, v in model.state_dict().items()})
    restored = ModelPT.restore_from(
        with_members(path, tmp_path / "theirs.ganglion", {WEIGHTS_NAME: blob})
    )
    assert isinstance(restored, Net)
    _same(dict(restored.state_dict()), dict(model.state_dict()))
