"""Supernets of the one-shot spaces: weights and architecture parameters apart, derivation."""

import pytest
import torch

import archsearch

SPACES = [n for n in archsearch.list_spaces() if hasattr(archsearch.create_space(n), "supernet")]


def small(name):
    space = archsearch.create_space(name)
    return archsearch.create_space(name, **type(space).TEST_CONFIG)


def test_the_one_shot_spaces_have_supernets():
    assert {"nb201", "darts"} <= set(SPACES)


@pytest.mark.parametrize("name", SPACES)
def test_parameters_split_and_gradients_reach_both(name):
    torch.manual_seed(0)
    space = small(name)
    net = space.supernet((1, 8, 8), 10)
    arch_ids = {id(p) for p in net.arch_parameters()}
    weight_ids = {id(p) for p in net.weights()}
    assert arch_ids and not arch_ids & weight_ids
    assert arch_ids | weight_ids == {id(p) for p in net.parameters()}
    loss = torch.nn.functional.cross_entropy(net(torch.randn(4, 1, 8, 8)), torch.arange(4))
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.arch_parameters())
    space.validate(space.derive(net))


def test_nb201_derivation_takes_the_argmax_of_every_edge():
    space = small("nb201")
    net = space.supernet((3, 8, 8), 10)
    ops = ["skip_connect", "nor_conv_3x3", "none", "avg_pool_3x3", "nor_conv_1x1", "none"]
    with torch.no_grad():
        net.alphas.zero_()
        for edge, op in enumerate(ops):
            net.alphas[edge, net.ops.index(op)] = 1.0
    assert space.derive(net).values == tuple(ops)
