"""How intelligible and how close to the reference a trained ganglion-tts voice is.

Given a corpus made by ``ganglion-tts make-corpus``, a trained spectrogram generator, a
HiFi-GAN vocoder and an ASR digit model (the quick start's), on the corpus's *test* split:

* **WER** of the held-out digit strings (never seen in training), synthesised by the
  generator and turned into audio by Griffin-Lim and by the neural vocoder, then transcribed
  by the ASR model; the same ASR model on the reference engine's own recordings of those
  strings is printed beside them (the recogniser's floor);
* **mel L1** (mean absolute difference of log-mels, natural log) against the reference
  engine's rendering of the held-out sentences: teacher-forced (the generator given the
  reference's durations and pitch, frame for frame) and free-running (its own durations,
  matched to the reference frames by dynamic time warping);
* a few wavs and ``mel.png`` (generated mel above the reference's) in ``--out``.

    .venv/bin/python bench/bench_tts.py --corpus data/tts --generator FastPitch.ganglion \
        --vocoder HifiGan.ganglion --asr QuartzNetDigits.ganglion --out runs/tts_eval

Figures only; this is not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, required=True, help="a ganglion-tts make-corpus folder")
    p.add_argument("--generator", type=Path, required=True, help="FastPitch .ganglion archive")
    p.add_argument("--vocoder", type=Path, help="HiFi-GAN .ganglion archive (optional)")
    p.add_argument("--asr", type=Path, required=True, help="ASR digit model .ganglion archive")
    p.add_argument("--out", type=Path, required=True, help="folder for wavs, mel.png, report")
    p.add_argument("--wavs", type=int, default=3, help="digit strings kept as wavs (3)")
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args()


def _is_digits(text: str) -> bool:
    from ganglion_asr.data.synth_digits import DIGIT_WORDS

    words = text.split()
    return bool(words) and all(word in DIGIT_WORDS for word in words)


def dtw_l1(generated: np.ndarray, reference: np.ndarray) -> float:
    """Mean L1 between mel frames ``[n_mels, T]`` along the cheapest monotonic alignment
    (steps: both advance, or one of them), averaged over the path's length."""
    cost = np.abs(generated[:, :, None] - reference[:, None, :]).mean(axis=0).tolist()
    rows, cols = len(cost), len(cost[0])
    inf = float("inf")
    prev = [(inf, 0)] * cols  # (accumulated cost, path length) of the row above
    for i in range(rows):
        row = cost[i]
        here: list[tuple[float, int]] = []
        for j in range(cols):
            if i == j == 0:
                here.append((row[0], 1))
                continue
            best = min(
                prev[j - 1] if j else (inf, 0),
                prev[j],
                here[j - 1] if j else (inf, 0),
            )
            here.append((best[0] + row[j], best[1] + 1))
        prev = here
    total, length = prev[-1]
    return total / length


def _png(path: Path, top: np.ndarray, bottom: np.ndarray) -> None:
    """Two log-mels ``[n_mels, T]`` as one image: ``top`` above ``bottom``, low bands at the
    bottom of each, a shared colour scale (Pillow; dark blue = quiet, yellow = loud)."""
    from PIL import Image

    width = max(top.shape[1], bottom.shape[1])
    lo = min(top.min(), bottom.min())
    hi = max(top.max(), bottom.max())
    anchors = np.array([[20, 12, 60], [40, 90, 140], [60, 170, 120], [250, 230, 40]], float)

    def rgb(mel: np.ndarray) -> np.ndarray:
        x = (mel[::-1] - lo) / max(hi - lo, 1e-6) * (len(anchors) - 1)
        padded = np.full((mel.shape[0], width), 0.0)
        padded[:, : mel.shape[1]] = x
        i = np.clip(padded.astype(int), 0, len(anchors) - 2)
        f = (padded - i)[..., None]
        return (anchors[i] * (1 - f) + anchors[i + 1] * f).astype(np.uint8)

    gap = np.full((4, width, 3), 255, np.uint8)
    image = np.concatenate([rgb(top), gap, rgb(bottom)], axis=0)
    Image.fromarray(image).resize((width * 3, image.shape[0] * 3), Image.NEAREST).save(path)


