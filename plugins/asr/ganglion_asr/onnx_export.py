"""A trained CTC model as one ONNX file, and transcription with ONNX Runtime.

:func:`export_ctc_model` exports the whole :class:`~ganglion_asr.models.EncDecCTCModel`, the
mel-spectrogram preprocessor included (``torch.stft`` becomes ONNX's STFT): the ONNX model
takes ``input_signal`` [batch, samples] (float32 at the model's sample rate) and
``input_signal_length`` [batch] (int64), both with dynamic batch and length, and returns
``outputs`` (log-probabilities [batch, frames, labels + blank]), ``encoded_lengths`` and
``greedy_predictions`` (the best label per frame). The labels and sample rate are stored in
the file's metadata, so :class:`OnnxCTCTranscriber` needs nothing else::

    export_ctc_model("digits.ganglion", "digits.onnx")
    texts = OnnxCTCTranscriber("digits.onnx").transcribe(["a.wav", "b.wav"])

It runs through :func:`ganglion.graph.export`: the ONNX program is checked against
the PyTorch model on two batches of other sizes before the file is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ganglion.errors import GanglionError

__all__ = ["OnnxCTCTranscriber", "example_audio", "export_ctc_model"]


def example_audio(sample_rate: int, batch: int = 2, seconds: float = 1.0) -> dict[str, Any]:
    """Example inputs for export: a tone sweep with a little noise per utterance, the second
    one shorter (so the padding path is traced too)."""
    generator = torch.Generator().manual_seed(0)
    samples = int(sample_rate * seconds)
    t = torch.arange(samples) / sample_rate
    rows = []
    for i in range(batch):
        tone = 0.3 * torch.sin(2 * torch.pi * (220.0 * (i + 1) + 300.0 * t) * t)
        rows.append(tone + 0.01 * torch.randn(samples, generator=generator))
    lengths = torch.tensor([samples - (i * samples) // (2 * batch) for i in range(batch)])
    signal = torch.stack(rows)
    for row, n in zip(signal, lengths):
        row[int(n) :] = 0.0
    return {"input_signal": signal, "input_signal_length": lengths}


def export_ctc_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    rtol: float = 1e-4,
    atol: float = 1e-4,
    verbose: bool = True,
) -> Any:
    """Export a CTC model (an ``EncDecCTCModel`` or the path of its ``.ganglion`` archive) to
    ONNX at ``path``; returns the export report (largest error per output)."""
    from ganglion.graph.exporting import export
    from ganglion_asr.models import EncDecCTCModel

    if not isinstance(model, EncDecCTCModel):
        model = EncDecCTCModel.restore_from(str(model), map_location="cpu")
    rate = int(model.cfg.sample_rate)
    metadata = {
        "ganglion.model": type(model).__name__,
        "labels": json.dumps(list(model.labels)),
        "sample_rate": str(rate),
        "blank_id": str(len(model.labels)),
    }
    return export(
        model,
        path,
        "onnx",
        example_inputs=example_audio(rate),
        rtol=rtol,
        atol=atol,
        metadata=metadata,
        verbose=verbose,
    )


class OnnxCTCTranscriber:
    """Greedy CTC transcription with ONNX Runtime from a file :func:`export_ctc_model` wrote.

    Example::

        texts = OnnxCTCTranscriber("digits.onnx").transcribe(read_manifest("test.json"))
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from ganglion.graph.exporting import require_packages

        require_packages("onnx")
        import onnxruntime

        from ganglion_asr.decoding import GreedyCTCDecoder

        self.path = Path(path)
        if not self.path.is_file():
            raise GanglionError(f"ONNX model {self.path}: no such file")
        self.session = onnxruntime.InferenceSession(
            str(self.path), providers=["CPUExecutionProvider"]
        )
        meta = self.session.get_modelmeta().custom_metadata_map
        if "labels" not in meta or "sample_rate" not in meta:
            raise GanglionError(
                f"{self.path} has no labels/sample_rate metadata: it was not written by "
                "ganglion-asr export; export the .ganglion archive again"
            )
        self.labels = json.loads(meta["labels"])
        self.sample_rate = int(meta["sample_rate"])
        self.decoding = GreedyCTCDecoder(self.labels)

    def transcribe(self, items: Sequence[Any], batch_size: int = 16) -> list[str]:
        """One text per item (file paths or manifest entries), batched by length."""
        from ganglion_asr.data.dataset import collate_audio_tokens, load_entry_audio
        from ganglion_asr.models import _as_entry

        entries = [_as_entry(item) for item in items]
        order = sorted(range(len(entries)), key=lambda i: entries[i].duration)
        texts = [""] * len(entries)
        no_tokens = torch.zeros(0, dtype=torch.long)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            audio = [
                torch.from_numpy(load_entry_audio(entries[i], self.sample_rate)) for i in chunk
            ]
            signal, lengths, _, _ = collate_audio_tokens(
                [(a, torch.tensor(a.shape[0]), no_tokens, torch.tensor(0)) for a in audio]
            )
            _, encoded_lengths, predictions = self.session.run(
                ["outputs", "encoded_lengths", "greedy_predictions"],
                {
                    "input_signal": signal.float().numpy(),
                    "input_signal_length": lengths.long().numpy(),
                },
            )
            decoded = self.decoding(
                torch.from_numpy(predictions), torch.from_numpy(encoded_lengths)
            )
            for i, text in zip(chunk, decoded):
                texts[i] = text
        return texts
