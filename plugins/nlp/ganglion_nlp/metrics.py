"""Classification metrics: accuracy and macro-F1 during training (torchmetrics, synchronised
across processes), and an evaluation report with a confusion summary.

Macro-F1 averages the per-class F1 over the classes that occur in the targets or the
predictions (a class absent from both is left out), as scikit-learn's
``f1_score(average="macro")`` does; :class:`EvaluationReport` and the torchmetrics collection
agree on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

__all__ = ["EvaluationReport", "classification_metrics", "evaluation_report"]


def classification_metrics(num_classes: int) -> torch.nn.Module:
    """A torchmetrics collection with ``acc`` (accuracy) and ``f1`` (macro-F1) over
    ``num_classes`` classes; ``update(predicted_class_ids, target_ids)``."""
    from torchmetrics import MetricCollection
    from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

    return MetricCollection(
        {
            "acc": MulticlassAccuracy(num_classes=num_classes, average="micro"),
            "f1": MulticlassF1Score(num_classes=num_classes, average="macro"),
        }
    )


@dataclass
class EvaluationReport:
    """Accuracy, macro-F1 and the confusion matrix of a classifier on labelled data.

    ``confusion[i, j]`` counts examples of class ``labels[i]`` predicted as ``labels[j]``.
    """

    labels: list[str]
    confusion: torch.Tensor
    left_out: int = 0  # rows with labels the model does not know (unknown_labels=skip)
    per_class_f1: list[float] = field(init=False)

    def __post_init__(self) -> None:
        c = self.confusion.double()
        tp = c.diagonal()
        support, predicted = c.sum(dim=1), c.sum(dim=0)
        denominator = support + predicted
        f1 = torch.where(denominator > 0, 2 * tp / denominator.clamp(min=1), torch.zeros_like(tp))
        self.per_class_f1 = f1.tolist()
        self._present = (denominator > 0).tolist()

    @property
    def total(self) -> int:
        """Examples evaluated."""
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        total = self.total
        return float(self.confusion.diagonal().sum()) / total if total else 0.0

    @property
    def macro_f1(self) -> float:
        scores = [f for f, present in zip(self.per_class_f1, self._present) if present]
        return sum(scores) / len(scores) if scores else 0.0

    def recall(self) -> dict[str, float]:
        """Recall of each class with examples, by label."""
        support = self.confusion.sum(dim=1)
        return {
            label: float(self.confusion[i, i]) / float(support[i])
            for i, label in enumerate(self.labels)
            if support[i] > 0
        }

    def most_confused(self, top: int = 10) -> list[tuple[str, str, int]]:
        """``(true label, predicted label, count)`` of the largest off-diagonal cells."""
        off = self.confusion.clone()
        off.fill_diagonal_(0)
        values, flat = off.flatten().sort(descending=True)
        n = len(self.labels)
        pairs = []
        for value, index in zip(values.tolist()[:top], flat.tolist()[:top]):
            if value <= 0:
                break
            pairs.append((self.labels[index // n], self.labels[index % n], int(value)))
        return pairs

    def summary(self, *, worst: int = 10, confused: int = 10) -> str:
        """The text ``ganglion-nlp evaluate`` prints."""
        lines = [
            f"examples: {self.total}"
            + (
                f" ({self.left_out} left out: labels unknown to the model)" if self.left_out else ""
            ),
            f"accuracy: {self.accuracy:.4f}",
            f"macro-F1: {self.macro_f1:.4f}",
        ]
        pairs = self.most_confused(confused)
        if pairs:
            lines.append("most confused (true -> predicted: count):")
            lines += [f"  {t} -> {p}: {n}" for t, p, n in pairs]
        recall = sorted(self.recall().items(), key=lambda item: (item[1], item[0]))[:worst]
        if recall:
            support = self.confusion.sum(dim=1)
            index = {label: i for i, label in enumerate(self.labels)}
            lines.append(f"lowest recall ({len(recall)} of {len(self.recall())} classes):")
            lines += [
                f"  {label}: {value:.4f} ({int(self.confusion[index[label], index[label]])}/"
                f"{int(support[index[label]])})"
                for label, value in recall
            ]
        return "\n".join(lines)


def evaluation_report(
    predictions: Sequence[int] | torch.Tensor,
    targets: Sequence[int] | torch.Tensor,
    labels: Sequence[str],
    *,
    left_out: int = 0,
) -> EvaluationReport:
    """The report of predicted vs target class indices into ``labels``."""
    n = len(labels)
    preds = torch.as_tensor(predictions, dtype=torch.long).flatten()
    truth = torch.as_tensor(targets, dtype=torch.long).flatten()
    confusion = torch.bincount(truth * n + preds, minlength=n * n).view(n, n)
    return EvaluationReport(list(labels), confusion, left_out)