def main() -> int:
    args = _args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    import soundfile as sf

    from ganglion import ModelPT
    from ganglion_asr.data.manifest import read_manifest
    from ganglion_asr.metrics import error_rates
    from ganglion_tts.synthesis import default_vocoder, synthesize, write_wav

    args.out.mkdir(parents=True, exist_ok=True)
    test = args.corpus / "test_manifest.json"
    entries = read_manifest(test)
    digits = [e for e in entries if _is_digits(e.text)]
    sentences = [e for e in entries if not _is_digits(e.text)]
    generator = ModelPT.restore_from(str(args.generator), map_location="cpu")
    asr = ModelPT.restore_from(str(args.asr), map_location="cpu")
    vocoders = {"griffin-lim": default_vocoder(generator)}
    if args.vocoder is not None:
        vocoders["hifigan"] = ModelPT.restore_from(str(args.vocoder), map_location="cpu")
    print(f"{test}: {len(digits)} held-out digit strings, {len(sentences)} sentences")

    report: dict = {"digit_strings": len(digits), "sentences": len(sentences)}
    refs = [e.text for e in digits]
    hyps = asr.transcribe([e.audio_filepath for e in digits])
    report["wer_reference_audio"], _ = error_rates(hyps, refs)
    print(f"WER, reference engine's own audio:      {report['wer_reference_audio']:.2%}")
    for name, vocoder in vocoders.items():
        folder = args.out / name
        folder.mkdir(exist_ok=True)
        start, seconds, paths = time.perf_counter(), 0.0, []
        for n, entry in enumerate(digits):
            audio, rate = synthesize(generator, entry.text, vocoder=vocoder)
            seconds += len(audio) / rate
            paths.append(write_wav(folder / f"{n:04d}.wav", audio, rate))
        rtf = (time.perf_counter() - start) / seconds
        hyps = asr.transcribe(paths)
        wer, _ = error_rates(hyps, refs)
        report[f"wer_{name}"] = wer
        report[f"rtf_{name}"] = rtf
        print(f"WER, generator + {name:<12}           {wer:.2%}   (synthesis RTF {rtf:.3f})")
        worst = [(r, h) for r, h in zip(refs, hyps) if r != h][:5]
        for ref, hyp in worst:
            print(f"    {ref!r} -> {hyp!r}")
        for path in paths[args.wavs :]:
            path.unlink()

    # mel L1 against the reference engine, on the held-out sentences
    pre = generator.preprocessor
    sentence_manifest = args.out / "sentences.json"
    sentence_manifest.write_text(
        "".join(
            json.dumps({**e.to_json(), "audio_filepath": str(Path(e.audio_filepath).resolve())})
            + "\n"
            for e in sentences
        )
    )
    forced_manifest = generator.write_training_mels(sentence_manifest, args.out / "forced")
    forced, free = [], []
    example = None
    for line, entry in zip(forced_manifest.read_text().splitlines(), sentences):
        record = json.loads(line)
        audio, _ = sf.read(entry.audio_filepath, dtype="float32")
        signal = torch.from_numpy(audio)[None]
        with torch.no_grad():
            ref, ref_len = pre(input_signal=signal, length=torch.tensor([signal.shape[1]]))
        ref = ref[0, :, : int(ref_len[0])].numpy()
        tf = np.load(args.out / "forced" / record["mel_filepath"])
        forced.append(float(np.abs(tf - ref[:, : tf.shape[1]]).mean()))
        gen = generator.generate_spectrogram(generator.parse(entry.text))[0].numpy()
        free.append(dtw_l1(gen, ref))
        if example is None:
            example = (gen, ref, entry.text)
    report["mel_l1_teacher_forced"] = float(np.mean(forced))
    report["mel_l1_free_dtw"] = float(np.mean(free))
    print(
        f"mel L1 vs the reference, {len(sentences)} held-out sentences: teacher-forced "
        f"{report['mel_l1_teacher_forced']:.3f}, free-running (DTW) {report['mel_l1_free_dtw']:.3f}"
    )
    if example is not None:
        _png(args.out / "mel.png", example[0], example[1])
        print(f"{args.out / 'mel.png'}: generated (top) and reference (bottom) of {example[2]!r}")
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"figures in {args.out / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
