"""GraphModel: a neural graph as a ModelPT, built from a config, trained by Lightning and
``ganglion train``, packed into one ``.ganglion`` and restored to a working graph.

The modules are the shipped example's (examples/graphs/graph_modules.py), allowed under the
``_target_`` policy as a user would allow them.
"""

from __future__ import annotations

import contextvars
import gc
import sys
from pathlib import Path

import pytest
import torch
import yaml
from archive_edits import members, with_members
from ganglion_train_fixtures import quiet_trainer

from ganglion.archive import CONFIG_NAME, UnsafeArchiveError
from ganglion.errors import ConfigError
from ganglion.graph import AppState, GraphError, GraphModel, NeuralGraph, OperationMode
from ganglion.graph.errors import GraphConfigError
from ganglion.model import ModelPT
from ganglion.plugins import registry
from ganglion.targets import ENV_ALLOW_TARGETS, allow_targets
from ganglion.training import compose_config, run_argv, train

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "graphs"
CONF = EXAMPLES / "conf"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

import graph_modules as gm  # noqa: E402


@pytest.fixture(autouse=True)
def example_modules_allowed():
    """The example module is the user's own code: allowed, as a user would; modules of the
    tests before are freed first (a config names its modules: taylornet0 ...)."""
    gc.collect()
    with allow_targets("graph_modules"):
        yield


def shipped_model_config(**changes) -> dict:
    cfg = yaml.safe_load((CONF / "taylor_sine.yaml").read_text())["model"]
    cfg.update(changes)
    return cfg


def names() -> tuple[list[str], list[str]]:
    return list(AppState().modules), list(AppState().graphs)


