"""``ganglion train``: Hydra composition, every override form, config checks, training.

The model is ``ganglion_train_fixtures.TinyRegressor`` (this folder), named by import path.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from ganglion_train_fixtures import RegressionDataset
from pytorch_lightning import Callback
from torch.utils.data import IterableDataset

import ganglion
from ganglion import hookimpl
from ganglion.errors import ConfigError
from ganglion.targets import allow_targets
from ganglion.training import compose_config, run_argv, train, validate_config

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
FIXTURES = "ganglion_train_fixtures"


def tiny_config(exp_dir: Path, **sections) -> dict:
    cfg = {
        "trainer": {
            "max_epochs": 1,
            "accelerator": "cpu",
            "devices": 1,
            "log_every_n_steps": 1,
            "enable_progress_bar": False,
            "enable_model_summary": False,
        },
        "exp_manager": {"exp_dir": str(exp_dir), "name": "tiny"},
        "model": {
            "_target_": f"{FIXTURES}.TinyRegressor",
            "dim": 8,
            "hidden": 16,
            "train_ds": {"_target_": f"{FIXTURES}.RegressionDataset", "size": 32, "batch_size": 8},
            "validation_ds": {
                "_target_": f"{FIXTURES}.RegressionDataset",
                "size": 16,
                "seed": 1,
                "batch_size": 8,
            },
            "optim": {"name": "adam", "lr": 0.01, "sched": {"name": "StepLR", "step_size": 5}},
        },
    }
    for name, values in sections.items():
        cfg[name].update(values)
    return cfg


@pytest.fixture(autouse=True)
def allow_this_module():
    """Datasets and callbacks defined below are the user's own: allowed, as a user would."""
    with allow_targets(__name__):
        yield


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """A config folder with tiny.yaml; runs go to tmp_path/runs (not created until a run)."""
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "tiny.yaml").write_text(yaml.safe_dump(tiny_config(tmp_path / "runs")))
    return folder


def runs_dir(conf: Path) -> Path:
    return conf.parent / "runs"


# -- composition and precedence -----------------------------------------------------------------
def test_precedence_is_command_line_over_yaml_over_dataclass(conf):
    cfg = compose_config("tiny", [], config_path=str(conf))
    assert cfg.trainer.max_epochs == 1  # YAML over the dataclass's 1000
    assert cfg.trainer.num_sanity_val_steps == 0  # the dataclass default, not in the YAML
    assert cfg.exp_manager.create_csv_logger is True  # the dataclass default
    assert cfg.seed == 42

    cfg = compose_config(
        "tiny", ["trainer.max_epochs=3", "trainer.num_sanity_val_steps=2"], config_path=str(conf)
    )
    assert cfg.trainer.max_epochs == 3  # command line over YAML
    assert cfg.trainer.num_sanity_val_steps == 2  # command line over the dataclass


@dataclasses.dataclass
class _TinySection:
    _target_: str = f"{FIXTURES}.TinyRegressor"
    dim: int = 4
    hidden: int = 32
    dropout: float = 0.5


@dataclasses.dataclass
class _TinyDataclassConfig:
    model: _TinySection = dataclasses.field(default_factory=_TinySection)


class _DataclassConfigPlugin:
    @hookimpl
    def register_configs(self, register):
        register("tiny_structured", _TinyDataclassConfig)
        register("tiny_structured_lazy", f"{__name__}:_TinyDataclassConfig")  # imported on use


def test_plugin_dataclass_config_is_extended_by_yaml_and_command_line(conf):
    ganglion.plugins.register(_DataclassConfigPlugin(), name="structured")
    (conf / "child.yaml").write_text(
        "defaults:\n  - tiny_structured\n  - _self_\nmodel:\n  hidden: 8\n"
    )
    cfg = compose_config("child", ["model.dropout=0.0"], config_path=str(conf))
    assert cfg.model.dim == 4  # the plugin's dataclass
    assert cfg.model.hidden == 8  # YAML over the dataclass
    assert cfg.model.dropout == 0.0  # command line over both
    with pytest.raises(ConfigError, match=r"model\.dropout: expected float, got 'abc'"):
        compose_config("child", ["model.dropout=abc"], config_path=str(conf))
    # a registered dataclass is a config of its own: --config-name works without a YAML
    assert compose_config("tiny_structured").model.hidden == 32
    assert compose_config("tiny_structured_lazy").model.dim == 4


