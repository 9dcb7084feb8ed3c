"""Graph checkpoints: safetensors, atomic, checked before any weight changes."""

from __future__ import annotations

import pytest
import torch
from graph_fixtures import Affine, Mse, Pairs, Split

from ganglion.graph import GraphCheckpointError, NeuralGraph


def _graph(dim=3, names=None):
    dl, m1, m2, s, loss = Pairs(dim=dim), Affine(dim), Affine(dim), Split(), Mse()
    if names:
        m1.name, m2.name = names
    with NeuralGraph(operation_mode="training") as g:
        x, y = dl()
        a, _ = s(x=m2(x=m1(x=x)))
        loss(predictions=a, target=y)
    return g, m1, m2


def _weights(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_save_and_restore_round_trip_only_the_trainable_modules(tmp_path):
    g, m1, m2 = _graph()
    path = g.save_to(tmp_path / "ckpt.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        assert sorted(f.keys()) == sorted(
            f"{m.name}.linear.{p}" for m in (m1, m2) for p in ("weight", "bias")
        )
        assert f.metadata()["modules"] == f"{m1.name},{m2.name}"
    saved = _weights(m1), _weights(m2)
    with torch.no_grad():
        for p in g.parameters():
            p.add_(1.0)
    g.restore_from(path)
    for module, weights in zip((m1, m2), saved):
        for key, value in module.state_dict().items():
            assert torch.equal(value, weights[key])
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.safetensors"]  # no temp left


def test_module_names_select_what_is_saved_and_restored(tmp_path):
    g, m1, m2 = _graph()
    path = g.save_to(tmp_path / "one.safetensors", module_names=[m2.name])
    with torch.no_grad():
        for p in g.parameters():
            p.zero_()
    g.restore_from(path, module_names=[m2.name])
    assert all(torch.equal(v, torch.zeros_like(v)) for v in m1.state_dict().values())
    assert not torch.equal(m2.linear.weight, torch.zeros_like(m2.linear.weight))
    with pytest.raises(GraphCheckpointError, match=f"no weights for module '{m1.name}'"):
        g.restore_from(path)  # all trainable modules by default: m1 is not there


def test_a_checkpoint_of_other_shapes_is_refused_before_anything_loads(tmp_path):
    g3, *_ = _graph(dim=3)
    path = g3.save_to(tmp_path / "dim3.safetensors")
    g4, n1, n2 = _graph(dim=4, names=("layer_a", "layer_b"))
    # same names, other sizes: rename the 3-dim graph's modules into a checkpoint that matches
    g3_names = list(g3.graph_modules)
    del g3
    import safetensors.torch as st

    tensors = st.load_file(str(path))
    renamed = {
        k.replace(g3_names[1], "layer_a").replace(g3_names[2], "layer_b"): v
        for k, v in tensors.items()
    }
    st.save_file(
        renamed,
        str(path),
        metadata={"format": "ganglion.graph.weights", "modules": "layer_a,layer_b"},
    )
    before = _weights(n1), _weights(n2)
    with pytest.raises(GraphCheckpointError, match=r"layer_a.linear.weight has shape \[3, 3\]"):
        g4.restore_from(path)
    assert all(torch.equal(v, before[0][k]) for k, v in n1.state_dict().items())


def test_unknown_module_missing_file_and_foreign_file_are_clear_errors(tmp_path):
    g, *_ = _graph()
    with pytest.raises(GraphCheckpointError, match="has no module 'decodr'"):
        g.save_to(tmp_path / "x.safetensors", module_names=["decodr"])
    with pytest.raises(GraphCheckpointError, match="no such checkpoint file"):
        g.restore_from(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(GraphCheckpointError, match="not a graph checkpoint"):
        g.restore_from(junk)
    import safetensors.torch as st

    other = tmp_path / "other.safetensors"
    st.save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(GraphCheckpointError, match="not a graph checkpoint"):
        g.restore_from(other)


def test_a_checkpoint_never_holds_pickle(tmp_path):
    g, *_ = _graph()
    data = g.save_to(tmp_path / "c.safetensors").read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    import json

    header = json.loads(data[8 : 8 + header_len])
    assert all(v["dtype"] == "F32" for k, v in header.items() if k != "__metadata__")
