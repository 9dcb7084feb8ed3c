"""Time per training step: ``ganglion train``'s Lightning loop vs a hand-written PyTorch loop.

Side by side in one run, on the same model, the same data and the same optimizer (Adam), CPU:

* ``ganglion``: :func:`ganglion.training.train` on a config composed as ``ganglion train``
  composes it, with the core's default ``trainer`` and ``exp_manager`` settings (TensorBoard
  and CSV loggers, checkpointing, the progress bar, per-step seeding, the resumable loader);
* ``hand``: ``x, y = next(batches); loss = f(model(x), y); loss.backward(); opt.step();
  opt.zero_grad()`` on its own copy of the model, over the same dataset.

The two run in lockstep: at the start of each ``ganglion`` step a callback runs one ``hand``
step, so the two alternate step by step and whatever else the machine is doing hits both
alike. A ``ganglion`` step is the time from the end of that ``hand`` step to the start of the
next ``ganglion`` step: its data loading, hooks, logging, progress bar and the optimizer all
count. Wall time and this process's CPU time are both measured; medians are printed.

Models (batch 8 of 64 features x 128 frames, per-frame classification over 29 labels):

* ``conv``: a small QuartzNet-like encoder (time-channel separable 1-D convolutions,
  1.09 M parameters) — the case the goal is about;
* ``conv+log``: the same, its ``training_step`` also calling ``self.log("train_loss", loss)``
  as most models do (what Lightning's logging costs; the hand loop does not log);
* ``mlp``: a two-layer MLP of 0.77 M parameters whose step is mostly overhead, which shows
  the loop's fixed cost per step.

    .venv/bin/python bench/bench_train_loop.py [--steps 60] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings

import torch
from pytorch_lightning import Callback
from torch.utils.data import DataLoader, Dataset

BATCH = 8
FRAMES = 128
WARMUP = 5  # steps dropped from the start of every run (allocations, first-call costs)


class FrameDataset(Dataset):
    """Random feature sequences with per-frame labels, fixed by ``seed``."""

    def __init__(
        self, size: int = 512, features: int = 64, frames: int = FRAMES, classes: int = 29,
        seed: int = 0,
    ) -> None:  # fmt: skip
        generator = torch.Generator().manual_seed(seed)
        self.x = torch.randn(size, features, frames, generator=generator)
        self.y = torch.randint(0, classes, (size, frames), generator=generator)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int):
        return self.x[index], self.y[index]


def conv_encoder(features: int = 64, channels: int = 256, classes: int = 29) -> torch.nn.Module:
    """QuartzNet-like: a wide prologue, time-channel separable blocks, a 1x1 epilogue."""

    def separable(kernel: int) -> list[torch.nn.Module]:
        return [
            torch.nn.Conv1d(channels, channels, kernel, padding=kernel // 2, groups=channels),
            torch.nn.Conv1d(channels, channels, 1),
            torch.nn.BatchNorm1d(channels),
            torch.nn.ReLU(),
        ]

    layers: list[torch.nn.Module] = [
        torch.nn.Conv1d(features, channels, 33, padding=16),
        torch.nn.BatchNorm1d(channels),
        torch.nn.ReLU(),
    ]
    for kernel in (33, 39, 51, 63, 75):
        layers += separable(kernel)
    layers += [
        torch.nn.Conv1d(channels, 512, 1),
        torch.nn.ReLU(),
        torch.nn.Conv1d(512, classes, 1),
    ]
    return torch.nn.Sequential(*layers)


def small_mlp(features: int = 64, frames: int = FRAMES, classes: int = 29) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(features * frames, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, classes * frames), torch.nn.Unflatten(1, (classes, frames)),
    )  # fmt: skip


ARCHITECTURES = {"conv": conv_encoder, "mlp": small_mlp}


def frame_loss(model: torch.nn.Module, batch) -> torch.Tensor:
    x, y = batch
    return torch.nn.functional.cross_entropy(model(x), y)


# -- the ganglion side -------------------------------------------------------------------------
def ganglion_model_class():
    from ganglion.model import ModelPT

    class BenchModel(ModelPT):
        def __init__(self, cfg, trainer=None):
            super().__init__(cfg, trainer)
            self.net = ARCHITECTURES[cfg.arch]()

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            loss = frame_loss(self.net, batch)
            if self.cfg.log_every_step:
                self.log("train_loss", loss)
            return loss

    return BenchModel


class HandLoop(Callback):
    """Runs one step of the hand-written loop at the start of each ganglion step, timing both
    (a Lightning callback, added to the Trainer with ``_target_``)."""

    last: HandLoop | None = None

    def __init__(self, arch: str, steps: int) -> None:
        torch.manual_seed(0)
        self.model = ARCHITECTURES[arch]()
        self.model.train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        dataset = FrameDataset(size=BATCH * steps)
        self.batches = iter(DataLoader(dataset, batch_size=BATCH, shuffle=True))
        self.hand: list[tuple[float, float]] = []
        self.ganglion: list[tuple[float, float]] = []
        self._end: tuple[float, float] | None = None
        HandLoop.last = self

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        start = _now()
        if self._end is not None:
            self.ganglion.append(_minus(start, self._end))
        batch = next(self.batches)
        loss = frame_loss(self.model, batch)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        loss.item()  # what a loop that reports its loss does once per step
        self._end = _now()
        self.hand.append(_minus(self._end, start))


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _minus(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return a[0] - b[0], a[1] - b[1]


def run_pair(arch: str, steps: int, exp_dir: str, log: bool) -> HandLoop:
    """One ``ganglion train`` run (the config composed as the command composes it), with the
    hand-written loop stepping alongside."""
    import yaml

    from ganglion.targets import allow_targets
    from ganglion.training import compose_config, train

    config = {
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "max_epochs": 1,
            "enable_model_summary": False,
            "callbacks": [{"_target_": f"{__name__}.HandLoop", "arch": arch, "steps": steps}],
        },
        "exp_manager": {"exp_dir": exp_dir, "name": f"bench_{arch}"},
        "seed": 0,
        "model": {
            "_target_": "BenchModel",
            "arch": arch,
            "log_every_step": log,
            "train_ds": {
                "_target_": f"{__name__}.FrameDataset",
                "size": BATCH * steps,
                "batch_size": BATCH,
                "shuffle": True,
            },
            "optim": {"name": "adam", "lr": 1e-3},
        },
    }
    with open(os.path.join(exp_dir, "bench.yaml"), "w") as f:
        yaml.safe_dump(config, f)
    cfg = compose_config("bench", [], config_path=exp_dir)
    # the loop and the dataset are this script's own classes: allowed as a user allows theirs
    with warnings.catch_warnings(), allow_targets(__name__):
        warnings.simplefilter("ignore")
        train(cfg)
    assert HandLoop.last is not None
    return HandLoop.last


# -- main ------------------------------------------------------------------------------------
CASES = {  # row -> (architecture, log every step, steps relative to --steps)
    "conv": ("conv", False, 1),
    "conv+log": ("conv", True, 1),
    "mlp": ("mlp", False, 10),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="steps of each conv run")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import ganglion

    ganglion.register_model("BenchModel", ganglion_model_class())
    params = {a: sum(p.numel() for p in ARCHITECTURES[a]().parameters()) for a in ARCHITECTURES}
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), batch {BATCH}; "
        f"medians over the steps after the first {WARMUP}, in ms per step"
    )
    print(
        f"{'loop':<10}{'params':>8}{'steps':>7}  {'wall: hand':>11}{'ganglion':>10}{'ratio':>7}"
        f"  {'cpu: hand':>10}{'ganglion':>10}{'ratio':>7}{'overhead':>11}"
    )
    with tempfile.TemporaryDirectory() as exp_dir:
        devnull = open(os.devnull, "w")  # noqa: SIM115 - Lightning's per-run chatter
        for case, (arch, log, scale) in CASES.items():
            steps = args.steps * scale + WARMUP + 1
            stdout, stderr = sys.stdout, sys.stderr
            sys.stdout = sys.stderr = devnull
            try:
                pair = run_pair(arch, steps, exp_dir, log)
            finally:
                sys.stdout, sys.stderr = stdout, stderr
            hand, ours = pair.hand[WARMUP:], pair.ganglion[WARMUP:]
            row = f"{case:<10}{params[arch] / 1e6:>7.2f}M{len(ours):>7} "
            for i in (0, 1):
                h = statistics.median(t[i] for t in hand) * 1e3
                g = statistics.median(t[i] for t in ours) * 1e3
                row += f" {h:>10.2f}{g:>10.2f}{g / h:>7.3f}"
            print(row + f"{(g - h) * 1e3:>8.0f} us", flush=True)
        devnull.close()
    print("overhead: cpu ganglion - cpu hand, per step")


if __name__ == "__main__":
    main()
