"""Word and character error rates, from torchmetrics.

The metric objects keep error and length counts as summed states, so under DDP torchmetrics
adds them up across processes before computing: the result is the corpus-level rate over
every utterance, not a mean of per-rank rates.
"""

from __future__ import annotations

from collections.abc import Sequence

from torchmetrics import MetricCollection
from torchmetrics.text import CharErrorRate, WordErrorRate


def error_rate_metrics(prefix: str = "") -> MetricCollection:
    """WER and CER metrics, updated with ``(hypotheses, references)`` lists of strings.

    ``compute()`` returns ``{prefix + "wer": tensor, prefix + "cer": tensor}``. Register the
    collection as a model attribute so Lightning moves it with the model.
    """
    return MetricCollection({"wer": WordErrorRate(), "cer": CharErrorRate()}, prefix=prefix)


def error_rates(hypotheses: Sequence[str], references: Sequence[str]) -> tuple[float, float]:
    """Corpus ``(WER, CER)`` of hypotheses against references, as fractions."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    metrics = error_rate_metrics()
    metrics.update(list(hypotheses), list(references))
    result = metrics.compute()
    return float(result["wer"]), float(result["cer"])