def test_plugin_config_dirs_are_on_the_search_path(tmp_path):
    plugin_conf = tmp_path / "plugin_conf"
    plugin_conf.mkdir()
    (plugin_conf / "from_plugin.yaml").write_text(yaml.safe_dump(tiny_config(tmp_path / "runs")))

    class ConfigDirPlugin:
        @hookimpl
        def register_configs(self, register):
            register("dirs", f"file://{plugin_conf}")

    ganglion.plugins.register(ConfigDirPlugin(), name="dirs")
    cfg = compose_config("from_plugin", ["trainer.max_epochs=2"])  # no --config-path
    assert cfg.trainer.max_epochs == 2
    assert cfg.model._target_ == f"{FIXTURES}.TinyRegressor"


def test_add_remove_and_force_overrides(conf):
    cfg = compose_config(
        "tiny",
        ["+trainer.fast_dev_run=true", "~model.validation_ds", "++model.extra=1", "++seed=7"],
        config_path=str(conf),
    )
    assert cfg.trainer.fast_dev_run is True
    assert "validation_ds" not in cfg.model
    assert cfg.model.extra == 1
    assert cfg.seed == 7


def test_optimizer_preset_replaces_settings_but_keeps_sched(conf):
    cfg = compose_config(
        "tiny",
        ["model.optim=sgd", "model.optim.lr=0.5", "model.optim.momentum=0.9"],
        config_path=str(conf),
    )
    optim = cfg.model.optim
    assert optim.name == "sgd" and optim.lr == 0.5 and optim.momentum == 0.9
    assert optim.sched.name == "StepLR"  # kept from the YAML
    assert "amsgrad" not in optim  # adam's keys from the YAML are gone
    with pytest.raises(ConfigError, match=r"no preset 'adamx'.*Did you mean 'adam"):
        compose_config("tiny", ["model.optim=adamx"], config_path=str(conf))


def test_cfg_job_prints_the_composed_config_and_trains_nothing(conf, capsys):
    status = run_argv(
        ["--config-path", str(conf), "--config-name", "tiny", "--cfg", "job", "model.optim=sgd"]
    )
    printed = yaml.safe_load(capsys.readouterr().out)
    assert status == 0
    assert printed["model"]["optim"]["name"] == "sgd"
    assert printed["trainer"]["max_epochs"] == 1
    assert not runs_dir(conf).exists()


def test_python_m_ganglion_train_is_the_same_command(conf):
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    out = subprocess.run(
        [sys.executable, "-m", "ganglion", "train", "--config-path", str(conf),
         "--config-name", "tiny", "--cfg", "job", "-p", "trainer", "trainer.max_epochs=5"],
        capture_output=True, text=True, env=env, check=True,
    ).stdout  # fmt: skip
    assert yaml.safe_load(out)["max_epochs"] == 5


# -- mistakes are caught before anything is created ---------------------------------------------
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.max_epoch=3", r"Unknown key trainer\.max_epoch.*Did you mean 'max_epochs'"),
        ("+trainer.max_epoch=3", r"Unknown key trainer\.max_epoch.*Did you mean 'max_epochs'"),
        ("model.optim.lrr=1", r"Unknown key model\.optim\.lrr.*Did you mean 'lr'"),
        ("+model.optim.lrr=1", r"'lrr' \(model\.optim\.lrr\).*Did you mean 'lr'"),
        ("model.optim.sched.step_sise=2", r"model\.optim\.sched\.step_sise.*'step_size'"),
        ("exp_manager.nme=x", r"Unknown key exp_manager\.nme.*Did you mean 'name'"),
        ("model.hiden=3", r"Unknown key model\.hiden.*Did you mean 'hidden'"),
        ("trainer.max_epochs=abc", r"trainer\.max_epochs: expected int or null, got 'abc'"),
        ("trainer.precision=17", r"trainer\.precision: expected .*'bf16-mixed'.*got 17"),
        (
            "exp_manager.checkpoint_callback_params.save_top_k=abc",
            r"exp_manager\.checkpoint_callback_params\.save_top_k: expected int, got 'abc'",
        ),
        ("seed=abc", r"seed: expected an integer or null"),
        ("model._target_=TinyRegresor", r"Unknown model 'TinyRegresor' \(model\._target_\)"),
        ("model.optim.name=adamx", r"Unknown optimizer 'adamx'.*Did you mean 'adam"),
        (
            "+trainer.callbacks=[{_target_:torch.nn.Linear}]",
            r"trainer\.callbacks\[0\]\._target_: 'torch\.nn\.Linear' is the class "
            r"torch\.nn\.modules\.linear\.Linear, not a Callback",
        ),
        ("trainer.logger=true", r"trainer\.logger is set but exp_manager creates the loggers"),
        (
            "model.train_ds.batch_size=0",
            r"model\.train_ds\.batch_size must be an integer >= 1 \(samples per batch\), got 0; "
            r"set it with model\.train_ds\.batch_size=<n>",
        ),
        ("model.validation_ds.batch_size=-8", r"model\.validation_ds\.batch_size .*got -8"),
        ("model.train_ds.batch_size=2.5", r"model\.train_ds\.batch_size .*got 2\.5"),
        ("trainer.devices=0", r"trainer\.devices=0 selects no device: give a number of devices"),
        ("trainer.devices='0'", r"trainer\.devices='0' selects no device"),
        ("trainer.devices=[]", r"trainer\.devices=\[\] selects no device"),
        ("trainer.devices=-2", r"trainer\.devices=-2 selects no device"),
        ("trainer.num_nodes=0", r"trainer\.num_nodes must be >= 1, got 0"),
    ],
)
def test_config_mistakes_name_the_key_and_create_nothing(conf, capsys, override, message):
    status = run_argv(["--config-path", str(conf), "--config-name", "tiny", override])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("ganglion train: error: ")
    assert __import__("re").search(message, err), err
    assert "Traceback" not in err
    assert not runs_dir(conf).exists()


