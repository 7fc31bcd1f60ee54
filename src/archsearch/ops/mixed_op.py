"""The continuous relaxation of one edge of a supernet: a weighted sum of candidates."""

from __future__ import annotations

from collections.abc import Iterable

from torch import Tensor, nn

__all__ = ["MixedOp"]


class MixedOp(nn.Module):
    """The sum of every candidate operation's output, each scaled by its weight.

    The weights come from outside (e.g. a softmax of architecture parameters, as in
    DARTS), so one set of weights can drive many edges. The candidates live in ``_ops``,
    the reference DARTS name, so supernet ``state_dict`` keys match it.

    Args:
        candidates: modules that map the same input to outputs of the same shape.

    Example:
        >>> import torch
        >>> op = MixedOp([nn.Identity(), nn.Identity()])
        >>> op(torch.ones(1, 2), torch.tensor([0.25, 0.5]))
        tensor([[0.7500, 0.7500]])
    """

    def __init__(self, candidates: Iterable[nn.Module]) -> None:
        super().__init__()
        self._ops = nn.ModuleList(candidates)
        if not len(self._ops):
            raise ValueError("MixedOp needs at least one candidate operation.")

    def forward(self, x: Tensor, weights: Tensor) -> Tensor:
        """``sum_i weights[i] * candidate_i(x)``; ``weights`` holds one number per candidate."""
        if weights.shape != (len(self._ops),):
            raise ValueError(
                f"MixedOp has {len(self._ops)} candidates; got weights of shape "
                f"{tuple(weights.shape)}."
            )
        total = weights[0] * self._ops[0](x)
        for w, op in zip(weights[1:], self._ops[1:]):
            total = total + w * op(x)
        return total  # type: ignore[no-any-return]
