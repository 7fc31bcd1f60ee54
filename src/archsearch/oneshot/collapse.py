"""Signs of DARTS collapse and the remedy a user switches on with one flag.

DARTS tends to end on cells of parameter-free operations (skip connections, and on
NAS-Bench-201 the ``none`` op too) as the validation loss grows sharp in the
architecture parameters (Zela et al., ICLR 2020, "Understanding and robustifying DARTS").
Two signals are recorded each epoch: the share of such operations in the derived cell
and the dominant eigenvalue of the validation-loss Hessian in the alphas.

The remedy is SDARTS-RS (Chen & Hsieh, ICML 2020): during the weight step each edge's
mixing weights get uniform noise, so the weights are trained to be good for a
neighbourhood of alphas; that flattens the landscape the alphas then descend. It costs no
extra forward or backward pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn import functional as F

from archsearch.spaces.base import SearchSpace
from archsearch.types import Architecture

__all__ = ["dominant_eigenvalue", "op_shares", "random_smoothing", "smoothing_epsilon"]


def _alpha_grad_at(net: nn.Module, names: Sequence[str], alphas: Sequence[Tensor],
                   frozen: Mapping[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
    moved = {n: a.detach().requires_grad_() for n, a in zip(names, alphas)}
    out = functional_call(net, {**frozen, **moved}, (x,), strict=False)
    grads = torch.autograd.grad(F.cross_entropy(out, y), list(moved.values()))
    return torch.cat([g.reshape(-1) for g in grads])


def dominant_eigenvalue(net: nn.Module, x: Tensor, y: Tensor, *, iters: int = 20,
                        tol: float = 1e-3, v0: Tensor | None = None,
                        r: float = 1e-3) -> tuple[float, Tensor]:
    """The largest eigenvalue of the Hessian of ``L(x, y)`` in the alphas, and its vector.

    Power iteration on Hessian-vector products, each a central difference of the alphas'
    gradient, ``(grad L(a + r v) - grad L(a - r v)) / 2r``: two forward and two
    alpha-only backward passes, no double backward, so memory stays that of one step.
    When the dominant eigenvalue is negative the iteration is rerun on the shifted
    Hessian to return the top of the spectrum, as RobustDARTS's ``max(eigvals(H))``.
    Batch norms run as in training, on scratch copies of their statistics.

    Args:
        net: a supernet with ``named_arch_parameters()``.
        x, y: one validation batch.
        iters: the most Hessian-vector products per power iteration.
        tol: stop when the estimate moves by less than ``tol`` relative.
        v0: the starting vector (e.g. the previous epoch's), else random.
        r: the finite-difference step along the unit vector.
    """
    arch = net.named_arch_parameters()  # type: ignore[operator]
    names, alphas = list(arch), [a.detach() for a in arch.values()]
    shapes = [a.shape for a in alphas]
    arch_ids = {id(a) for a in arch.values()}
    frozen: dict[str, Tensor] = {n: p.detach() for n, p in net.named_parameters()
                                 if id(p) not in arch_ids}
    frozen.update({n: b.clone() for n, b in net.named_buffers()})
    flat = torch.cat([a.reshape(-1) for a in alphas])

    def hvp(v: Tensor) -> Tensor:
        ends = []
        for sign in (1.0, -1.0):
            moved = torch.split(flat + sign * r * v, [math.prod(s) for s in shapes])
            ends.append(_alpha_grad_at(net, names, [m.view(s) for m, s in zip(moved, shapes)],
                                       frozen, x, y))
        return (ends[0] - ends[1]) / (2 * r)

    def power(shift: float, v: Tensor) -> tuple[float, Tensor]:
        lam = math.nan
        for _ in range(iters):
            hv = hvp(v) - shift * v
            norm = float(hv.norm())
            if norm == 0.0:
                return shift, v
            new = float(v @ hv)
            v = hv / norm
            if math.isfinite(lam) and abs(new - lam) <= tol * max(abs(new), 1e-12):
                lam = new
                break
            lam = new
        return lam + shift, v

    if v0 is None or v0.shape != flat.shape:
        gen = torch.Generator(device="cpu").manual_seed(0)
        v0 = torch.randn(flat.shape, generator=gen, dtype=flat.dtype).to(flat.device)
    v = v0.to(flat) / v0.norm().clamp_min(1e-30)
    with torch.enable_grad():
        lam, v = power(0.0, v)
        if lam < 0:
            lam, v = power(lam, v)
    return lam, v.detach()


def smoothing_epsilon(epoch: int, epochs: int, low: float = 0.03, high: float = 0.3) -> float:
    """SDARTS-RS's noise scale: rising linearly from ``low`` to ``high`` over the epochs."""
    return low + (high - low) * epoch / max(1, epochs)


def random_smoothing(mixing: Sequence[Tensor], epsilon: float,
                     generator: torch.Generator | None = None) -> list[Tensor]:
    """Each row of mixing weights plus ``U(-epsilon, epsilon)`` noise, kept on the simplex.

    As SDARTS-RS: the noisy weights are clamped to [0, 1] and each row is renormalised;
    a row left all zero puts its weight on its strongest entry. The result is constant
    (no gradient flows to the alphas): it is used in the weight step only.
    """
    out = []
    for weights in mixing:
        w = weights.detach()
        noise = torch.rand(w.shape, generator=generator, dtype=w.dtype, device="cpu").to(w.device)
        noisy = (w + (2 * noise - 1) * epsilon).clamp_(0, 1)
        empty = noisy.sum(-1) == 0
        if bool(empty.any()):
            noisy[empty] = F.one_hot(w[empty].argmax(-1), w.shape[-1]).to(w.dtype)
        out.append(noisy / noisy.sum(-1, keepdim=True))
    return out


def op_shares(space: SearchSpace, arch: Architecture) -> dict[str, float]:
    """The shares of ``skip_connect`` and ``none`` among a derived cell's operations.

    For ``darts`` the normal cell counts (the reduce cell rarely collapses and DARTS
    never keeps ``none``); for ``nb201`` the six edges. Other spaces return no shares.
    """
    if space.name == "darts":
        ops = [op for op, _ in space.to_genotype(arch).normal]  # type: ignore[attr-defined]
    elif space.name == "nb201":
        ops = list(arch.values)
    else:
        return {}
    n = max(1, len(ops))
    return {"skip_share": ops.count("skip_connect") / n, "none_share": ops.count("none") / n}
