"""The .ganglion archive: its format, artifacts, atomic saves, in-place reads, hostile
archives refused with nothing executed and nothing written, and `ganglion info`."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch
import yaml

import ganglion
from ganglion import ModelPT, NeuralModule, hookimpl
from ganglion.archive import (
    CONFIG_NAME,
    MANIFEST_NAME,
    WEIGHTS_NAME,
    ArchiveChecksumError,
    ArchiveError,
    ArtifactHandler,
    ModelArchive,
    UnsafeArchiveError,
    save_archive,
)
from ganglion.cli import main
from ganglion.errors import GanglionError


class Tiny(ModelPT):
    """Embedding + linear + an int buffer; reads its tokenizer artifact while being built."""

    built = 0

    def __init__(self, cfg, trainer=None):
        super().__init__(cfg, trainer)
        type(self).built += 1
        self.embed = torch.nn.Embedding(10, 4)
        self.proj = torch.nn.Linear(4, 4)
        self.register_buffer("steps", torch.tensor(7, dtype=torch.int64))
        self.vocab = None
        if "tokenizer" in self.cfg:
            path = self.register_artifact("tokenizer.model", self.cfg.tokenizer.model)
            self.vocab = Path(path).read_text()
        if "encoder" in self.cfg:
            self.encoder = NeuralModule.from_config_dict(self.cfg.encoder, where="encoder")


class Doubler(NeuralModule):
    def __init__(self, dim: int = 4):
        super().__init__()
        self.linear = torch.nn.Linear(dim, dim)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))
    Tiny.built = 0


@pytest.fixture
def tiny():
    ganglion.register_model("Tiny", Tiny)


@pytest.fixture
def tokenizer(tmp_path):
    path = tmp_path / "src" / "tokenizer.model"
    path.parent.mkdir()
    path.write_text("a b c")
    return path


@pytest.fixture
def archive(tiny, tokenizer, tmp_path):
    """A valid archive of Tiny with one file artifact."""
    model = Tiny({"dim": 4, "tokenizer": {"model": str(tokenizer)}})
    return model.save_to(tmp_path / "good.ganglion")


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _unpack(path: Path) -> tuple[dict[str, bytes], dict]:
    files = {}
    with tarfile.open(path) as tar:
        for info in tar.getmembers():
            if info.isfile():
                files[info.name] = tar.extractfile(info).read()
    manifest = json.loads(files.pop(MANIFEST_NAME))
    return files, manifest


def _pack(
    dst: Path,
    files: dict[str, bytes],
    manifest: dict | None,
    *,
    extra=(),
    relist=True,
    patch=lambda text: text,
):
    """Write a tar of ``files`` (+ ``extra`` TarInfos) and the manifest, listing them
    (``patch`` rewrites the manifest's JSON text)."""
    if manifest is not None and relist:
        manifest["members"] = {
            n: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)} for n, b in files.items()
        }
    with tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
        if manifest is not None:
            data = patch(json.dumps(manifest)).encode()
            info = tarfile.TarInfo(MANIFEST_NAME)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dst


def _link(name, target, kind):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


# -- the format -------------------------------------------------------------------------------
def test_archive_is_a_plain_tar_with_config_artifact_weights_and_manifest(archive, tokenizer):
    with tarfile.open(archive, "r:") as tar:  # uncompressed
        names = tar.getnames()
        data = {n: tar.extractfile(n).read() for n in names}
    digest = hashlib.sha256(tokenizer.read_bytes()).hexdigest()
    member = f"{digest[:32]}_tokenizer.model"
    assert names == [CONFIG_NAME, member, WEIGHTS_NAME, MANIFEST_NAME]
    manifest = json.loads(data[MANIFEST_NAME])
    assert manifest["format"] == "ganglion-archive" and manifest["format_version"] == 1
    assert manifest["model"]["name"] == "Tiny"
    assert manifest["model"]["class"] == f"{__name__}:Tiny"
    assert manifest["versions"]["ganglion-core"] == ganglion.__version__
    assert manifest["versions"]["torch"] == torch.__version__
    for name in (CONFIG_NAME, member, WEIGHTS_NAME):  # sha256 of every member, as tools see it
        assert manifest["members"][name] == {
            "sha256": hashlib.sha256(data[name]).hexdigest(),
            "size": len(data[name]),
        }
    config = yaml.safe_load(data[CONFIG_NAME])
    assert config["tokenizer"]["model"] == f"ganglion:{member}"  # rewritten to the packed file
    assert data[member] == b"a b c"


def test_weights_are_safetensors_that_the_reference_library_reads(tiny, tmp_path):
    from safetensors.torch import load

    class Mixed(Tiny):
        def __init__(self, cfg, trainer=None):
            super().__init__(cfg, trainer)
            self.register_buffer("halves", torch.randn(3, 5).half())
            self.register_buffer("brain", torch.randn(2, 3).bfloat16())
            self.register_buffer("mask", torch.tensor([True, False, True]))
            self.register_buffer("scalar", torch.tensor(2.5, dtype=torch.float64))
            self.register_buffer("nothing", torch.zeros(0, 3))

    model = Mixed({"dim": 4})
    path = model.save_to(tmp_path / "mixed.ganglion")
    files, _ = _unpack(path)
    loaded = load(files[WEIGHTS_NAME])
    expected = model.state_dict()
    assert set(loaded) == set(expected)
    for name, tensor in expected.items():
        assert loaded[name].dtype == tensor.dtype and torch.equal(loaded[name], tensor), name
    restored = Mixed.restore_from(path)
    for name, tensor in expected.items():
        got = restored.state_dict()[name]
        assert got.dtype == tensor.dtype and torch.equal(got, tensor), name


