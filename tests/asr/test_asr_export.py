"""ganglion-asr export: the CTC model as ONNX, transcribing like the archive in ONNX Runtime."""

from __future__ import annotations

import copy

import pytest
from asr_fixtures import TINY_ASR_MODULES

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

import torch  # noqa: E402

from ganglion_asr.cli import main  # noqa: E402
from ganglion_asr.data.manifest import read_manifest  # noqa: E402
from ganglion_asr.data.vocab import ENGLISH_LABELS  # noqa: E402
from ganglion_asr.models import EncDecCTCModel  # noqa: E402
from ganglion_asr.onnx_export import OnnxCTCTranscriber  # noqa: E402


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def archive(tmp_path):
    torch.manual_seed(0)
    cfg = {"sample_rate": 16000, "labels": list(ENGLISH_LABELS), **copy.deepcopy(TINY_ASR_MODULES)}
    model = EncDecCTCModel(cfg)
    with torch.no_grad():  # an untrained model emits blanks only; make its labels vary
        model.decoder.decoder_layers[0].bias.normal_(0, 2.0)
    return model.save_to(tmp_path / "tiny.ganglion")


def test_export_transcribes_the_tones_exactly_like_the_archive(
    archive, tone_corpus, tmp_path, capsys
):
    out = tmp_path / "tiny.onnx"
    assert main(["export", str(archive), str(out), "--check", str(tone_corpus)]) == 0
    printed = capsys.readouterr().out
    assert "checked with ONNX Runtime" in printed and "other sizes (batch 3" in printed
    assert "0 transcript(s) differ" in printed
    entries = read_manifest(tone_corpus)
    onnx_texts = OnnxCTCTranscriber(out).transcribe(entries, batch_size=2)
    model = EncDecCTCModel.restore_from(str(archive), map_location="cpu")
    torch_texts = model.transcribe(entries, batch_size=3)
    assert onnx_texts == torch_texts
    assert any(onnx_texts)  # not all empty: the comparison means something


def test_export_without_the_onnx_packages_names_the_extra(archive, tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real(name, *a),
    )
    assert main(["export", str(archive), str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "onnxruntime" in err and "ganglion-core[export]" in err
    assert not (tmp_path / "m.onnx").exists()
