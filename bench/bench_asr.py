"""ganglion-asr on this CPU: data pipeline throughput and QuartzNet 5x5 training-step time.

Two measurements, in one run:

1. **Data pipeline**: utterances per second the training data loader delivers from wav files
   (manifest dataset, soundfile, duration-bucketed batches, collate), against the utterances
   per second a training step consumes (batch size divided by the measured step time). The
   log-mel features are part of the step (the model's preprocessor), not of the pipeline.
2. **Training step** of ``quartznet_5x5`` (the shipped config: preprocessor, SpecAugment
   cut-outs, encoder, decoder, CTC loss, Novograd as in the config) at batch 8 of 2-second
   utterances: forward, backward and optimizer step timed separately, medians over the
   measured steps, in float32 and under bf16 autocast, plus float32 with torch's direct
   depthwise convolution instead of the FFT path (``fp32 direct``). NeMo is not run here, so
   no ratio against it is computed: the figure NeMo 3.0.0's EncDecCTCModel with the same
   layout gave in another run (733 ms per step, forward 304, backward 399, Novograd in a
   plain loop) is printed as a reference only.
3. **Augmentation throughput**: utterances per second the training data pipeline delivers
   with every waveform perturbation on (speed, pitch, EQ, reverb, noise, telephone with
   the GSM-like quantiser half the time, gain; each at prob 1, the worst case) and with the
   mix ``quartznet_digits.yaml`` trains with (its ``model.train_ds.augmentor``, each some of
   the time), on 1 and 2 worker processes, against the utterances per second the quick
   start's model (``quartznet_digits``, its batch of 32) consumes in an fp32 training step.
   The issue's goal is a ratio of at least 5. The pipeline is timed alone: in training the
   workers share the cores with the step.

    .venv/bin/python bench/bench_asr.py [--steps 15] [--warmup 3] [--utterances 96]
        [--threads N] [--skip-data] [--skip-direct] [--skip-augment] [--augment-steps 6]

Timings on a shared machine are noisy: fp32 and bf16 steps are interleaved, and the fastest
step is printed beside the median.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from omegaconf import OmegaConf

import ganglion_asr
from ganglion.module import NeuralModule

#: NeMo 3.0.0's step time for the same layout, measured in another run (reference only)
NEMO_MS = {"forward": 304.0, "backward": 399.0, "total": 733.0}
CONF = Path(ganglion_asr.__file__).parent / "conf" / "quartznet_5x5.yaml"
DIGITS_CONF = Path(ganglion_asr.__file__).parent / "conf" / "quartznet_digits.yaml"
#: every perturbation at prob 1: the most a training utterance can cost
FULL_AUGMENTOR = {
    "speed": {"prob": 1.0},
    "pitch": {"prob": 1.0},
    "eq": {"prob": 1.0},
    "reverb": {"prob": 1.0},
    "noise": {"prob": 1.0},
    "telephone": {"prob": 1.0, "gsm_prob": 0.5},
    "gain": {"prob": 1.0},
}
#: batches per epoch in the augmented pipeline's timing
EPOCH_BATCHES = 24


def make_corpus(folder: Path, count: int, seconds: float, sample_rate: int = 16000) -> Path:
    """``count`` wav files of speech-like noise, ``seconds`` long each, and their manifest."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(count):
        n = int(seconds * sample_rate)
        t = np.arange(n) / sample_rate
        audio = 0.2 * np.sin(2 * np.pi * (150 + 10 * i) * t) * (1 + np.sin(2 * np.pi * 3 * t))
        audio += 0.02 * rng.standard_normal(n)
        path = folder / f"u{i:04d}.wav"
        sf.write(str(path), audio.astype(np.float32), sample_rate, subtype="PCM_16")
        lines.append(
            f'{{"audio_filepath": "{path.name}", "duration": {seconds}, '
            f'"text": "three one four one five nine"}}'
        )
    manifest = folder / "manifest.json"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def bench_data(
    manifest: Path, cfg, batch_size: int, workers: int, repeats: int, augmentor=None
) -> float:
    """Median utterances/s the training data loader delivers: loaded (and augmented, with
    ``augmentor``) and collated. The log-mel features are not computed: in training they are
    the model's first module, part of the step this rate is compared with."""
    from ganglion_asr.data.dataset import build_dataloader

    section = {
        "manifest_filepath": str(manifest),
        "batch_size": batch_size,
        "shuffle": True,
        "num_workers": workers,
    }
    if augmentor:
        section["augmentor"] = augmentor
    loader = build_dataloader(
        section,
        labels=list(cfg.model.labels),
        sample_rate=int(cfg.model.sample_rate),
        key="model.train_ds",
    )
    rates = []
    for _ in range(repeats):
        count = 0
        start = time.perf_counter()
        for audio, _audio_len, _tokens, _token_len in loader:
            count += audio.shape[0]
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def build_model(cfg):
    """The quartznet_5x5 modules, loss and Novograd optimizer, as the config describes them."""
    from ganglion.optim import build_optimizer
    from ganglion_asr.losses import CTCLoss

    m = cfg.model
    modules = torch.nn.ModuleDict(
        {
            "preprocessor": NeuralModule.from_config_dict(m.preprocessor),
            "spec_augment": NeuralModule.from_config_dict(m.spec_augment),
            "encoder": NeuralModule.from_config_dict(m.encoder),
            "decoder": NeuralModule.from_config_dict(m.decoder),
        }
    )
    loss = CTCLoss(num_classes=len(m.labels))
    return modules, loss, build_optimizer(modules, m.optim)


