"""The DARTS architecture gradient, first and second order, against exact autograd."""

import pytest
import torch
from torch.func import functional_call
from torch.nn import functional as F

from archsearch.oneshot import Architect, virtual_weights
from archsearch.spaces.darts_supernet import DartsSupernet
from archsearch.spaces.nb201 import NB201_OPS
from archsearch.spaces.nb201_supernet import NB201Supernet

XI, MU, WD = 0.1, 0.9, 3e-4


def tiny(kind):
    torch.manual_seed(0)
    if kind == "nb201":
        net, shape = NB201Supernet(2, 1, 1, 3, NB201_OPS), (6, 1, 4, 4)
    else:
        net = DartsSupernet(2, 3, 3, n_nodes=2, ops=("skip_connect", "sep_conv_3x3", "avg_pool_3x3"))
        shape = (6, 3, 6, 6)
    net = net.double()
    with torch.no_grad():
        for a in net.arch_parameters():
            a.normal_(0, 0.5)
    gen = torch.Generator().manual_seed(1)
    xt, xv = (torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(2))
    yt, yv = (torch.randint(0, 3, (shape[0],), generator=gen) for _ in range(2))
    w_opt = torch.optim.SGD(net.weights(), lr=XI, momentum=MU, weight_decay=WD)
    # one real step so the momentum buffer is not zero
    F.cross_entropy(net(xt), yt).backward(inputs=net.weights())
    w_opt.step()
    a_opt = torch.optim.Adam(net.arch_parameters(), lr=3e-4)
    return net, w_opt, a_opt, (xt, yt, xv, yv)


def exact_second_order(net, w_opt, xt, yt, xv, yv):
    """d/da L_val(w - xi (mu buf + grad_w L_train(w, a) + wd w), a), by double backward."""
    names = [n for n, p in net.named_parameters() if all(p is not a for a in net.arch_parameters())]
    weights = [p for n, p in net.named_parameters() if n in names]
    buffers = {n: b.clone() for n, b in net.named_buffers()}
    loss = F.cross_entropy(functional_call(net, buffers, (xt,), strict=False), yt)
    grads = torch.autograd.grad(loss, weights, create_graph=True)
    unrolled = {
        n: w - XI * (MU * w_opt.state[w]["momentum_buffer"] + g + WD * w)
        for n, w, g in zip(names, weights, grads)
    }
    val = F.cross_entropy(functional_call(net, {**unrolled, **buffers}, (xv,), strict=False), yv)
    return torch.autograd.grad(val, net.arch_parameters())


def flat(tensors):
    return torch.cat([t.reshape(-1) for t in tensors])


@pytest.mark.parametrize("kind", ["nb201", "darts"])
def test_second_order_gradient_matches_exact_autograd(kind):
    net, w_opt, a_opt, batches = tiny(kind)
    exact = flat(exact_second_order(net, w_opt, *batches))
    before = {n: t.clone() for n, t in net.state_dict().items()}
    # the paper's r = 1e-2 moves the weights of these tiny nets across ReLU kinks;
    # at 1e-5 the central difference is exact to the last digits in double
    second = flat(Architect(net, w_opt, a_opt, order=2, r=1e-5).gradient(*batches)[0])
    first = flat(Architect(net, w_opt, a_opt, order=1).gradient(*batches)[0])
    # the second-order term is large enough here that a silently first-order step fails
    assert (exact - first).norm() > 1e-2 * exact.norm()
    assert (second - exact).norm() <= 1e-7 * exact.norm()
    # computing the gradient leaves weights, alphas and batch-norm statistics alone
    for n, t in net.state_dict().items():
        if n.endswith("num_batches_tracked") or "running" in n:
            continue
        assert torch.equal(t, before[n]), n


def test_second_order_gradient_matches_a_directional_difference():
    net, w_opt, a_opt, (xt, yt, xv, yv) = tiny("nb201")
    grad = Architect(net, w_opt, a_opt, order=2, r=1e-5).gradient(xt, yt, xv, yv)[0][0]
    direction = torch.randn_like(net.alphas)

    def unrolled_val_loss(alphas):
        with torch.no_grad():
            net.alphas.copy_(alphas)
        w2 = virtual_weights(net, w_opt, xt, yt, {n: b.clone() for n, b in net.named_buffers()})
        out = functional_call(net, w2, (xv,), strict=False)
        return float(F.cross_entropy(out, yv).detach())

    a0, eps = net.alphas.detach().clone(), 1e-5
    numeric = (unrolled_val_loss(a0 + eps * direction)
               - unrolled_val_loss(a0 - eps * direction)) / (2 * eps)
    assert numeric == pytest.approx(float((grad * direction).sum()), rel=1e-5)


def test_virtual_step_is_the_optimisers_update():
    net, w_opt, _, (xt, yt, _, _) = tiny("darts")
    virtual = virtual_weights(net, w_opt, xt, yt)
    w_opt.zero_grad()
    F.cross_entropy(net(xt), yt).backward(inputs=net.weights())
    w_opt.step()
    real = dict(net.named_parameters())
    for name, w in virtual.items():
        torch.testing.assert_close(w, real[name], rtol=0, atol=1e-12)


def test_step_updates_only_the_alphas():
    net, w_opt, a_opt, batches = tiny("nb201")
    weights = [w.clone() for w in net.weights()]
    alphas = net.alphas.detach().clone()
    stats = Architect(net, w_opt, a_opt, order=2).step(*batches)
    assert not torch.equal(alphas, net.alphas)
    assert all(torch.equal(a, b) for a, b in zip(weights, net.weights()))
    assert stats["arch_grad_norm"] > 0 and stats["arch_loss"] > 0


def test_second_order_refuses_an_update_it_cannot_unroll():
    net, _, a_opt, _ = tiny("nb201")
    nesterov = torch.optim.SGD(net.weights(), lr=0.1, momentum=0.9, nesterov=True)
    with pytest.raises(ValueError, match="nesterov"):
        Architect(net, nesterov, a_opt, order=2)
    with pytest.raises(ValueError, match="order"):
        Architect(net, nesterov, a_opt, order=3)
