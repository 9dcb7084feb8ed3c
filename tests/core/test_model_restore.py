"""restore_from builds the model on the meta device, checks it against the archive's weights
header before anything its config sizes is allocated, and gives it the archive's tensors:
refusals of configs that do not fit, tied parameters, state the archive does not hold
(non-persistent buffers, constructors that cannot run on the meta device), mapped and copied
weights, nesting limits."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from archive_edits import peak_rss_rise, with_members

import ganglion
from ganglion import ModelPT
from ganglion.archive import CONFIG_NAME, ArchiveError, ModelArchive
from ganglion.errors import ConfigError


class Filters(ModelPT):
    """A convolution whose number of filters the config sets, and a classifier over them."""

    def __init__(self, cfg, trainer=None):
        super().__init__(cfg, trainer)
        c = self.cfg
        self.conv = torch.nn.Conv1d(c.channels, c.filters, c.kernel)
        self.classify = torch.nn.Linear(c.filters, 3)
        dtype = getattr(torch, c.get("dtype", "float32"))
        self.register_buffer("counts", torch.zeros(c.filters, dtype=dtype))
        if c.get("extra"):
            self.extra = torch.nn.Linear(3, 3)


class Tied(ModelPT):
    """An embedding and an output projection sharing one weight."""

    def __init__(self, cfg, trainer=None):
        super().__init__(cfg, trainer)
        self.embed = torch.nn.Embedding(10, 4)
        self.head = torch.nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight


class Positional(ModelPT):
    """Holds a sinusoidal table computed from the config: a non-persistent buffer."""

    def __init__(self, cfg, trainer=None):
        super().__init__(cfg, trainer)
        self.net = torch.nn.Linear(4, 4)
        position = torch.arange(self.cfg.max_len, dtype=torch.float32)[:, None]
        self.register_buffer("table", torch.sin(position / 7.0).expand(-1, 4), persistent=False)


class NotMetaSafe(ModelPT):
    """Reads a value out of a tensor it made (``.item()``): cannot run on the meta device."""

    def __init__(self, cfg, trainer=None):
        super().__init__(cfg, trainer)
        scale = torch.tensor(float(self.cfg.scale)).sqrt().item()
        self.net = torch.nn.Linear(4, self.cfg.get("width", 4))
        self.register_buffer("scales", torch.full((4,), scale), persistent=False)


class FromInitialWeight(ModelPT):
    """A non-persistent buffer computed from a parameter's random initial value."""

    def __init__(self, cfg, trainer=None):
        super().__init__(cfg, trainer)
        self.net = torch.nn.Linear(4, 4)
        self.register_buffer("start", self.net.weight.detach() * 2, persistent=False)


class TensorAttribute(ModelPT):
    """Holds a tensor computed from the config as a plain attribute (no parameter, no buffer)."""

    def __init__(self, cfg, trainer=None):
        super().__init__(cfg, trainer)
        self.net = torch.nn.Linear(4, 4)
        self.offsets = torch.arange(float(self.cfg.size))


class MetaBuffer(ModelPT):
    """Puts a buffer on the meta device itself: no restore can give it data."""

    def __init__(self, cfg, trainer=None):
        super().__init__(cfg, trainer)
        self.net = torch.nn.Linear(4, 4)
        self.register_buffer("scratch", torch.empty(3, device="meta"), persistent=False)


MODELS = (Filters, Tied, Positional, NotMetaSafe, FromInitialWeight, TensorAttribute, MetaBuffer)
SMALL = {"channels": 64, "filters": 8, "kernel": 11}


