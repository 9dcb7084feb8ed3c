"""enable_zero in a one-process gloo group: stages 1-3 train as eager does."""

from __future__ import annotations

import copy
import socket

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

from ganglion.graph import GraphError, StaticGraph


@pytest.fixture
def one_process_group(monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(port))
    dist.init_process_group("gloo", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


class _Train(StaticGraph):
    def __init__(self, model, optimizer, scheduler, stage):
        super().__init__()
        self.model = model
        self.add_optimizer(optimizer, lr_sch=scheduler)
        self.config.set_backend("aot_eager")
        self.config.enable_zero(True, stage=stage, shard_min_size=1)

    def build(self, x, y):
        loss = F.mse_loss(self.model(x), y)
        loss.backward()
        return loss


def _optimizer(model):
    optimizer = torch.optim.SGD(
        [{"params": model[0].parameters(), "lr": 0.2}, {"params": model[2].parameters()}], lr=0.1
    )
    return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, 1, 0.5)


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_each_zero_stage_trains_as_eager(one_process_group, stage):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    eager = copy.deepcopy(model)
    graph = _Train(model, *_optimizer(model), stage)
    eager_opt, eager_sch = _optimizer(eager)
    for _ in range(3):
        x, y = torch.randn(8, 4), torch.randn(8, 1)
        loss = graph(x, y)
        expected = F.mse_loss(eager(x), y)
        expected.backward()
        eager_opt.step()
        eager_opt.zero_grad()
        eager_sch.step()
        assert torch.allclose(loss, expected)
    for a, b in zip(model.parameters(), eager.parameters()):
        a = a.full_tensor() if hasattr(a, "full_tensor") else a
        assert torch.allclose(a.detach(), b.detach())


def test_zero_stage1_state_dict_round_trip_continues_as_uninterrupted(one_process_group, tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    twin = copy.deepcopy(model)
    graph = _Train(model, *_optimizer(model), 1)
    batches = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
    for x, y in batches[:2]:
        graph(x, y)
    torch.save(graph.state_dict(), tmp_path / "graph.pt")
    for x, y in batches[2:]:
        graph(x, y)

    resumed = _Train(twin, *_optimizer(twin), 1)
    resumed.load_state_dict(torch.load(tmp_path / "graph.pt", weights_only=True))
    assert resumed.train_step == 2
    for x, y in batches[2:]:
        resumed(x, y)
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.equal(a, b)


def test_a_state_without_optimizer_state_is_refused(one_process_group):
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    graph = _Train(model, *_optimizer(model), 1)
    graph(torch.randn(8, 4), torch.randn(8, 1))
    state = graph.state_dict()
    state["optimizers"] = [None]
    with pytest.raises(GraphError, match="load the state that rank 0 saved"):
        graph.load_state_dict(state)
