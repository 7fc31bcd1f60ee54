"""Training-free scores: the NASWOT kernel by hand, synflow's homogeneity, determinism."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import archsearch
from archsearch.data import load_task
from archsearch.errors import InvalidParameterError
from archsearch.evaluators import TrialContext, ZeroCostProxies
from archsearch.evaluators.proxies import (
    PROXIES,
    fisher_channel_score,
    fisher_score,
    grasp_score,
    jacob_cov_score,
    naswot_kernel,
    naswot_score,
    synflow_score,
)


def test_naswot_kernel_counts_agreeing_units_as_computed_by_hand():
    linear = nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    model = nn.Sequential(linear, nn.ReLU())
    x = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])
    # codes: [1, 0, 0], [0, 1, 0], [1, 1, 1] (a pre-activation of exactly 0 is off)
    expected = torch.tensor([[3.0, 1.0, 1.0], [1.0, 3.0, 1.0], [1.0, 1.0, 3.0]], dtype=torch.float64)
    assert torch.equal(naswot_kernel(model, x), expected)
    assert naswot_score(model, x) == pytest.approx(math.log(20.0))
    # a second ReLU layer adds its own agreements
    twice = nn.Sequential(linear, nn.ReLU(), nn.Identity(), nn.ReLU())
    assert torch.equal(naswot_kernel(twice, x), 2 * expected)


def test_a_network_without_relus_is_an_error_not_a_zero():
    with pytest.raises(InvalidParameterError, match="no nn.ReLU"):
        naswot_score(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), torch.ones(3, 1, 2, 2))


def test_synflow_of_a_linear_chain_is_its_depth_times_the_flow():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3, bias=False), nn.Linear(3, 2, bias=False))
    w1, w2 = (net[i].weight.detach().double().abs() for i in (1, 2))
    flow = float((w2 @ w1 @ torch.ones(4, dtype=torch.float64)).sum())
    assert synflow_score(net, (1, 2, 2)) == pytest.approx(2 * flow, rel=1e-9)


def test_proxy_scores_are_deterministic_under_the_trial_seed():
    task = load_task("digits", seed=0)
    space = archsearch.create_space("nb201", channels=4, cells_per_stage=1)
    proxy = ZeroCostProxies(task, PROXIES, batch_size=32)
    proxy.setup(space)
    arch = space.sample(np.random.default_rng(1))
    first = proxy.evaluate(arch, TrialContext(0, 7))
    again = proxy.evaluate(arch, TrialContext(0, 7))
    other = proxy.evaluate(arch, TrialContext(1, 8))
    first.pop("proxy_seconds"), again.pop("proxy_seconds"), other.pop("proxy_seconds")
    assert first == again
    assert first["naswot"] != other["naswot"] and first["params"] == other["params"]
    assert first["flops"] == other["flops"] > first["params"]
    assert all(math.isfinite(v) for v in first.values())


def test_unknown_proxies_and_bad_batches_are_refused():
    task = load_task("digits", seed=0)
    with pytest.raises(InvalidParameterError, match="Unknown proxy 'zen'"):
        ZeroCostProxies(task, ("naswot", "zen"))
    with pytest.raises(InvalidParameterError, match="batch size"):
        ZeroCostProxies(task, batch_size=1)


def test_jacob_cov_scores_the_correlation_of_input_jacobians():
    model = nn.Sequential(nn.Flatten(), nn.ReLU())  # d(sum relu(x))/dx = [x > 0]
    x = torch.tensor([[1.0, -1, 1, -1], [1, 1, -1, -1], [-1, 1, 1, -1]]).view(3, 1, 2, 2)
    jacobians = (x.reshape(3, -1) > 0).double().numpy()
    v = np.linalg.eigvalsh(np.corrcoef(jacobians))
    expected = -np.sum(np.log(v + 1e-5) + 1 / (v + 1e-5))
    assert jacob_cov_score(model, x) == pytest.approx(expected, rel=1e-9)
    # a linear model gives every input the same Jacobian: perfectly correlated, far worse
    linear = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    assert jacob_cov_score(linear, x) < expected - 1e4
    # an output that ignores its input has constant Jacobians: nothing to correlate
    with torch.no_grad():
        linear[1].weight.zero_()
    assert math.isnan(jacob_cov_score(linear, x))
    # nor has a network whose output does not use its input at all
    cut = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    assert math.isnan(jacob_cov_score(lambda t: cut(torch.zeros_like(t)), x))


def test_grasp_is_minus_theta_times_the_exact_hessian_gradient_product():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    x, y = torch.randn(5, 1, 2, 2, dtype=torch.float64), torch.tensor([0, 1, 1, 0, 1])
    net = net.double()
    w1, b1, w2, b2 = (p.detach().clone() for p in net.parameters())
    sizes = [w1.numel(), w2.numel()]

    def loss_of(flat: torch.Tensor) -> torch.Tensor:
        a, b = flat.split(sizes)
        hidden = torch.tanh(x.flatten(1) @ a.view_as(w1).T + b1)
        return nn.functional.cross_entropy(hidden @ b.view_as(w2).T + b2, y)

    theta = torch.cat([w1.flatten(), w2.flatten()])
    g = torch.autograd.functional.jacobian(loss_of, theta)
    h = torch.autograd.functional.hessian(loss_of, theta)
    expected = float(-(theta * (h @ g)).sum())
    assert grasp_score(net, x, y) == pytest.approx(expected, rel=1e-9)


def _fisher_net_and_batch():
    torch.manual_seed(0)
    # a grouped convolution (fan-in 1 * 3 * 3 = 9) and a linear layer (fan-in 4 * 2 * 2 = 16)
    conv = nn.Conv2d(2, 4, 3, padding=1, groups=2, bias=False)
    net = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(16, 3))
    x, y = torch.randn(5, 2, 2, 2), torch.tensor([0, 2, 1, 0, 1])
    return net, x, y


def _channel_fisher_by_hand(net, x, y):
    """Per layer: 0.5 * batch mean of (sum over positions of activation * gradient)^2."""
    conv, linear = net[0], net[3]
    a = conv(x)
    a.retain_grad()
    out = linear(torch.relu(a).flatten(1))
    out.retain_grad()
    nn.functional.cross_entropy(out, y).backward()
    conv_channels = 0.5 * ((a * a.grad).sum((2, 3)) ** 2).mean(0)  # 4 values
    linear_channels = 0.5 * ((out * out.grad) ** 2).mean(0)  # 3 values
    net.zero_grad()
    return conv_channels.detach().double(), linear_channels.detach().double()


def test_fisher_channel_sums_half_the_mean_squared_channel_saliency():
    net, x, y = _fisher_net_and_batch()
    conv_channels, linear_channels = _channel_fisher_by_hand(net, x, y)
    expected = float(conv_channels.sum() + linear_channels.sum())
    assert fisher_channel_score(net, x, y) == pytest.approx(expected, rel=1e-5)


def test_fisher_weights_each_channel_by_its_layer_fan_in_as_the_zero_cost_reference():
    # the reference (Abdelfattah et al. 2021) gives every weight of an output channel that
    # channel's saliency and sums over weights: each channel counts fan-in times
    net, x, y = _fisher_net_and_batch()
    conv_channels, linear_channels = _channel_fisher_by_hand(net, x, y)
    conv_fan_in = 1 * 3 * 3  # in_channels / groups * kernel height * kernel width
    linear_fan_in = 16
    per_weight = [conv_channels.repeat_interleave(conv_fan_in),
                  linear_channels.repeat_interleave(linear_fan_in)]
    assert [len(v) for v in per_weight] == [net[0].weight.numel(), net[3].weight.numel()]
    expected = float(sum(v.sum() for v in per_weight))
    assert expected == pytest.approx(float(9 * conv_channels.sum() + 16 * linear_channels.sum()))
    assert fisher_score(net, x, y) == pytest.approx(expected, rel=1e-5)
    assert fisher_score(net, x, y) > 0
    # the two differ: the unweighted sum would rank networks differently
    assert fisher_channel_score(net, x, y) < fisher_score(net, x, y) / 8


SMALL = {"nb201": {"channels": 4, "cells_per_stage": 1}, "darts": {"channels": 4, "layers": 3},
         "chain": {"depth": 3}, "mnas": {"width": 0.25, "n_blocks": 3}}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_proxy_scores_every_space(name):
    assert set(SMALL) == set(archsearch.list_spaces())  # a new space joins this test
    space = archsearch.create_space(name, **SMALL[name])
    proxy = ZeroCostProxies(load_task("digits", seed=0), PROXIES, batch_size=16)
    proxy.setup(space)
    scores, seconds = proxy.scores(space.sample(np.random.default_rng(0)), 0)
    assert set(scores) == set(seconds) == set(PROXIES)
    assert all(math.isfinite(v) for v in scores.values()), scores
