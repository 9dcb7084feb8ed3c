"""Model archive speed and memory, side by side with torch in one run.

For two models (about 20 M and 100 M parameters, transformer encoders), interleaved so machine
noise hits all alike, with every file in the page cache:

  * ``torch.save(model.state_dict(), f)``  vs  ``model.save_to(path)``
  * ``torch.load(f)``                      vs  ``ModelPT.restore_from(path)``
  * and, for scale, what a restore costs the usual way: build the model (random init),
    ``torch.load`` and ``load_state_dict``.

Then the peak memory of one restore (and of one ``torch.load``), each in a fresh process:
the rise of the peak resident set size over the resident size just before, as a multiple of
the weights' size.

Prints medians and ratios. Goals: save_to <= 1.1x torch.save, restore_from <= 1.5x
torch.load, restore peak memory <= 1.2x the weights.

    .venv/bin/python bench/bench_archive.py [--runs 7] [--sizes 20 100]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
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


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_child(mode: str, path: str) -> None:
    """In a fresh process: the rise of peak RSS over current RSS during one load."""
    _register()
    gc.collect()
    before = _rss_bytes()
    if mode == "restore":
        obj = ModelPT.restore_from(path)
    else:
        obj = torch.load(path)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    del obj
    print(json.dumps({"delta": peak - before}))


def _peak(mode: str, path: Path) -> int:
    out = subprocess.run(
        [sys.executable, __file__, "--peak-child", mode, str(path)],
        check=True, capture_output=True, text=True,
        env={**os.environ, "GANGLION_CACHE": str(path.parent / "cache")},
    ).stdout
    return json.loads(out.strip().splitlines()[-1])["delta"]


def _time(fn) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench(size: int, runs: int, workdir: Path) -> None:
    cfg = CONFIGS[size]
    model = BenchEncoder(cfg)
    state = model.state_dict()
    params = sum(p.numel() for p in model.parameters())
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    pt = workdir / f"bench{size}.pt"
    archive = workdir / f"bench{size}.ganglion"

    def build_and_load():
        fresh = BenchEncoder(cfg)
        fresh.load_state_dict(torch.load(pt))

    cases = {
        "torch.save": lambda: torch.save(state, pt),
        "save_to": lambda: model.save_to(archive),
        "torch.load": lambda: torch.load(pt),
        "restore_from": lambda: ModelPT.restore_from(archive),
        "build+torch.load+load_state_dict": build_and_load,
    }
    for fn in cases.values():  # warm up: files in the page cache, lazy imports done
        fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            times[name].append(_time(fn))
    med = {name: statistics.median(values) for name, values in times.items()}

    print(f"\n{params / 1e6:.1f} M parameters ({weight_bytes / 2**20:.0f} MiB of float32 weights), "
          f"{runs} runs each, interleaved; median wall time (min)")
    for name, values in times.items():
        print(f"  {name:<34} {med[name] * 1000:8.1f} ms  ({min(values) * 1000:.1f})")
    print(f"  save_to / torch.save        {med['save_to'] / med['torch.save']:6.2f}x  (goal <= 1.1)")
    print(f"  restore_from / torch.load   {med['restore_from'] / med['torch.load']:6.2f}x  "
          "(goal <= 1.5)")
    print(f"  restore_from / build+load   "
          f"{med['restore_from'] / med['build+torch.load+load_state_dict']:6.2f}x")
    for mode, label in (("restore", "restore_from"), ("torch_load", "torch.load")):
        delta = _peak(mode, archive if mode == "restore" else pt)
        goal = "  (goal <= 1.2)" if mode == "restore" else ""
        print(f"  peak memory of {label:<13} {delta / 2**20:8.0f} MiB = "
              f"{delta / weight_bytes:.2f}x the weights{goal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(CONFIGS),
                        choices=sorted(CONFIGS), help="model sizes, millions of parameters")
    parser.add_argument("--peak-child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_child:
        _peak_child(*args.peak_child)
        return
    _register()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, ganglion "
          f"{ganglion.__version__}")
    with tempfile.TemporaryDirectory(prefix="ganglion-bench-") as tmp:
        os.environ["GANGLION_CACHE"] = str(Path(tmp) / "cache")
        for size in args.sizes:
            bench(size, args.runs, Path(tmp))


if __name__ == "__main__":
    main()
