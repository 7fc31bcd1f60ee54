"""The DARTS supernet: every edge of a cell mixes all candidate operations.

It follows the reference ``cnn/model_search.py`` (Liu et al., ICLR 2019): each node reads
every earlier input through a :class:`~archsearch.ops.MixedOp` over ``none`` and the
space's operations, weighted by a softmax of architecture parameters shared by all
cells of one type. :meth:`DartsSupernet.genotype` then keeps, per node, the two
strongest edges with their strongest operation other than ``none``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from archsearch.ops.darts_ops import OPS, FactorizedReduce, ReLUConvBN
from archsearch.ops.mixed_op import MixedOp
from archsearch.spaces.darts import DARTS_SEARCH_OPS, Genotype

__all__ = ["DartsSupernet", "SearchCell", "derive_genotype"]


def _candidate(name: str, c: int, stride: int) -> nn.Module:
    """One candidate of a mixed edge; pools get a batch norm without affine, as in DARTS."""
    op = OPS[name](c, stride, False)
    if "pool" in name:
        op = nn.Sequential(op, nn.BatchNorm2d(c, affine=False))
    return op


class SearchCell(nn.Module):
    """A cell whose nodes sum mixed edges from every earlier input (the reference ``Cell``).

    Args:
        n_nodes: intermediate nodes.
        c_prev_prev: channels of input 0.
        c_prev: channels of input 1.
        c: channels of every node.
        reduction: whether this is a reduce cell.
        reduction_prev: whether the previous cell reduced.
        candidates: operation names of each mixed edge.

    Example:
        >>> import torch
        >>> cell = SearchCell(2, 8, 8, 4, False, False, ("none", "skip_connect"))
        >>> weights = torch.full((5, 2), 0.5)
        >>> cell(torch.zeros(1, 8, 6, 6), torch.zeros(1, 8, 6, 6), weights).shape
        torch.Size([1, 8, 6, 6])
    """

    def __init__(self, n_nodes: int, c_prev_prev: int, c_prev: int, c: int, reduction: bool,
                 reduction_prev: bool, candidates: Sequence[str]) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0: nn.Module = (
            FactorizedReduce(c_prev_prev, c, affine=False) if reduction_prev
            else ReLUConvBN(c_prev_prev, c, 1, 1, 0, affine=False)
        )
        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0, affine=False)
        self._steps = n_nodes
        self._ops = nn.ModuleList(
            MixedOp(_candidate(name, c, 2 if reduction and j < 2 else 1) for name in candidates)
            for i in range(n_nodes) for j in range(2 + i)
        )

    def forward(self, s0: Tensor, s1: Tensor, weights: Tensor) -> Tensor:
        """``weights`` holds one row of candidate weights per edge, node by node."""
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        offset = 0
        for _ in range(self._steps):
            total = self._ops[offset](states[0], weights[offset])
            for j in range(1, len(states)):
                total = total + self._ops[offset + j](states[j], weights[offset + j])
            offset += len(states)
            states.append(total)
        return torch.cat(states[2:], dim=1)


class DartsSupernet(nn.Module):
    """The reference search network: a stem, ``layers`` search cells, a classifier.

    ``alphas_normal`` and ``alphas_reduce`` (one row per edge, one column per candidate,
    initialised to ``1e-3 * randn`` as in DARTS) are parameters of the module;
    :meth:`arch_parameters` returns them and :meth:`weights` everything else, for the
    two optimisers of the bilevel search.

    Args:
        channels: channels of the first cells (16 in DARTS).
        n_classes: number of output logits.
        layers: number of cells (8 in DARTS).
        n_nodes: intermediate nodes per cell; all are concatenated.
        ops: candidate operations besides ``none``, which every edge also mixes.
        in_channels: channels of the input images.
        stem_multiplier: stem channels as a multiple of ``channels``.

    Example:
        >>> import torch
        >>> net = DartsSupernet(4, 10, 2, n_nodes=2, ops=("skip_connect", "sep_conv_3x3"))
        >>> net(torch.zeros(2, 3, 8, 8)).shape
        torch.Size([2, 10])
        >>> [tuple(a.shape) for a in net.arch_parameters()]
        [(5, 3), (5, 3)]
        >>> len(net.genotype().normal)
        4
    """

    def __init__(self, channels: int, n_classes: int, layers: int, n_nodes: int = 4,
                 ops: Sequence[str] = DARTS_SEARCH_OPS, in_channels: int = 3,
                 stem_multiplier: int = 3) -> None:
        super().__init__()
        self.n_nodes = n_nodes
        self.ops = tuple(ops)
        self.candidates = ("none", *self.ops)
        c_curr = stem_multiplier * channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr)
        )
        c_prev_prev, c_prev, c_curr = c_curr, c_curr, channels
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            c_curr *= 2 if reduction else 1
            self.cells.append(SearchCell(n_nodes, c_prev_prev, c_prev, c_curr, reduction,
                                         reduction_prev, self.candidates))
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, n_nodes * c_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, n_classes)
        n_edges = sum(2 + i for i in range(n_nodes))
        self.alphas_normal = nn.Parameter(1e-3 * torch.randn(n_edges, len(self.candidates)))
        self.alphas_reduce = nn.Parameter(1e-3 * torch.randn(n_edges, len(self.candidates)))

    def arch_parameters(self) -> list[nn.Parameter]:
        """The architecture parameters: ``[alphas_normal, alphas_reduce]``."""
        return [self.alphas_normal, self.alphas_reduce]

    def named_arch_parameters(self) -> dict[str, nn.Parameter]:
        """The architecture parameters by name (the keys of ``DartsSpace.derive_alphas``)."""
        return {"alphas_normal": self.alphas_normal, "alphas_reduce": self.alphas_reduce}

    def weights(self) -> list[nn.Parameter]:
        """The network weights: every parameter but the architecture parameters."""
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def mixing_weights(self) -> list[Tensor]:
        """The normal and the reduce cells' edge weights: a softmax of each alphas row."""
        return [F.softmax(self.alphas_normal, dim=-1), F.softmax(self.alphas_reduce, dim=-1)]

    def forward(self, x: Tensor, mixing: Sequence[Tensor] | None = None) -> Tensor:
        """Logits of ``x``; ``mixing`` replaces :meth:`mixing_weights` (e.g. perturbed ones)."""
        normal, reduce = self.mixing_weights() if mixing is None else mixing
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, reduce if cell.reduction else normal)
        out = self.global_pooling(s1)
        return self.classifier(out.flatten(1))  # type: ignore[no-any-return]

    @torch.no_grad()
    def genotype(self) -> Genotype:
        """The discrete cells the architecture parameters select, as DARTS derives them.

        Per node, the two incoming edges whose strongest operation other than ``none``
        weighs most are kept (ties go to the earlier input), each with that operation;
        pairs are listed strongest first. Every node is concatenated.
        """
        return derive_genotype(self.alphas_normal, self.alphas_reduce, self.candidates,
                               self.n_nodes)