@pytest.mark.parametrize("where", ["config", "preset"])
def test_a_yaml_syntax_error_names_the_file_line_and_column(conf, capsys, where):
    broken_yaml = "name: broken\nmodel:\n  dim: [8, 16\n  hidden: 3\n"
    if where == "config":
        broken = conf / "broken.yaml"
        argv = ["--config-name", "broken"]
    else:  # a preset file, read only when the command line picks it
        broken = conf / "model" / "optim" / "mine.yaml"
        broken.parent.mkdir(parents=True)
        argv = ["--config-name", "tiny", "model.optim=mine"]
    broken.write_text(broken_yaml)
    status = run_argv(["--config-path", str(conf), *argv])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(
        f"ganglion train: error: {broken}, line 4, column 9: not valid YAML: expected ',' or ']'"
    ), err
    assert "(while parsing a flow sequence that starts at line 3, column 8)" in err
    assert "Traceback" not in err
    assert not runs_dir(conf).exists()
    with pytest.raises(ConfigError, match=rf"{broken}, line 4, column 9"):
        compose_config(argv[1], argv[2:], config_path=str(conf))


def test_missing_config_name_and_path_are_errors(conf, capsys):
    assert run_argv(["--config-path", str(conf), "--config-name", "nope"]) == 2
    assert "--config-name nope: no such config" in capsys.readouterr().err
    assert run_argv(["--config-path", str(conf / "missing"), "--config-name", "tiny"]) == 2
    assert "--config-path: no directory" in capsys.readouterr().err


def test_validate_config_requires_a_model():
    cfg = compose_config(None, [])
    with pytest.raises(ConfigError, match="no model section"):
        validate_config(cfg)


def test_trainer_objects_are_built_from_target():
    from omegaconf import OmegaConf

    from ganglion.training.experiment import check_exp_manager_config
    from ganglion.training.trainer_args import trainer_kwargs

    trainer_cfg = OmegaConf.create(
        {
            "callbacks": [
                {"_target_": "pytorch_lightning.callbacks.EarlyStopping", "monitor": "val_loss"}
            ]
        }
    )
    kwargs = trainer_kwargs(trainer_cfg, check_exp_manager_config(None))
    from pytorch_lightning.callbacks import EarlyStopping

    assert isinstance(kwargs["callbacks"][0], EarlyStopping)
    assert kwargs["callbacks"][0].monitor == "val_loss"
    assert kwargs["logger"] is False and kwargs["enable_checkpointing"] is False


