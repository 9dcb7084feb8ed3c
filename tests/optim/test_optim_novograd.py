"""NovoGrad's update against values worked out by hand from the update rule.

The rule, per parameter tensor w with gradient g at step t (see ganglion_optim.novograd):
v_1 = |g_1|^2, v_t = b2 v_{t-1} + (1 - b2) |g_t|^2; u = g / (sqrt(v) + eps) + wd w,
times (1 - b1) with grad averaging; m_t = b1 m_{t-1} + u; w <- w - lr m_t.
"""

from __future__ import annotations

import math

import pytest
import torch
from optim_helpers import FROM_HOST_DATA, one_param, ops_during, regression, train

from ganglion.optim import build_optimizer, optimizer_params
from ganglion_optim.novograd import Novograd, NovogradParams


def run(param, grads, **kwargs):
    opt = Novograd([param], eps=0.0, **kwargs)
    out = []
    for g in grads:
        param.grad = torch.tensor(g, dtype=param.dtype)
        opt.step()
        out.append(param.detach().tolist())
    return out


def test_two_steps_with_weight_decay_match_the_hand_computation():
    w = one_param(1.0, 2.0)
    got = run(w, [[3.0, 4.0], [0.0, 2.0]], lr=0.1, betas=(0.5, 0.9), weight_decay=0.1)
    # step 1: |g|^2 = 25, sqrt(v) = 5; u = [3, 4] / 5 + 0.1 * [1, 2] = [0.7, 1.0] = m
    #         w = [1, 2] - 0.1 * [0.7, 1.0] = [0.93, 1.9]
    assert got[0] == pytest.approx([0.93, 1.9], abs=1e-12)
    # step 2: v = 0.9 * 25 + 0.1 * 4 = 22.9; u = [0, 2 / sqrt(22.9)] + 0.1 * [0.93, 1.9]
    #         m = 0.5 * [0.7, 1.0] + u = [0.443, 0.69 + 2 / sqrt(22.9)]
    m2 = [0.443, 0.5 + 0.19 + 2 / math.sqrt(22.9)]
    assert got[1] == pytest.approx([0.93 - 0.1 * m2[0], 1.9 - 0.1 * m2[1]], abs=1e-12)
    assert got[1] == pytest.approx([0.8857, 1.78920616], abs=1e-8)


def test_grad_averaging_scales_the_normalised_gradient_by_one_minus_beta1():
    w = one_param(1.0, 2.0)
    got = run(
        w,
        [[3.0, 4.0], [0.0, 2.0]],
        lr=0.1,
        betas=(0.5, 0.9),
        weight_decay=0.1,
        grad_averaging=True,
    )
    # step 1: u = 0.5 * [0.7, 1.0] = [0.35, 0.5]; w = [0.965, 1.95]
    assert got[0] == pytest.approx([0.965, 1.95], abs=1e-12)
    # step 2: u = 0.5 * ([0, 2 / sqrt(22.9)] + 0.1 * [0.965, 1.95]); m = 0.5 * [0.35, 0.5] + u
    u = [0.5 * 0.0965, 0.5 * (2 / math.sqrt(22.9) + 0.195)]
    m = [0.175 + u[0], 0.25 + u[1]]
    assert got[1] == pytest.approx([0.965 - 0.1 * m[0], 1.95 - 0.1 * m[1]], abs=1e-12)


def test_amsgrad_normalises_by_the_largest_second_moment():
    grads = [[3.0, 4.0], [0.0, 2.0]]
    plain = run(one_param(1.0, 2.0), grads, lr=0.1, betas=(0.5, 0.9))
    ams = run(one_param(1.0, 2.0), grads, lr=0.1, betas=(0.5, 0.9), amsgrad=True)
    # step 1 is the same: u = [0.6, 0.8]; w = [0.94, 1.92]
    assert plain[0] == ams[0] == pytest.approx([0.94, 1.92], abs=1e-12)
    # step 2: v fell to 22.9 but amsgrad keeps 25: u = [0, 2 / 5]; m = [0.3, 0.4 + 0.4]
    assert ams[1] == pytest.approx([0.94 - 0.03, 1.92 - 0.08], abs=1e-12)
    assert plain[1] == pytest.approx([0.94 - 0.03, 1.92 - 0.1 * (0.4 + 2 / math.sqrt(22.9))])


def test_second_moments_are_per_layer_so_each_layer_update_ignores_gradient_scale():
    a, b = one_param(1.0, 1.0), one_param(1.0, 1.0)
    opt = Novograd([a, b], lr=0.1, betas=(0.5, 0.9), eps=0.0)
    a.grad = torch.tensor([3.0, 4.0], dtype=torch.float64)
    b.grad = 1000 * a.grad  # same direction, a thousand times larger
    opt.step()
    # each tensor is normalised by its own gradient norm: both move by 0.1 * [0.6, 0.8]
    assert a.tolist() == pytest.approx([0.94, 0.92], abs=1e-12)
    assert b.tolist() == pytest.approx([0.94, 0.92], abs=1e-12)
    assert opt.state[a]["exp_avg_sq"].item() == pytest.approx(25.0)
    assert opt.state[b]["exp_avg_sq"].item() == pytest.approx(25e6)


