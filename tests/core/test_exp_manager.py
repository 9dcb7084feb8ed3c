"""exp_manager: run directories, loggers, checkpoints, the best-model archive and resume."""

from __future__ import annotations

import csv
import importlib
import importlib.util
import os
import re
import stat
import types
import warnings
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from ganglion_train_fixtures import quiet_trainer
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

from ganglion import exp_manager
from ganglion.archive import ModelArchive
from ganglion.errors import ConfigError
from ganglion.training.callbacks import StepSeedCallback
from ganglion.training.checkpointing import AtomicCheckpointIO, GanglionModelCheckpoint


def bare_trainer(**kwargs) -> pl.Trainer:
    return quiet_trainer(**{"num_sanity_val_steps": 0, "log_every_n_steps": 1, **kwargs})


def tiny_model(**cfg):
    from ganglion_train_fixtures import TinyRegressor

    fixtures = "ganglion_train_fixtures"
    config = {
        "dim": 8,
        "hidden": 16,
        "train_ds": {"_target_": f"{fixtures}.RegressionDataset", "size": 48, "batch_size": 8},
        "validation_ds": {
            "_target_": f"{fixtures}.RegressionDataset",
            "size": 16,
            "seed": 1,
            "batch_size": 8,
        },
        "optim": {"name": "adam", "lr": 0.05},
    }
    config.update(cfg)
    return lambda trainer: TinyRegressor(config, trainer=trainer)


# -- the run directory ---------------------------------------------------------------------------
def test_run_dir_loggers_checkpoints_and_run_files(tmp_path):
    trainer = bare_trainer()
    log_dir = exp_manager(
        trainer, {"exp_dir": str(tmp_path), "name": "exp"}, run_config={"model": {"lr": 0.1}}
    )
    assert log_dir.parent == tmp_path / "exp"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d", log_dir.name)
    assert (log_dir / "config.yaml").read_text() == "model:\n  lr: 0.1\n"
    assert (log_dir / "cmd-args.log").read_text().strip()
    assert '"torch"' in (log_dir / "versions.json").read_text()
    tb, csv_logger = trainer.loggers
    assert isinstance(tb, TensorBoardLogger) and Path(tb.log_dir) == log_dir
    assert isinstance(csv_logger, CSVLogger) and Path(csv_logger.log_dir) == log_dir / "csv"
    checkpoint = trainer.checkpoint_callback
    assert isinstance(checkpoint, GanglionModelCheckpoint)
    assert Path(checkpoint.dirpath) == log_dir / "checkpoints"
    assert checkpoint.archive_path == log_dir / "checkpoints" / "exp.ganglion"
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)


def test_runs_started_in_the_same_second_get_their_own_version(tmp_path, monkeypatch):
    module = importlib.import_module("ganglion.training.run_directory")
    stamp = "2024-05-01_12-30-00"  # every call in the same second
    monkeypatch.setattr(module, "time", types.SimpleNamespace(strftime=lambda *_: stamp))
    cfg = {"exp_dir": str(tmp_path), "name": "exp", "create_tensorboard_logger": False}
    first = exp_manager(bare_trainer(), cfg)
    second = exp_manager(bare_trainer(), cfg)
    assert first == tmp_path / "exp" / stamp
    assert second == tmp_path / "exp" / f"{stamp}_1"


def test_run_files_and_checkpoints_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        log_dir = exp_manager(bare_trainer(), {"exp_dir": str(tmp_path)}, run_config={"a": 1})
        AtomicCheckpointIO().save_checkpoint({"step": 1}, log_dir / "checkpoints" / "x.ckpt")
    finally:
        os.umask(old)
    for path in ("config.yaml", "versions.json", "checkpoints/x.ckpt"):
        assert stat.S_IMODE((log_dir / path).stat().st_mode) == 0o644, path


def test_counter_versions_and_explicit_version(tmp_path):
    cfg = {"exp_dir": str(tmp_path), "name": "exp", "use_datetime_version": False}
    assert exp_manager(bare_trainer(), cfg).name == "version_0"
    assert exp_manager(bare_trainer(), cfg).name == "version_1"
    explicit = exp_manager(bare_trainer(), {**cfg, "version": "mine"})
    assert explicit == tmp_path / "exp" / "mine"
    other = exp_manager(bare_trainer(), {"explicit_log_dir": str(tmp_path / "here")})
    assert other == tmp_path / "here"