def test_tied_weights_are_stored_once_and_restored_tied_and_trainable(tmp_path):
    class Tied(ModelPT):
        def __init__(self, cfg, trainer=None):
            super().__init__(cfg, trainer)
            self.embed = torch.nn.Embedding(50, 8)
            self.out = torch.nn.Linear(8, 50, bias=False)
            self.out.weight = self.embed.weight

    model = Tied({})
    path = model.save_to(tmp_path / "tied.ganglion")
    with ModelArchive.open(path) as archive:
        assert archive.parameter_count() == 50 * 8
        assert archive.weights_header().aliases == {"out.weight": "embed.weight"}
    restored = Tied.restore_from(path)
    assert restored.out.weight is restored.embed.weight
    assert len(list(restored.parameters())) == 1
    assert torch.equal(restored.embed.weight, model.embed.weight)
    restored.out.weight.sum().backward()
    assert restored.embed.weight.grad is not None


def test_save_is_atomic_an_interrupted_save_leaves_the_old_file(archive, tiny, monkeypatch):
    from ganglion.archive import writing

    before = archive.read_bytes()

    def interrupted(self, name, plan):
        self.out.write(b"half a weights member")
        raise KeyboardInterrupt

    monkeypatch.setattr(writing.TarWriter, "add_weights", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Tiny({"dim": 4}).save_to(archive)
    assert archive.read_bytes() == before
    assert sorted(p.name for p in archive.parent.iterdir()) == ["cache", "good.ganglion", "src"]


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_saving_over_an_archive_leaves_only_the_new_file_synced_before_and_after_the_rename(
    archive, tiny, tokenizer, monkeypatch
):
    from ganglion.archive import atomic

    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src, dst):
        events.append(f"rename {Path(src).parent == Path(dst).parent}")
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    old_inode = archive.stat().st_ino
    restored = ModelPT.restore_from(archive)  # its weights map the old file
    kept = _state(restored)
    newer = Tiny({"dim": 4, "tokenizer": {"model": str(tokenizer)}})
    events.clear()
    assert newer.save_to(archive) == archive
    # the data is on disk before the name points at it, and the name change after
    assert events[:3] == ["fsync file", "rename True", "fsync directory"]
    assert archive.stat().st_ino != old_inode
    assert sorted(p.name for p in archive.parent.iterdir()) == ["cache", "good.ganglion", "src"]
    assert _same(_state(restored), kept)  # a model restored from the old file is untouched
    assert _same(_state(ModelPT.restore_from(archive)), _state(newer))


def _temp_name(target: str, pid: int, host: str | None = None) -> str:
    """The temp name a save of ``target`` by process ``pid`` on ``host`` would use."""
    from ganglion.archive import atomic

    name = atomic.temp_path(Path(target)).name  # .<target>.<pid>@<host>.<token>.tmp
    own_host, token, _ = name.rsplit("@", 1)[1].rsplit(".", 2)
    return f".{target}.{pid}@{host or own_host}.{token}.tmp"


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )  # exited and reaped: its pid is free
    return int(done.stdout)


def test_the_next_save_removes_temp_files_of_dead_writers_and_keeps_live_ones(tiny, tmp_path):
    from ganglion.archive import atomic

    dead, alive = _dead_pid(), os.getppid()
    stale = tmp_path / _temp_name("m.ganglion", dead)
    stale_other = tmp_path / _temp_name("notes.txt", dead)  # any file's temp, same directory
    running = tmp_path / _temp_name("m.ganglion", alive)
    elsewhere = tmp_path / _temp_name("m.ganglion", dead, host="another-host")
    unrelated = tmp_path / f".m.ganglion.{dead}.tmp"  # not our naming: not ours to remove
    for path in (stale, stale_other, running, elsewhere, unrelated):
        path.write_bytes(b"partial")
    assert atomic._TEMP_NAME.match(stale.name) and atomic._TEMP_NAME.match(running.name)
    Tiny({"dim": 4}).save_to(tmp_path / "m.ganglion")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["cache", "m.ganglion", running.name, elsewhere.name, unrelated.name]
    )


def test_the_next_unpack_removes_artifact_temp_dirs_of_dead_restores_and_keeps_live_ones(
    archive, tmp_path
):
    root = tmp_path / "cache" / "artifacts"
    root.mkdir(parents=True)
    dead, alive = _dead_pid(), os.getppid()
    sha = "0" * 64
    stale = root / _temp_name(sha, dead)
    running = root / _temp_name(sha, alive)
    elsewhere = root / _temp_name(sha, dead, host="another-host")
    for path in (stale, running, elsewhere):
        (path / "tokenizer.model").mkdir(parents=True)
        (path / "tokenizer.model" / "part").write_bytes(b"partial")
    restored = ModelPT.restore_from(archive)  # unpacks its tokenizer into the cache
    unpacked = Path(restored.cfg.tokenizer.model)
    assert unpacked.read_text() == "a b c" and unpacked.parent.parent == root
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [unpacked.parent.name, running.name, elsewhere.name]
    )


