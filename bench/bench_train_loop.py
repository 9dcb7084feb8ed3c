"""Time per training step: ``ganglion train``'s Lightning loop vs a hand-written PyTorch loop.

Side by side in one run, on the same model (a small QuartzNet-like 1-D conv encoder, about
1.2 M parameters, per-frame classification), the same data (batches of 8 feature sequences,
64 features x 200 frames) and the same optimizer (Adam), on the CPU:

* ``ganglion``: :func:`ganglion.train.train` with the core's default ``trainer`` and
  ``exp_manager`` settings (TensorBoard and CSV loggers, checkpointing, the progress bar,
  per-step seeding, the resumable data loader), the model a ``ModelPT`` logging
  ``train_loss`` every step;
* ``hand``: ``for x, y in DataLoader(...): loss = model(x); loss.backward(); opt.step();
  opt.zero_grad()`` over the same dataset.

The two alternate in rounds so that machine noise hits both alike. A step's time is the
interval between the starts of two consecutive steps (so data loading, hooks, logging and the
progress bar all count). Prints the median per step of each and the ratio; ``--small`` adds a
tiny MLP whose step is nearly all overhead, to show Lightning's fixed cost per step.

    .venv/bin/python bench/bench_train_loop.py [--rounds 5] [--steps 60] [--small]
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
WARMUP = 5  # steps dropped from the start of every run (allocations, first-call costs)


class FrameDataset(Dataset):
    """Random feature sequences with per-frame labels, fixed by ``seed``."""

    def __init__(
        self, size: int = 512, features: int = 64, frames: int = 200, classes: int = 29,
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


def small_mlp(features: int = 64, frames: int = 200, classes: int = 29) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(features * frames, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, classes * frames), torch.nn.Unflatten(1, (classes, frames)),
    )  # fmt: skip


ARCHITECTURES = {"conv": conv_encoder, "small": small_mlp}


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
            self.log("train_loss", loss)
            return loss

    return BenchModel


class StepTimer(Callback):
    """Records when each training step starts (added to the Trainer with ``_target_``)."""

    starts: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        StepTimer.starts.append(time.perf_counter())


def run_ganglion(arch: str, steps: int, exp_dir: str) -> list[float]:
    """One ``ganglion train`` run: the config composed as the command composes it."""
    import yaml

    from ganglion.train import compose_config, train

    config = {
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "max_epochs": 1,
            "enable_model_summary": False,
            "callbacks": [{"_target_": f"{__name__}.StepTimer"}],
        },
        "exp_manager": {"exp_dir": exp_dir, "name": f"bench_{arch}"},
        "seed": 0,
        "model": {
            "_target_": "BenchModel",
            "arch": arch,
            "train_ds": {
                "_target_": f"{__name__}.FrameDataset",
                "size": BATCH * (steps + 1),
                "batch_size": BATCH,
                "shuffle": True,
            },
            "optim": {"name": "adam", "lr": 1e-3},
        },
    }
    with open(os.path.join(exp_dir, "bench.yaml"), "w") as f:
        yaml.safe_dump(config, f)
    cfg = compose_config("bench", [], config_path=exp_dir)
    StepTimer.starts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(cfg)
    return _per_step(StepTimer.starts)


# -- the hand-written side ---------------------------------------------------------------------
def run_hand(arch: str, steps: int) -> list[float]:
    torch.manual_seed(0)
    model = ARCHITECTURES[arch]()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(FrameDataset(size=BATCH * (steps + 1)), batch_size=BATCH, shuffle=True)
    starts = []
    for batch in loader:
        starts.append(time.perf_counter())
        loss = frame_loss(model, batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        loss.item()  # what a loop that reports its loss does once per step
    return _per_step(starts)


def _per_step(starts: list[float]) -> list[float]:
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    return gaps[WARMUP:]


# -- main ------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--small", action="store_true", help="add the tiny-MLP overhead row")
    args = parser.parse_args()

    import ganglion

    ganglion.register_model("BenchModel", ganglion_model_class())
    architectures = ["conv", *(["small"] if args.small else [])]
    params = {a: sum(p.numel() for p in ARCHITECTURES[a]().parameters()) for a in architectures}
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH}, "
        f"{args.rounds} rounds x {args.steps} steps (first {WARMUP} of each dropped)"
    )
    results: dict[str, dict[str, list[float]]] = {a: {"hand": [], "ganglion": []} for a in params}
    with tempfile.TemporaryDirectory() as exp_dir:
        devnull = open(os.devnull, "w")  # noqa: SIM115 - Lightning's per-run chatter
        for _ in range(args.rounds):
            for arch in architectures:
                results[arch]["hand"] += run_hand(arch, args.steps)
                stdout, stderr = sys.stdout, sys.stderr
                sys.stdout = sys.stderr = devnull
                try:
                    results[arch]["ganglion"] += run_ganglion(arch, args.steps, exp_dir)
                finally:
                    sys.stdout, sys.stderr = stdout, stderr
        devnull.close()

    print(f"{'model':<28}{'hand (ms)':>12}{'ganglion (ms)':>16}{'ratio':>8}{'overhead':>12}")
    for arch, timings in results.items():
        hand = statistics.median(timings["hand"]) * 1e3
        ours = statistics.median(timings["ganglion"]) * 1e3
        label = f"{arch} ({params[arch] / 1e6:.2f} M params)"
        print(
            f"{label:<28}{hand:>12.3f}{ours:>16.3f}{ours / hand:>8.3f}"
            f"{(ours - hand) * 1e3:>9.0f} us"
        )


if __name__ == "__main__":
    main()