def test_checkpoint_callback_params_reach_model_checkpoint(tmp_path):
    trainer = bare_trainer()
    exp_manager(
        trainer,
        {
            "exp_dir": str(tmp_path),
            "name": "exp",
            "checkpoint_callback_params": {
                "monitor": "train_loss",
                "mode": "max",
                "save_top_k": 5,
                "every_n_train_steps": 7,
                "train_time_interval": None,
            },
        },
    )
    checkpoint = trainer.checkpoint_callback
    assert (checkpoint.monitor, checkpoint.mode, checkpoint.save_top_k) == ("train_loss", "max", 5)
    assert checkpoint._every_n_train_steps == 7
    assert checkpoint.filename == "exp--{train_loss:.4f}-{epoch}"
    assert checkpoint.save_last is True


def test_trainer_with_its_own_logger_or_checkpointing_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"already has loggers.*logger=False"):
        exp_manager(bare_trainer(logger=True), {"exp_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match=r"already has a ModelCheckpoint.*enable_checkpointing"):
        exp_manager(bare_trainer(enable_checkpointing=True), {"exp_dir": str(tmp_path)})
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"nme": "x"}, r"Unknown key exp_manager\.nme\. Did you mean 'name'\?"),
        (
            {"checkpoint_callback_params": {"save_topk": 1}},
            r"exp_manager\.checkpoint_callback_params\.save_topk\. Did you mean 'save_top_k'",
        ),
        ({"resume_if_exists": "maybe"}, r"exp_manager\.resume_if_exists: .*maybe"),
        ({"checkpoint_callback_params": {"mode": "up"}}, r"mode must be 'min' or 'max'"),
        (
            {"checkpoint_callback_params": {"monitor": None}},
            r"save_top_k=3 keeps the best checkpoints by a metric, but monitor is null",
        ),
        (
            {"checkpoint_callback_params": {"train_time_interval": "soon"}},
            r"checkpoint_callback_params\.train_time_interval: expected 'HH:MM:SS'",
        ),
        (
            {"files_to_copy": ["no/such/notes.txt"]},
            r"exp_manager\.files_to_copy\[0\]: no file at 'no/such/notes.txt'",
        ),
    ],
)
def test_config_mistakes_name_the_key(tmp_path, cfg, message):
    with pytest.raises(ConfigError, match=message):
        exp_manager(bare_trainer(), {"exp_dir": str(tmp_path), **cfg})
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed")
def test_wandb_logger_without_wandb_says_what_to_install(tmp_path):
    with pytest.raises(ConfigError, match=r"wandb is not installed: pip install wandb"):
        exp_manager(bare_trainer(), {"exp_dir": str(tmp_path), "create_wandb_logger": True})


# -- resume ---------------------------------------------------------------------------------------
def test_resume_if_exists_without_a_checkpoint(tmp_path):
    cfg = {"exp_dir": str(tmp_path), "name": "exp", "resume_if_exists": True}
    with pytest.raises(ConfigError, match="resume_ignore_no_checkpoint=true"):
        exp_manager(bare_trainer(), cfg)
    assert not any(tmp_path.iterdir())
    trainer = bare_trainer()
    with pytest.warns(UserWarning, match="training starts from scratch"):
        log_dir = exp_manager(trainer, {**cfg, "resume_ignore_no_checkpoint": True})
    assert log_dir == tmp_path / "exp"  # no version level: a restart finds the same place
    assert trainer.ckpt_path is None


