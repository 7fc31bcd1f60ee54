"""The fast mixed operation equals the plain weighted sum: outputs, gradients, state."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.func import functional_call

from archsearch.ops import DARTS_OPS, MixedOp, naive_mixed_sum, set_fast_mixing
from archsearch.ops.mixed_op import _dense_like
from archsearch.ops.nb201_ops import OPS as NB201_EVAL_OPS
from archsearch.ops.nb201_ops import SEARCH_OPS as NB201_SEARCH_OPS
from archsearch.spaces.darts import DARTS_SEARCH_OPS
from archsearch.spaces.darts_supernet import DartsSupernet, _candidate
from archsearch.spaces.nb201 import NB201_OPS
from archsearch.spaces.nb201_supernet import NB201Supernet


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def channels(stride: int) -> int:
    """3 channels; 4 at stride 2, where skip_connect's FactorizedReduce needs an even number."""
    return 3 if stride == 1 else 4


def darts_candidates(stride: int, names=("none", *DARTS_SEARCH_OPS)) -> list[nn.Module]:
    return [_candidate(name, channels(stride), stride) for name in names]


def affine_candidates(stride: int) -> list[nn.Module]:
    """Every DARTS operation with affine batch norms, as in the evaluated networks."""
    return [DARTS_OPS[name](channels(stride), stride, True) for name in DARTS_OPS]


def nb201_candidates(stride: int) -> list[nn.Module]:
    return [NB201_SEARCH_OPS[name](3) for name in NB201_OPS]


def nb201_affine_candidates(stride: int) -> list[nn.Module]:
    return [NB201_EVAL_OPS[name](3) for name in NB201_OPS]


def pair(make, stride: int) -> tuple[MixedOp, MixedOp]:
    """Two mixed operations with equal parameters, the fast one and the plain one."""
    fast = MixedOp(make(stride)).double()
    for p in fast.parameters():  # affine batch norms start at 1 and 0; make them count
        with torch.no_grad():
            p.add_(0.1 * torch.randn_like(p))
    plain = copy.deepcopy(fast)
    plain.fast = False
    return fast, plain


def run(op: MixedOp, x: torch.Tensor, w: torch.Tensor, g: torch.Tensor):
    x = x.clone().requires_grad_()
    w = w.clone().requires_grad_()
    out = op(x, w)
    params = list(op.parameters())
    grads = torch.autograd.grad(out, [x, w, *params], g, allow_unused=True)
    grads = [torch.zeros_like(p) if d is None else d for p, d in zip([x, w, *params], grads)]
    return out, grads


CASES = [
    pytest.param(darts_candidates, 1, id="darts-1"),
    pytest.param(darts_candidates, 2, id="darts-2"),
    pytest.param(affine_candidates, 1, id="darts-affine-1"),
    pytest.param(affine_candidates, 2, id="darts-affine-2"),
    pytest.param(nb201_candidates, 1, id="nb201"),
    pytest.param(nb201_affine_candidates, 1, id="nb201-affine"),
]


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(("make", "stride"), CASES)
def test_fast_sum_equals_the_plain_sum(make, stride, train) -> None:
    torch.manual_seed(0)
    fast, plain = pair(make, stride)
    fast.train(train)
    plain.train(train)
    if not train:  # give the running statistics values other than 0 and 1
        for a, b in zip(fast.buffers(), plain.buffers()):
            if a.is_floating_point():
                a.uniform_(0.5, 1.5)
                b.copy_(a)
    x = torch.randn(2, channels(stride), 5, 5, dtype=torch.float64)
    w = torch.randn(len(fast._ops), dtype=torch.float64) * 2  # not normalised, some negative
    shape = copy.deepcopy(plain)(x, w).shape  # a copy: keep the running statistics
    g = torch.randn(shape[0], 2 * shape[1], *shape[2:], dtype=x.dtype)[:, shape[1]:]
    assert not g.is_contiguous()  # a slice of a concatenation's gradient, as in a cell
    keys = list(plain.state_dict())
    out_fast, grads_fast = run(fast, x, w, g)
    out_plain, grads_plain = run(plain, x, w, g)
    torch.testing.assert_close(out_fast, out_plain)
    assert len(grads_fast) == len(grads_plain) == 2 + len(list(fast.parameters()))
    for a, b in zip(grads_fast, grads_plain):
        torch.testing.assert_close(a, b)
    assert list(fast.state_dict()) == keys
    for (name, a), b in zip(fast.state_dict().items(), plain.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)  # running statistics, batches tracked


@pytest.mark.parametrize("stride", [1, 2])
def test_channels_last_gives_the_same_sum_and_a_dense_gradient(stride) -> None:
    torch.manual_seed(2)
    fast, plain = pair(darts_candidates, stride)
    fast.to(memory_format=torch.channels_last)
    x = torch.randn(2, channels(stride), 6, 6, dtype=torch.float64)
    w = torch.randn(len(fast._ops), dtype=torch.float64)
    x_last = x.contiguous(memory_format=torch.channels_last).requires_grad_()
    out = fast(x_last, w)
    assert out.is_contiguous(memory_format=torch.channels_last)
    big = torch.randn(out.shape[0], 3 * out.shape[1], *out.shape[2:], dtype=x.dtype)
    g = big.contiguous(memory_format=torch.channels_last)[:, out.shape[1]:2 * out.shape[1]]
    (grad_x,) = torch.autograd.grad(out, x_last, g)
    expected = plain(x.requires_grad_(), w)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(grad_x, torch.autograd.grad(expected, x, g)[0])
    dense = _dense_like(out)(g)  # what the folded batch norms receive
    assert dense.is_contiguous(memory_format=torch.channels_last) and torch.equal(dense, g)
    assert _dense_like(out)(dense) is None


