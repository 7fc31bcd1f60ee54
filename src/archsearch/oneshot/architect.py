"""The architecture step of DARTS: the gradient of the validation loss in the alphas.

First order takes it at the current weights w. Second order (Liu et al., ICLR 2019,
eqs. 6-8) takes it at the weights after one virtual SGD step,
``w' = w - xi * (mu * buf + grad_w L_train(w, a) + lambda * w)`` (exactly the update the
weight optimiser would make, momentum and weight decay included), which adds
``-xi * grad2_{a,w} L_train(w, a) . grad_w' L_val(w', a)``; that Hessian-vector product is
a central difference of ``grad_a L_train`` at ``w +- R v`` around the original w, with
``R = r / ||v||``.

Unlike the reference code, nothing here copies the network or writes its parameters:
the virtual weights are fresh tensors passed with :func:`torch.func.functional_call`,
batch-norm statistics of the virtual passes go to scratch copies, and each gradient asks
only for what it needs (alpha-only passes skip every convolution's weight gradient). A
failure mid-step leaves the network untouched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn import functional as F

__all__ = ["Architect", "alpha_gradient", "hessian_vector_product", "virtual_weights"]


def _loss(net: nn.Module, tensors: Mapping[str, Tensor], x: Tensor, y: Tensor,
          mixing: Sequence[Tensor] | None = None) -> Tensor:
    kwargs = {} if mixing is None else {"mixing": mixing}
    return F.cross_entropy(functional_call(net, dict(tensors), (x,), kwargs, strict=False), y)


def _named_weights(net: nn.Module) -> dict[str, nn.Parameter]:
    arch = {id(p) for p in net.arch_parameters()}  # type: ignore[operator]
    return {n: p for n, p in net.named_parameters() if id(p) not in arch}


def _scratch_buffers(net: nn.Module) -> dict[str, Tensor]:
    return {n: b.clone() for n, b in net.named_buffers()}


def virtual_weights(net: nn.Module, w_opt: torch.optim.SGD, x: Tensor, y: Tensor,
                    buffers: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]:
    """The weights after one step of ``w_opt`` on the training batch, as new leaf tensors.

    ``w' = w - lr * (momentum * buf + grad_w L_train(w, a) + weight_decay * w)`` per
    parameter group, which is what ``w_opt.step()`` would do (plain momentum, no
    dampening; ``buf`` is 0 before the first step). The network is not changed.
    """
    weights = _named_weights(net)
    frozen = {n: a.detach() for n, a in net.named_arch_parameters().items()}  # type: ignore[operator]
    loss = _loss(net, {**frozen, **(buffers or {})}, x, y)
    grads = torch.autograd.grad(loss, list(weights.values()), materialize_grads=True)
    group_of = {id(p): g for g in w_opt.param_groups for p in g["params"]}
    out: dict[str, Tensor] = {}
    with torch.no_grad():
        for (name, w), g in zip(weights.items(), grads):
            group = group_of[id(w)]
            step = g.add(w, alpha=group["weight_decay"]) if group["weight_decay"] else g
            buf = w_opt.state.get(w, {}).get("momentum_buffer")
            if buf is not None and group["momentum"]:
                step = step.add(buf, alpha=group["momentum"])
            out[name] = w.sub(step, alpha=group["lr"]).requires_grad_()
    return out


def alpha_gradient(net: nn.Module, tensors: Mapping[str, Tensor], x: Tensor,
                   y: Tensor) -> tuple[list[Tensor], Tensor]:
    """``grad_a L(x, y)`` with the network's weights replaced by ``tensors``, and the loss."""
    alphas = list(net.arch_parameters())  # type: ignore[operator]
    loss = _loss(net, tensors, x, y)
    return list(torch.autograd.grad(loss, alphas, materialize_grads=True)), loss.detach()


def hessian_vector_product(net: nn.Module, v: Mapping[str, Tensor], x: Tensor, y: Tensor,
                           r: float = 1e-2,
                           buffers: Mapping[str, Tensor] | None = None) -> list[Tensor] | None:
    """``grad2_{a,w} L_train(w, a) . v`` by a central difference around the current w.

    ``(grad_a L(w + R v) - grad_a L(w - R v)) / (2 R)`` with ``R = r / ||v||``, as in
    DARTS (eq. 8). None when ``||v||`` is 0, where the product is 0 too.
    """
    weights = _named_weights(net)
    norm = math.sqrt(sum(float(t.detach().pow(2).sum()) for t in v.values()))
    if not norm > 1e-12:
        return None
    step = r / norm
    ends = []
    for sign in (1.0, -1.0):
        with torch.no_grad():
            moved = {n: w.add(v[n], alpha=sign * step) for n, w in weights.items()}
        grads, _ = alpha_gradient(net, {**moved, **(buffers or {})}, x, y)
        ends.append(grads)
    return [(gp - gm).div_(2 * step) for gp, gm in zip(*ends)]


