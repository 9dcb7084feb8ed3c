"""export(): ONNX and .pt2 files checked against eager before they are written."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from graph_fixtures import Masked

from ganglion.graph import ExportError, NeuralGraph
from ganglion.graph import exporting as export_module
from ganglion.graph.exporting import ExportReport, export
from ganglion.targets import allow_targets


@pytest.fixture(autouse=True)
def _allowed():
    with allow_targets(__name__):
        yield


def _other():
    return torch.randn(5, 8, 29), torch.tensor([29, 3, 7, 11, 1])


def test_pt2_loads_with_torch_export_and_runs_other_batch_and_time_sizes(tmp_path):
    module = Masked().eval()
    report = export(module, tmp_path / "m.pt2", verbose=False)
    assert isinstance(report, ExportReport) and report.format == "torch"
    assert report.dynamic_axes == {"x": {0: "batch", 2: "time"}, "lengths": {0: "batch"}}
    assert [c.inputs for c in report.checks] == [
        "example inputs (batch 2, time 16)",
        "other sizes (batch 3, time 24)",
    ]
    assert report.max_error <= 1e-6
    loaded = torch.export.load(tmp_path / "m.pt2").module()
    x, lengths = _other()
    got, want = loaded(x, lengths), module(x, lengths)
    torch.testing.assert_close(got[0], want[0])
    assert torch.equal(got[1], want[1])


def test_onnx_matches_eager_in_onnx_runtime_at_other_sizes(tmp_path, capsys):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    module = Masked().eval()
    report = export(module, tmp_path / "m.onnx", metadata={"note": "hello"})
    printed = capsys.readouterr().out
    assert "checked with ONNX Runtime" in printed and "largest abs error y" in printed
    assert report.format == "onnx" and len(report.checks) == 2
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    # an input returned as it is is renamed by torch.onnx (the output keeps the port name)
    assert [i.name for i in session.get_inputs()][0] == "x"
    assert [o.name for o in session.get_outputs()] == ["y", "lengths"]
    assert session.get_modelmeta().custom_metadata_map["note"] == "hello"
    x, lengths = _other()
    feeds = [i.name for i in session.get_inputs()]
    y, _ = session.run(None, dict(zip(feeds, [x.numpy(), lengths.numpy()])))
    torch.testing.assert_close(torch.from_numpy(y), module(x, lengths)[0], atol=1e-5, rtol=1e-4)


def test_a_neural_graph_exports_with_its_inputs_by_name(tmp_path):
    enc = Masked()
    with NeuralGraph(name="exported") as graph:
        enc(x=graph, lengths=graph)
    graph.eval()
    report = export(graph, tmp_path / "g.pt2", verbose=False)
    assert report.what == "NeuralGraph 'exported'" and report.max_error <= 1e-6
    loaded = torch.export.load(tmp_path / "g.pt2").module()
    x, lengths = _other()
    torch.testing.assert_close(loaded(x=x, lengths=lengths)[0], graph(x=x, lengths=lengths)[0])


def test_static_export_checks_the_example_only(tmp_path):
    report = export(Masked(), tmp_path / "s.pt2", dynamic=False, verbose=False)
    assert report.dynamic_axes == {} and len(report.checks) == 1
    loaded = torch.export.load(tmp_path / "s.pt2").module()
    with pytest.raises(Exception):  # noqa: B017 - torch's guard error on another size
        loaded(*_other())


def test_a_check_beyond_tolerance_refuses_and_writes_nothing(tmp_path, monkeypatch):
    path = tmp_path / "m.pt2"
    path.write_bytes(b"previous")
    real = export_module.compare

    def off_by_some(expected, got, *, rtol, atol):
        return real(expected, torch.as_tensor(got) + 0.5, rtol=rtol, atol=atol)

    monkeypatch.setattr(export_module, "compare", off_by_some)
    with pytest.raises(ExportError) as info:
        export(Masked(), path, verbose=False)
    message = str(info.value)
    assert "output 'y'" in message and "0.5" in message and "example inputs" in message
    assert "nothing was written" in message
    assert path.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt2"]  # no temp file left


def test_a_program_that_cannot_run_other_sizes_is_refused(tmp_path):
    class FixedLength(Masked):
        def forward(self, x, lengths):
            return torch.relu(self.conv(x)).reshape(x.shape[0], 6 * 16), lengths

    FixedLength.output_types = property(lambda self: {})
    with pytest.raises(ExportError, match="could not trace|does not run"):
        export(FixedLength(), tmp_path / "f.pt2", verbose=False)
    assert not (tmp_path / "f.pt2").exists()


def test_missing_onnx_packages_name_the_extra(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a)
    )
    with pytest.raises(ExportError, match=r"needs onnx, .*pip install 'ganglion-core\[export\]'"):
        export(Masked(), tmp_path / "m.onnx", verbose=False)
    assert not (tmp_path / "m.onnx").exists()


def test_unknown_format_and_modes_restored(tmp_path):
    module = Masked().train()
    with pytest.raises(ExportError, match="format 'tflite'"):
        export(module, tmp_path / "m.x", "tflite")
    export(module, tmp_path / "m.pt2", verbose=False)
    assert module.training and module.conv.training  # put back after the export
