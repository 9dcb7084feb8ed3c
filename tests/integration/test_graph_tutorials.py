"""The graph tutorials under ``examples/graphs/`` run in their fast form and do what they say:
graphs built and nested as shown, summaries printed, training lowers the loss, evaluation
graphs run without gradients in eval mode, the measured figures printed."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from ganglion.graph import GraphError, OperationMode

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "graphs"


def load_tutorial(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The tutorial script ``name`` imported as a module (its folder on ``sys.path``, as when
    it runs as a script, for ``graph_modules``)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def printed_number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in the output:\n{text[-2000:]}"
    return float(match.group(1))


# -- tutorial 1: TaylorNet on a sine wave ----------------------------------------------------
def test_tutorial1_builds_nests_and_binds_as_shown_and_training_lowers_the_mse(monkeypatch, capsys):
    tutorial = load_tutorial("tutorial1_taylor_sine", monkeypatch)
    result = tutorial.main(["--fast"])
    printed = capsys.readouterr().out
    model, model_manual = result["graphs"]["model"], result["graphs"]["model_manual"]
    training, evaluation = result["training"], result["evaluation"]

    # automatic binding (`taylor(x=model)`) and default outputs
    assert list(model.input_ports) == ["x"] and list(model.output_ports) == ["y_pred"]
    assert not model.outputs.is_manual
    # manual binding: inputs["i"] = taylor.input_ports["x"], outputs["y"] = t
    assert list(model_manual.input_ports) == ["i"] and list(model_manual.output_ports) == ["y"]
    assert model_manual.outputs.is_manual
    # the nested model's steps are spliced in; the module is shared, not copied
    (taylor,) = model.graph_modules.values()
    assert training[taylor.name] is taylor and evaluation[taylor.name] is taylor
    assert [step.module_name for step in training.steps][1] == taylor.name
    assert training.operation_mode is OperationMode.training
    assert evaluation.operation_mode is OperationMode.evaluation
    assert training.is_complete and training.is_trainable
    assert evaluation.is_complete and not evaluation.is_trainable
    assert list(training.output_ports) == ["x", "y", "y_pred", "loss"]
    assert list(evaluation.output_ports) == ["mse", "target"]

    # the four summaries are printed, with their modules
    for graph in (model, model_manual, training, evaluation):
        assert f"Neural graph '{graph.name}' ({graph.operation_mode} mode)" in printed
    for module in training.graph_modules.values():
        assert f"{module.name} ({type(module).__name__})" in printed
    assert "input.i -> 0." in printed and "y <- 0." in printed  # the manual bindings

    # training lowers the loss and the held-out MSE, and the final MSE is printed
    losses = result["losses"]
    assert len(losses) == 3 * 2  # 3 epochs of 64 points in batches of 32
    assert sum(losses[-2:]) < sum(losses[:2])
    assert result["final_mse"] < 0.5 * result["initial_mse"]
    printed_after = printed_number(
        r"evaluation MSE: [\d.]+ before training, ([\d.]+) after", printed
    )
    assert printed_after == pytest.approx(result["final_mse"], abs=1e-6)


def test_tutorial1_evaluation_graph_runs_without_gradients_and_has_no_backward(monkeypatch, capsys):
    tutorial = load_tutorial("tutorial1_taylor_sine", monkeypatch)
    result = tutorial.main(["--fast", "--epochs", "1"])
    capsys.readouterr()
    training, evaluation = result["training"], result["evaluation"]
    batch = next(iter(evaluation.get_batch()))
    out = evaluation(batch)
    assert out.mse.ndim == 0 and not out.mse.requires_grad
    with pytest.raises(GraphError, match="evaluation graph"):
        evaluation.backward()
    trained = training(next(iter(training.get_batch())))
    assert trained.loss.requires_grad  # the training graph does build gradients
    # the graph of mode both is an ordinary module: same weights as the trained graphs
    x = torch.tensor([[0.25]])
    assert torch.equal(result["graphs"]["model"](x=x), result["graphs"]["model_manual"](i=x))


def test_tutorial1_runs_as_a_script_and_prints_the_final_mse():
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "tutorial1_taylor_sine.py"), "--fast"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    before = printed_number(r"evaluation MSE: ([\d.]+) before", run.stdout)
    after = printed_number(r"before training, ([\d.]+) after", run.stdout)
    assert after < before


# -- tutorial 3: ResNet-style digits classifier ----------------------------------------------
@pytest.fixture
def digits_tutorial(monkeypatch) -> ModuleType:
    pytest.importorskip("sklearn", reason="tutorial 3 needs scikit-learn (the examples extra)")
    return load_tutorial("tutorial3_digits_resnet", monkeypatch)


def test_tutorial3_trains_on_one_split_and_prints_held_out_accuracy(digits_tutorial, capsys):
    result = digits_tutorial.main(["--fast"])
    printed = capsys.readouterr().out
    training, evaluation = result["training"], result["evaluation"]

    # separate graphs over the same backbone and head; the loss only in training
    shared = set(training.graph_modules) & set(evaluation.graph_modules)
    kinds = {type(training[name]).__name__ for name in shared}
    assert kinds == {"ResNetBackbone", "ClassifierHead"}
    assert all(training[name] is evaluation[name] for name in shared)
    assert training.is_trainable and not evaluation.is_trainable
    assert type(training.data_layer) is type(evaluation.data_layer)
    assert training.data_layer is not evaluation.data_layer  # train vs held-out split
    for graph in (training, evaluation):
        assert f"Neural graph '{graph.name}' ({graph.operation_mode} mode)" in printed
        for module in graph.graph_modules.values():
            assert f"{module.name} ({type(module).__name__})" in printed

    # the training loss goes down; accuracy is a fraction over the whole held-out split
    losses = result["epoch_losses"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert 0.0 <= result["accuracy"] <= 1.0
    assert result["held_out"] == 360 and result["trained_on"] == 256  # 20 % of 1797 held out
    accuracy = printed_number(r"held-out accuracy: ([\d.]+) % of 360 digits", printed)
    assert accuracy == pytest.approx(100 * result["accuracy"], abs=0.01)


def test_tutorial3_evaluation_runs_in_eval_mode_without_gradients(digits_tutorial, capsys):
    result = digits_tutorial.main(["--fast", "--epochs", "1"])
    capsys.readouterr()
    training, evaluation = result["training"], result["evaluation"]
    backbone = next(m for m in evaluation.graph_modules.values() if hasattr(m, "blocks"))
    norm = backbone.stem[1]
    before = norm.running_mean.clone()
    out = evaluation(next(iter(evaluation.get_batch())))
    assert not out.logits.requires_grad
    assert out.logits.shape == (len(out.label), 10)
    assert not backbone.training
    assert torch.equal(norm.running_mean, before)  # eval mode: BatchNorm statistics kept
    # the training graph puts the same modules back in train mode, with gradients
    loss = training(next(iter(training.get_batch())))
    assert backbone.training and loss.requires_grad
    assert not torch.equal(norm.running_mean, before)
    assert {p.device.type for p in training.parameters()} == {"cpu"}
