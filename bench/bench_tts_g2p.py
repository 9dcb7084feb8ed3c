"""How good is ganglion-tts's letter-to-sound fallback on words it never saw?

The shipped CMU dictionary's plain words (letters a-z and ') are split by a hash of the word:
``--holdout`` (default 2 %) of them are held out, the letter-to-sound model is trained on the
rest exactly as ``plugins/tts/scripts/build_g2p_model.py`` trains the shipped one, and the
held-out words are predicted. Printed, with and without stress digits:

  * word accuracy: the prediction equals one of the word's listed pronunciations;
  * phoneme error rate (PER): edit distance to the closest listed pronunciation, summed over
    words, divided by the summed length of those pronunciations.

Also printed: training time, the model's size (contexts), and prediction speed. The split is
deterministic, so two runs print the same accuracies.

    .venv/bin/python bench/bench_tts_g2p.py [--holdout 0.02] [--order 5] [--beam 20]
"""

from __future__ import annotations

import argparse
import time
import zlib

from ganglion_tts.text.lexicon import cmudict_entries
from ganglion_tts.text.lts import LETTERS, LetterToSound
from ganglion_tts.text.phonemes import strip_stress


def edit_distance(a: list[str], b: list[str]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def split(holdout: float) -> tuple[list[tuple[str, list[str]]], dict[str, list[list[str]]]]:
    """(training pairs, held-out word -> every pronunciation), by a CRC32 of the word."""
    train, test = [], {}
    cut = int(holdout * 10_000)
    for word, raw in cmudict_entries().items():
        if not set(word) <= LETTERS:
            continue
        prons = [p.split() for p in raw.split("|")]
        if zlib.crc32(word.encode()) % 10_000 < cut:
            test[word] = prons
        else:
            train.append((word, prons[0]))
    return train, test


def score(guesses: dict[str, list[str]], test: dict[str, list[list[str]]]):
    """Word accuracy and PER with stress digits and without."""
    tallies = {True: [0, 0, 0], False: [0, 0, 0]}  # correct words, edits, reference phonemes
    for word, refs in test.items():
        guess = guesses[word]
        for stress, tally in tallies.items():
            g, rs = guess, refs
            if not stress:
                g = [strip_stress(p) for p in guess]
                rs = [[strip_stress(p) for p in r] for r in refs]
            best = min(rs, key=lambda r: (edit_distance(g, r), len(r)))
            d = edit_distance(g, best)
            tally[0] += d == 0
            tally[1] += d
            tally[2] += len(best)
    return {s: (t[0] / len(test), t[1] / t[2]) for s, t in tallies.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--holdout", type=float, default=0.02)
    ap.add_argument("--order", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--beam", type=int, default=20)
    args = ap.parse_args()

    train, test = split(args.holdout)
    print(f"CMU dictionary: {len(train)} training words, {len(test)} held out")
    t0 = time.perf_counter()
    model = LetterToSound.train(train, order=args.order, iterations=args.iterations)
    t_train = time.perf_counter() - t0
    print(f"trained in {t_train:.1f} s: {model!r}")
    t0 = time.perf_counter()
    guesses = {word: model.predict(word, beam=args.beam) for word in test}
    per_word = (time.perf_counter() - t0) / len(test)
    results = score(guesses, test)
    for stress in (False, True):
        acc, per = results[stress]
        label = "with stress   " if stress else "without stress"
        print(f"held-out {label}: word accuracy {acc:6.1%}   phoneme error rate {per:6.1%}")
    print(f"prediction (beam {args.beam}): {per_word * 1e3:.1f} ms a word")


if __name__ == "__main__":
    main()
