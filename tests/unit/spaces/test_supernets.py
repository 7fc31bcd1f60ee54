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


def test_darts_derivation_from_stored_alphas_ranks_edges_by_their_best_real_op():
    space = archsearch.create_space("darts", n_nodes=2, ops=["skip_connect", "sep_conv_3x3"])
    # rows: node 2 reads inputs 0, 1; node 3 reads 0, 1, 2. Columns: none, skip, sep.
    normal = [[9.0, 0, 1], [0, 2, 0], [0, 1, 0], [0, 1, 0], [0, 0, 3]]
    reduce = [[0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]]
    arch = space.derive_alphas({"alphas_normal": normal, "alphas_reduce": reduce})
    genotype = space.to_genotype(arch)
    # input 0's none is largest, yet its edge ranks by sep (weight e^1) below input 1's
    # skip (e^2); node 3 ties inputs 0 and 1 at e^1 and keeps the earlier one
    assert genotype.normal == [("skip_connect", 1), ("sep_conv_3x3", 0),
                               ("sep_conv_3x3", 2), ("skip_connect", 0)]
    # node 3's three edges tie (e^1 each): the two earlier inputs win
    assert genotype.reduce == [("skip_connect", 0), ("skip_connect", 1),
                               ("sep_conv_3x3", 0), ("skip_connect", 1)]


def test_derivation_from_a_supernet_equals_derivation_from_its_alphas():
    torch.manual_seed(1)
    for name in SPACES:
        space = small(name)
        net = space.supernet((1, 8, 8), 10)
        with torch.no_grad():
            for a in net.arch_parameters():
                a.normal_()
        stored = {k: a.tolist() for k, a in net.named_arch_parameters().items()}
        assert space.derive_alphas(stored) == space.derive(net)


@pytest.mark.parametrize("alphas, match", [
    ({}, "needs architecture weights 'alphas'"),
    ({"alphas": [[0.0] * 5] * 5}, r"shape \(6, 5\); got shape \(5, 5\)"),
    ({"alphas": [["a"] * 5] * 6}, "non-numeric"),
    ({"alphas": [[float("nan")] * 5] * 6}, "non-finite"),
])
def test_derivation_refuses_malformed_alphas_in_one_line(alphas, match):
    with pytest.raises(archsearch.InvalidParameterError, match=match) as err:
        archsearch.create_space("nb201").derive_alphas(alphas)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", SPACES)
def test_given_mixing_weights_replace_the_softmax(name):
    torch.manual_seed(0)
    net = small(name).supernet((1, 8, 8), 10).eval()
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(net(x), net(x, net.mixing_weights()))
    one_hot = [torch.nn.functional.one_hot(torch.zeros(len(m), dtype=torch.long), m.shape[1]).float()
               for m in net.mixing_weights()]
    assert not torch.allclose(net(x), net(x, one_hot))