def bench_training(
    cfg, batch: int, seconds: float, steps: int, warmup: int, precisions: list[str]
) -> dict[str, dict[str, float]]:
    """Median ms of forward / backward / optimizer step / total (and process CPU time) of one
    training step per precision; the precisions' steps are interleaved so that machine noise
    hits them alike."""
    n = int(seconds * cfg.model.sample_rate)
    gen = torch.Generator().manual_seed(0)
    audio = 0.1 * torch.randn(batch, n, generator=gen)
    audio_len = torch.full((batch,), n, dtype=torch.long)
    audio_len[1:] -= torch.randint(0, n // 10, (batch - 1,), generator=gen)  # ragged batch
    targets = torch.randint(0, len(cfg.model.labels), (batch, 30), generator=gen)
    target_len = torch.full((batch,), 30, dtype=torch.long)
    from ganglion_asr.modules.conv_asr import DepthwiseConv1d

    runs = {}
    for precision in precisions:
        torch.manual_seed(0)
        modules, loss_fn, optimizer = build_model(cfg)
        modules.train()
        if precision.endswith("direct"):  # the same model with torch's own depthwise conv
            for module in modules.modules():
                if isinstance(module, DepthwiseConv1d):
                    module.fft_min_span = 10**9
        runs[precision] = (modules, loss_fn, optimizer)
    keys = ("forward", "backward", "step", "total", "cpu")
    times = {p: {k: [] for k in keys} for p in precisions}
    for i in range(warmup + steps):
        for precision, (modules, loss_fn, optimizer) in runs.items():
            bf16 = precision.startswith("bf16")
            autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
            c0, t0 = time.process_time(), time.perf_counter()
            with autocast:
                feats, feat_len = modules["preprocessor"](audio, audio_len)
                feats = modules["spec_augment"](feats, feat_len)
                enc, enc_len = modules["encoder"](feats, feat_len)
                log_probs = modules["decoder"](enc)
                loss = loss_fn(log_probs, targets, enc_len, target_len)
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            t3, c3 = time.perf_counter(), time.process_time()
            if i >= warmup:
                for key, value in zip(keys, (t1 - t0, t2 - t1, t3 - t2, t3 - t0, c3 - c0)):
                    times[precision][key].append(value)
    results = {}
    for precision, (modules, _, _) in runs.items():
        result = {k: 1000 * statistics.median(v) for k, v in times[precision].items()}
        result["best"] = 1000 * min(times[precision]["total"])
        result["params_m"] = sum(p.numel() for p in modules.parameters()) / 1e6
        results[precision] = result
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--utterances", type=int, default=96)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--skip-data", action="store_true")
    parser.add_argument(
        "--skip-direct", action="store_true", help="skip the row with direct depthwise convs"
    )
    parser.add_argument("--skip-augment", action="store_true")
    parser.add_argument(
        "--augment-steps", type=int, default=6, help="quartznet_digits steps timed (section 3)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = OmegaConf.load(CONF)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; config {CONF.name}; "
        f"batch {args.batch} x {args.seconds:g} s; {args.steps} steps after {args.warmup} "
        "warm-up\n"
    )

    variants = ["fp32", "bf16"] if args.skip_direct else ["fp32", "bf16", "fp32 direct"]
    results = bench_training(cfg, args.batch, args.seconds, args.steps, args.warmup, variants)
    print(
        f"quartznet_5x5 training step ({results['fp32']['params_m']:.2f} M parameters), median ms:"
    )
    print(f"{'':12}{'forward':>10}{'backward':>10}{'step':>8}{'total':>9}{'best':>8}{'cpu':>8}")
    for precision, r in results.items():
        print(
            f"{precision:12}{r['forward']:10.0f}{r['backward']:10.0f}{r['step']:8.0f}"
            f"{r['total']:9.0f}{r['best']:8.0f}{r['cpu']:8.0f}"
        )
    print(
        f"{'NeMo fp32':12}{NEMO_MS['forward']:10.0f}{NEMO_MS['backward']:10.0f}{'':>8}"
        f"{NEMO_MS['total']:9.0f}   (reference only: batch 8 x 2 s, measured in another run)"
    )
    print(f"bf16 / fp32 total: x{results['bf16']['total'] / results['fp32']['total']:.2f}")
    if "fp32 direct" in results:
        ratio = results["fp32"]["total"] / results["fp32 direct"]["total"]
        print(f"FFT / direct depthwise convolutions (fp32 total): x{ratio:.2f}")
    print(
        "best: the fastest step; cpu: process CPU time per step, summed over threads. On a "
        "machine shared with other jobs the wall times grow with the load (best is then the "
        "closest to an idle machine's); compare runs made at the same load.\n"
    )

    if args.skip_data and args.skip_augment:
        return
    folder = Path(tempfile.mkdtemp(prefix="bench_asr_"))
    try:
        manifest = make_corpus(folder, args.utterances, args.seconds)
        if not args.skip_augment:
            bench_augmentation(manifest, args)
        if args.skip_data:
            return
        consumed = args.batch / (results["fp32"]["total"] / 1000)
        print(
            f"data pipeline ({args.utterances} wav files of {args.seconds:g} s: load + "
            "collate), utterances/s:"
        )
        for workers in (0, 1):
            rate = bench_data(manifest, cfg, args.batch, workers, repeats=3)
            print(
                f"  num_workers={workers}: {rate:8.0f} utt/s  = x{rate / consumed:.1f} what an "
                f"fp32 training step consumes ({consumed:.1f} utt/s)"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def augmentation_cpu_ms(manifest: Path, cfg, augmentor: dict) -> float:
    """Process CPU ms per utterance spent in the augmentor alone (audio already loaded)."""
    from ganglion_asr.augment import AudioAugmentor
    from ganglion_asr.data.dataset import AudioToCharDataset, load_entry_audio

    rate = int(cfg.model.sample_rate)
    dataset = AudioToCharDataset(str(manifest), list(cfg.model.labels), rate)
    audios = [load_entry_audio(entry, rate) for entry in dataset.entries]
    # every perturbation once first: their lazy imports (scipy) are not timed
    AudioAugmentor.from_config(FULL_AUGMENTOR, key="augmentor")(
        audios[0], rate, np.random.default_rng(0)
    )
    chain = AudioAugmentor.from_config(augmentor, key="augmentor")
    start = time.process_time()
    for index, audio in enumerate(audios):
        chain(audio, rate, np.random.default_rng([0, 0, index]))
    return 1000 * (time.process_time() - start) / len(audios)


def bench_augmentation(manifest: Path, args: argparse.Namespace) -> None:
    """Section 3: the augmented pipeline on 1 and 2 workers against what a quartznet_digits
    training step consumes."""
    digits = OmegaConf.load(DIGITS_CONF)
    batch = int(digits.model.train_ds.batch_size)
    typical = OmegaConf.to_container(digits.model.train_ds.augmentor)
    step = bench_training(digits, batch, args.seconds, args.augment_steps, 1, ["fp32"])["fp32"]
    # the fastest step: what training consumes on an unloaded machine (the pipeline's rates
    # are medians, so the ratio errs on the low side)
    consumed = batch / (step["best"] / 1000)
    print(
        f"augmentation throughput ({args.utterances} wav files of {args.seconds:g} s: load + "
        "augmentor + collate), median utterances/s; quartznet_digits fp32 training "
        f"step at batch {batch}: fastest {step['best']:.0f} ms (median {step['total']:.0f}) "
        f"= {consumed:.1f} utt/s consumed"
    )
    # CPU time, which other jobs on the machine do not inflate the way they do wall time
    train_cpu = step["cpu"] / batch
    print(f"  CPU ms per utterance: training step {train_cpu:.1f}", end="")
    for name, augmentor in (("full", FULL_AUGMENTOR), ("quartznet_digits", typical)):
        aug_cpu = augmentation_cpu_ms(manifest, digits, augmentor)
        print(f"; {name} augmentor {aug_cpu:.1f} (x{train_cpu / aug_cpu:.1f})", end="")
    print()
    # an epoch of EPOCH_BATCHES batches (the files listed several times): with a handful of
    # batches, two workers would spend much of each epoch waiting for the last one
    lines = manifest.read_text().splitlines()
    epoch = manifest.with_name("epoch_manifest.json")
    copies = -(-EPOCH_BATCHES * batch // len(lines))
    epoch.write_text("\n".join(lines * copies) + "\n")
    print(f"  pipeline, epochs of {len(lines) * copies} utterances:")
    plain = bench_data(epoch, digits, batch, 0, repeats=1)
    print(f"  no augmentor, num_workers=0: {plain:8.0f} utt/s  = x{plain / consumed:.1f}")
    for name, augmentor in (("full", FULL_AUGMENTOR), ("quartznet_digits", typical)):
        for workers in (1, 2):
            rate = bench_data(epoch, digits, batch, workers, repeats=3, augmentor=augmentor)
            print(
                f"  {name} augmentor, num_workers={workers}: {rate:8.0f} utt/s  = "
                f"x{rate / consumed:.1f} what a training step consumes (goal: x5)"
            )
    print()


if __name__ == "__main__":
    main()
