"""The NAS-Bench-201 supernet: every edge of the cell mixes all five operations."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archsearch.ops.mixed_op import MixedOp
from archsearch.ops.nb201_ops import SEARCH_OPS, ResNetBasicblock

__all__ = ["NB201Supernet", "SearchCell"]

N_NODES = 4
EDGES = tuple((i, j) for i in range(1, N_NODES) for j in range(i))


class SearchCell(nn.Module):
    """A cell whose six edges are :class:`MixedOp` s over ``ops``.

    Args:
        channels: channels of the cell.
        ops: operation names, in the order of the architecture weights' last axis.
    """

    def __init__(self, channels: int, ops: Sequence[str]) -> None:
        super().__init__()
        self.edges = nn.ModuleList(MixedOp(SEARCH_OPS[op](channels) for op in ops) for _ in EDGES)

    def forward(self, x: Tensor, weights: Tensor) -> Tensor:
        nodes = [x]
        k = 0
        for target in range(1, N_NODES):
            total = self.edges[k](nodes[0], weights[k])
            for source in range(1, target):
                total = total + self.edges[k + source](nodes[source], weights[k + source])
            k += target
            nodes.append(total)
        return nodes[-1]


class NB201Supernet(nn.Module):
    """The benchmark's network with search cells; one set of architecture weights for all.

    ``arch_parameters()`` are the architecture weights (6 edges x 5 operations, shared
    by every cell, as in the benchmark's DARTS baseline); ``weights()`` the rest.

    Args:
        channels: channels of the first stage.
        cells_per_stage: search cells per stage.
        in_channels: channels of the input images.
        n_classes: number of output logits.
        ops: the candidate operations of every edge.

    Example:
        >>> from archsearch.spaces.nb201 import NB201_OPS
        >>> net = NB201Supernet(4, 1, 1, 10, NB201_OPS)
        >>> net(torch.zeros(2, 1, 8, 8)).shape, tuple(net.alphas.shape)
        (torch.Size([2, 10]), (6, 5))
    """

    def __init__(self, channels: int, cells_per_stage: int, in_channels: int, n_classes: int,
                 ops: Sequence[str]) -> None:
        super().__init__()
        self.ops = tuple(ops)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        self.cells = nn.ModuleList()
        c_prev = channels
        for stage in range(3):
            c_curr = channels * 2**stage
            if stage > 0:
                self.cells.append(ResNetBasicblock(c_prev, c_curr, 2))
            self.cells.extend(SearchCell(c_curr, self.ops) for _ in range(cells_per_stage))
            c_prev = c_curr
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, n_classes)
        self.alphas = nn.Parameter(1e-3 * torch.randn(len(EDGES), len(self.ops)))

    def arch_parameters(self) -> list[nn.Parameter]:
        """The architecture weights."""
        return [self.alphas]

    def named_arch_parameters(self) -> dict[str, nn.Parameter]:
        """The architecture weights by parameter name (the keys of ``derive_alphas``)."""
        return {"alphas": self.alphas}

    def mixing_weights(self) -> list[Tensor]:
        """The weights every edge mixes its operations with: a softmax of the alphas."""
        return [F.softmax(self.alphas, dim=-1)]

    def weights(self) -> list[nn.Parameter]:
        """Every parameter but the architecture weights."""
        return [p for p in self.parameters() if p is not self.alphas]

    def forward(self, x: Tensor, mixing: Sequence[Tensor] | None = None) -> Tensor:
        """Logits of ``x``; ``mixing`` replaces :meth:`mixing_weights` (e.g. perturbed ones)."""
        (weights,) = self.mixing_weights() if mixing is None else mixing
        feature = self.stem(x)
        for cell in self.cells:
            feature = cell(feature, weights) if isinstance(cell, SearchCell) else cell(feature)
        return self.classifier(self.global_pooling(self.lastact(feature)).flatten(1))  # type: ignore[no-any-return]