def test_a_restore_killed_while_unpacking_leaves_a_temp_dir_the_next_one_removes(archive, tmp_path):
    script = """
import os, signal, sys
from ganglion.archive import ModelArchive, reading
def killed(self, name):  # SIGKILL half way through writing the artifact: no cleanup can run
    yield b"a "
    os.kill(os.getpid(), signal.SIGKILL)
reading.ModelArchive.verify_artifacts = lambda self: None
reading.ModelArchive._member_chunks = killed
with ModelArchive.open(sys.argv[1]) as opened:
    opened.materialize_artifacts()
"""
    env = {**os.environ, "GANGLION_CACHE": str(tmp_path / "cache")}
    child = subprocess.run([sys.executable, "-c", script, str(archive)], env=env)
    assert child.returncode == -signal.SIGKILL
    root = tmp_path / "cache" / "artifacts"
    (left,) = root.iterdir()
    assert left.is_dir() and left.name.startswith(".") and left.name.endswith(".tmp")
    assert (left / "tokenizer.model").is_file()  # being written, never renamed into place
    restored = ModelPT.restore_from(archive)
    unpacked = Path(restored.cfg.tokenizer.model)
    assert unpacked.read_text() == "a b c"
    assert [p.name for p in root.iterdir()] == [unpacked.parent.name]


def test_a_save_killed_outright_leaves_the_old_archive_and_the_next_save_cleans_up(tmp_path):
    script = """
import os, signal, sys, torch
from ganglion.archive import save_archive, writing
def killed(self, name, plan):  # SIGKILL half way through the weights: no cleanup can run
    self.out.write(plan.prefix)
    self.out.flush()
    os.kill(os.getpid(), signal.SIGKILL)
writing.TarWriter.add_weights = killed
save_archive(sys.argv[1], config={}, state_dict={"w": torch.full((4,), 2.0)}, model_class="m:M")
"""
    path = tmp_path / "out" / "m.ganglion"
    save_archive(path, config={}, state_dict={"w": torch.full((4,), 1.0)}, model_class="m:M")
    env = {**os.environ, "GANGLION_CACHE": str(tmp_path / "cache")}
    child = subprocess.run([sys.executable, "-c", script, str(path)], env=env)
    assert child.returncode == -signal.SIGKILL
    left = sorted(p.name for p in path.parent.iterdir())
    assert len(left) == 2 and left[1] == "m.ganglion" and left[0].endswith(".tmp")
    with ModelArchive.open(path) as opened:  # the old archive, whole
        assert opened.read_weights()["w"][0].item() == 1.0
    save_archive(path, config={}, state_dict={"w": torch.full((4,), 3.0)}, model_class="m:M")
    assert [p.name for p in path.parent.iterdir()] == ["m.ganglion"]
    with ModelArchive.open(path) as opened:
        assert opened.read_weights()["w"][0].item() == 3.0


def test_saving_over_a_symlink_replaces_the_link_not_its_target(tiny, tmp_path):
    target = tmp_path / "target.ganglion"
    target.write_bytes(b"not an archive")
    link = tmp_path / "link.ganglion"
    link.symlink_to(target)
    model = Tiny({"dim": 4})
    model.save_to(link)
    assert not link.is_symlink()
    assert target.read_bytes() == b"not an archive"
    assert _same(_state(ModelPT.restore_from(link)), _state(model))


def test_restore_reads_members_in_place_without_extracting(archive, monkeypatch, tmp_path):
    def no_extraction(*args, **kwargs):
        raise AssertionError("the archive must not be extracted")

    for method in ("extract", "extractall", "extractfile"):
        monkeypatch.setattr(tarfile.TarFile, method, no_extraction)
    monkeypatch.chdir(tmp_path / "src")
    model = ModelPT.restore_from(archive)
    assert model.vocab == "a b c"
    # only the artifact was unpacked (into the cache); nothing beside the archive or in cwd
    cached = sorted(
        str(p.relative_to(tmp_path / "cache"))
        for p in (tmp_path / "cache").rglob("*")
        if p.is_file()
    )
    assert [c.split("/")[0] for c in cached] == ["artifacts", "verified"]
    assert sorted(p.name for p in (tmp_path / "src").iterdir()) == ["tokenizer.model"]


def test_only_an_unchanged_file_verified_before_skips_rehashing(archive, tmp_path, monkeypatch):
    with ModelArchive.open(archive) as opened:
        assert opened.verified_before  # save_to hashed exactly what it wrote
    copy = tmp_path / "copy.ganglion"
    shutil.copy(archive, copy)  # same bytes, another file: verified on its first restore
    with ModelArchive.open(copy) as opened:
        assert not opened.verified_before
    assert ModelPT.restore_from(copy).vocab == "a b c"
    with ModelArchive.open(copy) as opened:
        assert opened.verified_before
    monkeypatch.setenv("GANGLION_VERIFY", "always")
    with ModelArchive.open(copy) as opened:
        assert not opened.verified_before
    assert ModelPT.restore_from(copy).vocab == "a b c"


