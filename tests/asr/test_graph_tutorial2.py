"""Tutorial 2 (examples/graphs/tutorial2_quartznet.py) in its fast form, and the ASR modules
as graph nodes: ports that wire, types checked at wiring time, YAML round trip, checkpoint,
frozen encoder with a fine-tuned decoder, AppState listings."""

from __future__ import annotations

import gc
import importlib.util
import inspect
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from ganglion.graph import AppState, GraphWiringError, NeuralGraph
from ganglion.module import NeuralModule
from ganglion.targets import allow_targets
from ganglion.types import NeuralType
from ganglion_asr.losses import CTCLoss
from ganglion_asr.modules import (
    AudioToMelSpectrogramPreprocessor,
    ConvASRDecoder,
    ConvASREncoder,
    SpectrogramAugmentation,
)
from ganglion_asr.types import AcousticEncodedRepresentation

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "graphs" / "tutorial2_quartznet.py"
HERE = Path(__file__).name


def _load_example():
    spec = importlib.util.spec_from_file_location("tutorial2_quartznet", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _own_classes_allowed():
    with allow_targets(__name__):
        yield


@pytest.fixture(scope="module")
def tutorial():
    return _load_example()


@pytest.fixture(scope="module")
def run(tutorial, tmp_path_factory):
    """The fast form, run once for this file's tests (its modules hold explicit names)."""
    started = time.perf_counter()
    results = tutorial.main(["--fast", "--workdir", str(tmp_path_factory.mktemp("tutorial2"))])
    results["wall"] = time.perf_counter() - started
    yield results
    results.clear()
    gc.collect()  # frees the names 'encoder', 'quartznet', ... for other tests


def _eval_inputs(tutorial, seed=7):
    batch = tutorial.make_batch(6, torch.Generator().manual_seed(seed))
    return {"input_signal": batch["audio"], "length": batch["audio_length"]}


# -- the modules' ports line up with their forward parameters ------------------------------
@pytest.mark.parametrize(
    "module",
    [
        pytest.param(lambda: AudioToMelSpectrogramPreprocessor(features=16), id="preprocessor"),
        pytest.param(lambda: SpectrogramAugmentation(), id="spec_augment"),
        pytest.param(
            lambda: ConvASREncoder(feat_in=16, jasper=[{"filters": 8, "kernel": [3]}]),
            id="encoder",
        ),
        pytest.param(lambda: ConvASRDecoder(feat_in=8, num_classes=3), id="decoder"),
        pytest.param(lambda: CTCLoss(num_classes=3), id="ctc_loss"),
    ],
)
def test_each_asr_module_takes_its_input_ports_as_keyword_arguments(module):
    m = module()
    params = [p for p in inspect.signature(m.forward).parameters if p != "self"]
    assert params == list(m.input_ports)  # a graph passes values by port name
    assert m.output_ports  # a graph knows what it returns


# -- the tutorial's fast form ------------------------------------------------------------
def test_fast_form_runs_quickly_and_trains(run):
    assert run["wall"] < 20
    losses = run["losses"] + run["finetune_losses"]
    assert len(run["losses"]) == 4 and len(run["finetune_losses"]) == 3
    assert all(torch.isfinite(torch.tensor(losses)))
    training = run["graphs"]["training"]
    assert training.is_trainable and list(training.inputs) == [
        "audio",
        "audio_length",
        "transcript",
        "transcript_length",
    ]
    assert list(training.output_ports) == ["loss"]


def test_graphs_share_the_modules_and_mel_feeds_the_spectrogram_port(run):
    g = run["graphs"]
    modules = run["modules"]
    for graph in (g["model"], g["training"], g["evaluation"]):
        for name in ("preprocessor", "encoder", "decoder"):
            assert graph[name] is modules[name]
    assert list(g["model"].output_ports) == ["log_probs", "encoded_lengths"]
    assert list(g["evaluation"].output_ports) == ["log_probs", "encoded_lengths"]
    # MelSpectrogramType (GREATER than SpectrogramType asked for) was accepted
    connections = g["model"].serialize()["connections"]
    assert (
        "0.preprocessor.processed_signal->1.encoder.audio_signal | B,D,T:MelSpectrogramType"
        in connections
    )


def test_yaml_round_trip_gives_the_same_serialization(run):
    assert run["yaml_round_trip_equal"]
    model, imported = run["graphs"]["model"], run["imported"]
    original, again = model.serialize(), imported.serialize()
    assert again["header"]["name"] == "quartznet_imported"
    assert original["header"]["name"] == "quartznet"
    del original["header"]["name"], again["header"]["name"]
    assert again == original
    # the file itself: plain YAML naming the plugin's classes
    data = yaml.safe_load((run["workdir"] / "quartznet.yaml").read_text())
    assert data["modules"]["encoder"]["_target_"].endswith("ConvASREncoder")
    assert data["modules"]["decoder"]["vocabulary"] == ["a", "b", "c", "d", "e", "f"]
    # reuse_existing_modules wires the live modules (same weights); without it: refused
    assert run["imported_shares_modules"] and run["imported_outputs_equal"]
    assert "a module named 'preprocessor' already exists" in run["import_refused"]
    assert "reuse_existing_modules=True" in run["import_refused"]


def test_restored_checkpoint_gives_identical_outputs(run, tutorial, tmp_path):
    assert run["spoiled_outputs_differ"] and run["restored_outputs_equal"]
    model, evaluation = run["graphs"]["model"], run["graphs"]["evaluation"]
    inputs = _eval_inputs(tutorial)
    before = evaluation(**inputs)
    path = model.save_to(tmp_path / "dec.safetensors", module_names=["decoder"])
    encoder_state = tutorial.state_of(model["encoder"])
    with torch.no_grad():
        model["decoder"].decoder_layers[0].weight.mul_(-1.0)
    assert not torch.equal(evaluation(**inputs).log_probs, before.log_probs)
    model.restore_from(path, module_names=["decoder"])
    after = evaluation(**inputs)
    assert torch.equal(after.log_probs, before.log_probs)
    assert torch.equal(after.encoded_lengths, before.encoded_lengths)
    assert tutorial.max_change(encoder_state, model["encoder"]) == 0.0


def test_frozen_encoder_keeps_its_weights_while_the_decoder_learns(run, tutorial):
    assert run["encoder_change"] == 0.0  # parameters and batch-norm statistics
    assert run["decoder_change"] > 0.0
    modules, training = run["modules"], run["graphs"]["training"]
    assert not any(p.requires_grad for p in modules["encoder"].parameters())
    assert all(p.requires_grad for p in modules["decoder"].parameters())
    assert "encoder (ConvASREncoder) [FROZEN]" in training.summary()
    assert "decoder (ConvASRDecoder) [FROZEN]" not in training.summary()
    # one more fine-tuning step, checked here: the encoder's state does not move
    encoder_state = tutorial.state_of(modules["encoder"])
    decoder_state = tutorial.state_of(modules["decoder"])
    tutorial.train(training, 1, 1e-2, 4, torch.Generator().manual_seed(3))
    assert tutorial.max_change(encoder_state, modules["encoder"]) == 0.0
    assert tutorial.max_change(decoder_state, modules["decoder"]) > 0.0


def test_app_state_lists_the_modules_and_graphs(run):
    modules, graphs = AppState().modules, AppState().graphs
    for name in ("preprocessor", "encoder", "decoder", "ctc_loss"):
        assert modules[name] is run["modules"][name]
    for name in ("quartznet", "asr_training", "asr_evaluation", "quartznet_imported"):
        assert name in graphs
    text = graphs.summary()
    assert "asr_training: NeuralGraph, training mode, 4 module(s), 4 step(s)" in text
    assert "encoder: ConvASREncoder" in modules.summary()


# -- a wiring mistake ----------------------------------------------------------------------
class TimeMajorHead(NeuralModule):
    """Wants the encoding time-major: [B, T, D] (the encoder gives [B, D, T])."""

    @property
    def input_types(self):
        return {"encoder_output": NeuralType(("B", "T", "D"), AcousticEncodedRepresentation())}

    @property
    def output_types(self):
        return {"encoder_output": NeuralType(("B", "T", "D"), AcousticEncodedRepresentation())}

    def forward(self, encoder_output):
        return encoder_output


def _front_end():
    pre = AudioToMelSpectrogramPreprocessor(features=16)
    enc = ConvASREncoder(feat_in=16, jasper=[{"filters": 8, "kernel": [3]}])
    return pre, enc


def test_encoder_output_into_a_time_major_port_is_refused_at_the_wiring_line():
    pre, enc = _front_end()
    head = TimeMajorHead()
    with NeuralGraph() as g:
        features, lengths = pre(input_signal=g, length=g)
        encoded, _ = enc(audio_signal=features, length=lengths)
        line = inspect.currentframe().f_lineno + 2
        with pytest.raises(GraphWiringError) as info:
            head(encoder_output=encoded)
    message = str(info.value)
    assert f"{HERE}:{line}:" in message.split(" ")[0]
    assert (
        f"{enc.name} (ConvASREncoder) output 'outputs' (B,D,T:AcousticEncodedRepresentation)"
        in message
    )
    assert (
        f"{head.name} (TimeMajorHead) input 'encoder_output' (B,T,D:AcousticEncodedRepresentation)"
        in message
    )
    assert "TRANSPOSE_SAME" in message and "axis 1: expected Time, got Dimension" in message
    assert "a transpose would" in message
    assert len(g.steps) == 2 and head.name not in g  # nothing half-built


def test_encoder_output_into_the_ctc_loss_is_refused_naming_both_types():
    pre, enc = _front_end()
    ctc = CTCLoss(num_classes=3)
    with NeuralGraph(operation_mode="training") as g:
        features, lengths = pre(input_signal=g, length=g)
        encoded, encoded_lengths = enc(audio_signal=features, length=lengths)
        line = inspect.currentframe().f_lineno + 2
        with pytest.raises(GraphWiringError) as info:
            ctc(log_probs=encoded, targets=g, input_lengths=encoded_lengths, target_lengths=g)
    message = str(info.value)
    assert f"{HERE}:{line}:" in message
    assert f"{enc.name} (ConvASREncoder) output 'outputs'" in message
    assert f"{ctc.name} (CTCLoss) input 'log_probs' (B,T,D:LogprobsType)" in message
    assert "INCOMPATIBLE" in message and "not a kind of LogprobsType" in message
    # the refused call bound none of its graph inputs
    assert list(g.inputs) == ["input_signal", "length"] and len(g.steps) == 2