@pytest.mark.parametrize("stride", [1, 2])
def test_second_derivatives_equal_the_plain_ones(stride) -> None:
    """Double backward (Hessians in the alphas, exact second-order checks) goes through too."""
    torch.manual_seed(3)
    fast, plain = pair(darts_candidates, stride)
    x = torch.randn(2, channels(stride), 5, 5, dtype=torch.float64)
    w = torch.randn(len(fast._ops), dtype=torch.float64)
    results = []
    for op in (fast, plain):
        xx, ww = x.clone().requires_grad_(), w.clone().requires_grad_()
        y = op(xx, ww)
        out = torch.cat([y, torch.ones(2, 1, *y.shape[2:], dtype=x.dtype)], dim=1)
        (g_w,) = torch.autograd.grad(out.pow(2).sum(), ww, create_graph=True)  # a strided grad
        results.append(torch.autograd.grad(g_w @ torch.arange(len(w), dtype=w.dtype), [xx, ww]))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("stride", [1, 2])
def test_fast_path_follows_functional_call_parameters(stride) -> None:
    torch.manual_seed(1)
    fast, plain = pair(darts_candidates, stride)
    x = torch.randn(2, channels(stride), 5, 5, dtype=torch.float64)
    w = torch.randn(len(fast._ops), dtype=torch.float64)
    swapped = {name: 1.5 * p.detach() + 0.01 for name, p in fast.named_parameters()}
    swapped |= {name: b.clone() for name, b in fast.named_buffers()}
    before = {name: t.clone() for name, t in fast.state_dict().items()}
    out = functional_call(fast, swapped, (x, w))
    expected = functional_call(plain, {k: v.clone() for k, v in swapped.items()}, (x, w))
    torch.testing.assert_close(out, expected)
    for name, t in fast.state_dict().items():  # the module itself is untouched
        torch.testing.assert_close(t, before[name], rtol=0, atol=0)


def test_state_dict_keys_are_the_reference_ones() -> None:
    op = MixedOp(darts_candidates(1))
    keys = list(op.state_dict())
    assert keys == list(MixedOp(darts_candidates(1), fast=False).state_dict())
    assert "_ops.4.op.1.weight" in keys  # sep_conv_3x3's depthwise convolution
    assert not any("plan" in k or "relu" in k for k in keys)


def test_only_zero_candidates_give_zeros_of_the_strided_shape() -> None:
    from archsearch.ops import Zero
    out = MixedOp([Zero(2), Zero(2)])(torch.ones(1, 2, 5, 5), torch.ones(2))
    assert out.shape == (1, 2, 3, 3) and not out.any()


def test_an_unknown_candidate_is_called_whole() -> None:
    class Doubled(nn.Sequential):  # a subclass: its forward is not assumed
        def forward(self, x):
            return 2 * super().forward(x)

    ops = [Doubled(nn.ReLU(), nn.BatchNorm2d(2)), nn.Identity()]
    x, w = torch.randn(2, 2, 3, 3), torch.tensor([0.3, -0.7])
    torch.testing.assert_close(MixedOp(ops)(x, w), naive_mixed_sum(ops, x, w))


def test_set_fast_mixing_switches_every_edge() -> None:
    net = DartsSupernet(2, 10, 3, n_nodes=2)
    n = set_fast_mixing(net, False)
    assert n == 3 * 5 and not any(m.fast for m in net.modules() if isinstance(m, MixedOp))
    set_fast_mixing(net, True)
    assert all(m.fast for m in net.modules() if isinstance(m, MixedOp))


def _supernet_pair(make):
    torch.manual_seed(0)
    fast = make().double()
    with torch.no_grad():
        for a in fast.arch_parameters():
            a.normal_()
    plain = copy.deepcopy(fast)
    set_fast_mixing(plain, False)
    return fast, plain


@pytest.mark.parametrize("make, shape", [
    (lambda: DartsSupernet(3, 10, 3, n_nodes=2), (4, 3, 6, 6)),
    (lambda: NB201Supernet(2, 1, 1, 10, NB201_OPS), (4, 1, 4, 4)),
], ids=["darts", "nb201"])
def test_supernet_outputs_and_gradients_are_unchanged(make, shape) -> None:
    fast, plain = _supernet_pair(make)
    x = torch.randn(*shape, dtype=torch.float64)
    y = torch.arange(shape[0]) % 10
    grads = []
    for net in (fast, plain):
        loss = nn.functional.cross_entropy(net(x), y)
        grads.append(list(torch.autograd.grad(loss, list(net.parameters()))))
        net.eval()
        grads.append([net(x)])
    for a, b in zip(grads[0] + grads[1], grads[2] + grads[3]):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(list(fast.state_dict().values()), list(plain.state_dict().values()))
