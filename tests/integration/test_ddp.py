"""``trainer.strategy=ddp trainer.accelerator=cpu trainer.devices=2``: two processes (gloo)
train to the result of one process seeing the same batches, into one run directory.

Both runs are one ``ganglion train -m`` sweep, the DDP job first: the process Lightning starts
for rank 1 reruns the sweep's command line and must train that job only, and the job after it
must start clean (no process group or launcher variables left over)."""

from __future__ import annotations

import csv
from pathlib import Path

import torch
import yaml
from ganglion_train_fixtures import archived_weights, run_train

FIXTURES = "ganglion_train_fixtures"  # tests/core, on sys.path (tests/conftest.py)


def write_config(folder: Path) -> None:
    dataset = f"{FIXTURES}.RegressionDataset"
    cfg = {
        "trainer": {
            "max_epochs": 2,
            "log_every_n_steps": 1,
            "enable_progress_bar": False,
            "enable_model_summary": False,
        },
        "exp_manager": {"exp_dir": str(folder / "runs"), "create_tensorboard_logger": False},
        "model": {
            "_target_": f"{FIXTURES}.TinyRegressor",
            "dropout": 0.0,  # each rank draws its own masks; without dropout they agree
            "train_ds": {"_target_": dataset, "size": 64, "batch_size": 8},
            "validation_ds": {"_target_": dataset, "size": 16, "seed": 1, "batch_size": 8},
            "optim": {"name": "adam", "lr": 0.01},
        },
    }
    (folder / "ddp.yaml").write_text(yaml.safe_dump(cfg))
    variants = folder / "variant"
    variants.mkdir()
    ddp = {"strategy": "ddp", "accelerator": "cpu", "devices": 2}
    (variants / "ddp.yaml").write_text(
        "# @package _global_\n" + yaml.safe_dump({"trainer": ddp, "exp_manager": {"name": "ddp"}})
    )
    # one process, batch 16: each step sees the union of the two ranks' batches of 8
    single = {
        "trainer": {"accelerator": "cpu", "devices": 1},
        "exp_manager": {"name": "single"},
        "model": {"train_ds": {"batch_size": 16}},
    }
    (variants / "single.yaml").write_text("# @package _global_\n" + yaml.safe_dump(single))


def train_steps(run_dir: Path) -> list[int]:
    with open(run_dir / "csv" / "metrics.csv", newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f) if r.get("train_loss")]


def test_ddp_on_two_cpu_processes_matches_one_process(tmp_path):
    write_config(tmp_path)
    sweep = run_train(tmp_path, "ddp", "-m", "+variant=ddp,single")
    assert sweep.returncode == 0, sweep.stderr[-3000:]

    ddp_runs = list((tmp_path / "runs" / "ddp").iterdir())
    assert len(ddp_runs) == 1  # both ranks wrote into one run directory
    ddp_dir = ddp_runs[0]
    (single_dir,) = (tmp_path / "runs" / "single").iterdir()
    assert train_steps(ddp_dir) == train_steps(single_dir) == list(range(8))  # 4 steps an epoch

    a, b = archived_weights(ddp_dir, "ddp"), archived_weights(single_dir, "single")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
