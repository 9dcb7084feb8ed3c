"""Splitting examples into train / validation / test, reproducibly and without leaks.

* **Stratified.** Each label is split on its own in the requested fractions, so a rare class
  (WordNet's ``noun.Tops`` has 51 synsets, a small fortune file a dozen) still has examples in
  every split it can.
* **Identical texts stay together.** Examples whose text is the same (WordNet has 626 glosses
  shared by two or more synsets, e.g. "a variety of aster") form one group and go to one split,
  so no test text is ever a training text. A group is stratified under its most common label.
* **Reproducible.** Label ``L`` is shuffled by ``random.Random(f"{seed}/{L}")`` (string seeds
  hash the same on every platform and Python version), so the split of one class does not
  depend on which other classes exist; the examples of each split are then shuffled too, so a
  file read from the top is not sorted by label.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from ganglion_nlp.corpus.text import Example

__all__ = ["SPLITS", "split_examples"]

SPLITS = ("train", "validation", "test")


def _held_out_counts(n: int, validation: float, test: float) -> tuple[int, int]:
    n_validation, n_test = round(n * validation), round(n * test)
    while n_validation + n_test >= n and n_validation + n_test > 0:  # keep one for training
        if n_test >= n_validation:
            n_test -= 1
        else:
            n_validation -= 1
    return n_validation, n_test


def split_examples(
    examples: Iterable[Example], *, seed: int, validation: float = 0.1, test: float = 0.1
) -> dict[str, list[Example]]:
    """``examples`` split into ``{"train": [...], "validation": [...], "test": [...]}`` (see the
    module docstring); the same examples and seed always give the same split.

    Example::

        splits = split_examples(examples, seed=1234)   # 80 / 10 / 10 per label
    """
    if not (0 <= validation < 1 and 0 <= test < 1 and validation + test < 1):
        raise ValueError(
            f"validation ({validation}) and test ({test}) must be fractions summing to under 1"
        )
    groups: dict[str, list[Example]] = {}
    for example in examples:
        groups.setdefault(example.text, []).append(example)
    by_label: dict[str, list[Sequence[Example]]] = defaultdict(list)
    for members in groups.values():
        counts = Counter(member.label for member in members)
        label = min(counts, key=lambda name: (-counts[name], name))
        by_label[label].append(members)

    splits: dict[str, list[Example]] = {name: [] for name in SPLITS}
    for label in sorted(by_label):
        label_groups = by_label[label]
        random.Random(f"{seed}/{label}").shuffle(label_groups)
        n_validation, n_test = _held_out_counts(len(label_groups), validation, test)
        for index, members in enumerate(label_groups):
            if index < n_test:
                name = "test"
            elif index < n_test + n_validation:
                name = "validation"
            else:
                name = "train"
            splits[name].extend(members)
    for name in SPLITS:
        random.Random(f"{seed}/order/{name}").shuffle(splits[name])
    return splits
