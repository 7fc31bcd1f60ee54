"""Collapse signals and the SDARTS-RS remedy."""

import pytest
import torch
from torch.func import functional_call
from torch.nn import functional as F

import archsearch
from archsearch.oneshot import dominant_eigenvalue, op_shares, random_smoothing
from archsearch.spaces.nb201 import NB201_OPS
from archsearch.spaces.nb201_supernet import NB201Supernet


def test_dominant_eigenvalue_matches_the_exact_hessian():
    torch.manual_seed(0)
    net = NB201Supernet(2, 1, 1, 3, NB201_OPS).double()
    with torch.no_grad():
        net.alphas.normal_(0, 1)
    x = torch.randn(6, 1, 4, 4, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    buffers = {n: b.clone() for n, b in net.named_buffers()}

    def loss(alphas):
        out = functional_call(net, {**buffers, "alphas": alphas.view(6, 5)}, (x,), strict=False)
        return F.cross_entropy(out, y)

    hessian = torch.autograd.functional.hessian(loss, net.alphas.detach().reshape(-1))
    top = float(torch.linalg.eigvalsh(hessian).max())
    lam, vec = dominant_eigenvalue(net, x, y, iters=500, tol=1e-9, r=1e-5)
    assert lam == pytest.approx(top, rel=1e-3)
    # the vector is the eigenvector: H v = lambda v
    torch.testing.assert_close(hessian @ vec, lam * vec, rtol=0, atol=1e-3 * abs(top))


def test_random_smoothing_keeps_rows_on_the_simplex_and_follows_its_generator():
    mixing = [torch.softmax(torch.randn(500, 2), -1), torch.softmax(torch.randn(7, 8), -1)]
    a = random_smoothing(mixing, 10.0, torch.Generator().manual_seed(3))
    b = random_smoothing(mixing, 10.0, torch.Generator().manual_seed(3))
    c = random_smoothing(mixing, 10.0, torch.Generator().manual_seed(4))
    for noisy, clean in zip(a, mixing):
        assert noisy.shape == clean.shape and not noisy.requires_grad
        assert bool((noisy >= 0).all()) and torch.allclose(noisy.sum(-1), torch.ones(len(clean)))
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert not torch.equal(a[0], c[0])
    # with noise this large many rows keep a single operation
    one_hot = (a[0] == 1).any(-1)
    assert bool(one_hot.any())
    small = random_smoothing(mixing, 0.01, torch.Generator().manual_seed(0))
    assert (small[1] - mixing[1]).abs().max() < 0.05


def test_op_shares_count_parameter_free_ops_of_the_derived_cell():
    nb201 = archsearch.create_space("nb201")
    arch = nb201.parse("|skip_connect~0|+|none~0|skip_connect~1|+|nor_conv_3x3~0|none~1|none~2|")
    assert op_shares(nb201, arch) == {"skip_share": 2 / 6, "none_share": 3 / 6}
    darts = archsearch.create_space("darts", n_nodes=2, ops=["skip_connect", "sep_conv_3x3"])
    arch = darts.derive_alphas({"alphas_normal": [[0, 1, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1],
                                                  [0, 0, 0]],
                                "alphas_reduce": [[0, 0, 1]] * 5})
    assert op_shares(darts, arch) == {"skip_share": 0.5, "none_share": 0.0}
