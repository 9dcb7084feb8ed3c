"""Label sets: taken from the training file, and what happens to labels it never has.

A classifier's labels are the sorted distinct labels of its training data (stored in the
model's config, so its archive carries them). A validation or test row whose label is not
among them cannot be predicted; by default (``unknown_labels: error``) such rows are an error
that counts and names the labels, since they usually mean a mistaken split or a typo. With
``unknown_labels: skip`` the rows are left out -- of the metrics too -- with one warning that
counts and names them.

A training set's label counts also give class weights for the loss (``class_balancing:
weighted_loss``), so rare labels are not drowned by common ones.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence

from ganglion_nlp.data.readers import LabelledText
from ganglion_nlp.errors import UnknownLabelError

__all__ = ["UNKNOWN_LABEL_POLICIES", "class_weights", "label_indices", "labels_of"]

log = logging.getLogger(__name__)

#: What to do with rows whose label the training data never has.
UNKNOWN_LABEL_POLICIES = ("error", "skip")

_SHOWN = 8


def labels_of(examples: Iterable[LabelledText]) -> list[str]:
    """The distinct labels of ``examples``, sorted (the label set of a training file)."""
    return sorted({e.label for e in examples})


def class_weights(
    examples: Iterable[LabelledText], labels: Sequence[str], *, power: float = 1.0
) -> list[float]:
    """One loss weight per label of ``labels``: ``(N / (C * n_c)) ** power`` for a label with
    ``n_c`` of the ``N`` examples (``C`` labels; a label with none counts as one), scaled so
    that the average weight over the examples is 1 (the loss keeps its size, so the learning
    rate needs no change).

    ``power`` 1 weighs every label equally in total (inverse frequency); 0 gives every label
    weight 1; between them (0.5, the square root) rare labels gain without the common ones
    losing much.
    """
    if power < 0:
        raise ValueError(f"the class weight power must be >= 0, got {power}")
    counts = Counter(e.label for e in examples)
    total = sum(counts[label] for label in labels)
    if total == 0:
        raise ValueError("no example has any of the labels, so there is nothing to weigh")
    raw = [(total / (len(labels) * max(counts[label], 1))) ** power for label in labels]
    mean = sum(w * counts[label] for w, label in zip(raw, labels, strict=True)) / total
    return [w / mean for w in raw]


def label_indices(
    examples: Sequence[LabelledText],
    labels: Sequence[str],
    *,
    unknown_labels: str = "error",
    key: str = "dataset",
    skip_hint: str | None = None,
) -> tuple[list[LabelledText], list[int]]:
    """The examples whose label is in ``labels``, and each one's index in ``labels``.

    Rows with other labels raise :class:`~ganglion_nlp.errors.UnknownLabelError` (counted and
    named per label, with a line of each), or are dropped with one warning saying the same
    when ``unknown_labels="skip"``. ``key`` (the dataset's config key) is named in the fix,
    unless ``skip_hint`` says how to skip (a command-line option, say).
    """
    if unknown_labels not in UNKNOWN_LABEL_POLICIES:
        raise ValueError(
            f"unknown_labels must be one of {', '.join(UNKNOWN_LABEL_POLICIES)}, got "
            f"{unknown_labels!r}"
        )
    index = {label: i for i, label in enumerate(labels)}
    kept: list[LabelledText] = []
    ids: list[int] = []
    unknown: Counter[str] = Counter()
    first: dict[str, LabelledText] = {}
    for example in examples:
        i = index.get(example.label)
        if i is None:
            unknown[example.label] += 1
            first.setdefault(example.label, example)
            continue
        kept.append(example)
        ids.append(i)
    if unknown:
        files = ", ".join(sorted({e.path for e in first.values()}))
        named = ", ".join(
            f"{label!r} ({count} row{'s' if count > 1 else ''}, first at line {first[label].line})"
            for label, count in unknown.most_common(_SHOWN)
        )
        more = len(unknown) - _SHOWN
        if more > 0:
            named += f" and {more} more label(s)"
        rows = sum(unknown.values())
        message = (
            f"{files}: {rows} row(s) have {len(unknown)} label(s) the training data never has, "
            f"so the model cannot predict them: {named}"
        )
        if unknown_labels == "error":
            hint = skip_hint or f"set {key}.unknown_labels: skip"
            raise UnknownLabelError(
                f"{message}. Fix the labels or the split, or {hint} to leave those rows out "
                "(of the metrics too)"
            )
        log.warning("%s; those rows are left out (of the metrics too)", message)
    return kept, ids
