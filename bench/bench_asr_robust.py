"""How a trained ganglion-asr digit model holds up away from the voices it was trained on.

Given a ``.ganglion`` archive and the corpus made by ``ganglion-asr synth-digits``, word error
rates on the corpus's *test* split (speakers training never heard) and beyond it:

* **espeak-ng, held-out voices**: the test utterances spoken by espeak-ng;
* **festival, held-out register**: those spoken by festival (corpora made with
  ``--engines espeak-ng,festival``);
* **espeak-ng through a telephone line**: the espeak-ng test utterances put through
  ``TelephonePerturbation`` (300-3400 Hz, 8 kHz, mu-law, random gain and clipping, a GSM-like
  quantiser half the time; seeded) and written as **8 kHz** files, so they also take the
  resampling path of ``transcribe``;
* **human recordings**: the sanity set of ``ganglion-asr make-sanity-set`` (Debian's
  pocketsphinx-testdata), built in a temporary folder unless ``--sanity`` names one;

each decoded greedily and by CTC prefix beam search with the digit words as its word list
(``model.decoding`` ``{strategy: beam, beam_size: 8, word_list: [zero ... nine]}``), with
the milliseconds per utterance that ``transcribe`` took (reading, features, network and
decoding) beside them.

    .venv/bin/python bench/bench_asr_robust.py --model QuartzNetDigits.ganglion \\
        --corpus data/digits [--sanity data/sanity] [--threads 2]

Figures only; this is not a test. The reserved independent test sets (flite, festival's
kal/slt/awb/rms voices, asterisk-core-sounds) are never read.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True, help="EncDecCTCModel .ganglion archive")
    p.add_argument("--corpus", type=Path, required=True, help="a synth-digits corpus folder")
    p.add_argument("--sanity", type=Path, help="a make-sanity-set folder (default: build one)")
    p.add_argument("--beam-size", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args()


def telephone_copies(entries, out_dir: Path, model_rate: int):
    """The entries' audio through a seeded telephone line, as 8 kHz PCM16 wavs in ``out_dir``."""
    import soundfile as sf

    from ganglion_asr.augment import TelephonePerturbation
    from ganglion_asr.data.audio import load_audio, resample
    from ganglion_asr.data.manifest import ManifestEntry

    line = TelephonePerturbation(prob=1.0, gsm_prob=0.5)
    copies = []
    for index, entry in enumerate(entries):
        audio = load_audio(entry.audio_filepath, model_rate)
        phone = line(audio, model_rate, np.random.default_rng([7, index]))
        path = out_dir / f"phone-{index:05d}.wav"
        sf.write(str(path), resample(phone, model_rate, 8000), 8000, subtype="PCM_16")
        copies.append(ManifestEntry(str(path), entry.duration, entry.text))
    return copies


def main() -> None:
    args = _args()
    import torch

    torch.set_num_threads(args.threads)
    from ganglion_asr.data.manifest import read_manifest
    from ganglion_asr.data.sanity import MANIFEST_NAME, make_sanity_set
    from ganglion_asr.data.synth_digits import DIGIT_WORDS
    from ganglion_asr.metrics import error_rates
    from ganglion_asr.models import EncDecCTCModel

    model = EncDecCTCModel.restore_from(str(args.model), map_location="cpu")
    rate = int(model.cfg.sample_rate)
    test = read_manifest(args.corpus / "test_manifest.json")
    is_festival = [(e.speaker or "").startswith("festival") for e in test]
    espeak = [e for e, f in zip(test, is_festival) if not f]
    festival = [e for e, f in zip(test, is_festival) if f]
    with tempfile.TemporaryDirectory(prefix="bench_asr_robust_") as tmp:
        sanity_dir = args.sanity or Path(tmp) / "sanity"
        if not (sanity_dir / MANIFEST_NAME).is_file():
            make_sanity_set(sanity_dir, log=lambda _line: None)
        sets = [
            ("espeak-ng, held-out voices", espeak),
            ("festival, held-out register", festival),
            ("espeak-ng through a telephone line", telephone_copies(espeak, Path(tmp), rate)),
            ("human recordings (sanity set)", read_manifest(sanity_dir / MANIFEST_NAME)),
        ]
        decoders = [
            ("greedy", None),
            (
                f"beam {args.beam_size} + digit words",
                {"strategy": "beam", "beam_size": args.beam_size, "word_list": list(DIGIT_WORDS)},
            ),
        ]
        print(f"{args.model}: word error rate (decoding ms per utterance)")
        print(f"{'':38}{'utts':>6}{'words':>7}" + "".join(f"{n:>30}" for n, _ in decoders))
        for name, entries in sets:
            if not entries:
                continue
            words = sum(len(e.text.split()) for e in entries)
            cells = []
            for _label, decoding in decoders:
                model.change_decoding_strategy(decoding)
                start = time.perf_counter()
                hyps = model.transcribe(entries, batch_size=32)
                ms = 1000 * (time.perf_counter() - start) / len(entries)
                wer, _cer = error_rates(hyps, [e.text for e in entries])
                cells.append(f"{wer:9.2%} ({ms:5.1f} ms)")
            print(f"{name:38}{len(entries):6d}{words:7d}" + "".join(f"{c:>30}" for c in cells))


if __name__ == "__main__":
    main()