def test_a_file_changed_after_saving_is_rehashed_and_refused(archive, tiny):
    ModelPT.restore_from(archive)  # fine, and stamped as verified
    stat = archive.stat()
    data = bytearray(archive.read_bytes())
    with tarfile.open(archive) as tar:
        member = tar.getmember(WEIGHTS_NAME)
    data[member.offset_data + member.size - 1] ^= 0xFF
    archive.write_bytes(bytes(data))
    os.utime(archive, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime
    with pytest.raises(
        ArchiveChecksumError, match=f"checksum mismatch for member '{WEIGHTS_NAME}'"
    ):
        ModelPT.restore_from(archive)


@pytest.mark.parametrize("mmap", ["0", "1"], ids=["copied", "mapped"])
def test_both_weight_read_paths_restore_equal_weights_and_refuse_corruption(
    archive, tiny, monkeypatch, mmap
):
    monkeypatch.setenv("GANGLION_MMAP", mmap)
    monkeypatch.setenv("GANGLION_VERIFY", "always")
    original = ModelPT.restore_from(archive)
    expected = {k: v.clone() for k, v in original.state_dict().items()}
    restored = ModelPT.restore_from(archive)
    for name, value in restored.state_dict().items():
        assert torch.equal(value, expected[name]), name
    # training the restored model in place never writes through to the archive
    before = archive.read_bytes()
    with torch.no_grad():
        for p in restored.parameters():
            p.add_(1.0)
    assert archive.read_bytes() == before
    data = bytearray(before)
    with tarfile.open(archive) as tar:
        member = tar.getmember(WEIGHTS_NAME)
    data[member.offset_data + member.size - 1] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(
        ArchiveChecksumError, match=f"checksum mismatch for member '{WEIGHTS_NAME}'"
    ):
        ModelPT.restore_from(archive)


def test_read_weights_maps_or_copies_as_asked_and_the_environment_only_sets_the_default(
    archive, monkeypatch
):
    from ganglion.archive import reading

    maps = []
    real_mmap = reading._mmap.mmap

    def spy(*args, **kwargs):
        maps.append(args)
        return real_mmap(*args, **kwargs)

    monkeypatch.setattr(reading._mmap, "mmap", spy)
    results = []
    for env, argument, mapped in [
        (None, None, True),
        ("0", None, False),
        ("1", None, True),
        ("0", True, True),
        ("1", False, False),
    ]:
        if env is None:
            monkeypatch.delenv("GANGLION_MMAP", raising=False)
        else:
            monkeypatch.setenv("GANGLION_MMAP", env)
        maps.clear()
        with ModelArchive.open(archive) as opened:
            results.append(opened.read_weights(mmap=argument))
        assert len(maps) == int(mapped), (env, argument)
    for other in results[1:]:
        assert _same(other, results[0])


def test_saving_over_the_file_a_mapped_model_came_from_keeps_its_weights(
    archive, tiny, monkeypatch
):
    monkeypatch.setenv("GANGLION_MMAP", "1")
    restored = ModelPT.restore_from(archive)
    expected = {k: v.clone() for k, v in restored.state_dict().items()}
    other = ModelPT.restore_from(archive)
    with torch.no_grad():
        for p in other.parameters():
            p.mul_(3.0)
    other.save_to(archive)  # renames a new file over the mapped one
    for name, value in restored.state_dict().items():
        assert torch.equal(value, expected[name]), name


# -- artifacts --------------------------------------------------------------------------------
def test_register_artifact_returns_the_local_path_then_the_unpacked_one(
    archive, tokenizer, tmp_path
):
    model = Tiny({"dim": 4, "tokenizer": {"model": str(tokenizer)}})
    assert model.vocab == "a b c"
    restored = ModelPT.restore_from(archive)
    path = Path(restored.cfg.tokenizer.model)
    digest = hashlib.sha256(b"a b c").hexdigest()
    assert path == tmp_path / "cache" / "artifacts" / digest / "tokenizer.model"
    assert path.read_text() == "a b c" and restored.vocab == "a b c"
    assert restored.artifacts["tokenizer.model"].path == path
    again = ModelPT.restore_from(restored.save_to(tmp_path / "again.ganglion"))
    assert again.vocab == "a b c"  # a restored model packs its artifacts again


def test_same_basename_artifacts_do_not_collide_and_equal_ones_are_stored_once(tiny, tmp_path):
    class TwoTokenizers(Tiny):
        def __init__(self, cfg, trainer=None):
            super().__init__(cfg, trainer)
            self.paths = [
                self.register_artifact(f"{side}.model", self.cfg[side].model)
                for side in ("encoder_tokenizer", "decoder_tokenizer", "copy")
            ]

    ganglion.register_model("TwoTokenizers", TwoTokenizers)
    files = {}
    for side, text in (("enc", "english"), ("dec", "german")):
        files[side] = tmp_path / side / "tokenizer.model"
        files[side].parent.mkdir()
        files[side].write_text(text)
    cfg = {
        "encoder_tokenizer": {"model": str(files["enc"])},
        "decoder_tokenizer": {"model": str(files["dec"])},
        "copy": {"model": str(files["enc"])},
    }
    path = TwoTokenizers(cfg).save_to(tmp_path / "two.ganglion")
    members, manifest = _unpack(path)
    packed = sorted(n for n in members if n.endswith("_tokenizer.model"))
    assert len(packed) == 2  # two contents, one name each; the copy is not stored twice
    assert len(manifest["artifacts"]) == 3
    restored = ModelPT.restore_from(path)
    assert [Path(p).read_text() for p in restored.paths] == ["english", "german", "english"]


def test_equal_artifacts_under_different_names_share_one_cache_entry(tiny, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.txt", "b.txt"):
        (src / name).write_text("same")
    both = Tiny({"dim": 4, "x": {"a": str(src / "a.txt"), "b": str(src / "b.txt")}})
    only_b = Tiny({"dim": 4, "x": {"b": str(src / "b.txt")}})
    only_a = Tiny({"dim": 4, "x": {"a": str(src / "a.txt")}})
    for model in (both, only_b, only_a):
        for key in model.cfg.x:
            model.register_artifact(f"x.{key}", model.cfg.x[key])
    paths = {
        name: model.save_to(tmp_path / f"{name}.ganglion")
        for name, model in (("both", both), ("only_b", only_b), ("only_a", only_a))
    }
    digest = hashlib.sha256(b"same").hexdigest()
    cached = tmp_path / "cache" / "artifacts" / digest
    for _ in range(2):  # unpacked, then found in the cache
        restored = ModelPT.restore_from(paths["both"])
        assert restored.cfg.x.a == str(cached / "a.txt")
        assert restored.cfg.x.b == str(cached / "b.txt")
        assert Path(restored.cfg.x.a).read_text() == Path(restored.cfg.x.b).read_text() == "same"
    shutil.rmtree(tmp_path / "cache" / "artifacts")
    # across archives: the content's directory exists, holding the other name
    assert ModelPT.restore_from(paths["only_b"]).cfg.x.b == str(cached / "b.txt")
    assert ModelPT.restore_from(paths["only_a"]).cfg.x.a == str(cached / "a.txt")
    assert sorted(p.name for p in cached.iterdir()) == ["a.txt", "b.txt"]
    assert not [p for p in cached.parent.iterdir() if p.name.startswith(".")]  # no temp dirs


def test_optional_missing_artifacts_give_none_and_required_ones_an_error(tmp_path):
    model = Tiny({"dim": 4})
    missing = tmp_path / "nope.model"
    assert model.register_artifact("lm.path", str(missing), verify_src_exists=False) is None
    assert model.register_artifact("lm.path", None, verify_src_exists=False) is None
    assert model.artifacts == {}
    with pytest.raises(GanglionError, match=rf"register_artifact\('lm.path'\): {missing} does not"):
        model.register_artifact("lm.path", str(missing))
    with pytest.raises(GanglionError, match="no archive is being restored"):
        model.register_artifact("lm.path", "ganglion:abc_lm.bin")


def test_directory_artifacts_round_trip_with_their_layout(tiny, tmp_path):
    src = tmp_path / "hf_tokenizer"
    (src / "sub").mkdir(parents=True)
    (src / "vocab.json").write_text('{"a": 1}')
    (src / "sub" / "merges.txt").write_text("a b")
    model = Tiny({"dim": 4, "lm": str(src)})
    assert model.register_artifact("lm", str(src)) == str(src)
    path = model.save_to(tmp_path / "dir.ganglion")
    files, manifest = _unpack(path)
    (record,) = manifest["artifacts"]
    assert record["type"] == "directory" and record["handler"] == "directory"
    assert f"{record['member']}/sub/merges.txt" in files
    restored = ModelPT.restore_from(path)
    unpacked = Path(restored.cfg.lm)
    assert unpacked.name == "hf_tokenizer" and unpacked.is_dir()
    assert _tree(unpacked) == {"vocab.json": b'{"a": 1}', "sub/merges.txt": b"a b"}


class TokenizerHandler(ArtifactHandler):
    """A plugin's handler: a tokenizer model travels with the vocabulary beside it."""

    def check(self, src):
        if src.suffix != ".model":
            raise GanglionError(f"{src} is not a .model file")

    def files(self, src):
        return [("tok.model", src), ("vocab.txt", src.with_name("vocab.txt"))]

    def resolve(self, path):
        return str(path / "tok.model")


class TokenizerPlugin:
    @hookimpl
    def register_artifact_handlers(self, register):
        register("test-tokenizer", TokenizerHandler)


def test_plugins_add_artifact_handlers(tiny, tmp_path):
    ganglion.plugins.register(TokenizerPlugin(), name="tok-plugin")
    src = tmp_path / "spm.model"
    src.write_text("model")
    (tmp_path / "vocab.txt").write_text("vocab")
    model = Tiny({"dim": 4, "spm": str(src)})
    model.register_artifact("spm", str(src), handler="test-tokenizer")
    with pytest.raises(GanglionError, match="is not a .model file"):
        model.register_artifact("other", str(tmp_path / "vocab.txt"), handler="test-tokenizer")
    path = model.save_to(tmp_path / "tok.ganglion")
    restored = ModelPT.restore_from(path)
    unpacked = Path(restored.cfg.spm)
    assert unpacked.name == "tok.model" and unpacked.read_text() == "model"
    assert (unpacked.parent / "vocab.txt").read_text() == "vocab"

    ganglion.plugins.unregister("tok-plugin")  # the handler's plugin is gone
    before = _tree(tmp_path / "cache")
    with pytest.raises(ArchiveError, match="needs the artifact handler 'test-tokenizer'"):
        ModelPT.restore_from(path, override_config_path=restored.cfg)
    assert _tree(tmp_path / "cache") == before


def test_config_targets_may_name_registered_modules_and_plugin_classes(tiny, tmp_path):
    ganglion.register_module("Doubler", Doubler)
    for target in ("Doubler", f"{__name__}.Doubler", f"{__name__}:Doubler"):
        model = Tiny({"dim": 4, "encoder": {"_target_": target, "dim": 4}})
        restored = ModelPT.restore_from(model.save_to(tmp_path / "enc.ganglion"))
        assert isinstance(restored.encoder, Doubler)
        assert torch.equal(restored.encoder.linear.weight, model.encoder.linear.weight)


# -- hostile archives -------------------------------------------------------------------------
EVIL_MODULE = """
from pathlib import Path
Path(__file__).with_name("pwned").write_text("imported")

class Boom:
    pass
"""


def _with(extra_file: str, data: bytes = b"x"):
    def mutate(files, manifest):
        files[extra_file] = data
        return {}

    return mutate


def _with_link(kind):
    def mutate(files, manifest):
        target = "/etc/passwd" if kind == tarfile.SYMTYPE else CONFIG_NAME
        return {"extra": [_link("link", target, kind)]}

    return mutate


def _with_device(files, manifest):
    info = tarfile.TarInfo("dev")
    info.type = tarfile.CHRTYPE
    return {"extra": [info]}


def _flip_last_byte(member):
    def mutate(files, manifest):
        name = member if member != "artifact" else next(n for n in files if n.endswith(".model"))
        data = bytearray(files[name])
        data[-1] ^= 0xFF
        files[name] = bytes(data)
        return {"relist": False}

    return mutate


def _config(text):
    def mutate(files, manifest):
        config = yaml.safe_load(files[CONFIG_NAME])
        config.update(yaml.safe_load(text))
        files[CONFIG_NAME] = yaml.safe_dump(config).encode()
        return {}

    return mutate


def _raw_config(text):
    def mutate(files, manifest):
        files[CONFIG_NAME] = files[CONFIG_NAME] + text.encode()
        return {}

    return mutate


def _no_manifest(files, manifest):
    return {"manifest": None}


def _format_version(files, manifest):
    manifest["format_version"] = 99
    return {}


def _model_name(files, manifest):
    manifest["model"]["name"] = "Tinny"
    return {}


def _artifact_digest(files, manifest):
    manifest["artifacts"][0]["sha256"] = "0" * 64  # would reuse another cached artifact
    return {}


def _dot_dot_artifact(files, manifest):
    (old,) = [n for n in files if n.endswith("_tokenizer.model")]
    new = old.split("_")[0] + "_.."
    files[new] = files.pop(old)
    manifest["artifacts"][0]["member"] = new
    return {}


def _huge_tensor_header(files, manifest):
    header = json.dumps({"w": {"dtype": "F32", "shape": [2**40], "data_offsets": [0, 4]}}).encode()
    files[WEIGHTS_NAME] = len(header).to_bytes(8, "little") + header + b"\0" * 4
    return {}


DEEP = "[" * 100_000 + "]" * 100_000  # far past Python's recursion limit


def _deep_config(depth):
    def mutate(files, manifest):
        nested = "[" * depth + "]" * depth if depth > 1000 else "{a: " * depth + "1" + "}" * depth
        files[CONFIG_NAME] = f"dim: 4\nextra: {nested}\n".encode()
        return {}

    return mutate


def _deep_manifest(files, manifest, nested=DEEP):
    manifest["notes"] = "@DEEP@"
    return {"patch": lambda text: text.replace('"@DEEP@"', nested)}


def _manifest_nested(depth):
    """A manifest nested ``depth`` levels: under the parser's recursion limit, over ours."""
    return functools.partial(_deep_manifest, nested='{"a": [' * depth + "]}" * depth)


def _deep_weights_header(files, manifest):
    weights = files[WEIGHTS_NAME]
    length = int.from_bytes(weights[:8], "little")
    header = b'{"notes":' + DEEP.encode() + b"," + weights[8 : 8 + length].strip()[1:]
    files[WEIGHTS_NAME] = len(header).to_bytes(8, "little") + header + weights[8 + length :]
    return {}


HOSTILE = {
    "deeply nested config": (
        _deep_config(100_000),
        ArchiveError,
        f"{CONFIG_NAME} nests lists and mappings more than 100 levels deep",
    ),
    "config nested past the limit": (
        _deep_config(150),
        ArchiveError,
        f"{CONFIG_NAME} nests lists and mappings more than 100 levels deep",
    ),
    "deeply nested manifest": (
        _deep_manifest,
        ArchiveError,
        f"{MANIFEST_NAME} nests lists and mappings more than 100 levels deep",
    ),
    "manifest nested past the limit": (
        _manifest_nested(75),  # 150 levels: a dict and a list each time
        ArchiveError,
        f"{MANIFEST_NAME} nests lists and mappings more than 100 levels deep",
    ),
    "deeply nested weights header": (
        _deep_weights_header,
        ArchiveError,
        f"{WEIGHTS_NAME}: header nests lists and mappings more than 100 levels deep",
    ),
    "absolute path": (
        _with("/tmp/ganglion-evil"),
        UnsafeArchiveError,
        "member '/tmp/ganglion-evil' has an absolute path",
    ),
    "dot-dot": (
        _with("../evil"),
        UnsafeArchiveError,
        "member '../evil' escapes the archive ('..' in its path)",
    ),
    "nested dot-dot": (
        _with("a/../../evil"),
        UnsafeArchiveError,
        "member 'a/../../evil' escapes the archive",
    ),
    "symlink": (
        _with_link(tarfile.SYMTYPE),
        UnsafeArchiveError,
        "member 'link' is a symbolic link (to '/etc/passwd')",
    ),
    "hard link": (
        _with_link(tarfile.LNKTYPE),
        UnsafeArchiveError,
        f"member 'link' is a hard link (to '{CONFIG_NAME}')",
    ),
    "device": (_with_device, UnsafeArchiveError, "member 'dev' is a special file"),
    "weights checksum": (
        _flip_last_byte(WEIGHTS_NAME),
        ArchiveChecksumError,
        f"checksum mismatch for member '{WEIGHTS_NAME}'",
    ),
    "config checksum": (
        _flip_last_byte(CONFIG_NAME),
        ArchiveChecksumError,
        f"checksum mismatch for member '{CONFIG_NAME}'",
    ),
    "artifact checksum": (
        _flip_last_byte("artifact"),
        ArchiveChecksumError,
        "_tokenizer.model': manifest.json says sha256",
    ),
    "os.system target": (
        _config("payload: {_target_: os.system, command: 'touch pwned'}"),
        UnsafeArchiveError,
        "payload._target_: 'os.system' is neither a registered name nor a class of an "
        "installed ganglion plugin, so it was refused without being imported",
    ),
    "builtins.eval target": (
        _config("payload: {_target_: builtins.eval}"),
        UnsafeArchiveError,
        "'builtins.eval' is neither a registered name",
    ),
    "import side effect": (
        _config("payload: {_target_: ganglion_evil_probe.Boom}"),
        UnsafeArchiveError,
        "'ganglion_evil_probe.Boom' is neither",
    ),
    "resolver": (
        _config("secret: '${oc.env:HOME}'"),
        UnsafeArchiveError,
        "secret calls the OmegaConf resolver 'oc.env'",
    ),
    "yaml python tag": (
        _raw_config("boom: !!python/object/apply:os.system ['touch pwned']\n"),
        ArchiveError,
        f"{CONFIG_NAME} is not valid YAML",
    ),
    "yaml alias": (
        _raw_config("a: &x [1, 2]\nb: *x\n"),
        UnsafeArchiveError,
        f"{CONFIG_NAME} uses a YAML alias (*x)",
    ),
    "yaml nested past the limit inside an ordered map": (
        _raw_config("dim: 4\nextra: !!omap [{a: " + "[" * 150 + "]" * 150 + "}]\n"),
        ArchiveError,
        f"{CONFIG_NAME} nests lists and mappings more than 100 levels deep",
    ),
    "artifact digest": (
        _artifact_digest,
        UnsafeArchiveError,
        f"sha256 {'0' * 64} is not the digest of member",
    ),
    "artifact named ..": (_dot_dot_artifact, UnsafeArchiveError, "_..' is not '<32 hex>_<name>'"),
    "no manifest": (_no_manifest, ArchiveError, f"it has no {MANIFEST_NAME}"),
    "format version": (
        _format_version,
        ArchiveError,
        "format version 99 is not supported by ganglion",
    ),
    "unknown model": (_model_name, ArchiveError, "holds the model 'Tinny'"),
    "lying tensor header": (
        _huge_tensor_header,
        ArchiveError,
        "tensor 'w': shape [1099511627776] of F32 needs",
    ),
}


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [x, {c: 2.5}]\nd: null\ne: true\n",  # no '*': loaded in one pass
        "a: 'x*y'\nb: [1, '**']\n",  # a '*' that is no alias: its events are checked first
        "m: !!omap [{a: 1}, {b: [2]}]\n",
    ],
)
def test_yaml_members_load_as_pyyaml_loads_them(text, tmp_path):
    from ganglion.archive.parsing import load_yaml

    assert load_yaml(text.encode(), archive=tmp_path, what=CONFIG_NAME) == yaml.safe_load(text)


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_archives_are_refused_with_nothing_executed_or_written(
    case, archive, tmp_path, monkeypatch
):
    mutate, error, message = HOSTILE[case]
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "ganglion_evil_probe.py").write_text(EVIL_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path / "probe"))
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    files, manifest = _unpack(archive)
    options = mutate(files, manifest) or {}
    hostile = _pack(
        tmp_path / "hostile.ganglion",
        files,
        options.get("manifest", manifest),
        extra=options.get("extra", ()),
        relist=options.get("relist", True),
        patch=options.get("patch", lambda text: text),
    )
    Tiny.built = 0
    before = _tree(tmp_path)
    with pytest.raises(error) as raised:
        ModelPT.restore_from(hostile)
    assert message in str(raised.value)
    assert str(hostile) in str(raised.value)  # says which file
    assert Tiny.built == 0 and calls == []  # nothing executed
    assert "ganglion_evil_probe" not in sys.modules
    assert _tree(tmp_path) == before  # nothing written
    assert not (tmp_path / "cache" / "artifacts").exists()


