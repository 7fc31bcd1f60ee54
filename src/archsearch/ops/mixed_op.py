"""The continuous relaxation of one edge of a supernet: a weighted sum of candidates.

:class:`MixedOp` computes ``sum_k w_k * op_k(x)`` with less memory and time than the
plain sum (:func:`naive_mixed_sum`, kept as the reference) for the candidates of the
DARTS and NAS-Bench-201 spaces. It relies on three identities, so outputs and every
gradient (input, weights, parameters) are those of the plain sum up to round-off:

* ``none`` (:class:`~archsearch.ops.Zero`) adds ``w * 0``; it is skipped. The gradient
  of its weight is zero either way.
* Candidates that start with ``ReLU(x)`` (``SepConv``, ``DilConv``, ``ReLUConvBN``,
  ``FactorizedReduce``, ``conv_7x1_1x7``) share one ``relu(x)`` and run the rest of
  their layers on it: one ReLU and one saved activation per edge instead of one each.
* A candidate that ends with a ``BatchNorm2d`` contributes ``w * bn(z)``, which is a
  batch norm of ``z`` whose affine weight is ``w`` (times its own weight and bias, if
  any). Autograd then keeps only ``z``, which the batch norm keeps anyway, instead of
  also keeping ``bn(z)`` for the gradient of ``w``; and the multiply goes away.

The candidates are recognised by exact type, so a subclass that changes ``forward`` is
run as it is; anything unrecognised is called whole and scaled, as in the plain sum.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from archsearch.ops.darts_ops import DilConv, FactorizedReduce, SepConv
from archsearch.ops.nb201_ops import ReLUConvBN, Zero

__all__ = ["MixedOp", "naive_mixed_sum", "set_fast_mixing"]

_WRAPPED = (SepConv, DilConv, ReLUConvBN)  # a forward that is exactly ``self.op(x)``


class _Plan(NamedTuple):
    """How the fast path runs the candidate at ``position``."""

    position: int
    kind: str  # "zero", "whole" (call it), "layers" (run its layers), "reduce" (FactorizedReduce)
    relu: bool  # its first layer is a ReLU it takes from the shared ``relu(x)``
    bn: bool  # its last layer is a BatchNorm2d that absorbs the candidate's weight


def naive_mixed_sum(ops: Sequence[nn.Module] | nn.ModuleList, x: Tensor, weights: Tensor) -> Tensor:
    """``sum_k weights[k] * ops[k](x)`` term by term, as the DARTS reference computes it.

    Args:
        ops: the candidate operations.
        x: their common input.
        weights: one number per candidate.

    Example:
        >>> import torch
        >>> naive_mixed_sum([nn.Identity(), nn.ReLU()], torch.tensor([-1.0, 2.0]),
        ...                 torch.tensor([0.5, 2.0]))
        tensor([-0.5000,  5.0000])
    """
    total = weights[0] * ops[0](x)
    for w, op in zip(weights[1:], ops[1:]):
        total = total + w * op(x)
    return total  # type: ignore[no-any-return]


def _layers(op: nn.Module) -> nn.Sequential:
    return op.op if type(op) in _WRAPPED else op  # type: ignore[return-value]


def _is_relu(layer: nn.Module) -> bool:
    return type(layer) is nn.ReLU and not layer.inplace


def _plan(position: int, op: nn.Module) -> _Plan:
    if type(op) is Zero:
        return _Plan(position, "zero", False, False)
    if type(op) is FactorizedReduce:
        relu, bn = _is_relu(op.relu), type(op.bn) is nn.BatchNorm2d
        if relu or bn:
            return _Plan(position, "reduce", relu, bn)
    layers = _layers(op)
    if type(layers) is nn.Sequential and len(layers):
        relu, bn = _is_relu(layers[0]), type(layers[-1]) is nn.BatchNorm2d
        if relu or bn:
            return _Plan(position, "layers", relu, bn)
    return _Plan(position, "whole", False, False)


def _scaled_batch_norm(bn: nn.BatchNorm2d, x: Tensor, scale: Tensor) -> Tensor:
    """``scale * bn(x)`` as one batch norm, updating ``bn``'s running statistics as ``bn(x)``.

    The branches follow ``torch.nn.modules.batchnorm._BatchNorm.forward``.
    """
    factor = 0.0 if bn.momentum is None else bn.momentum
    if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        if bn.momentum is None:
            factor = 1.0 / float(bn.num_batches_tracked)
    batch_stats = bn.training or (bn.running_mean is None and bn.running_var is None)
    keep_stats = not bn.training or bn.track_running_stats
    if bn.weight is None:  # in the dtype of the statistics, as the module's weight would be
        dtype = x.dtype if bn.running_mean is None else bn.running_mean.dtype
        weight = scale.to(dtype).expand(x.shape[1]).contiguous()
    else:
        weight = bn.weight * scale
    bias = None if bn.bias is None else bn.bias * scale
    return F.batch_norm(
        x,
        bn.running_mean if keep_stats else None,
        bn.running_var if keep_stats else None,
        weight, bias, batch_stats, factor, bn.eps,
    )


def _dense_like(out: Tensor) -> Callable[[Tensor], Tensor | None]:
    """A gradient hook that makes the gradient of ``out`` dense in ``out``'s memory format.

    The gradient of a node that a cell concatenates is a slice of the concatenation's
    gradient. The plain sum multiplies it by each weight, which makes it dense; a folded
    batch norm takes it as it is, and its backward runs over 10x slower on a strided
    gradient than on a dense one (CPU, channels-last), so it is copied once per edge.
    """
    channels_last = out.dim() == 4 and out.is_contiguous(memory_format=torch.channels_last)
    layout = torch.channels_last if channels_last else torch.contiguous_format

    def hook(grad: Tensor) -> Tensor | None:
        return None if grad.is_contiguous(memory_format=layout) else grad.contiguous(memory_format=layout)

    return hook


class MixedOp(nn.Module):
    """The sum of every candidate operation's output, each scaled by its weight.

    The weights come from outside (e.g. a softmax of architecture parameters, as in
    DARTS), so one set of weights can drive many edges. The candidates live in ``_ops``,
    the reference DARTS name, so supernet ``state_dict`` keys match it. The sum skips
    ``none``, shares one ReLU between the candidates that start with one, and folds
    each weight into a final batch norm (see the module docstring); with ``fast=False``
    it is the plain :func:`naive_mixed_sum`.

    Args:
        candidates: modules that map the same input to outputs of the same shape.
        fast: whether to use the fast sum; :func:`set_fast_mixing` switches a network.

    Example:
        >>> import torch
        >>> op = MixedOp([nn.Identity(), nn.Identity()])
        >>> op(torch.ones(1, 2), torch.tensor([0.25, 0.5]))
        tensor([[0.7500, 0.7500]])
    """

    def __init__(self, candidates: Iterable[nn.Module], fast: bool = True) -> None:
        super().__init__()
        self._ops = nn.ModuleList(candidates)
        if not len(self._ops):
            raise ValueError("MixedOp needs at least one candidate operation.")
        self.fast = fast
        plans = [_plan(k, op) for k, op in enumerate(self._ops)]
        self._plans = tuple(p for p in plans if p.kind != "zero")
        self._shared_relu = any(p.relu for p in self._plans)
        self._folds_bn = any(p.bn for p in self._plans)

    def forward(self, x: Tensor, weights: Tensor) -> Tensor:
        """``sum_i weights[i] * candidate_i(x)``; ``weights`` holds one number per candidate."""
        if weights.shape != (len(self._ops),):
            raise ValueError(
                f"MixedOp has {len(self._ops)} candidates; got weights of shape "
                f"{tuple(weights.shape)}."
            )
        if not self.fast or not self._plans:
            return naive_mixed_sum(self._ops, x, weights)
        relu = F.relu(x) if self._shared_relu else x
        first, *rest = self._plans
        total = self._term(first, relu if first.relu else x, weights[first.position])
        for plan in rest:
            # Every term is a new tensor that autograd did not save, so adding in place is safe.
            total = total.add_(self._term(plan, relu if plan.relu else x, weights[plan.position]))
        if self._folds_bn and total.requires_grad:
            total.register_hook(_dense_like(total))  # type: ignore[no-untyped-call]
        return total

    def _term(self, plan: _Plan, x: Tensor, w: Tensor) -> Tensor:
        op = self._ops[plan.position]
        if plan.kind == "whole":
            return w * op(x)  # type: ignore[no-any-return]
        if plan.kind == "reduce":
            reduce = cast(FactorizedReduce, op)
            out = reduce.halves(x if plan.relu else reduce.relu(x))
            return _scaled_batch_norm(reduce.bn, out, w) if plan.bn else w * reduce.bn(out)
        layers = list(_layers(op))
        for layer in layers[int(plan.relu):len(layers) - int(plan.bn)]:
            x = layer(x)
        if plan.bn:
            return _scaled_batch_norm(cast(nn.BatchNorm2d, layers[-1]), x, w)
        return w * x


def set_fast_mixing(module: nn.Module, fast: bool) -> int:
    """Switch every :class:`MixedOp` in ``module`` to the fast or the plain sum.

    Args:
        module: a supernet, or any module holding mixed operations.
        fast: ``False`` for :func:`naive_mixed_sum`, as the DARTS reference computes it.

    Returns:
        The number of mixed operations switched.

    Example:
        >>> net = nn.Sequential(MixedOp([nn.Identity()]), MixedOp([nn.Identity()]))
        >>> set_fast_mixing(net, False)
        2
    """
    ops = [m for m in module.modules() if isinstance(m, MixedOp)]
    for op in ops:
        op.fast = fast
    return len(ops)
