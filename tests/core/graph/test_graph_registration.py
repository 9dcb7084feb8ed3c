"""How user modules reach serialised graphs, thread isolation, and import cost."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading

import pytest
import torch
from graph_fixtures import Affine

import ganglion
from ganglion.graph import GraphError, NeuralGraph


def test_a_registered_module_class_serialises_and_rebuilds_without_any_allow_list(
    ganglion_plugins,
):
    ganglion.register_module("GraphAffine", Affine)
    m = Affine()
    with NeuralGraph(name="registered_only") as g:
        m(x=g)
    data = g.serialize()
    del g, m
    gc.collect()
    rebuilt = NeuralGraph.deserialize(data)
    assert isinstance(rebuilt[data["steps"][0]], Affine)
    # a registered short name works as _target_ too
    data["modules"][data["steps"][0]]["_target_"] = "GraphAffine"
    del rebuilt
    gc.collect()
    assert NeuralGraph.deserialize(data)(x=torch.randn(2, 3)).shape == (2, 3)


def test_an_unregistered_class_is_refused_by_the_target_policy(ganglion_plugins):
    m = Affine()
    with NeuralGraph() as g:
        m(x=g)
    with pytest.raises(GraphError, match="graph_fixtures.Affine"):
        NeuralGraph.deserialize(g.serialize(), reuse_existing_modules=True)


def test_the_public_names_are_importable_from_ganglion():
    from ganglion import AppState, NeuralGraph, OperationMode  # noqa: F401

    assert ganglion.NeuralGraph is NeuralGraph


def test_a_graph_active_in_one_thread_does_not_capture_another_threads_calls():
    m = Affine()
    results = []
    ready, done = threading.Event(), threading.Event()

    def eager():
        ready.wait()
        results.append(m(torch.randn(2, 3)))
        done.set()

    worker = threading.Thread(target=eager)
    worker.start()
    with NeuralGraph() as g:
        ready.set()
        done.wait(timeout=30)
        m(x=g)
    worker.join()
    assert isinstance(results[0], torch.Tensor) and len(g.steps) == 1


def test_importing_the_graph_package_does_not_import_torch():
    code = (
        "import sys, ganglion.graph\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "ganglion.graph.OperationMode\n"
        "assert 'torch' not in sys.modules, 'torch imported by OperationMode'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
