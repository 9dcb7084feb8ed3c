"""LAMB and Lion against hand-computed updates; every ganglion-optim optimizer trains."""

from __future__ import annotations

import math

import pytest
import torch
from optim_helpers import FROM_HOST_DATA, one_param, ops_during, regression, train

import ganglion
from ganglion.errors import ConfigError
from ganglion.optim import build_optimizer
from ganglion_optim.lamb import Lamb
from ganglion_optim.lion import Lion


def step_once(opt_cls, param, grad, **kwargs):
    opt = opt_cls([param], **kwargs)
    param.grad = torch.tensor(grad, dtype=param.dtype)
    opt.step()
    return opt


def test_lamb_scales_the_adam_update_by_the_layer_trust_ratio():
    w = one_param(3.0, 4.0)  # |w| = 5
    step_once(Lamb, w, [1.0, 2.0], lr=0.1, betas=(0.9, 0.999), eps=0.0)
    # m = 0.1 g, v = 0.001 g^2; bias-corrected m^ = g = [1, 2], v^ = g^2 = [1, 4]
    # r = m^ / sqrt(v^) = [1, 1], |r| = sqrt(2); trust = 5 / sqrt(2)
    shift = 0.1 * 5 / math.sqrt(2)
    assert w.tolist() == pytest.approx([3 - shift, 4 - shift], abs=1e-12)


def test_lamb_weight_decay_joins_the_update_before_the_trust_ratio():
    w = one_param(3.0, 4.0)
    step_once(Lamb, w, [1.0, 2.0], lr=0.1, eps=0.0, weight_decay=0.1)
    # r = [1, 1] + 0.1 * [3, 4] = [1.3, 1.4]; trust = 5 / sqrt(1.3^2 + 1.4^2)
    trust = 5 / math.sqrt(1.3**2 + 1.4**2)
    assert w.tolist() == pytest.approx([3 - 0.1 * trust * 1.3, 4 - 0.1 * trust * 1.4])


def test_lamb_without_adaptation_or_with_a_capped_ratio():
    w = one_param(3.0, 4.0)
    step_once(Lamb, w, [1.0, 2.0], lr=0.1, eps=0.0, adaptive=False)
    assert w.tolist() == pytest.approx([2.9, 3.9], abs=1e-12)  # plain Adam: r = [1, 1]
    w = one_param(3.0, 4.0)
    step_once(Lamb, w, [1.0, 2.0], lr=0.1, eps=0.0, max_trust_ratio=2.0)
    assert w.tolist() == pytest.approx([2.8, 3.8], abs=1e-12)  # 5 / sqrt(2) capped at 2


def test_lamb_zero_weights_take_the_plain_step():
    w = one_param(0.0, 0.0)  # no weight norm to trust: ratio 1
    step_once(Lamb, w, [1.0, -2.0], lr=0.1, eps=0.0)
    assert w.tolist() == pytest.approx([-0.1, 0.1], abs=1e-12)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_lamb_steps_make_no_tensor_from_host_data_and_keep_the_dtype(dtype):
    # one tensor takes the trust ratio, the other (zero weights) the plain step of ratio 1
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0], dtype=dtype))
    z = torch.nn.Parameter(torch.zeros(2, dtype=dtype))
    opt = Lamb([w, z], lr=0.1, eps=0.0)
    w.grad = torch.tensor([1.0, 2.0], dtype=dtype)
    z.grad = torch.tensor([1.0, -2.0], dtype=dtype)
    ops = ops_during(opt.step)
    # on a GPU such a tensor is a host-to-device copy per parameter per step
    assert FROM_HOST_DATA not in ops
    assert w.dtype == z.dtype == dtype
    shift = 0.1 * 5 / math.sqrt(2)
    assert w.tolist() == pytest.approx([3 - shift, 4 - shift], rel=1e-2)
    assert z.tolist() == pytest.approx([-0.1, 0.1], rel=1e-2)


def test_lion_moves_by_the_sign_of_the_interpolated_momentum():
    w = one_param(1.0, -1.0, 0.5)
    opt = Lion([w], lr=0.1, betas=(0.9, 0.99), weight_decay=0.5)
    w.grad = torch.tensor([0.2, -0.3, 0.0], dtype=w.dtype)
    opt.step()
    # c = 0.1 g -> sign [1, -1, 0]; w = 0.95 w - 0.1 sign = [0.85, -0.85, 0.475]
    assert w.tolist() == pytest.approx([0.85, -0.85, 0.475], abs=1e-12)
    # m = 0.01 g = [0.002, -0.003, 0]
    assert opt.state[w]["exp_avg"].tolist() == pytest.approx([0.002, -0.003, 0.0], abs=1e-15)
    w.grad = torch.tensor([-0.1, -0.1, 1.0], dtype=w.dtype)
    opt.step()
    # c = 0.9 m + 0.1 g = [-0.0082, -0.0127, 0.1] -> sign [-1, -1, 1]
    # w = 0.95 * [0.85, -0.85, 0.475] - 0.1 * [-1, -1, 1]
    assert w.tolist() == pytest.approx([0.9075, -0.7075, 0.35125], abs=1e-12)


@pytest.mark.parametrize(
    ("name", "cls", "lr"),
    [("novograd", "Novograd", 0.05), ("lamb", "Lamb", 0.05), ("lion", "Lion", 0.01)],
)
def test_each_plugin_optimizer_is_registered_and_reduces_the_loss(name, cls, lr):
    entry = ganglion.get_registry("optimizers").get(name)
    assert entry.provider.distribution == "ganglion-optim"
    model, loss_fn = regression()
    with torch.no_grad():
        before = float(loss_fn())
    optimizer = build_optimizer(model, {"name": name, "lr": lr})
    assert type(optimizer).__name__ == cls
    assert train(optimizer, loss_fn, 60) < 0.3 * before


def test_lamb_param_groups_exempt_biases_from_adaptation_and_decay():
    model, _ = regression()
    cfg = {
        "name": "lamb",
        "lr": 0.01,
        "weight_decay": 0.01,
        "param_groups": [{"match": "*.bias", "adaptive": False, "weight_decay": 0.0}],
    }
    optimizer = build_optimizer(model, cfg)
    default, biases = optimizer.param_groups
    assert default["adaptive"] is True and default["weight_decay"] == 0.01
    assert biases["adaptive"] is False and biases["weight_decay"] == 0.0
    assert len(biases["params"]) == 2


def test_lion_rejects_a_key_it_does_not_take():
    with pytest.raises(ConfigError, match=r"Unknown key 'eps' \(model\.optim\.eps\): optimizer"):
        build_optimizer(torch.nn.Linear(2, 1), {"name": "lion", "lr": 1e-4, "eps": 1e-8})
