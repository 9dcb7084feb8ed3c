"""Write ganglion-tts's letter-to-sound model, learned from the shipped CMU dictionary.

Every plain word of the dictionary (letters a-z and ', first pronunciation) trains the
joint-sequence model of ``ganglion_tts.text.lts``; the result replaces
``ganglion_tts/text/data/cmudict_lts.gz`` (or ``--out``). Training is deterministic, so
running it again on the same dictionary writes the same bytes. Takes about 20 s.

    .venv/bin/python plugins/tts/scripts/build_g2p_model.py [--order 5] [--out PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ganglion_tts.text.g2p import DEFAULT_MODEL_PATH
from ganglion_tts.text.lexicon import cmudict_entries
from ganglion_tts.text.lts import LETTERS, LetterToSound


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--order", type=int, default=5, help="n-gram order (default 5)")
    ap.add_argument("--iterations", type=int, default=4, help="alignment rounds (default 4)")
    ap.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH)
    args = ap.parse_args()

    entries = [
        (word, raw.split("|", 1)[0].split())
        for word, raw in cmudict_entries().items()
        if set(word) <= LETTERS
    ]
    t0 = time.perf_counter()
    model = LetterToSound.train(entries, order=args.order, iterations=args.iterations)
    model.save(args.out)
    took = time.perf_counter() - t0
    size = args.out.stat().st_size
    print(f"{model!r} from {len(entries)} words in {took:.1f} s -> {args.out} ({size:,} bytes)")


if __name__ == "__main__":
    main()
