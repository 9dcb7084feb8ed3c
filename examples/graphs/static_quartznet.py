"""Train ganglion-asr's QuartzNet digit model with a ``StaticGraph`` (OneFlow's ``nn.Graph``).

The model is the quick start's (``quartznet_digits``: preprocessor -> SpecAugment ->
QuartzNet encoder -> CTC decoder, Novograd with a cosine schedule). One training step is
described once, in ``build``; the graph compiles it with ``torch.compile`` on the first call
and runs forward, backward, optimizer and scheduler steps on every later call::

    class DigitTrainGraph(StaticGraph):
        def build(self, input_signal, length, targets, target_lengths):
            feats, feat_len = self.preprocessor(input_signal, length)
            ...
            loss.backward()
            return loss

``build``'s argument names are those of the modules' input ports, so the graph knows from the
neural types which axes are the batch and time axes and compiles them dynamic: utterances of
new lengths do not recompile.

An eager twin (the same weights, the same optimizer) trains on the same batches, its steps
interleaved with the graph's, and the script prints both step times, the compile time, the
recompiles over the run and ``verify()``'s report (eager vs compiled divergence of the loss and
every gradient). The corpus is the quick start's (``data/digits_voices`` by default);
with ``--fast`` and no corpus there, a tiny one is synthesised into a temporary folder
(needs espeak-ng)::

    python examples/graphs/static_quartznet.py                    # 100 steps of batch 32
    python examples/graphs/static_quartznet.py --fast             # a few tiny steps
    python examples/graphs/static_quartznet.py --backend aot_eager

Two settings differ from the shipped config, both for the compiler's sake (and both for the
eager twin too, so the two compute the same function):

* ``preprocessor.pad_to`` is 0: padding the frames to a multiple of 16 puts a modulo of the
  dynamic length into every later shape, which torch's inductor cannot lower where a
  training-mode batch norm uses the frame count (``TensorReferenceAnalysis`` has no
  ``python_mod``);
* depthwise convolutions run direct (``DepthwiseConv1d.fft_min_span`` above every kernel):
  the FFT path sizes its transform with a Python loop over the length, which specialises
  the compiled code to each length (a recompile per new FFT size). ``--fft-depthwise`` keeps
  the FFT path to see that happen.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

import ganglion_asr
from ganglion.graph.static import StaticGraph
from ganglion.module import NeuralModule
from ganglion.optim import build_optimization
from ganglion_asr.losses import CTCLoss

CONFIG = Path(ganglion_asr.__file__).parent / "conf" / "quartznet_digits.yaml"
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "data" / "digits_voices"


class DigitTrainGraph(StaticGraph):
    """One training step of the digit model: features, augmentation, encoder, decoder, CTC."""

    def __init__(
        self, modules: dict[str, torch.nn.Module], optimizer: Any, scheduler: Any, backend: str
    ) -> None:
        super().__init__()
        self.preprocessor = modules["preprocessor"]
        self.spec_augmentation = modules["spec_augment"]
        self.encoder = modules["encoder"]
        self.decoder = modules["decoder"]
        self.loss = modules["loss"]
        self.add_optimizer(optimizer, lr_sch=scheduler)
        self.config.set_backend(backend)

    def build(self, input_signal, length, targets, target_lengths):
        feats, feat_len = self.preprocessor(input_signal, length)
        feats = self.spec_augmentation(feats, feat_len)
        encoded, encoded_len = self.encoder(feats, feat_len)
        log_probs = self.decoder(encoded)
        loss = self.loss(log_probs, targets, encoded_len, target_lengths)
        loss.backward()
        return loss


def build_modules(cfg: Any, *, fft_depthwise: bool) -> dict[str, torch.nn.Module]:
    """The config's modules and the model's CTC loss (as ``EncDecCTCModel`` builds them)."""
    from ganglion_asr.modules.conv_asr import DepthwiseConv1d

    m = cfg.model
    modules = {
        key: NeuralModule.from_config_dict(m[key], where=f"model.{key}")
        for key in ("preprocessor", "spec_augment", "encoder", "decoder")
    }
    modules["loss"] = CTCLoss(num_classes=len(m.labels), zero_infinity=True)
    if not fft_depthwise:
        for module in modules["encoder"].modules():
            if isinstance(module, DepthwiseConv1d):
                module.fft_min_span = 10**9
    return modules


def optimization(modules: dict[str, torch.nn.Module], cfg: Any, steps: int) -> tuple[Any, Any]:
    """``model.optim`` built by ganglion.optim over the modules' parameters; the schedule
    spans ``steps`` (its warmup at most a tenth of them)."""
    optim = OmegaConf.to_container(cfg.model.optim, resolve=True)
    sched = optim.get("sched")
    if sched is not None:
        sched["max_steps"] = steps
        if sched.get("warmup_steps"):
            sched["warmup_steps"] = min(int(sched["warmup_steps"]), max(steps // 10, 0))
    params = torch.nn.ModuleList(modules.values())
    optimizer, sched_dict = build_optimization(params, optim)
    return optimizer, (sched_dict or {}).get("scheduler")


def corpus_manifests(corpus: Path, fast: bool, workdir: Path) -> Path:
    """The corpus folder holding ``train_manifest.json``; with ``fast`` and none there, a
    tiny one synthesised under ``workdir``."""
    if (corpus / "train_manifest.json").is_file():
        return corpus
    if not fast:
        raise SystemExit(
            f"no corpus at {corpus} (train_manifest.json); make it with "
            f"'ganglion-asr synth-digits {corpus} --engines espeak-ng,festival' (the quick "
            "start's corpus), or run with --fast"
        )
    from ganglion_asr.data.synth_digits import DigitCorpusConfig, synthesize_digit_corpus

    tiny = workdir / "digits_tiny"
    config = DigitCorpusConfig(
        num_train=16, num_validation=2, num_test=2, max_digits=3, validation_speakers=0.2
    )
    synthesize_digit_corpus(tiny, config, jobs=1, progress=False, log=lambda _: None)
    return tiny


def batches(cfg: Any, corpus: Path, batch_size: int, count: int, seed: int) -> list[tuple]:
    """``count`` training batches (audio, lengths, transcripts, lengths), the corpus cycled."""
    from ganglion_asr.data.dataset import build_dataloader

    loader = build_dataloader(
        {
            "manifest_filepath": str(corpus / "train_manifest.json"),
            "batch_size": batch_size,
            "shuffle": True,
            "max_duration": cfg.model.train_ds.max_duration,
        },
        labels=list(cfg.model.labels),
        sample_rate=int(cfg.model.sample_rate),
        seed=seed,
    )
    out: list[tuple] = []
    while len(out) < count:
        for batch in loader:
            out.append(tuple(batch))
            if len(out) == count:
                break
    return out


def eager_step(modules: dict[str, torch.nn.Module], optimizer: Any, scheduler: Any, batch):
    """The same step, written out eagerly."""
    signal, signal_len, targets, target_len = batch
    feats, feat_len = modules["preprocessor"](signal, signal_len)
    feats = modules["spec_augment"](feats, feat_len)
    encoded, encoded_len = modules["encoder"](feats, feat_len)
    loss = modules["loss"](modules["decoder"](encoded), targets, encoded_len, target_len)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if scheduler is not None:
        scheduler.step()
    return loss.detach()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="a few tiny steps (the tested form)")
    parser.add_argument("--backend", default="inductor", help="inductor, aot_eager or eager")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 100)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the config's")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--workdir", type=Path, default=None, help="for the --fast corpus")
    parser.add_argument(
        "--fft-depthwise", action="store_true", help="keep the FFT depthwise convolutions"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = args.steps or (4 if args.fast else 100)
    batch_size = args.batch_size or (4 if args.fast else None)

    cfg = OmegaConf.load(CONFIG)
    cfg.model.preprocessor.pad_to = 0
    if args.fast:  # a narrower encoder: the example's machinery, not its accuracy
        for block in cfg.model.encoder.jasper:
            block.repeat = 1
    batch_size = batch_size or int(cfg.model.train_ds.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = corpus_manifests(args.corpus, args.fast, args.workdir or Path(tmp))
        data = batches(cfg, corpus, batch_size, steps + 1, args.seed)

    torch.manual_seed(args.seed)
    modules = build_modules(cfg, fft_depthwise=args.fft_depthwise)
    twin = copy.deepcopy(modules)  # the eager twin: same weights
    optimizer, scheduler = optimization(modules, cfg, steps)
    twin_optimizer, twin_scheduler = optimization(twin, cfg, steps)
    for module in (*modules.values(), *twin.values()):
        module.train()
    graph = DigitTrainGraph(modules, optimizer, scheduler, args.backend)
    print(
        f"{graph.name}: quartznet_digits, {sum(p.numel() for p in graph.parameters()) / 1e6:.2f} "
        f"M parameters, {type(optimizer).__name__} + {type(scheduler).__name__}, backend "
        f"{args.backend}, {torch.get_num_threads()} threads; {steps} steps of batch "
        f"{batch_size} from {corpus}"
    )

    started = time.perf_counter()
    first_loss = graph(*data[0])
    compile_s = time.perf_counter() - started
    eager_step(twin, twin_optimizer, twin_scheduler, data[0])
    print(f"first call (compiles): {compile_s:.1f} s, loss {float(first_loss):.3f}")

    losses, graph_t, eager_t, eager_losses = [float(first_loss)], [], [], []
    for i, batch in enumerate(data[1:steps], start=1):
        order = ["graph", "eager"] if i % 2 else ["eager", "graph"]
        for side in order:
            start = time.perf_counter()
            if side == "graph":
                loss = graph(*batch)
                graph_t.append(time.perf_counter() - start)
                losses.append(float(loss))
            else:
                loss = eager_step(twin, twin_optimizer, twin_scheduler, batch)
                eager_t.append(time.perf_counter() - start)
                eager_losses.append(float(loss))
        if i % max(1, steps // 10) == 0 or i == steps - 1:
            print(
                f"step {i:4d}  frames {batch[0].shape[1]:6d}  loss {losses[-1]:8.3f} "
                f"(eager twin {eager_losses[-1]:8.3f})  lr {optimizer.param_groups[0]['lr']:.5f}"
                f"  recompiles {graph.recompiles}"
            )

    results: dict[str, Any] = {
        "losses": losses,
        "eager_losses": eager_losses,
        "train_step": graph.train_step,
        "recompiles": graph.recompiles,
        "compile_s": compile_s,
        "graph_step_s": graph_t,
        "eager_step_s": eager_t,
    }
    if graph_t:
        g_med, e_med = statistics.median(graph_t), statistics.median(eager_t)
        print(
            f"\nstep time over {len(graph_t)} interleaved steps (same batches), median "
            f"(fastest): compiled {g_med * 1e3:.0f} ms ({min(graph_t) * 1e3:.0f}), eager "
            f"{e_med * 1e3:.0f} ms ({min(eager_t) * 1e3:.0f}); eager/compiled "
            f"{e_med / g_med:.2f}x"
        )
    print(
        f"compile time {compile_s:.1f} s; recompiles over the run: {graph.recompiles}; "
        f"train_step {graph.train_step}"
    )
    if hasattr(graph, "verify"):
        report = graph.verify(*data[steps], rtol=1e-3, atol=1e-4)
        results["verify"] = report
        print(f"\nverify() on a fresh batch:\n{report}")
    return results


if __name__ == "__main__":
    main()
