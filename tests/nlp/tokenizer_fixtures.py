"""Small training corpora for the tokenizer tests (written into a test's tmp_path)."""

from __future__ import annotations

import random
from pathlib import Path

WORDS = [
    "The",
    "a",
    "an",
    "small",
    "large",
    "Brown",
    "grey",
    "quick",
    "lazy",
    "old",
    "young",
    "fox",
    "dog",
    "cat",
    "bird",
    "horse",
    "mouse",
    "river",
    "tree",
    "stone",
    "house",
    "jumps",
    "runs",
    "sleeps",
    "sings",
    "eats",
    "over",
    "under",
    "near",
    "beside",
    "with",
    "without",
    "and",
    "or",
    "but",
    "because",
    "twice",
    "often",
    "never",
    "always",
    "quietly",
    "loudly",
    "slowly",
    "morning",
    "evening",
    "night",
    "day",
]
PUNCTUATION = (",", ".", ";", "!", "?")


def corpus_lines(n: int = 300, seed: int = 0) -> list[str]:
    """``n`` sentences of 4-12 words from :data:`WORDS`, mixed case, with punctuation."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(4, 12))]
        if rng.random() < 0.3:
            words[rng.randrange(len(words))] += ","
        lines.append(" ".join(words).capitalize() + rng.choice(PUNCTUATION))
    return lines


def write_corpus(path: Path, n: int = 300, seed: int = 0) -> Path:
    """:func:`corpus_lines` as a UTF-8 file, one sentence a line; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(corpus_lines(n, seed)) + "\n", encoding="utf-8")
    return path
