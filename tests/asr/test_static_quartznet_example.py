"""The StaticGraph example (examples/graphs/static_quartznet.py) in its fast form: the
QuartzNet digit model trains through a compiled graph (aot_eager) beside its eager twin."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
from asr_fixtures import write_manifest_lines, write_tone

from ganglion.targets import allow_targets

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "graphs" / "static_quartznet.py"


@pytest.fixture(autouse=True)
def _own_classes_allowed():
    with allow_targets(__name__):
        yield


def _load_example():
    spec = importlib.util.spec_from_file_location("static_quartznet_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _tone_corpus(folder: Path) -> Path:
    """Eight tone "utterances" of 0.6-1.3 s with digit transcripts, as train_manifest.json."""
    words = ["one", "two", "three", "four five", "six", "seven", "eight nine", "zero"]
    rows = []
    for i, text in enumerate(words):
        seconds = 0.6 + 0.1 * i
        write_tone(folder / "wavs" / f"u{i}.wav", seconds, freq=220 + 90 * i)
        rows.append({"audio_filepath": f"wavs/u{i}.wav", "duration": seconds, "text": text})
    write_manifest_lines(folder / "train_manifest.json", rows)
    return folder


def test_fast_form_trains_through_the_compiled_graph(tmp_path, capsys):
    example = _load_example()
    corpus = _tone_corpus(tmp_path / "corpus")
    results = example.main(
        ["--fast", "--backend", "aot_eager", "--corpus", str(corpus), "--steps", "3"]
    )
    out = capsys.readouterr().out

    # every call ran forward, backward, optimizer and scheduler: the step counter advanced
    assert results["train_step"] == 3
    assert len(results["losses"]) == 3 and all(math.isfinite(x) for x in results["losses"])
    assert all(math.isfinite(x) for x in results["eager_losses"])
    # lengths differ from batch to batch, and the dynamic axes of the neural types absorb them
    assert results["recompiles"] == 0
    assert len(results["graph_step_s"]) == len(results["eager_step_s"]) == 2
    assert results["compile_s"] > 0
    for line in ("first call (compiles)", "step time over 2 interleaved steps", "recompiles"):
        assert line in out
    if "verify" in results:  # StaticGraph.verify: eager and compiled agree on aot_eager
        assert results["verify"].ok, str(results["verify"])
        assert "verify()" in out
