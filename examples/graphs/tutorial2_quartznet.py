"""Tutorial 2: the QuartzNet pipeline of ganglion-asr as neural graphs.

The ASR plugin's registered modules — ``AudioToMelSpectrogramPreprocessor`` (waveform ->
log-mel), ``ConvASREncoder`` (QuartzNet blocks), ``ConvASRDecoder`` (CTC head) and the
``CTCLoss`` — are built from a tiny config and wired into graphs:

* ``quartznet`` (mode both): preprocessor -> encoder -> decoder, inputs ``input_signal`` and
  ``length``, outputs ``log_probs`` and ``encoded_lengths``;
* ``asr_training`` (training): inputs ``audio``, ``audio_length``, ``transcript``,
  ``transcript_length`` bound by hand, the model graph nested in, the CTC loss as its output;
* ``asr_evaluation`` (evaluation): the model graph nested in, run in eval mode without
  gradients.

Every connection is type-checked when it is made (a mel spectrogram may feed a port asking
for any spectrogram; the encoder's [B, D, T] output may not feed a [B, T, D] port). The
tutorial then exports the model graph to YAML and imports it back (reusing the live modules),
saves and restores a checkpoint of chosen modules, freezes the encoder and fine-tunes the
decoder, and lists every module and graph with ``AppState()``.

The audio is synthetic, made here: each label of the vocabulary is a tone of its own pitch,
and an utterance is a few tones in a row (its transcript the labels). Run it::

    python examples/graphs/tutorial2_quartznet.py          # trains until it transcribes
    python examples/graphs/tutorial2_quartznet.py --fast   # a few steps (the tested form)
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import yaml

from ganglion.graph import AppState, GraphError, NeuralGraph, OperationMode
from ganglion.module import NeuralModule
from ganglion_asr.decoding import ctc_greedy_ids

SAMPLE_RATE = 16000
#: one label per tone; the tones' pitches in Hz (far apart on the mel scale)
LABELS = ["a", "b", "c", "d", "e", "f"]
PITCHES = [300.0, 500.0, 800.0, 1250.0, 1900.0, 2900.0]
TONE_SECONDS = 0.12
GAP_SECONDS = 0.04

#: A tiny QuartzNet: the registered module names as ``_target_`` (the plugin registers them).
CONFIG = f"""
preprocessor:
  _target_: AudioToMelSpectrogramPreprocessor
  sample_rate: {SAMPLE_RATE}
  features: 32
  dither: 0.0
encoder:
  _target_: ConvASREncoder
  feat_in: 32
  jasper:
    - {{filters: 32, kernel: [11], stride: [2], separable: true}}
    - {{filters: 32, repeat: 2, kernel: [21], residual: true, separable: true}}
    - {{filters: 48, kernel: [1]}}
decoder:
  _target_: ConvASRDecoder
  feat_in: 48
  vocabulary: {LABELS}
ctc_loss:
  _target_: CTCLoss
  num_classes: {len(LABELS)}
