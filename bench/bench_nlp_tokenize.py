"""Tokenizing 100 k WordNet glosses through ganglion-nlp's tokenizer interface vs calling the
tokenizer library directly, side by side in one run.

The glosses are read straight from Debian's ``wordnet-base`` (``/usr/share/wordnet/data.noun``,
``.verb``, ``.adj``, ``.adv``: the text after `` | `` on each line that is not part of the
licence header), repeated or cut to ``--texts`` (default 100 000). Each library type is trained
once on the unique glosses (``--vocab-size``, default 8000, lowercased), then, in interleaved
rounds (the order of the two calls alternating), the whole list is tokenized:

  * ours:   ``tok.batch_text_to_ids(texts)``;
  * direct: the library on the same files, loaded apart from ganglion:
    sentencepiece ``SentencePieceProcessor(model_file=...).encode(texts)``;
    Hugging Face ``Tokenizer.from_file(...)``: ``[e.ids for e in tok.encode_batch(texts)]``
    and, the same without offsets, ``encode_batch_fast`` (what ours calls: the ratio to it is
    the wrapper's own cost, the goal's figure).

Both sides return the same ids (checked). Prints the minimum time of each over ``--rounds``
and the ratio ours / direct. Goal: <= 1.1x. The ``char`` and ``word`` types have no library
to compare with; their times are printed for scale.

    .venv/bin/python bench/bench_nlp_tokenize.py [--texts 100000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ganglion_nlp.tokenizers import train_tokenizer

WORDNET = Path("/usr/share/wordnet")
GOAL = 1.1


def read_glosses(root: Path = WORDNET) -> list[str]:
    """Every synset's gloss, in file order (noun, verb, adj, adv)."""
    glosses: list[str] = []
    for part in ("noun", "verb", "adj", "adv"):
        path = root / f"data.{part}"
        if not path.is_file():
            sys.exit(
                f"{path} is missing: install Debian's wordnet-base (apt-get install wordnet-base)"
            )
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):  # the licence header
                    continue
                _, sep, gloss = line.partition(" | ")
                if sep and gloss.strip():
                    glosses.append(gloss.strip())
    return glosses


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def direct_calls(name: str, directory: Path) -> dict[str, Callable[[list[str]], list[list[int]]]]:
    """The library's own calls on the saved files, loaded without ganglion."""
    if name.startswith("sentencepiece"):
        import sentencepiece

        sp = sentencepiece.SentencePieceProcessor(model_file=str(directory / "spm.model"))
        return {"encode": lambda texts: sp.encode(texts)}
    from tokenizers import Tokenizer

    hf = Tokenizer.from_file(str(directory / "tokenizer.json"))
    calls = {"encode_batch": lambda texts: [e.ids for e in hf.encode_batch(texts)]}
    if hasattr(hf, "encode_batch_fast"):
        calls["encode_batch_fast"] = lambda texts: [e.ids for e in hf.encode_batch_fast(texts)]
    return calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=100_000, help="texts to tokenize")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--vocab-size", type=int, default=8000)
    args = parser.parse_args()

    glosses = read_glosses()
    texts = (glosses * (args.texts // len(glosses) + 1))[: args.texts]
    chars = sum(map(len, texts))
    print(
        f"{len(texts)} WordNet glosses ({chars / len(texts):.0f} characters on average), "
        f"{args.rounds} rounds, minimum times; {os.cpu_count()} CPUs"
    )
    import sentencepiece
    import tokenizers

    print(f"sentencepiece {sentencepiece.__version__}, tokenizers {tokenizers.__version__}")

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "glosses.txt"
        corpus.write_text("\n".join(dict.fromkeys(glosses)) + "\n", encoding="utf-8")
        rows = []
        for name in ("sentencepiece-bpe", "sentencepiece-unigram", "hf-bpe", "hf-wordpiece"):
            seconds, tok = timed(
                lambda name=name: train_tokenizer(
                    name, [corpus], Path(tmp) / name, vocab_size=args.vocab_size
                )
            )
            calls = direct_calls(name, tok.directory)
            ours_best = float("inf")
            best = dict.fromkeys(calls, float("inf"))
            for r in range(args.rounds):
                order = list(calls)
                for k, call in enumerate(order):
                    pair = [("ours", tok.batch_text_to_ids), (call, calls[call])]
                    if (r + k) % 2:
                        pair.reverse()
                    for label, fn in pair:
                        t, ids = timed(lambda fn=fn: fn(texts))
                        if r == 0 and k == 0 and label != "ours":
                            assert ids == tok.batch_text_to_ids(texts), f"{name}: ids differ"
                        if label == "ours":
                            ours_best = min(ours_best, t)
                        else:
                            best[label] = min(best[label], t)
            rows.append((name, tok.vocab_size, seconds, ours_best, best))

        print()
        print(f"{'type':<22}{'vocab':>6}{'train s':>9}{'ours s':>9}  direct call: s, ours/direct")
        verdicts = []
        for name, vocab, train_s, ours, best in rows:
            cells = "  ".join(f"{call} {t:.3f} s {ours / t:.2f}x" for call, t in best.items())
            print(f"{name:<22}{vocab:>6}{train_s:>9.1f}{ours:>9.3f}  {cells}")
            same_call = "encode" if "encode" in best else "encode_batch_fast"
            same_call = same_call if same_call in best else "encode_batch"
            verdicts.append((name, ours / best[same_call], same_call))

        print()
        for name in ("char", "word"):
            tok = train_tokenizer(name, [corpus], Path(tmp) / name, vocab_size=args.vocab_size)
            t = min(timed(lambda tok=tok: tok.batch_text_to_ids(texts))[0] for _ in range(3))
            print(f"{name:<22}{tok.vocab_size:>6}{'':>9}{t:>9.3f}  (no library: for scale)")

    print()
    ok = True
    for name, ratio, call in verdicts:
        passed = ratio <= GOAL
        ok &= passed
        print(
            f"goal <= {GOAL}x: {name} ours / {call} = {ratio:.2f}x {'ok' if passed else 'MISSED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
