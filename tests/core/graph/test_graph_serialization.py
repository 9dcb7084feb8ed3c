"""serialize / deserialize, YAML export / import: round trips, the _target_ policy, and
files that are refused without building anything."""

from __future__ import annotations

import copy
import gc

import pytest
import torch
import yaml
from graph_fixtures import Affine, Mse, Pairs, Split

from ganglion.graph import AppState, GraphError, NeuralGraph
from ganglion.graph.errors import GraphConfigError
from ganglion.targets import allow_targets


@pytest.fixture(autouse=True)
def _fixtures_allowed():
    with allow_targets("graph_fixtures"):
        yield


def _training_graph(name="trained"):
    dl, m, s, loss = Pairs(), Affine(), Split(), Mse()
    with NeuralGraph(operation_mode="training", name=name) as g:
        x, y = dl()
        a, _ = s(x=m(x=x))
        loss(predictions=a, target=y)
    return g


def _names():
    return set(AppState().modules), set(AppState().graphs)


def test_serialize_gives_plain_data_in_the_documented_layout():
    g = _training_graph()
    data = g.serialize()
    assert yaml.safe_load(yaml.safe_dump(data)) == data
    header = data["header"]
    assert header["format"] == "ganglion.graph" and header["operation_mode"] == "training"
    assert header["name"] == "trained" and "ganglion_version" in header
    steps = data["steps"]
    assert data["modules"][steps[1]] == {"_target_": "graph_fixtures.Affine", "dim": 3}
    assert f"0.{steps[0]}.x->1.{steps[1]}.x | B,D:ChannelType" in data["connections"]
    assert data["outputs"]["type"] == "default"
    assert f"3.{steps[3]}.loss->loss | *:LossType" in data["outputs"]["mappings"]


def test_deserialize_rebuilds_an_equal_graph_that_runs():
    g = _training_graph("roundtrip")
    data = g.serialize()
    del g
    gc.collect()  # frees the names
    rebuilt = NeuralGraph.deserialize(data)
    assert rebuilt.name == "roundtrip"
    assert rebuilt.serialize() == data
    out = rebuilt(next(iter(rebuilt.get_batch())))
    assert out.loss.ndim == 0


def test_reuse_existing_modules_wires_the_same_objects_and_the_name_is_renumbered():
    g = _training_graph("reused")
    data = g.serialize()
    rebuilt = NeuralGraph.deserialize(data, reuse_existing_modules=True)
    assert rebuilt.name != "reused" and rebuilt.name.startswith("neuralgraph")
    assert all(rebuilt[n] is g[n] for n in g.graph_modules)
    expected = copy.deepcopy(data)
    expected["header"]["name"] = rebuilt.name
    assert rebuilt.serialize() == expected
    named = NeuralGraph.deserialize(data, reuse_existing_modules=True, name="given_name")
    assert named.name == "given_name"


def test_without_reuse_an_existing_module_name_is_an_error_and_nothing_is_built():
    g = _training_graph()
    data = g.serialize()
    before = _names()
    with pytest.raises(GraphConfigError, match=f"a module named '{data['steps'][0]}' already"):
        NeuralGraph.deserialize(data)
    assert _names() == before


def test_manual_outputs_round_trip_through_yaml(tmp_path):
    m = Affine()
    with NeuralGraph(name="manual_out") as g:
        g.outputs["result"] = m(x=g)
    path = g.export_to_config(tmp_path / "g.yaml")
    assert not list(tmp_path.glob(".*tmp"))
    data = g.serialize()
    assert data["outputs"] == {
        "type": "manual",
        "mappings": [f"0.{m.name}.y->result | B,D:ChannelType"],
    }
    del g, m
    gc.collect()
    rebuilt = NeuralGraph.import_from_config(path)
    assert rebuilt.serialize() == data
    assert rebuilt(x=torch.randn(2, 3)).shape == (2, 3)


def _edit(data, path, value):
    data = copy.deepcopy(data)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("modules", "M1", "_target_"), "os.system"),
        (("modules", "M1", "_target_"), "graph_fixtures_missing.Affine"),
        (("connections", 0), "0.D0.x->7.M1.x | B,D:ChannelType"),
        (("connections", 0), "0.D0.x->1.M1.x | B,D:NoSuchType"),
        (("connections", 0), "0.D0.x->1.M1.x | D,B:ChannelType"),
        (("connections", 0), "nonsense"),
        (("header", "format_version"), 99),
        (("header", "operation_mode"), "sometimes"),
        (("steps", 1), "ghost"),
    ],
)
def test_a_bad_file_is_refused_naming_the_item_and_nothing_is_built(edit, message):
    g = _training_graph("source_graph")
    data = g.serialize()
    steps = data["steps"]
    del g
    gc.collect()
    names = {"D0": steps[0], "M1": steps[1]}
    path = tuple(names.get(p, p) if isinstance(p, str) else p for p in edit)
    value = message
    for short, real in names.items():
        value = value.replace(short, real) if isinstance(value, str) else value
    bad = _edit(data, path, value)
    before = _names()
    with pytest.raises(GraphError) as info:
        NeuralGraph.deserialize(bad)
    text = str(info.value)
    key = {
        "os.system": "os.system",
        "graph_fixtures_missing.Affine": "graph_fixtures_missing",
        "0.D0.x->7.M1.x | B,D:ChannelType": "step 7 does not exist",
        "0.D0.x->1.M1.x | B,D:NoSuchType": "NoSuchType",
        "0.D0.x->1.M1.x | D,B:ChannelType": "the file says type D,B:ChannelType",
        "nonsense": "connections[0] 'nonsense'",
        99: "format_version 99",
        "sometimes": "'sometimes' is not an operation mode",
        "ghost": "steps[1]: module 'ghost' is not in modules",
    }[message]
    assert key in text
    assert _names() == before


def test_a_module_the_policy_refuses_is_never_imported(monkeypatch):
    import sys

    g = _training_graph()
    data = g.serialize()
    bad = _edit(data, ("modules", data["steps"][1], "_target_"), "antigravity.Thing")
    with pytest.raises(GraphError, match="antigravity"):
        NeuralGraph.deserialize(bad, reuse_existing_modules=True)
    assert "antigravity" not in sys.modules


def test_import_from_config_reports_yaml_errors_with_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("header: {format: ganglion.graph\nmodules: [\n")
    with pytest.raises(GraphConfigError, match=r"broken.yaml, line \d+, column \d+"):
        NeuralGraph.import_from_config(path)
    with pytest.raises(GraphConfigError, match="no such file|cannot read"):
        NeuralGraph.import_from_config(tmp_path / "missing.yaml")
    path.write_text("- just a list\n")
    with pytest.raises(GraphConfigError, match="a serialised graph is a mapping"):
        NeuralGraph.import_from_config(path)


def test_a_module_that_cannot_be_serialised_is_named():
    from graph_fixtures import X

    from ganglion.graph import DataLayer

    dl = DataLayer(torch.utils.data.TensorDataset(torch.zeros(4, 3)), {"x": X})
    with NeuralGraph() as g:
        dl()
    with pytest.raises(GraphError, match=f"module {dl.name} \\(DataLayer\\) cannot be serialised"):
        g.serialize()