"""


# -- synthetic audio --------------------------------------------------------------------
def make_batch(
    size: int, generator: torch.Generator, noise: float = 0.02, max_labels: int = 3
) -> dict[str, torch.Tensor]:
    """``size`` utterances of 1..``max_labels`` tones: padded audio [B, T] and its lengths,
    padded transcripts [B, U] (label ids) and their lengths."""
    tone = int(TONE_SECONDS * SAMPLE_RATE)
    gap = int(GAP_SECONDS * SAMPLE_RATE)
    t = torch.arange(tone) / SAMPLE_RATE
    envelope = torch.sin(math.pi * torch.arange(tone) / tone)  # no clicks at the edges
    waves, transcripts = [], []
    for _ in range(size):
        count = int(torch.randint(1, max_labels + 1, (), generator=generator))
        ids = torch.randint(0, len(LABELS), (count,), generator=generator)
        pieces = [torch.zeros(gap)]
        for i in ids.tolist():
            phase = float(torch.rand((), generator=generator)) * 2 * math.pi
            pieces += [0.5 * envelope * torch.sin(2 * math.pi * PITCHES[i] * t + phase)]
            pieces += [torch.zeros(gap)]
        wave = torch.cat(pieces)
        waves.append(wave + noise * torch.randn(wave.shape, generator=generator))
        transcripts.append(ids)
    audio_length = torch.tensor([len(w) for w in waves])
    transcript_length = torch.tensor([len(ids) for ids in transcripts])
    audio = torch.zeros(size, int(audio_length.max()))
    transcript = torch.zeros(size, int(transcript_length.max()), dtype=torch.long)
    for row, (wave, ids) in enumerate(zip(waves, transcripts)):
        audio[row, : len(wave)] = wave
        transcript[row, : len(ids)] = ids
    return {
        "audio": audio,
        "audio_length": audio_length,
        "transcript": transcript,
        "transcript_length": transcript_length,
    }


# -- the modules and the graphs ---------------------------------------------------------
def build_modules(config: str = CONFIG) -> dict[str, NeuralModule]:
    """The four modules of the config, each named after its key (``encoder``, ...)."""
    modules = {}
    for key, module_config in yaml.safe_load(config).items():
        module = NeuralModule.from_config_dict(module_config, where=key)
        module.name = key  # explicit names: a duplicate would be refused
        modules[key] = module
    return modules


def build_graphs(m: dict[str, NeuralModule]) -> dict[str, NeuralGraph]:
    """The model graph, nested into a training and an evaluation graph."""
    preprocessor, encoder, decoder, ctc_loss = (
        m["preprocessor"],
        m["encoder"],
        m["decoder"],
        m["ctc_loss"],
    )
    with NeuralGraph(operation_mode=OperationMode.both, name="quartznet") as model:
        # `port=model` binds a graph input of the port's name and type
        features, feature_length = preprocessor(input_signal=model, length=model)
        encoded, encoded_length = encoder(audio_signal=features, length=feature_length)
        model.outputs["log_probs"] = decoder(encoder_output=encoded)
        model.outputs["encoded_lengths"] = encoded_length

    with NeuralGraph(operation_mode=OperationMode.training, name="asr_training") as training:
        # inputs bound by hand: a graph input takes the type of the port it names
        training.inputs["audio"] = preprocessor.input_ports["input_signal"]
        training.inputs["audio_length"] = preprocessor.input_ports["length"]
        training.inputs["transcript"] = ctc_loss.input_ports["targets"]
        training.inputs["transcript_length"] = ctc_loss.input_ports["target_lengths"]
        out = model(input_signal=training.inputs["audio"], length=training.inputs["audio_length"])
        training.outputs["loss"] = ctc_loss(
            log_probs=out.log_probs,
            targets=training.inputs["transcript"],
            input_lengths=out.encoded_lengths,
            target_lengths=training.inputs["transcript_length"],
        )

    with NeuralGraph(operation_mode=OperationMode.evaluation, name="asr_evaluation") as evaluation:
        model(input_signal=evaluation, length=evaluation)  # its outputs become the defaults
    return {"model": model, "training": training, "evaluation": evaluation}


# -- training and measuring -------------------------------------------------------------
def train(
    training: NeuralGraph,
    steps: int,
    lr: float,
    batch_size: int,
    generator: torch.Generator,
    noise: float = 0.02,
) -> list[float]:
    """``steps`` optimiser steps of the training graph on fresh synthetic batches; the
    losses. Only parameters that require gradients are optimised (frozen ones are not)."""
    params = [p for p in training.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    losses = []
    for _ in range(steps):
        batch = make_batch(batch_size, generator, noise=noise)
        loss = training(**batch)  # one output bound: the loss itself
        optimizer.zero_grad(set_to_none=True)
        training.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def label_accuracy(evaluation: NeuralGraph, batch: dict[str, torch.Tensor]) -> float:
    """Fraction of utterances whose greedy CTC transcription is exactly right."""
    out = evaluation(input_signal=batch["audio"], length=batch["audio_length"])
    blank = len(LABELS)
    hypotheses = ctc_greedy_ids(out.log_probs, out.encoded_lengths, blank)
    references = [
        row[:n] for row, n in zip(batch["transcript"].tolist(), batch["transcript_length"])
    ]
    return sum(h == r for h, r in zip(hypotheses, references)) / len(references)


def state_of(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of a module's state (parameters and buffers such as batch-norm statistics)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def max_change(before: dict[str, torch.Tensor], module: torch.nn.Module) -> float:
    """The largest absolute change of any state entry since ``before``."""
    after = module.state_dict()
    return max(float((after[k].float() - v.float()).abs().max()) for k, v in before.items())


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="a few steps (the tested form)")
    parser.add_argument("--steps", type=int, default=None, help="default: 4 fast, 300 full")
    parser.add_argument("--finetune-steps", type=int, default=None, help="default: 3 / 60")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 8 fast, 16 full")
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp folder")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Build, train, round-trip, checkpoint, fine-tune; prints what it measured and returns
    it (with the graphs and modules)."""
    args = parse_args(argv)
    steps = args.steps if args.steps is not None else (4 if args.fast else 300)
    finetune_steps = (
        args.finetune_steps if args.finetune_steps is not None else (3 if args.fast else 60)
    )
    batch_size = args.batch_size if args.batch_size is not None else (8 if args.fast else 16)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tutorial2_"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results: dict[str, Any] = {}

    # 1. modules from the config, graphs over them (each wire type-checked as it is made)
    modules = build_modules()
    graphs = build_graphs(modules)
    model, training, evaluation = graphs["model"], graphs["training"], graphs["evaluation"]
    print(model.summary())
    print(training.summary())
    print(evaluation.summary())
    print(f"training: trainable={training.is_trainable}; inputs: {', '.join(training.inputs)}")

    # 2. train every module on synthetic tones
    held_out = make_batch(64, torch.Generator().manual_seed(args.seed + 1))
    losses = train(training, steps, args.lr, batch_size, generator)
    results["losses"] = losses
    results["accuracy"] = label_accuracy(evaluation, held_out)
    print(
        f"trained {steps} steps: CTC loss {losses[0]:.3f} -> {losses[-1]:.3f}; held-out "
        f"utterances transcribed exactly: {100 * results['accuracy']:.1f} % of {64}"
    )

    # 3. the model graph to YAML and back
    config_file = model.export_to_config(workdir / "quartznet.yaml")
    try:  # the modules named in the file are alive: importing without reuse is refused
        NeuralGraph.import_from_config(config_file)
    except GraphError as exc:
        results["import_refused"] = str(exc)
        print(f"import without reuse_existing_modules refused: {exc}")
    imported = NeuralGraph.import_from_config(
        config_file, reuse_existing_modules=True, name="quartznet_imported"
    )
    original, again = model.serialize(), imported.serialize()
    same = {**again, "header": {**again["header"], "name": original["header"]["name"]}}
    results["yaml_round_trip_equal"] = same == original
    results["imported_shares_modules"] = all(
        imported[name] is module for name, module in model.graph_modules.items()
    )
    imported.eval()
    with torch.no_grad():
        reference = evaluation(input_signal=held_out["audio"], length=held_out["audio_length"])
        replayed = imported(input_signal=held_out["audio"], length=held_out["audio_length"])
    results["imported_outputs_equal"] = torch.equal(reference.log_probs, replayed.log_probs)
    print(
        f"YAML round trip ({config_file.name}, {config_file.stat().st_size} bytes): "
        f"serialize() equal: {results['yaml_round_trip_equal']}; same modules: "
        f"{results['imported_shares_modules']}; same outputs: {results['imported_outputs_equal']}"
    )

    # 4. a checkpoint of the encoder and decoder: saved, weights spoiled, restored
    checkpoint = model.save_to(workdir / "quartznet.safetensors", ["encoder", "decoder"])
    with torch.no_grad():
        for name in ("encoder", "decoder"):
            for param in model[name].parameters():
                param.add_(torch.randn_like(param))
        spoiled = evaluation(input_signal=held_out["audio"], length=held_out["audio_length"])
    model.restore_from(checkpoint, module_names=["encoder", "decoder"])
    restored = evaluation(input_signal=held_out["audio"], length=held_out["audio_length"])
    results["spoiled_outputs_differ"] = not torch.equal(spoiled.log_probs, reference.log_probs)
    results["restored_outputs_equal"] = torch.equal(restored.log_probs, reference.log_probs)
    print(
        f"checkpoint {checkpoint.name} ({checkpoint.stat().st_size} bytes, encoder + decoder): "
        f"spoiled outputs differ: {results['spoiled_outputs_differ']}; restored outputs "
        f"identical: {results['restored_outputs_equal']}"
    )

    # 5. freeze the encoder, fine-tune the decoder (on noisier audio)
    training.freeze(["encoder"])
    encoder_before, decoder_before = state_of(model["encoder"]), state_of(model["decoder"])
    finetune_losses = train(training, finetune_steps, args.lr, batch_size, generator, noise=0.1)
    results["finetune_losses"] = finetune_losses
    results["encoder_change"] = max_change(encoder_before, model["encoder"])
    results["decoder_change"] = max_change(decoder_before, model["decoder"])
    results["finetuned_accuracy"] = label_accuracy(evaluation, held_out)
    print(training.summary().split("* Steps")[0].rstrip())  # the modules, [FROZEN] marked
    print(
        f"fine-tuned the decoder {finetune_steps} steps (encoder frozen): CTC loss "
        f"{finetune_losses[0]:.3f} -> {finetune_losses[-1]:.3f}; largest change of the "
        f"encoder's state {results['encoder_change']:.3g}, of the decoder's "
        f"{results['decoder_change']:.3g}; held-out exact: "
        f"{100 * results['finetuned_accuracy']:.1f} %"
    )

    # 6. what is alive: every module and graph by name
    print(AppState().modules.summary())
    print(AppState().graphs.summary())
    results["seconds"] = time.perf_counter() - started
    print(f"done in {results['seconds']:.1f} s; files in {workdir}")
    results.update(graphs=graphs, modules=modules, imported=imported, workdir=workdir)
    return results


if __name__ == "__main__":
    main()