class Architect:
    """Updates a supernet's architecture parameters from a validation batch.

    Args:
        net: a supernet with ``arch_parameters()``, ``named_arch_parameters()`` and
            ``weights()``.
        w_opt: the weights' optimiser; SGD without Nesterov or dampening, since the
            second-order virtual step repeats its update.
        a_opt: the architecture parameters' optimiser (Adam in DARTS).
        order: 1 (the gradient at w) or 2 (at the unrolled weights w').
        r: the finite-difference scale of the Hessian-vector product.

    Example:
        >>> from archsearch.spaces.nb201_supernet import NB201Supernet
        >>> from archsearch.spaces.nb201 import NB201_OPS
        >>> net = NB201Supernet(2, 1, 1, 3, NB201_OPS)
        >>> w_opt = torch.optim.SGD(net.weights(), lr=0.1, momentum=0.9)
        >>> a_opt = torch.optim.Adam(net.arch_parameters(), lr=3e-4)
        >>> x, y = torch.randn(4, 1, 6, 6), torch.tensor([0, 1, 2, 0])
        >>> stats = Architect(net, w_opt, a_opt, order=2).step(x, y, x, y)
        >>> sorted(stats)
        ['arch_grad_norm', 'arch_loss']
    """

    def __init__(self, net: nn.Module, w_opt: torch.optim.Optimizer,
                 a_opt: torch.optim.Optimizer, order: Literal[1, 2] = 1,
                 r: float = 1e-2) -> None:
        if order not in (1, 2):
            raise ValueError(f"DARTS order must be 1 or 2; got {order!r}.")
        if order == 2:
            if not isinstance(w_opt, torch.optim.SGD):
                raise ValueError("Second-order DARTS unrolls an SGD step; the weight optimiser "
                                 f"is {type(w_opt).__name__}.")
            for group in w_opt.param_groups:
                if group.get("nesterov") or group.get("dampening"):
                    raise ValueError("Second-order DARTS unrolls plain momentum SGD; turn off "
                                     "nesterov and dampening in the weight optimiser.")
        self.net, self.w_opt, self.a_opt, self.order, self.r = net, w_opt, a_opt, order, r

    def gradient(self, xt: Tensor, yt: Tensor, xv: Tensor, yv: Tensor) -> tuple[list[Tensor], Tensor]:
        """The alphas' gradient of this order and the validation loss (nothing is updated)."""
        net = self.net
        if self.order == 1:
            frozen = {n: w.detach() for n, w in _named_weights(net).items()}
            return alpha_gradient(net, frozen, xv, yv)
        buffers = _scratch_buffers(net)
        unrolled = virtual_weights(net, self.w_opt, xt, yt, buffers)  # type: ignore[arg-type]
        alphas = list(net.arch_parameters())  # type: ignore[operator]
        loss = _loss(net, {**unrolled, **buffers}, xv, yv)
        grads = torch.autograd.grad(loss, [*alphas, *unrolled.values()], materialize_grads=True)
        d_alpha = list(grads[:len(alphas)])
        v = dict(zip(unrolled, grads[len(alphas):]))
        del unrolled, grads
        hvp = hessian_vector_product(net, v, xt, yt, self.r, buffers)
        if hvp is not None:
            xi = self.w_opt.param_groups[0]["lr"]
            group_lrs = {g["lr"] for g in self.w_opt.param_groups}
            if len(group_lrs) > 1:
                raise ValueError("Second-order DARTS needs one learning rate for all weights.")
            d_alpha = [g.sub(h, alpha=xi) for g, h in zip(d_alpha, hvp)]
        return d_alpha, loss.detach()

    def step(self, xt: Tensor, yt: Tensor, xv: Tensor, yv: Tensor) -> dict[str, float]:
        """One architecture step: the gradient into ``a.grad``, then ``a_opt.step()``."""
        grads, loss = self.gradient(xt, yt, xv, yv)
        self.a_opt.zero_grad(set_to_none=True)
        for a, g in zip(self.net.arch_parameters(), grads):  # type: ignore[operator]
            a.grad = g
        self.a_opt.step()
        norm = math.sqrt(sum(float(g.pow(2).sum()) for g in grads))
        return {"arch_loss": float(loss), "arch_grad_norm": norm}