# -- training -----------------------------------------------------------------------------------
def test_train_fits_tests_packages_and_says_where_everything_is(conf, capsys):
    cfg = yaml.safe_load((conf / "tiny.yaml").read_text())
    cfg["model"]["test_ds"] = {
        "_target_": f"{FIXTURES}.RegressionDataset",
        "size": 16,
        "seed": 2,
        "batch_size": 8,
    }
    (conf / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    status = run_argv(
        ["--config-path", str(conf), "--config-name", "tiny", "exp_manager.version=v1"]
    )
    out = capsys.readouterr().out
    run = runs_dir(conf) / "tiny" / "v1"
    archive = run / "checkpoints" / "tiny.ganglion"
    assert status == 0
    assert f"model archive: {archive}" in out
    assert f"logs:          {run}" in out
    assert f"checkpoints:   {run / 'checkpoints'}" in out
    assert "test_loss" in out  # trainer.test ran on the test set
    assert archive.is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["_target_"] == f"{FIXTURES}.TinyRegressor"  # the full class path
    logged = (run / "cmd-args.log").read_text().split("  ", 1)[1]  # after the time stamp
    assert logged.split()[0] == sys.executable  # this process, run again as typed
    assert logged.rstrip("\n").endswith(shlex.join(sys.argv[1:]))
    assert "torch" in json.loads((run / "versions.json").read_text())["libraries"]
    assert "train_loss" in (run / "csv" / "metrics.csv").read_text()
    assert any(p.stat().st_size > 0 for p in run.glob("events.out.tfevents.*"))


def test_train_in_bf16_mixed_precision_on_cpu(conf, capsys):
    status = run_argv(
        [
            "--config-path",
            str(conf),
            "--config-name",
            "tiny",
            "trainer.precision=bf16-mixed",
            "exp_manager.version=bf16",
        ]
    )
    assert status == 0, capsys.readouterr().err
    assert (runs_dir(conf) / "tiny" / "bf16" / "checkpoints" / "tiny.ganglion").is_file()


class StreamDataset(IterableDataset):
    """A dataset without len(), iterated to its end."""

    def __init__(self, size: int = 16) -> None:
        self.items = RegressionDataset(size=size, seed=2)

    def __iter__(self):
        return (self.items[i] for i in range(len(self.items)))


def test_a_test_set_without_len_is_tested(tmp_path):
    cfg = tiny_config(tmp_path / "runs", trainer={"fast_dev_run": True})
    cfg["model"]["test_ds"] = {"_target_": f"{__name__}.StreamDataset", "batch_size": 8}
    result = train(cfg)
    assert result.test_results and "test_loss" in result.test_results[0]


class CountingCallback(Callback):
    built = 0

    def __init__(self) -> None:
        type(self).built += 1


def test_a_job_builds_its_trainer_objects_once(tmp_path, monkeypatch):
    monkeypatch.setattr(CountingCallback, "built", 0)
    callbacks = [{"_target_": f"{__name__}.CountingCallback"}]
    train(tiny_config(tmp_path / "runs", trainer={"fast_dev_run": True, "callbacks": callbacks}))
    assert CountingCallback.built == 1


def test_multirun_sweep_trains_each_combination(conf, capsys):
    status = run_argv(
        [
            "--config-path",
            str(conf),
            "--config-name",
            "tiny",
            "-m",
            "model.optim.lr=0.1,0.01",
            "exp_manager.create_tensorboard_logger=false",
        ]
    )
    assert status == 0, capsys.readouterr().err
    runs = sorted((runs_dir(conf) / "tiny").iterdir())
    lrs = sorted(
        yaml.safe_load((r / "config.yaml").read_text())["model"]["optim"]["lr"] for r in runs
    )
    assert lrs == [0.01, 0.1]
    assert list((runs_dir(conf) / "multirun").glob("*/multirun.yaml"))  # Hydra's sweep record


def test_multirun_sweep_dir_from_the_yaml_wins(conf, capsys):
    cfg = yaml.safe_load((conf / "tiny.yaml").read_text())
    cfg["hydra"] = {"sweep": {"dir": str(conf.parent / "sweeps")}}
    (conf / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    argv = ["--config-path", str(conf), "--config-name", "tiny", "-m", "model.optim.lr=0.1"]
    assert run_argv(argv) == 0, capsys.readouterr().err
    assert (conf.parent / "sweeps" / "multirun.yaml").is_file()
    assert not (runs_dir(conf) / "multirun").exists()
    assert len(list((runs_dir(conf) / "tiny").iterdir())) == 1


def test_multirun_sweep_dir_follows_exp_dir_with_a_tilde(conf, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # a "~" folder taken literally would appear here
    argv = ["--config-path", str(conf), "--config-name", "tiny", "-m", "model.optim.lr=0.1",
            "exp_manager.exp_dir='~/runs'"]  # fmt: skip
    assert run_argv(argv) == 0, capsys.readouterr().err
    assert list((tmp_path / "home" / "runs" / "multirun").glob("*/multirun.yaml"))
    assert len(list((tmp_path / "home" / "runs" / "tiny").iterdir())) == 1
    assert not (tmp_path / "~").exists()


def test_yaml_may_set_any_trainer_argument(conf):
    cfg = yaml.safe_load((conf / "tiny.yaml").read_text())
    cfg["trainer"]["gradient_clip_algorithm"] = "value"  # not among ganglion's defaults
    cfg["trainer"]["callbacks"] = [
        {"_target_": "pytorch_lightning.callbacks.LearningRateMonitor", "logging_interval": "step"}
    ]
    (conf / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    composed = validate_config(compose_config("tiny", [], config_path=str(conf)))
    assert composed.trainer.gradient_clip_algorithm == "value"
    cfg["trainer"]["gradient_clip_algoritm"] = "value"
    (conf / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=r"trainer\.gradient_clip_algoritm.*'gradient_clip_algo"):
        validate_config(compose_config("tiny", [], config_path=str(conf)))


def test_fast_dev_run_trains_one_batch_and_saves_nothing(conf, capsys):
    status = run_argv(
        ["--config-path", str(conf), "--config-name", "tiny", "+trainer.fast_dev_run=true"]
    )
    assert status == 0
    assert "nothing was saved" in capsys.readouterr().out
    assert not runs_dir(conf).exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name: x\nmodel: \xff\xfe\n", r"{file}: not UTF-8 text \(byte 15 \(0xff\)\)"),
        (b"name: \x00\n", r"{file}, byte 6: not a YAML text file: unacceptable character"),
        (b"- trainer\n- model\n", r"config 'odd' is a YAML list; a training config is a mapping"),
    ],
)
def test_a_config_file_that_is_not_a_yaml_mapping_is_named(conf, capsys, content, message):
    odd = conf / "odd.yaml"
    odd.write_bytes(content)
    assert run_argv(["--config-path", str(conf), "--config-name", "odd"]) == 2
    err = capsys.readouterr().err
    assert __import__("re").search(message.format(file=__import__("re").escape(str(odd))), err), err
    assert "Traceback" not in err
    assert not runs_dir(conf).exists()


class FailAtStepTwo(Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == 2:
            raise RuntimeError("the data went away")


def test_a_run_that_fails_after_it_started_marks_its_directory(conf, capsys):
    argv = ["--config-path", str(conf), "--config-name", "tiny", "exp_manager.version=v1"]
    failing = f"+trainer.callbacks=[{{_target_:{__name__}.FailAtStepTwo}}]"
    with pytest.raises(RuntimeError, match="the data went away"):
        run_argv([*argv, failing])
    run = runs_dir(conf) / "tiny" / "v1"
    marker = (run / "FAILED").read_text()
    assert "the run failed: RuntimeError: the data went away" in marker.splitlines()[0]
    assert "Traceback" in marker and "on_train_batch_start" in marker
    assert f"{run} is marked as failed (FAILED holds the error)" in capsys.readouterr().err
    assert not (run / "checkpoints" / "tiny.ganglion").exists()

    assert run_argv(argv) == 0  # a run started again in the same directory
    assert not (run / "FAILED").exists()
    assert (run / "checkpoints" / "tiny.ganglion").is_file()


class WarmupThenFlat(torch.optim.lr_scheduler.LambdaLR):
    """A warmup that, like ganglion-optim's schedules, needs max_steps beyond the warmup."""

    def __init__(self, optimizer, warmup_steps: int, max_steps: int) -> None:
        if warmup_steps >= max_steps:
            raise ValueError(f"warmup_steps ({warmup_steps}) must be below max_steps ({max_steps})")
        self.max_steps = max_steps
        super().__init__(optimizer, lambda step: min(1.0, (step + 1) / warmup_steps))


def test_fast_dev_run_builds_the_schedule_of_the_configured_run(tmp_path):
    # fast_dev_run trains one batch; the schedule must still be the real run's (5 epochs of
    # 4 batches), or a warmup sized for the real run is refused
    ganglion.register_scheduler("warmup_then_flat", WarmupThenFlat)
    cfg = tiny_config(tmp_path / "runs", trainer={"fast_dev_run": True, "max_epochs": 5})
    sched = {"name": "warmup_then_flat", "warmup_steps": 10, "max_steps": None}
    cfg["model"]["optim"]["sched"] = sched
    result = train(cfg)
    assert result.trainer.global_step == 1
    assert result.trainer.lr_scheduler_configs[0].scheduler.max_steps == 5 * 4
    assert not (tmp_path / "runs").exists()

    cfg["trainer"]["max_epochs"] = 2  # the configured run is too short for the warmup: refused
    with pytest.raises(ConfigError, match=r"warmup_steps \(10\) must be below max_steps \(8\)"):
        train(cfg)
