"""The NAS-Bench-201 cell search space (Dong & Yang, ICLR 2020).

A cell is a four-node DAG: node 0 is the cell input, and every node ``i > 0`` sums one
operation applied to each earlier node; node 3 is the output. The six edges each pick
one of five operations, so the space holds 5**6 = 15,625 cells. Networks are built as
the benchmark builds them (``xautodl/models/cell_infers/tiny_network.py`` and
``cells.py``), so their parameter counts equal the benchmark's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from archsearch.errors import InvalidArchitectureError, InvalidParameterError
from archsearch.ops.drop_path import drop_path
from archsearch.ops.nb201_ops import OPS, ResNetBasicblock
from archsearch.spaces.base import SearchSpace, alphas_tensor, check_input_shape, malformed
from archsearch.spaces.nb201_supernet import NB201Supernet
from archsearch.types import Architecture, CellGraph, Decision

__all__ = ["NB201Space", "NB201_OPS", "InferCell", "TinyNetwork"]

NB201_OPS: tuple[str, ...] = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
)
"""The candidate operations of every edge, in encoding order."""

N_NODES = 4
EDGES: tuple[tuple[int, int], ...] = tuple((i, j) for i in range(1, N_NODES) for j in range(i))
"""Edges as (target, source) pairs, in the order of the arch string and the decisions."""

_ITEM = re.compile(r"([A-Za-z0-9_]+)~([0-9]+)")
_ZERO = "#"


def _edge_path(target: int, source: int) -> str:
    return f"cell.edge_{target}_{source}.op"


class InferCell(nn.Module):
    """One NAS-Bench-201 cell with fixed operations (the benchmark's ``InferCell``).

    ``layers`` holds one module per edge in arch-string order, as in the benchmark, so
    ``state_dict`` keys match it; ``none`` edges are skipped in ``forward`` since they
    only add zeros, and a node with no other input is zeros.

    Args:
        ops: the six edge operations, in arch-string order.
        channels: channels of the cell's input and output.

    Example:
        >>> import torch
        >>> cell = InferCell(["nor_conv_3x3"] + ["skip_connect"] * 5, 8)
        >>> cell(torch.zeros(1, 8, 4, 4)).shape
        torch.Size([1, 8, 4, 4])
    """

    def __init__(self, ops: Sequence[str], channels: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(OPS[op](channels) for op in ops)
        self._inputs: list[list[tuple[int, int]]] = [[] for _ in range(N_NODES)]
        for k, ((target, source), op) in enumerate(zip(EDGES, ops)):
            if op != "none":
                self._inputs[target].append((k, source))
        self._droppable = [op not in ("none", "skip_connect") for op in ops]
        self.in_dim = channels
        self.out_dim = channels

    def forward(self, x: Tensor, drop_prob: float = 0.0) -> Tensor:
        """The cell's output; in training, ``drop_prob`` drops each non-skip edge (drop-path)."""
        nodes = [x]
        for target in range(1, N_NODES):
            terms = [self._edge(k, nodes[source], drop_prob) for k, source in self._inputs[target]]
            total = terms[0] if terms else torch.zeros_like(x)
            for term in terms[1:]:
                total = total + term
            nodes.append(total)
        return nodes[-1]

    def _edge(self, k: int, x: Tensor, drop_prob: float) -> Tensor:
        h: Tensor = self.layers[k](x)
        if self.training and drop_prob > 0 and self._droppable[k]:
            h = drop_path(h, drop_prob)
        return h


class TinyNetwork(nn.Module):
    """The benchmark's network: a stem, three stages of cells, a classifier.

    Stages of ``n_cells`` cells run at ``channels``, ``2 * channels`` and ``4 * channels``,
    separated by stride-2 :class:`~archsearch.ops.ResNetBasicblock` s. ``forward``
    returns the logits only (the benchmark also returns the pooled features).
    ``drop_path_prob`` (0 unless a training recipe sets it) drops cell edges in training.

    Args:
        ops: the six edge operations of every cell, in arch-string order.
        channels: channels of the first stage (the benchmark's ``C``, 16).
        n_cells: cells per stage (the benchmark's ``N``, 5).
        in_channels: channels of the input images.
        n_classes: number of output logits.

    Example:
        >>> import torch
        >>> net = TinyNetwork(["nor_conv_3x3"] * 6, 4, 1, in_channels=1, n_classes=10)
        >>> net(torch.zeros(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self, ops: Sequence[str], channels: int, n_cells: int, in_channels: int, n_classes: int
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.cells = nn.ModuleList()
        c_prev = channels
        for stage in range(3):
            c_curr = channels * 2**stage
            if stage > 0:
                self.cells.append(ResNetBasicblock(c_prev, c_curr, 2))
            self.cells.extend(InferCell(ops, c_curr) for _ in range(n_cells))
            c_prev = c_curr
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, n_classes)
        self.drop_path_prob = 0.0

    def forward(self, x: Tensor) -> Tensor:
        feature = self.stem(x)
        for cell in self.cells:
            if isinstance(cell, InferCell):
                feature = cell(feature, self.drop_path_prob)
            else:
                feature = cell(feature)
        out = self.global_pooling(self.lastact(feature)).flatten(1)
        return self.classifier(out)  # type: ignore[no-any-return]


def _check_int(owner: str, name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an int >= {low}. Got {value!r} instead."
        )


class NB201Space(SearchSpace):
    """The NAS-Bench-201 cell space: six edges, five operations each.

    Architectures print as the benchmark's arch strings, and their keys follow the
    benchmark's ``to_unique_str(consider_zero=True)``, which splits the 15,625 cells
    into 6,466 classes of isomorphic ones.

    Args:
        channels: channels of the first stage of built networks (the benchmark's 16).
        cells_per_stage: cells in each of the three stages (the benchmark's 5).

    Example:
        >>> space = NB201Space()
        >>> text = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|"
        >>> arch = space.parse(text)
        >>> arch.values[0]
        'nor_conv_3x3'
        >>> space.parse(str(arch)) == arch
        True
    """

    name = "nb201"
    TEST_CONFIG = {"channels": 4, "cells_per_stage": 1}

    def __init__(self, channels: int = 16, cells_per_stage: int = 5) -> None:
        self.channels = channels
        self.cells_per_stage = cells_per_stage

    def check(self) -> None:
        """Raise InvalidParameterError unless the constructor arguments are valid."""
        _check_int(type(self).__name__, "channels", self.channels, 1)
        _check_int(type(self).__name__, "cells_per_stage", self.cells_per_stage, 1)

    def config(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {"channels": self.channels, "cells_per_stage": self.cells_per_stage}

    def decisions(self) -> tuple[Decision, ...]:
        """One decision per edge, in arch-string order: 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2."""
        return tuple(Decision(_edge_path(i, j), NB201_OPS) for i, j in EDGES)

    def format(self, values: tuple[str, ...]) -> str:
        """The benchmark's arch string, e.g. ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        groups: list[list[str]] = [[] for _ in range(N_NODES)]
        for (target, source), op in zip(EDGES, values):
            groups[target].append(f"{op}~{source}")
        return "+".join("|" + "|".join(group) + "|" for group in groups[1:])

    def parse(self, text: str) -> Architecture:
        """Parse a benchmark arch string (surrounding whitespace is ignored).

        Raises:
            InvalidArchitectureError: naming the first fault found, and the decision
                path where one is at fault.
        """
        if not isinstance(text, str):
            raise InvalidArchitectureError(
                f"An NB201 arch string must be a str. Got {type(text).__name__} instead."
            )
        stripped = text.strip()
        groups = stripped.split("+")
        if not stripped or len(groups) != N_NODES - 1:
            found = len(groups) if stripped else 0
            raise _malformed(
                stripped, f"expected {N_NODES - 1} node groups separated by '+', got {found}."
            )
        values: list[str] = []
        for target, group in enumerate(groups, start=1):
            values.extend(_parse_group(stripped, target, group))
        return self.from_values(values)

    def canonical(self, values: tuple[str, ...]) -> str:
        """The benchmark's ``to_unique_str(consider_zero=True)`` of the cell.

        Each node is written as the sorted ``+``-join of its input terms: ``#`` (zero) for
        a ``none`` edge or an edge from a zero node, the input's expression for
        ``skip_connect``, and ``(input)@op`` otherwise. A node is zero only when its
        expression is exactly ``#``; zero terms are kept in sums, as the benchmark does,
        which yields its 6,466 classes (dropping them would merge further, to 5,390).

        Like the benchmark's rule, this equates cells up to two approximations: an
        operation applied to a zero node counts as zero (a convolution's batch norm
        would add its bias), and a node's expression is inlined into every consumer,
        so one operation feeding two edges matches two separate copies of it (tied
        versus untied weights).
        """
        nodes = ["0"]
        for target in range(1, N_NODES):
            terms = [
                _term(nodes[source], op)
                for (i, source), op in zip(EDGES, values)
                if i == target
            ]
            nodes.append("+".join(sorted(terms)))
        return nodes[-1]

    def supernet(self, input_shape: Sequence[int], n_classes: int) -> NB201Supernet:
        """The one-shot supernet of this space: a :class:`MixedOp` on every edge."""
        self.check()
        check_input_shape("NB201Space.build", input_shape)
        return NB201Supernet(self.channels, self.cells_per_stage, int(input_shape[0]), n_classes,
                             NB201_OPS)

    def derive(self, supernet: NB201Supernet) -> Architecture:
        """The architecture a trained supernet selects: the argmax operation of every edge."""
        return self.derive_alphas(supernet.named_arch_parameters())

    def derive_alphas(self, alphas: Mapping[str, Any]) -> Architecture:
        """The architecture that architecture weights select, as the benchmark's DARTS does.

        Args:
            alphas: ``{"alphas": logits}``, 6 edges x 5 operations (a tensor or nested
                lists, e.g. a stored snapshot); every edge takes its argmax, ``none``
                included, ties to the earlier operation.

        Example:
            >>> space = NB201Space()
            >>> str(space.derive_alphas({"alphas": torch.eye(6, 5)}))
            '|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|'
        """
        logits = alphas_tensor("NB201Space.derive_alphas", alphas, "alphas",
                               (len(EDGES), len(NB201_OPS)))
        return self.from_values([NB201_OPS[int(k)] for k in logits.argmax(dim=-1)])

    def cell_graphs(self, arch: Architecture) -> tuple[CellGraph, ...]:
        """The cell as a DAG: nodes 0..3, one labelled edge per non-``none`` operation."""
        edges = tuple((j, i, op) for (i, j), op in zip(EDGES, arch.values) if op != "none")
        return (CellGraph("cell", ("in", "1", "2", "out"), edges, inputs=1),)

    def build(self, arch: Architecture, input_shape: Sequence[int], n_classes: int) -> nn.Module:
        """A freshly initialised benchmark network for this cell.

        Args:
            arch: an architecture of this space.
            input_shape: ``(channels, height, width)`` of one input.
            n_classes: number of output logits.
        """
        self.check()
        self.validate(arch)
        check_input_shape("NB201Space.build", input_shape)
        _check_int("NB201Space.build", "n_classes", n_classes, 1)
        in_channels = int(input_shape[0])
        return TinyNetwork(arch.values, self.channels, self.cells_per_stage, in_channels, n_classes)




def _term(source_expr: str, op: str) -> str:
    if op == "none" or source_expr == _ZERO:
        return _ZERO
    if op == "skip_connect":
        return source_expr
    return f"({source_expr})@{op}"




def _parse_group(text: str, target: int, group: str) -> list[str]:
    """The operations of the ``|op~0|...|op~(target-1)|`` group of node ``target``."""
    if len(group) < 2 or not group.startswith("|") or not group.endswith("|"):
        raise _malformed(
            text, f"node {target} group {group!r} must start and end with '|'."
        )
    items = group[1:-1].split("|")
    if len(items) != target:
        raise _malformed(
            text, f"node {target} group {group!r} must have {target} edges, got {len(items)}."
        )
    return [_parse_item(text, target, source, item) for source, item in enumerate(items)]


def _parse_item(text: str, target: int, source: int, item: str) -> str:
    """The operation of one ``op~source`` item, checked against its expected source."""
    path = _edge_path(target, source)
    match = _ITEM.fullmatch(item)
    if match is None:
        raise _malformed(text, f"edge {path!r} item {item!r} must read 'op~{source}'.", path)
    op, index = match.groups()
    if index != str(source):
        raise _malformed(
            text, f"edge {path!r} must read from node {source} ('~{source}'), got '~{index}'.",
            path,
        )
    if op not in NB201_OPS:
        raise InvalidArchitectureError(
            f"Decision {path!r} got {op!r}; allowed: {list(NB201_OPS)}.", path=path
        )
    return op


def _malformed(text: str, why: str, path: str | None = None) -> InvalidArchitectureError:
    return malformed("NB201 arch string", text, why, path)