def test_resume_continues_from_last_checkpoint_and_drops_later_logs(tmp_path):
    cfg = {
        "exp_dir": str(tmp_path),
        "name": "exp",
        "resume_if_exists": True,
        "resume_ignore_no_checkpoint": True,
        "checkpoint_callback_params": {
            "every_n_train_steps": 4,
            "monitor": None,
            "save_top_k": 1,
        },
    }
    build = tiny_model()
    trainer = bare_trainer(max_steps=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log_dir = exp_manager(trainer, cfg)
    trainer.fit(build(trainer))  # checkpoints at step 4; logs steps 0..5
    metrics = log_dir / "csv" / "metrics.csv"
    assert max(int(r["step"]) for r in csv.DictReader(metrics.open())) == 5

    resumed = bare_trainer(max_steps=6)
    assert exp_manager(resumed, cfg) == log_dir
    assert resumed.ckpt_path == str(log_dir / "checkpoints" / "last.ckpt")
    # the interrupted run's rows after the checkpoint would be logged again: they are gone
    assert [int(r["step"]) for r in csv.DictReader(metrics.open())] == [0, 1, 2, 3]
    # TensorBoard hides them too: its writer starts with a purge of the steps from 4 on
    resumed.loggers[0].experiment.flush()
    assert 4 in _tensorboard_restarts(log_dir)


def _tensorboard_restarts(log_dir: Path) -> list[int]:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.compat.proto.event_pb2 import SessionLog

    steps = []
    for path in log_dir.glob("events.out.tfevents.*"):
        for event in EventFileLoader(str(path)).Load():
            if event.HasField("session_log") and event.session_log.status == SessionLog.START:
                steps.append(event.step)
    return steps


@pytest.mark.parametrize("archive", [True, False])
def test_model_and_archive_hold_the_best_checkpoint_weights(tmp_path, monkeypatch, archive):
    monkeypatch.setenv("PL_GLOBAL_SEED", "0")  # the data order (an earlier test may seed)
    torch.manual_seed(0)
    build = tiny_model(optim={"name": "sgd", "lr": 1.0})  # too large: val_loss rises again
    trainer = bare_trainer(max_epochs=3)
    exp_manager(
        trainer,
        {
            "exp_dir": str(tmp_path),
            "name": "exp",
            "create_tensorboard_logger": False,
            "checkpoint_callback_params": {
                "save_top_k": 1,
                "save_ganglion_on_train_end": archive,
            },
        },
    )
    model = build(trainer)
    trainer.fit(model)
    checkpoint = trainer.checkpoint_callback
    best = torch.load(checkpoint.best_model_path, weights_only=False)["state_dict"]
    last = torch.load(Path(checkpoint.dirpath) / "last.ckpt", weights_only=False)["state_dict"]
    assert not all(torch.equal(last[k], best[k]) for k in best)  # the best is not the last
    assert all(torch.equal(model.state_dict()[k], best[k]) for k in best)  # in memory
    if not archive:
        assert checkpoint.saved_archive is None
        assert not list(Path(checkpoint.dirpath).glob("*.ganglion"))
        return
    with ModelArchive.open(checkpoint.saved_archive) as packed_archive:
        packed = packed_archive.read_weights()
    assert packed.keys() == best.keys()
    assert all(torch.equal(packed[k], best[k]) for k in best)


def test_an_archive_left_by_an_earlier_run_is_not_reported(tmp_path):
    trainer = bare_trainer(max_steps=2)
    log_dir = exp_manager(trainer, {"exp_dir": str(tmp_path), "name": "exp"})
    stale = log_dir / "checkpoints" / "exp.ganglion"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"from an earlier run")
    model = tiny_model()(trainer)
    model.save_to = None  # nothing to package this time
    with pytest.warns(UserWarning, match="has no save_to"):
        trainer.fit(model)
    assert trainer.checkpoint_callback.saved_archive is None


# -- building blocks ------------------------------------------------------------------------------
def test_step_seed_depends_only_on_the_position_in_training():
    seeder = StepSeedCallback(seed=3)

    def draw(epoch, batch_idx, rank=0, seeder=seeder):
        trainer = types.SimpleNamespace(current_epoch=epoch, global_rank=rank)
        seeder.on_train_batch_start(trainer, None, None, batch_idx)
        return torch.rand(4)

    first = draw(1, 5)
    torch.rand(100)  # whatever ran in between
    assert torch.equal(draw(1, 5), first)
    assert not torch.equal(draw(1, 6), first)
    assert not torch.equal(draw(2, 5), first)
    assert not torch.equal(draw(1, 5, rank=1), first)
    assert not torch.equal(draw(1, 5, seeder=StepSeedCallback(seed=4)), first)


def test_atomic_checkpoint_io_keeps_the_old_file_when_a_save_fails(tmp_path):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1}, path)
    with pytest.raises(Exception):  # noqa: B017 - whatever pickling raises
        io.save_checkpoint({"step": 2, "bad": lambda: None}, path)
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temp file left


def test_ranks_agree_on_the_version(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    from ganglion.training.experiment import check_exp_manager_config
    from ganglion.training.run_directory import resolve_log_dir

    cfg = check_exp_manager_config(OmegaConf.create({"exp_dir": str(tmp_path), "name": "n"}))
    for name in ("SLURM_JOB_ID", "SLURM_NTASKS", "SLURM_STEP_ID", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    # processes Lightning spawns take the version rank 0 chose
    monkeypatch.setenv("GANGLION_EXP_VERSION", "from-rank-0")
    assert resolve_log_dir(cfg, global_rank=1)[0].name == "from-rank-0"
    assert resolve_log_dir(cfg, global_rank=0)[0].name != "from-rank-0"
    # ranks started together by a launcher use its job id
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("SLURM_STEP_ID", "3")
    assert {resolve_log_dir(cfg, global_rank=r)[0].name for r in (0, 3)} == {"slurm-77.3"}