def sine_batch(n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.linspace(-2, 2, n).unsqueeze(1)
    return x, torch.sin(x)


def training_graph(name: str = "sine_training"):
    """A training graph over fresh example modules (data layer, TaylorNet, loss)."""
    dl, tn, mse = gm.SineDataLayer(n=64, batch_size=16), gm.TaylorNet(dim=4), gm.MSELoss()
    with NeuralGraph(operation_mode=OperationMode.training, name=name) as g:
        x, y = dl()
        loss = mse(predictions=tn(x=x), target=y)
    g.outputs["loss"] = loss
    return g, tn


# -- building from a config -----------------------------------------------------------------
def test_a_config_names_graph_model_and_builds_its_graph():
    entry = registry("models").find_by_target(GraphModel)
    assert entry is not None and entry.name == "GraphModel" and entry.provider.builtin
    model = ModelPT.from_config_dict(shipped_model_config())
    assert type(model) is GraphModel
    graph = model.graph
    assert graph.name == "taylor_sine" and graph.operation_mode is OperationMode.both
    assert list(graph.graph_modules) == ["sinedatalayer0", "taylornet0", "mseloss0"]
    assert type(graph["taylornet0"]) is gm.TaylorNet and graph["taylornet0"].dim == 4
    # the graph is a child: its modules' weights are the model's, prefixed by module name
    assert set(model.state_dict()) == {"graph.taylornet0.fc.weight", "graph.taylornet0.fc.bias"}
    assert list(model.output_ports) == ["y_pred", "loss"]
    x, y = sine_batch()
    out = model((x, y))  # a data-layer graph takes the batch itself
    expected = torch.nn.functional.mse_loss(graph["taylornet0"](x=x), y)
    assert torch.allclose(out.loss, expected)
    assert torch.equal(model.training_step((x, y)), out.loss)


def test_a_config_without_a_graph_or_with_a_refused_module_is_a_clear_error():
    cfg = shipped_model_config()
    del cfg["graph"]
    with pytest.raises(ConfigError, match=r"model\.graph is missing"):
        GraphModel(cfg)
    before = names()
    cfg = shipped_model_config()
    cfg["graph"]["modules"]["mseloss0"]["_target_"] = "os.system"
    with pytest.raises(GraphConfigError, match=r"model\.graph: modules\.mseloss0\._target_"):
        GraphModel(cfg)
    assert names() == before  # nothing half-built keeps a name


# -- training ----------------------------------------------------------------------------------
def test_lightning_trains_the_data_layers_dataset_and_logs_val_loss():
    model = GraphModel(shipped_model_config())
    trainer = quiet_trainer(max_steps=16, limit_val_batches=1)
    model.trainer = trainer
    model.setup_validation_data(model.cfg.validation_ds)
    loader = model.train_dataloader()  # no train_ds: the data layer's dataset, batch size
    assert len(loader.dataset) == 256 and loader.batch_size == 32
    weights = model.graph["taylornet0"].fc.weight.detach().clone()
    before = trainer.validate(model, verbose=False)[0]["val_loss"]
    trainer.fit(model)
    assert trainer.global_step == 16
    assert torch.isfinite(trainer.callback_metrics["train_loss"])
    after = trainer.validate(model, verbose=False)[0]["val_loss"]
    assert not torch.equal(weights, model.graph["taylornet0"].fc.weight)
    assert after < before / 2, (before, after)


def test_batches_map_to_graph_inputs_by_name_or_by_order():
    tn, mse = gm.TaylorNet(dim=3), gm.MSELoss()
    with NeuralGraph(operation_mode=OperationMode.training) as g:
        loss = mse(predictions=tn(x=g), target=g)  # graph inputs x, target (in that order)
    g.outputs["loss"] = loss
    model = GraphModel.from_graph(g, {"optim": {"name": "sgd", "lr": 0.1}})
    x, y = sine_batch()
    expected = torch.nn.functional.mse_loss(tn(x=x), y)
    assert torch.allclose(model.training_step({"x": x, "target": y}), expected)
    assert torch.allclose(model.training_step((x, y)), expected)
    assert torch.allclose(model(x=x, target=y), expected)
    with pytest.raises(GraphError, match="has no input 'y'"):
        model.training_step({"x": x, "y": y})


def test_a_graph_without_a_loss_is_not_trainable():
    dl, tn = gm.SineDataLayer(n=32, batch_size=8), gm.TaylorNet(dim=2)
    with NeuralGraph(operation_mode=OperationMode.training, name="no_loss") as g:
        x, _ = dl()
        tn(x=x)
    model = GraphModel.from_graph(g, {"optim": {"name": "adam", "lr": 0.01}})
    pattern = r"graph 'no_loss' has no loss \(LossType\) output, so it cannot train"
    with pytest.raises(GraphError, match=pattern):
        model.training_step(sine_batch())
    with pytest.raises(GraphError, match=pattern):
        quiet_trainer(max_steps=1).fit(model)  # refused before any step
    with NeuralGraph(operation_mode=OperationMode.evaluation, name="eval_only") as ev:
        mse = gm.MSELoss()(predictions=tn(x=ev), target=ev)
    ev.outputs["loss"] = mse
    with pytest.raises(GraphError, match="'eval_only' is an evaluation graph, so it is not"):
        GraphModel.from_graph(ev).training_step(sine_batch())


def test_from_graph_shares_the_modules_and_refuses_a_second_graph_section():
    g, tn = training_graph("shared_graph")
    model = GraphModel.from_graph(g, {"optim": {"name": "adam", "lr": 0.01}})
    assert model.graph is g and model.cfg.optim.lr == 0.01
    assert model.cfg.graph.header.name == "shared_graph"
    assert {id(p) for p in model.parameters()} == {id(p) for p in tn.parameters()}
    with pytest.raises(ConfigError, match="cfg_extra has a 'graph' section"):
        GraphModel.from_graph(g, {"graph": {}})
    with pytest.raises(GraphError, match="expected a NeuralGraph, got TaylorNet"):
        GraphModel.from_graph(tn)


# -- ganglion train -----------------------------------------------------------------------------
def test_ganglion_train_trains_the_shipped_config_and_its_archive_restores(
    tmp_path, monkeypatch, capsys
):
    # the documented way: the environment allows the example module (a fresh context: not
    # the fixture's allowance)
    monkeypatch.setenv(ENV_ALLOW_TARGETS, "graph_modules")
    argv = ["--config-path", str(CONF), "--config-name", "taylor_sine",
            f"exp_manager.exp_dir={tmp_path}", "exp_manager.version=v1", "trainer.max_epochs=2",
            "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]  # fmt: skip
    status = contextvars.Context().run(run_argv, argv)
    assert status == 0, capsys.readouterr().err
    run = tmp_path / "taylor_sine" / "v1"
    archive = run / "checkpoints" / "taylor_sine.ganglion"
    assert archive.is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    assert "val_loss" in (run / "csv" / "metrics.csv").read_text()
    gc.collect()  # the trained model is gone: its module names are free
    graph = NeuralGraph.restore_archive(archive)
    assert graph.name == "taylor_sine" and list(graph.graph_modules)[1] == "taylornet0"
    out = graph(sine_batch())
    assert 0 < float(out.loss.detach()) < 0.05  # two epochs fit the sine to a few percent


def test_ganglion_train_resumes_a_graph_run(tmp_path):
    overrides = [f"exp_manager.exp_dir={tmp_path}", "exp_manager.version=v1",
                 "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]  # fmt: skip
    once = compose_config(
        "taylor_sine", [*overrides, "trainer.max_epochs=1"], config_path=str(CONF)
    )
    first = train(once)
    assert first.trainer.global_step == 8  # 256 examples in batches of 32
    del first
    gc.collect()
    resumed = compose_config(
        "taylor_sine",
        [*overrides, "trainer.max_epochs=2", "exp_manager.resume_if_exists=true"],
        config_path=str(CONF),
    )
    second = train(resumed)
    assert second.trainer.global_step == 16  # continued from step 8, not from 0


# -- archives ----------------------------------------------------------------------------------
def test_save_archive_and_restore_archive_round_trip(tmp_path):
    g, tn = training_graph("sine_round_trip")
    model = GraphModel.from_graph(g, {"optim": {"name": "adam", "lr": 0.05}})
    quiet_trainer(max_steps=3).fit(model)
    batch = sine_batch()
    expected = g(batch).detach()
    serialised = g.serialize()
    path = g.save_archive(tmp_path / "sine.ganglion")

    # the original modules still exist: refused, naming the module, and nothing half-built
    before = names()
    with pytest.raises(GraphConfigError, match=r"sine\.ganglion: model\.graph: a module named"):
        NeuralGraph.restore_archive(path)
    assert names() == before
    # ... or reused: the same module objects, given the archive's weights
    with torch.no_grad():
        tn.fc.weight.zero_()
    reused = NeuralGraph.restore_archive(path, reuse_existing_modules=True, name="reused")
    assert reused.name == "reused" and reused["taylornet0"] is tn
    assert torch.equal(reused(batch), expected) and tn.fc.weight.abs().sum() > 0

    # a fresh process's view: the originals gone, everything comes from the archive
    del g, tn, model, reused
    gc.collect()
    restored = NeuralGraph.restore_archive(path)
    assert restored.name == "sine_round_trip"  # the stored name, free again
    assert type(restored["taylornet0"]) is gm.TaylorNet
    assert torch.equal(restored(batch), expected)
    assert restored.serialize() == serialised
    restored.backward()  # a working training graph: gradients reach the restored weights
    assert restored["taylornet0"].fc.weight.grad is not None


def test_restore_refuses_an_archive_whose_graph_names_a_refused_target(tmp_path):
    g, _ = training_graph("sine_refused")
    path = g.save_archive(tmp_path / "sine.ganglion")
    config = members(path)[CONFIG_NAME].decode()
    assert "graph_modules.TaylorNet" in config
    edited = with_members(
        path,
        tmp_path / "edited.ganglion",
        {CONFIG_NAME: config.replace("graph_modules.TaylorNet", "os.system").encode()},
    )
    before = names()
    with pytest.raises(UnsafeArchiveError, match=r"graph\.modules\.taylornet0\._target_: 'os\.s"):
        NeuralGraph.restore_archive(edited, reuse_existing_modules=True)
    assert names() == before
    # the genuine archive, in a context without the allowance: the example class is refused
    del g
    gc.collect()
    before = names()
    with pytest.raises(UnsafeArchiveError, match=r"'graph_modules\.SineDataLayer' is neither"):
        contextvars.Context().run(NeuralGraph.restore_archive, path)
    assert names() == before