def derive_genotype(alphas_normal: Tensor, alphas_reduce: Tensor, candidates: Sequence[str],
                    n_nodes: int) -> Genotype:
    """The genotype DARTS derives from the two cells' architecture parameters (logits).

    Per node, the two incoming edges whose strongest operation other than ``none`` weighs
    most (after a softmax over each edge's row) are kept, ties to the earlier input.
    """
    concat = list(range(2, 2 + n_nodes))
    return Genotype(
        normal=_derive(F.softmax(alphas_normal.detach(), dim=-1).tolist(), candidates, n_nodes),
        normal_concat=concat,
        reduce=_derive(F.softmax(alphas_reduce.detach(), dim=-1).tolist(), candidates, n_nodes),
        reduce_concat=list(concat),
    )


def _derive(weights: list[list[float]], candidates: Sequence[str],
            n_nodes: int) -> list[tuple[str, int]]:
    none = candidates.index("none")
    ops = [k for k in range(len(candidates)) if k != none]
    gene: list[tuple[str, int]] = []
    start = 0
    for node in range(n_nodes):
        rows = weights[start:start + node + 2]
        gene += [(candidates[k], j) for j, k in _strongest_edges(rows, ops)]
        start += node + 2
    return gene


def _strongest_edges(rows: list[list[float]], ops: list[int]) -> list[tuple[int, int]]:
    """The two (input, op) of the rows whose best op in ``ops`` weighs most, strongest first.

    Ties go to the earlier input and the earlier op, as in the reference's stable sort and
    strict comparison.
    """
    best = [max(ops, key=lambda k: row[k]) for row in rows]
    edges = sorted(range(len(rows)), key=lambda j: -rows[j][best[j]])[:2]
    return [(j, best[j]) for j in edges]