@pytest.fixture(autouse=True)
def _registered(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GANGLION_MMAP", raising=False)
    for cls in MODELS:
        ganglion.register_model(cls.__name__, cls)


# -- refusing what does not fit, before allocating it -------------------------------------------
def test_a_config_asking_for_ten_million_filters_is_refused_before_anything_is_allocated(
    tmp_path,
):
    path = Filters(SMALL).save_to(tmp_path / "filters.ganglion")
    assert path.stat().st_size < 2 << 20
    huge = dict(SMALL, filters=10**7)  # conv weight 10^7 x 64 x 11 float32: 28 GB
    assert huge["filters"] * 64 * 11 * 4 > 10 << 30
    edited = with_members(
        path, tmp_path / "edited.ganglion", {CONFIG_NAME: yaml.safe_dump(huge).encode()}
    )
    start = time.perf_counter()
    rise, raised = peak_rss_rise(lambda: ModelPT.restore_from(edited))
    elapsed = time.perf_counter() - start
    assert isinstance(raised, ArchiveError), raised
    message = str(raised)
    assert str(edited) in message and "do not fit Filters" in message
    assert "'conv.weight' is [8, 64, 11] in the archive, [10000000, 64, 11] in the model" in message
    assert "'classify.weight' is [3, 8] in the archive, [3, 10000000] in the model" in message
    assert elapsed < 2.0
    if rise is not None:
        assert rise < 200 << 20  # not the 28 GB, nor the 40 MB of the counts buffer twice


def test_shapes_are_checked_before_a_constructor_that_cannot_run_on_meta_fills_anything(
    tmp_path,
):
    path = NotMetaSafe({"scale": 4.0}).save_to(tmp_path / "m.ganglion")
    with ModelArchive.open(path) as archive:
        assert {e.name for e in archive.weights_header().entries} == {"net.weight", "net.bias"}

    class Wider(NotMetaSafe):
        def __init__(self, cfg, trainer=None):
            super().__init__(cfg, trainer)
            self.net = torch.nn.Linear(4, 5)

    with pytest.raises(ArchiveError, match=r"'net.weight' is \[4, 4\] in the archive, \[5, 4\]"):
        Wider.restore_from(path)


def test_a_huge_config_of_a_constructor_that_cannot_run_on_meta_is_refused_quickly(tmp_path):
    path = NotMetaSafe({"scale": 4.0}).save_to(tmp_path / "m.ganglion")
    huge = {"scale": 4.0, "width": 10**10}  # a 4 x 10^10 float32 weight: 160 GB
    edited = with_members(
        path, tmp_path / "edited.ganglion", {CONFIG_NAME: yaml.safe_dump(huge).encode()}
    )
    start = time.perf_counter()
    rise, raised = peak_rss_rise(lambda: ModelPT.restore_from(edited))
    assert time.perf_counter() - start < 2.0
    # refused by the shape check, or (where the machine cannot even reserve the address
    # space) by the failed build: an ArchiveError naming the file either way
    assert isinstance(raised, ArchiveError), raised
    assert str(edited) in str(raised)
    if rise is not None:
        assert rise < 200 << 20


def test_a_dtype_of_another_kind_is_refused_and_another_float_is_cast(tmp_path):
    path = Filters(SMALL).save_to(tmp_path / "f.ganglion")
    with pytest.raises(ArchiveError, match="'counts' is torch.float32 in the archive, torch.int64"):
        ModelPT.restore_from(path, override_config_path=dict(SMALL, dtype="int64"))
    half = Filters(SMALL).to(torch.float16)
    half_path = half.save_to(tmp_path / "half.ganglion")
    restored = ModelPT.restore_from(half_path)  # the config builds float32: cast, as copied
    assert restored.conv.weight.dtype == torch.float32
    assert torch.equal(restored.conv.weight, half.conv.weight.float())


def test_missing_and_unexpected_tensors_are_named_unless_the_restore_is_lenient(tmp_path):
    path = Filters(dict(SMALL, extra=True)).save_to(tmp_path / "f.ganglion")
    with pytest.raises(
        ArchiveError, match=r"in the archive but not in the model: 'extra.bias', 'extra.weight'"
    ):
        ModelPT.restore_from(path, override_config_path=SMALL)
    restored = ModelPT.restore_from(path, override_config_path=SMALL, strict=False)
    assert not hasattr(restored, "extra")
    small = Filters(SMALL).save_to(tmp_path / "small.ganglion")
    with pytest.raises(ArchiveError, match=r"missing from the archive: 'extra.weight'"):
        ModelPT.restore_from(small, override_config_path=dict(SMALL, extra=True))


def test_a_deeply_nested_config_is_refused_with_an_archive_error(tmp_path):
    path = Filters(SMALL).save_to(tmp_path / "f.ganglion")
    nested = yaml.safe_dump(SMALL) + "deep: " + "[" * 50_000 + "]" * 50_000 + "\n"
    edited = with_members(path, tmp_path / "deep.ganglion", {CONFIG_NAME: nested.encode()})
    with pytest.raises(ArchiveError, match="nests lists and mappings more than") as raised:
        ModelPT.restore_from(edited)
    assert str(edited) in str(raised.value)
    assert not isinstance(raised.value.__context__, RecursionError)


# -- what restore_from gives -------------------------------------------------------------------
def test_tied_parameters_stay_tied(tmp_path):
    model = Tied({})
    restored = ModelPT.restore_from(model.save_to(tmp_path / "tied.ganglion"))
    assert restored.head.weight is restored.embed.weight
    assert torch.equal(restored.embed.weight, model.embed.weight)
    assert len(list(restored.parameters())) == 1
    with torch.no_grad():
        restored.embed.weight[0, 0] = 42.0
    assert restored.head.weight[0, 0] == 42.0


def test_a_non_persistent_buffer_computed_in_init_gets_its_values_and_no_init_is_paid(tmp_path):
    model = Positional({"max_len": 50})
    path = model.save_to(tmp_path / "pos.ganglion")
    torch.manual_seed(7)
    rng = torch.random.get_rng_state()
    restored = ModelPT.restore_from(path)
    assert torch.equal(torch.random.get_rng_state(), rng)  # no random initialisation ran
    assert restored.table.device.type == "cpu"
    assert torch.equal(restored.table, model.table)
    assert torch.equal(restored.net.weight, model.net.weight)


def test_a_constructor_that_cannot_run_on_the_meta_device_is_restored_in_full(tmp_path):
    model = NotMetaSafe({"scale": 9.0})
    restored = ModelPT.restore_from(model.save_to(tmp_path / "m.ganglion"))
    assert torch.equal(restored.scales, torch.full((4,), 3.0))
    assert torch.equal(restored.net.weight, model.net.weight)


def test_state_computed_from_a_parameters_initial_value_is_built_for_real(tmp_path):
    model = FromInitialWeight({})
    restored = ModelPT.restore_from(model.save_to(tmp_path / "m.ganglion"))
    assert restored.start.device.type == "cpu" and torch.isfinite(restored.start).all()
    assert restored.start.abs().sum() > 0
    assert torch.equal(restored.net.weight, model.net.weight)


def test_a_tensor_attribute_computed_in_init_gets_its_values(tmp_path):
    model = TensorAttribute({"size": 5})
    restored = ModelPT.restore_from(model.save_to(tmp_path / "attr.ganglion"))
    assert not restored.offsets.is_meta and torch.equal(restored.offsets, torch.arange(5.0))
    assert torch.equal(restored.net.weight, model.net.weight)


def test_nothing_is_left_on_the_meta_device_after_a_restore(tmp_path):
    path = MetaBuffer({}).save_to(tmp_path / "m.ganglion")
    with pytest.raises(ArchiveError, match=r"left 'scratch' on the meta device"):
        ModelPT.restore_from(path)
    for cls, cfg in ((Filters, SMALL), (Tied, {}), (Positional, {"max_len": 5})):
        restored = ModelPT.restore_from(cls(cfg).save_to(tmp_path / f"{cls.__name__}.ganglion"))
        tensors = [*restored.parameters(), *restored.buffers()]
        assert tensors and not any(t.is_meta for t in tensors)
        assert restored.device == torch.device("cpu")  # Lightning's record, not "meta"


# -- mapped or copied -----------------------------------------------------------------------------
def _tensor_range(path: Path, name: str) -> tuple[int, int]:
    """Where the bytes of the stored tensor ``name`` are in the archive file."""
    with ModelArchive.open(path) as archive:
        header = archive.weights_header()
        (entry,) = [e for e in header.entries if e.name == name]
        return header.data_offset + entry.begin, entry.end - entry.begin


def _overwrite_in_place(path: Path, name: str, value: float) -> None:
    """Write ``value`` over every element of the float32 tensor ``name`` inside the file
    itself (what ``cp`` over the archive would do; ``save_to`` never does)."""
    offset, size = _tensor_range(path, name)
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(torch.full((size // 4,), value).numpy().tobytes())


@pytest.mark.skipif(sys.platform != "linux", reason="page-cache sharing of private maps: Linux")
@pytest.mark.parametrize(
    ("mmap", "env", "mapped"),
    [
        (True, None, True),
        (False, None, False),
        (None, None, True),
        (None, "0", False),
        (True, "0", True),
    ],
)
def test_restore_maps_the_file_or_copies_it_as_asked(mmap, env, mapped, tmp_path, monkeypatch):
    if env is not None:
        monkeypatch.setenv("GANGLION_MMAP", env)
    model = Filters(SMALL)
    path = model.save_to(tmp_path / "f.ganglion")
    restored = ModelPT.restore_from(path, mmap=mmap)
    assert torch.equal(restored.classify.weight, model.classify.weight)
    _overwrite_in_place(path, "classify.weight", 5.0)  # the documented caveat of mapping
    changed = torch.equal(restored.classify.weight, torch.full((3, 8), 5.0))
    assert changed is mapped
    with torch.no_grad():  # writing to a mapped weight copies its page: the file is intact
        restored.classify.weight.zero_()
    offset, size = _tensor_range(path, "classify.weight")
    with open(path, "rb") as f:
        f.seek(offset)
        assert f.read(size) == torch.full((size // 4,), 5.0).numpy().tobytes()


def test_an_override_config_that_is_not_a_yaml_mapping_is_a_config_error_naming_the_file(
    tmp_path,
):
    path = Filters(SMALL).save_to(tmp_path / "f.ganglion")
    broken = tmp_path / "broken.yaml"
    broken.write_text("channels: 64\nfilters: [8\n")
    with pytest.raises(
        ConfigError, match=rf"{broken}, line 3, column 1: not valid YAML: expected ',' or ']'"
    ):
        ModelPT.restore_from(path, override_config_path=broken)
    deep = tmp_path / "deep.yaml"
    deep.write_text("deep: " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ConfigError, match=rf"{deep} nests lists and mappings too deeply"):
        ModelPT.restore_from(path, override_config_path=deep)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=rf"{listed} does not hold a mapping"):
        ModelPT.restore_from(path, override_config_path=listed)
