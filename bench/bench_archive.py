"""Model archive speed and memory, side by side with torch in one run.

For two models (about 20 M and 100 M parameters, transformer encoders), interleaved so machine
noise hits all alike, with every file in the page cache:

  * ``torch.save(model.state_dict(), f)`` followed by ``os.fsync``  vs  ``model.save_to(path)``,
    which is durable (the temp file fsync'ed, renamed into place, the directory fsync'ed) and
    computes every member's sha256 for the manifest; plain ``torch.save`` (no fsync) for scale;
  * ``torch.load(f)``                      vs  ``ModelPT.restore_from(path)``; ``restore_from``
    maps the file and reads no weight until it is used, ``torch.load`` reads and copies every
    one, so also ``torch.load(f, mmap=True)``, which maps the file as ``restore_from`` does;
  * each load followed by reading every weight ("all weights read": summing every tensor of
    the state dict), so the page-in a mapped load defers is counted;
  * ``restore_from`` with ``GANGLION_VERIFY=always``: every member rehashed, as on the first
    restore of a file this machine did not write (``save_to`` and a verifying restore leave
    a stamp, so an unchanged file is not rehashed next time);
  * ``restore_from(path, mmap=False)``: the weights read into fresh memory instead of
    being views of the mapped file;
  * and, for scale, what a restore costs the usual way: build the model (random init),
    ``torch.load`` and ``load_state_dict``.

Then the peak memory of one restore (and of one ``torch.load``, mapped or not), each in a
fresh process: the rise of the peak resident set size (VmHWM, reset just before through
/proc/self/clear_refs) over the resident size just before, as a multiple of the weights'
size; once right after the load (a mapped load has read little yet) and once after touching
every weight, the real figure.

Prints medians and ratios. Goals: save_to <= 1.2x torch.save + fsync; restore_from <= 1.5x
torch.load(mmap=True) and <= 1.0x torch.load (a restore also builds the model: on the meta
device, then given the archive's tensors); restore peak memory (after touching every weight)
<= 1.2x the weights.

    .venv/bin/python bench/bench_archive.py [--runs 7] [--sizes 20 100] [--dir /dev/shm]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import ganglion
from ganglion import ModelPT


class BenchEncoder(ModelPT):
    """A transformer encoder with an embedding and a tied output projection."""

    def __init__(self, cfg, trainer=None):
        super().__init__(cfg, trainer)
        c = self.cfg
        self.embed = torch.nn.Embedding(c.vocab, c.d_model)
        layer = torch.nn.TransformerEncoderLayer(
            c.d_model, c.heads, c.d_ff, dropout=0.0, batch_first=True
        )
        self.encoder = torch.nn.TransformerEncoder(layer, c.layers, enable_nested_tensor=False)
        self.norm = torch.nn.LayerNorm(c.d_model)
        self.head = torch.nn.Linear(c.d_model, c.vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, tokens):
        return self.head(self.norm(self.encoder(self.embed(tokens))))


CONFIGS = {
    20: {"vocab": 8192, "d_model": 512, "heads": 8, "d_ff": 2048, "layers": 5},
    100: {"vocab": 16384, "d_model": 1024, "heads": 16, "d_ff": 4096, "layers": 7},
}


def _register() -> None:
    ganglion.register_model("BenchEncoder", BenchEncoder)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _touch(state: dict[str, torch.Tensor]) -> float:
    """Read every weight (sum every tensor), paging in whatever a mapped load left unread."""
    return sum(float(t.sum()) for t in state.values())


#: How ``_peak_child`` loads, by mode: the state dict it returns.
PEAK_LOADS = {
    "restore": lambda path: ModelPT.restore_from(path).state_dict(),
    "torch_load": lambda path: torch.load(path),
    "torch_load_mmap": lambda path: torch.load(path, mmap=True),
}


def _peak_child(mode: str, path: str) -> None:
    """In a fresh process: the rise of peak RSS over current RSS during one load, right after
    it and after touching every weight."""
    _register()
    load = PEAK_LOADS[mode]
    _touch(load(path))  # warm-up: imports and plugin discovery are not the load's cost
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM, the peak resident set size, to the current size
    before = _status_kib("VmRSS")
    state = load(path)
    loaded = _status_kib("VmHWM")
    _touch(state)
    touched = _status_kib("VmHWM")
    del state
    print(json.dumps({"loaded": (loaded - before) * 1024, "touched": (touched - before) * 1024}))


def _peak(mode: str, path: Path) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, __file__, "--peak-child", mode, str(path)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "GANGLION_CACHE": str(path.parent / "cache")},
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _time(fn) -> tuple[float, float]:
    """Wall time and CPU time (all threads of this process) of one call, started with no
    garbage to collect."""
    gc.collect()
    cpu, start = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def bench(size: int, runs: int, workdir: Path) -> None:
    cfg = CONFIGS[size]
    model = BenchEncoder(cfg)
    state = model.state_dict()
    params = sum(p.numel() for p in model.parameters())
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    pt = workdir / f"bench{size}.pt"
    pt_synced = workdir / f"bench{size}.synced.pt"
    archive = workdir / f"bench{size}.ganglion"

    def torch_save_synced():
        with open(pt_synced, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())

    def build_and_load():
        fresh = BenchEncoder(cfg)
        fresh.load_state_dict(torch.load(pt))

    def restore_with(variable: str, value: str):
        def run():
            os.environ[variable] = value
            try:
                ModelPT.restore_from(archive)
            finally:
                del os.environ[variable]

        return run

    cases = {
        "torch.save": lambda: torch.save(state, pt),
        "torch.save + fsync": torch_save_synced,
        "save_to": lambda: model.save_to(archive),
        "torch.load": lambda: torch.load(pt),
        "torch.load(mmap=True)": lambda: torch.load(pt, mmap=True),
        "restore_from": lambda: ModelPT.restore_from(archive),
        "restore_from, rehashing": restore_with("GANGLION_VERIFY", "always"),
        "restore_from(mmap=False)": lambda: ModelPT.restore_from(archive, mmap=False),
        "torch.load, all weights read": lambda: _touch(torch.load(pt)),
        "torch.load(mmap=True), all weights read": lambda: _touch(torch.load(pt, mmap=True)),
        "restore_from, all weights read": lambda: _touch(
            ModelPT.restore_from(archive).state_dict()
        ),
        "build+torch.load+load_state_dict": build_and_load,
    }
    for fn in cases.values():  # warm up: files in the page cache, lazy imports done
        fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            wall, used = _time(fn)
            times[name].append(wall)
            cpu[name].append(used)
    med = {name: statistics.median(values) for name, values in times.items()}

    print(
        f"\n{params / 1e6:.1f} M parameters ({weight_bytes / 2**20:.0f} MiB of float32 weights), "
        f"{runs} runs each, interleaved; median wall time (min), median CPU time of all threads"
    )
    for name, values in times.items():
        print(
            f"  {name:<40} {med[name] * 1000:8.1f} ms  ({min(values) * 1000:6.1f})  "
            f"cpu {statistics.median(cpu[name]) * 1000:7.1f} ms"
        )

    def ratio(a: str, b: str, goal: str = "") -> None:
        by_median = med[a] / med[b]
        by_min = min(times[a]) / min(times[b])
        label = f"{a} / {b}"
        print(f"  {label:<72} {by_median:5.2f}x median {by_min:5.2f}x min{goal}")

    ratio("save_to", "torch.save + fsync", "  (goal <= 1.2)")
    ratio("save_to", "torch.save")
    ratio("restore_from", "torch.load(mmap=True)", "  (goal <= 1.5)")
    ratio("restore_from", "torch.load", "  (goal <= 1.0)")
    ratio("restore_from(mmap=False)", "torch.load")
    ratio("restore_from, rehashing", "torch.load")
    ratio("restore_from, all weights read", "torch.load, all weights read")
    ratio("restore_from, all weights read", "torch.load(mmap=True), all weights read")
    ratio("restore_from", "build+torch.load+load_state_dict")
    peaks = (
        ("restore", "restore_from", archive),
        ("torch_load", "torch.load", pt),
        ("torch_load_mmap", "torch.load(mmap=True)", pt),
    )
    for mode, label, path in peaks:
        peak = _peak(mode, path)
        loaded, touched = max(0, peak["loaded"]), max(0, peak["touched"])
        goal = "  (goal <= 1.2)" if mode == "restore" else ""
        print(
            f"  peak memory of {label:<21} {loaded / 2**20:6.0f} MiB = "
            f"{loaded / weight_bytes:.2f}x the weights once loaded, {touched / 2**20:6.0f} MiB = "
            f"{touched / weight_bytes:.2f}x once all weights read{goal}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=sorted(CONFIGS),
        choices=sorted(CONFIGS),
        help="model sizes, millions of parameters",
    )
    parser.add_argument(
        "--dir",
        default=None,
        help="where to write the files (default: the temp dir); /dev/shm takes the disk's "
        "write-back out of the timings",
    )
    parser.add_argument("--peak-child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_child:
        _peak_child(*args.peak_child)
        return
    _register()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, ganglion "
        f"{ganglion.__version__}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} (other processes share the CPUs: compare CPU times too)"
    )
    with tempfile.TemporaryDirectory(prefix="ganglion-bench-", dir=args.dir) as tmp:
        print(f"files in {tmp}")
        os.environ["GANGLION_CACHE"] = str(Path(tmp) / "cache")
        for size in args.sizes:
            bench(size, args.runs, Path(tmp))


if __name__ == "__main__":
    main()