def test_a_member_the_manifest_does_not_list_is_refused(archive, tmp_path):
    files, manifest = _unpack(archive)
    listed = dict(manifest["members"])
    files["notes.txt"] = b"hello"
    manifest["members"] = listed
    hostile = _pack(tmp_path / "extra.ganglion", files, manifest, relist=False)
    with pytest.raises(
        UnsafeArchiveError, match="member 'notes.txt' is not listed in manifest.json"
    ):
        ModelPT.restore_from(hostile)


def test_compressed_and_duplicated_archives_are_refused(archive, tmp_path):
    gz = tmp_path / "model.nemo"
    gz.write_bytes(gzip.compress(archive.read_bytes()))
    with pytest.raises(ArchiveError, match="gzip-compressed .*not an uncompressed tar"):
        ModelPT.restore_from(gz)
    files, manifest = _unpack(archive)
    dup = tmp_path / "dup.ganglion"
    _pack(dup, files, manifest)
    with tarfile.open(dup, "a") as tar:
        info = tarfile.TarInfo(CONFIG_NAME)
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    with pytest.raises(UnsafeArchiveError, match=f"member '{CONFIG_NAME}' appears twice"):
        ModelPT.restore_from(dup)
    with pytest.raises(ArchiveError, match="no archive at"):
        ModelPT.restore_from(tmp_path / "missing.ganglion")