def test_layerwise_update_clipping_bounds_the_step_by_the_trust_ratio():
    # |w| = 5, u = m = [0.6, 0.8] (|m| = 1): luc's step is min(lr, 0.01 * 5 / 1) = 0.05
    clipped = run(one_param(3.0, 4.0), [[3.0, 4.0]], lr=0.1, luc=True, luc_trust=0.01)
    assert clipped[0] == pytest.approx([3 - 0.05 * 0.6, 4 - 0.05 * 0.8], abs=1e-9)
    # a learning rate below the trust bound is used as is
    small = run(one_param(3.0, 4.0), [[3.0, 4.0]], lr=0.01, luc=True, luc_trust=0.01)
    assert small[0] == pytest.approx([3 - 0.01 * 0.6, 4 - 0.01 * 0.8], abs=1e-9)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_layerwise_update_clipping_makes_no_tensor_from_host_data_and_keeps_the_dtype(dtype):
    # |w| = 5, m = [0.6, 0.8]: step min(0.1, 0.01 * 5) = 0.05; zero weights: the plain lr
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0], dtype=dtype))
    z = torch.nn.Parameter(torch.zeros(2, dtype=dtype))
    opt = Novograd([w, z], lr=0.1, eps=0.0, luc=True, luc_trust=0.01)
    w.grad = torch.tensor([3.0, 4.0], dtype=dtype)
    z.grad = torch.tensor([3.0, -4.0], dtype=dtype)
    ops = ops_during(opt.step)
    # on a GPU such a tensor is a host-to-device copy per parameter per step
    assert FROM_HOST_DATA not in ops
    assert w.dtype == z.dtype == dtype
    assert w.tolist() == pytest.approx([3 - 0.05 * 0.6, 4 - 0.05 * 0.8], rel=1e-2)
    assert z.tolist() == pytest.approx([-0.1 * 0.6, 0.1 * 0.8], rel=1e-2)


def test_amsgrad_allocates_its_moment_once_also_when_switched_on_later(monkeypatch):
    w = one_param(1.0, 2.0)
    opt = Novograd([w], lr=0.1, betas=(0.5, 0.9), eps=0.0)
    w.grad = torch.tensor([3.0, 4.0], dtype=w.dtype)
    opt.step()  # without amsgrad: no largest moment kept
    assert "max_exp_avg_sq" not in opt.state[w]
    opt.param_groups[0]["amsgrad"] = True
    w.grad = torch.tensor([0.0, 2.0], dtype=w.dtype)
    opt.step()  # v = 22.9 is the largest seen since amsgrad was switched on
    kept = opt.state[w]["max_exp_avg_sq"]
    assert kept.item() == pytest.approx(22.9) and kept.dtype == torch.float64
    allocations = []
    zeros_like = torch.zeros_like
    monkeypatch.setattr(
        torch, "zeros_like", lambda *a, **k: allocations.append(1) or zeros_like(*a, **k)
    )
    for g in ([30.0, 0.0], [0.0, 1.0]):
        w.grad = torch.tensor(g, dtype=w.dtype)
        opt.step()
    assert allocations == []
    assert opt.state[w]["max_exp_avg_sq"] is kept  # updated in place
    assert kept.item() == pytest.approx(0.9 * 22.9 + 0.1 * 900)


def test_half_precision_weights_keep_float32_second_moments_across_a_checkpoint():
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0], dtype=torch.bfloat16))
    opt = Novograd([w], lr=0.1)
    w.grad = torch.tensor([3.0, 4.125], dtype=torch.bfloat16)
    opt.step()
    v = opt.state[w]["exp_avg_sq"]
    # 9 + 4.125^2 = 26.015625, which bfloat16 would round to 26
    assert v.dtype == torch.float32 and v.item() == 26.015625
    again = Novograd([w], lr=0.1)
    again.load_state_dict(opt.state_dict())
    assert again.state[w]["exp_avg_sq"].dtype == torch.float32
    assert again.state[w]["exp_avg_sq"].item() == v.item()
    assert again.state[w]["exp_avg"].dtype == torch.bfloat16


def test_state_dict_round_trip_continues_identically():
    grads = [[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2], [0.2, 0.2]]
    reference = run(one_param(1.0, -1.0), grads, lr=0.1, amsgrad=True, weight_decay=0.01)

    w = one_param(1.0, -1.0)
    first = Novograd([w], lr=0.1, eps=0.0, amsgrad=True, weight_decay=0.01)
    for g in grads[:2]:
        w.grad = torch.tensor(g, dtype=w.dtype)
        first.step()
    saved = first.state_dict()
    w2 = torch.nn.Parameter(w.detach().clone())
    resumed = Novograd([w2], lr=0.5)
    resumed.load_state_dict(saved)
    for g in grads[2:]:
        w2.grad = torch.tensor(g, dtype=w2.dtype)
        resumed.step()
    assert w2.tolist() == reference[-1]


def test_params_dataclass_is_the_seed_one_with_lr_required():
    assert optimizer_params("novograd") is NovogradParams
    assert repr(NovogradParams()) == (
        "NovogradParams(lr='???', betas=(0.95, 0.98), eps=1e-08, weight_decay=0.0, "
        "grad_averaging=False, amsgrad=False, luc=False, luc_trust=0.001, luc_eps=1e-08)"
    )


def test_invalid_arguments_are_errors_naming_the_argument():
    p = [one_param(1.0)]
    with pytest.raises(ValueError, match="betas must be two values in"):
        Novograd(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        Novograd(p, weight_decay=-1.0)


@pytest.mark.parametrize(
    "flags", [{}, {"grad_averaging": True, "amsgrad": True}, {"luc": True, "luc_trust": 0.05}]
)
def test_novograd_reduces_the_loss_of_a_regression(flags):
    model, loss_fn = regression()
    before = train(torch.optim.SGD(model.parameters(), lr=0.0), loss_fn, 0)
    optimizer = build_optimizer(model, {"name": "novograd", "lr": 0.05, **flags})
    assert isinstance(optimizer, Novograd)
    assert train(optimizer, loss_fn, 60) < 0.3 * before