# -- ganglion info ----------------------------------------------------------------------------
def test_info_prints_the_manifest_parameters_artifacts_and_verifies(archive, capsys):
    assert main(["info", str(archive)]) == 0
    out = capsys.readouterr().out
    assert f"Model       Tiny ({__name__}:Tiny), registered by" in out
    # 10*4 embedding + 4*4 + 4 linear, and the int buffer
    assert "Parameters  61 in 4 tensors (buffers included; F32 60, I64 1)" in out
    assert "tokenizer.model -> " in out and "_tokenizer.model (handler file)" in out
    assert "Checksums   all 3 members match the manifest" in out
    assert "Config      2 top-level keys: dim, tokenizer" in out
    assert main(["info", str(archive), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["parameters"] == 61 and info["verified"] is True
    assert info["versions"]["ganglion-core"] == ganglion.__version__


def test_info_reports_a_corrupt_member_and_refuses_a_hostile_archive(archive, tmp_path, capsys):
    files, manifest = _unpack(archive)
    _flip_last_byte(WEIGHTS_NAME)(files, manifest)
    corrupt = _pack(tmp_path / "corrupt.ganglion", files, manifest, relist=False)
    assert main(["info", str(corrupt)]) == 1
    out = capsys.readouterr().out
    assert f"{WEIGHTS_NAME}" in out and "CHECKSUM MISMATCH" in out
    files, manifest = _unpack(archive)
    hostile = _pack(
        tmp_path / "link.ganglion",
        files,
        manifest,
        extra=[_link("link", "/etc/passwd", tarfile.SYMTYPE)],
    )
    assert main(["info", str(hostile)]) == 2
    assert "member 'link' is a symbolic link" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("mutate", "member"),
    [
        (_deep_manifest, MANIFEST_NAME),
        (_deep_weights_header, f"{WEIGHTS_NAME}: header"),
        (_deep_config(100_000), CONFIG_NAME),
    ],
    ids=["manifest", "weights header", "config"],
)
def test_info_refuses_deeply_nested_json_with_a_message(archive, tmp_path, capsys, mutate, member):
    files, manifest = _unpack(archive)
    options = mutate(files, manifest)
    hostile = _pack(tmp_path / "deep.ganglion", files, manifest, patch=options.get("patch", str))
    assert main(["info", str(hostile)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"ganglion: error: Refused archive {hostile}: {member} nests")
    assert "Traceback" not in captured.err and "RecursionError" not in captured.err


def test_a_file_that_cannot_be_read_is_an_archive_error_not_a_traceback(
    archive, monkeypatch, capsys
):
    from ganglion.archive import reading as archive_module

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    with monkeypatch.context() as patched:
        patched.setattr(archive_module, "open", denied, raising=False)
        with pytest.raises(ArchiveError, match=f"cannot read {archive}: .*Permission denied"):
            ModelArchive.open(archive)
        assert main(["info", str(archive)]) == 2
        assert f"cannot read {archive}" in capsys.readouterr().err
    unreadable = Path("/proc/self/mem")  # a regular file whose first bytes give EIO
    if unreadable.is_file():
        with pytest.raises(ArchiveError, match=f"cannot read {unreadable}: .*Input/output"):
            ModelArchive.open(unreadable)


def test_info_does_not_import_torch(archive):
    code = (
        "import sys; from ganglion.cli import main; rc = main(['info', sys.argv[1]]); "
        "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(archive)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "Checksums   all 3 members match" in result.stdout
