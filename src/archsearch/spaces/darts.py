"""The NASNet/DARTS cell search space (Zoph et al., CVPR 2018; Liu et al., ICLR 2019).

A network stacks two kinds of cells, *normal* and *reduce* (which halves the resolution
and doubles the channels). A cell reads the outputs of the two previous cells (inputs
0 and 1) and computes ``n_nodes`` intermediate nodes; node ``i`` (input ``2 + i``) sums
two operations, each applied to an earlier input, and the cell output concatenates
intermediate nodes. Architectures print as the reference code's genotype strings, and
networks are built as its ``cnn/model.py`` builds them, so their parameter counts and
``state_dict`` keys equal the reference's.

Which nodes are concatenated is a setting of the space, ``concat``: ``"all"`` (every
intermediate node, as in every DARTS-derived cell) or ``"unused"`` (the nodes no other
node reads, as NASNet and AmoebaNet do). Either way it follows from the edges, so a
genotype's concat lists are checked, not chosen, and string round trips are exact.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from archsearch._utils.validation import check_int
from archsearch.errors import (
    IncompatibleError,
    InvalidArchitectureError,
    InvalidParameterError,
    unknown_name,
)
from archsearch.ops.darts_ops import OPS, FactorizedReduce, Identity, ReLUConvBN
from archsearch.spaces.base import SearchSpace
from archsearch.types import Architecture, CellGraph, Decision

if TYPE_CHECKING:
    from archsearch.spaces.darts_supernet import DartsSupernet

__all__ = [
    "DARTS_SEARCH_OPS", "DARTS_ALL_OPS", "GENOTYPES", "Genotype", "DartsSpace",
    "Cell", "NetworkCIFAR", "NetworkImageNet", "format_genotype", "parse_genotype",
    "published", "space_for", "unused_nodes",
]

DARTS_SEARCH_OPS: tuple[str, ...] = (
    "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
    "dil_conv_3x3", "dil_conv_5x5",
)
"""The operations DARTS searches over (its ``PRIMITIVES`` without ``none``)."""
DARTS_ALL_OPS: tuple[str, ...] = DARTS_SEARCH_OPS + ("sep_conv_7x7", "conv_7x1_1x7")
"""Every operation a discrete cell may use, including those of NASNet and AmoebaNet."""
CELL_TYPES = ("normal", "reduce")
CONCAT_MODES = ("all", "unused")
NETWORKS = ("cifar", "imagenet")
_MAX_CHARS = 4096


class Genotype(NamedTuple):
    """Two cells as the reference writes them: (op, input) pairs, two per node, in order.

    Example:
        >>> g = GENOTYPES["DARTS_V2"]
        >>> g.normal[7], g.normal_concat
        (('dil_conv_3x3', 2), [2, 3, 4, 5])
    """

    normal: list[tuple[str, int]]
    normal_concat: list[int]
    reduce: list[tuple[str, int]]
    reduce_concat: list[int]


GENOTYPES: dict[str, Genotype] = {
    "NASNet": Genotype(
        normal=[("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 0),
                ("sep_conv_3x3", 0), ("avg_pool_3x3", 1), ("skip_connect", 0),
                ("avg_pool_3x3", 0), ("avg_pool_3x3", 0), ("sep_conv_3x3", 1),
                ("skip_connect", 1)],
        normal_concat=[2, 3, 4, 5, 6],
        reduce=[("sep_conv_5x5", 1), ("sep_conv_7x7", 0), ("max_pool_3x3", 1),
                ("sep_conv_7x7", 0), ("avg_pool_3x3", 1), ("sep_conv_5x5", 0),
                ("skip_connect", 3), ("avg_pool_3x3", 2), ("sep_conv_3x3", 2),
                ("max_pool_3x3", 1)],
        reduce_concat=[4, 5, 6],
    ),
    "AmoebaNet": Genotype(
        normal=[("avg_pool_3x3", 0), ("max_pool_3x3", 1), ("sep_conv_3x3", 0),
                ("sep_conv_5x5", 2), ("sep_conv_3x3", 0), ("avg_pool_3x3", 3),
                ("sep_conv_3x3", 1), ("skip_connect", 1), ("skip_connect", 0),
                ("avg_pool_3x3", 1)],
        normal_concat=[4, 5, 6],
        reduce=[("avg_pool_3x3", 0), ("sep_conv_3x3", 1), ("max_pool_3x3", 0),
                ("sep_conv_7x7", 2), ("sep_conv_7x7", 0), ("avg_pool_3x3", 1),
                ("max_pool_3x3", 0), ("max_pool_3x3", 1), ("conv_7x1_1x7", 0),
                ("sep_conv_3x3", 5)],
        reduce_concat=[3, 4, 6],
    ),
    "DARTS_V1": Genotype(
        normal=[("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0),
                ("sep_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 1),
                ("sep_conv_3x3", 0), ("skip_connect", 2)],
        normal_concat=[2, 3, 4, 5],
        reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2),
                ("max_pool_3x3", 0), ("max_pool_3x3", 0), ("skip_connect", 2),
                ("skip_connect", 2), ("avg_pool_3x3", 0)],
        reduce_concat=[2, 3, 4, 5],
    ),
    "DARTS_V2": Genotype(
        normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0),
                ("sep_conv_3x3", 1), ("sep_conv_3x3", 1), ("skip_connect", 0),
                ("skip_connect", 0), ("dil_conv_3x3", 2)],
        normal_concat=[2, 3, 4, 5],
        reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2),
                ("max_pool_3x3", 1), ("max_pool_3x3", 0), ("skip_connect", 2),
                ("skip_connect", 2), ("max_pool_3x3", 1)],
        reduce_concat=[2, 3, 4, 5],
    ),
}
"""The published cells of the reference ``cnn/genotypes.py``, by its names."""


# --- genotype strings ---------------------------------------------------------------
def format_genotype(genotype: Genotype) -> str:
    """The genotype as the reference prints it, e.g. ``Genotype(normal=[('sep_conv_3x3', 0), ...``."""
    return (
        f"Genotype(normal={[(op, i) for op, i in genotype.normal]!r}, "
        f"normal_concat={list(genotype.normal_concat)!r}, "
        f"reduce={[(op, i) for op, i in genotype.reduce]!r}, "
        f"reduce_concat={list(genotype.reduce_concat)!r})"
    )


def parse_genotype(text: str) -> Genotype:
    """Read a genotype string without evaluating it; only its shape is checked here.

    Quotes may be single or double, fields may be given by keyword or position, and a
    concat may read ``range(2, 6)`` as the reference's search prints it.

    Raises:
        InvalidArchitectureError: naming what is malformed.

    Example:
        >>> parse_genotype(str(GENOTYPES["DARTS_V1"])) == GENOTYPES["DARTS_V1"]
        True
    """
    if not isinstance(text, str):
        raise InvalidArchitectureError(
            f"A DARTS genotype must be a str. Got {type(text).__name__} instead."
        )
    text = text.strip()
    if len(text) > _MAX_CHARS:
        raise _malformed(text, f"longer than {_MAX_CHARS} characters.")
    fields = _fields(text, _call(text))
    return Genotype(
        normal=_pairs(text, "normal", fields["normal"]),
        normal_concat=_concat(text, "normal_concat", fields["normal_concat"]),
        reduce=_pairs(text, "reduce", fields["reduce"]),
        reduce_concat=_concat(text, "reduce_concat", fields["reduce_concat"]),
    )


def _malformed(text: str, why: str, path: str | None = None) -> InvalidArchitectureError:
    shown = text if len(text) <= 80 else text[:77] + "..."
    return InvalidArchitectureError(f"Malformed DARTS genotype {shown!r}: {why}", path=path)


def _call(text: str) -> ast.Call:
    """The ``Genotype(...)`` call of ``text``, parsed (never run)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            body = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise _malformed(text, "not a Genotype(...) expression.") from None
    if not (isinstance(body, ast.Call) and isinstance(body.func, ast.Name)
            and body.func.id == "Genotype"):
        raise _malformed(text, "expected Genotype(normal=[...], normal_concat=[...], "
                               "reduce=[...], reduce_concat=[...]).")
    return body


def _fields(text: str, call: ast.Call) -> dict[str, ast.expr]:
    names = Genotype._fields
    unpacked = any(isinstance(a, ast.Starred) for a in call.args)
    if len(call.args) > len(names) or unpacked or any(k.arg is None for k in call.keywords):
        raise _malformed(text, f"Genotype takes the 4 fields {list(names)}.")
    fields = dict(zip(names, call.args))
    for keyword in call.keywords:
        if keyword.arg not in names:
            raise _malformed(text, f"unknown field {keyword.arg!r}; fields are {list(names)}.")
        if keyword.arg in fields:
            raise _malformed(text, f"field {keyword.arg!r} is given twice.")
        fields[keyword.arg] = keyword.value
    missing = [name for name in names if name not in fields]
    if missing:
        raise _malformed(text, f"field {missing[0]!r} is missing.")
    return fields


def _int(node: ast.expr) -> int | None:
    """The value of an int literal such as ``3`` or ``-1``; None for anything else."""
    negative = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
    literal = node.operand if isinstance(node, ast.UnaryOp) and negative else node
    if isinstance(literal, ast.Constant) and type(literal.value) is int:
        return -literal.value if negative else literal.value
    return None


def _pairs(text: str, field: str, node: ast.expr) -> list[tuple[str, int]]:
    if not isinstance(node, (ast.List, ast.Tuple)):
        raise _malformed(text, f"field {field!r} must be a list of (op, input) pairs.", field)
    pairs = []
    for k, item in enumerate(node.elts):
        op = item.elts[0] if isinstance(item, ast.Tuple) and len(item.elts) == 2 else None
        index = _int(item.elts[1]) if isinstance(item, ast.Tuple) and len(item.elts) == 2 else None
        if not (isinstance(op, ast.Constant) and isinstance(op.value, str)) or index is None:
            raise _malformed(text, f"field {field!r} item {k} must be an (op, input) pair "
                                   "such as ('sep_conv_3x3', 0).", field)
        pairs.append((op.value, index))
    return pairs


def _concat(text: str, field: str, node: ast.expr) -> list[int]:
    why = f"field {field!r} must be a list of node indices such as [2, 3, 4, 5] or range(2, 6)."
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [_int(item) for item in node.elts]
        if any(v is None for v in values):
            raise _malformed(text, why, field)
        return [v for v in values if v is not None]
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "range" and not node.keywords and 1 <= len(node.args) <= 3):
        raise _malformed(text, why, field)
    args = [_int(arg) for arg in node.args]
    try:
        span = range(*[a for a in args if a is not None])
        too_long = len(span) > 64
    except (ValueError, OverflowError):
        too_long = True
    if None in args or too_long:
        raise _malformed(text, why, field)
    return list(span)


# --- networks ------------------------------------------------------------------------
def _drop_path(x: Tensor, drop_prob: float) -> Tensor:
    """Zero whole examples with probability ``drop_prob``, scaling the rest up to keep the mean."""
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x / keep * mask


def unused_nodes(pairs: Sequence[tuple[str, int]]) -> list[int]:
    """The intermediate nodes (as inputs ``2 + i``) that no node of the cell reads."""
    read = {index for _, index in pairs}
    return [s for s in range(2, 2 + len(pairs) // 2) if s not in read]


class Cell(nn.Module):
    """One cell with fixed operations (the reference ``Cell``).

    Args:
        genotype: the two cells; this one takes ``reduce`` or ``normal``.
        c_prev_prev: channels of input 0 (the cell before the previous one).
        c_prev: channels of input 1 (the previous cell).
        c: channels of every node.
        reduction: whether this is a reduce cell (stride 2 on the inputs' edges).
        reduction_prev: whether the previous cell reduced (input 0 is then reduced too).

    Example:
        >>> import torch
        >>> cell = Cell(GENOTYPES["DARTS_V2"], 8, 8, 4, False, False)
        >>> cell(torch.zeros(1, 8, 6, 6), torch.zeros(1, 8, 6, 6)).shape
        torch.Size([1, 16, 6, 6])
    """

    def __init__(self, genotype: Genotype, c_prev_prev: int, c_prev: int, c: int,
                 reduction: bool, reduction_prev: bool) -> None:
        super().__init__()
        self.preprocess0: nn.Module = (
            FactorizedReduce(c_prev_prev, c) if reduction_prev
            else ReLUConvBN(c_prev_prev, c, 1, 1, 0)
        )
        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0)
        pairs = genotype.reduce if reduction else genotype.normal
        self._concat = list(genotype.reduce_concat if reduction else genotype.normal_concat)
        self._indices = [index for _, index in pairs]
        self._ops = nn.ModuleList(
            OPS[op](c, 2 if reduction and index < 2 else 1, True) for op, index in pairs
        )
        self.reduction = reduction
        self.multiplier = len(self._concat)

    def forward(self, s0: Tensor, s1: Tensor, drop_prob: float = 0.0) -> Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in range(len(self._ops) // 2):
            h1 = self._edge(2 * node, states, drop_prob)
            h2 = self._edge(2 * node + 1, states, drop_prob)
            states.append(h1 + h2)
        return torch.cat([states[i] for i in self._concat], dim=1)

    def _edge(self, k: int, states: list[Tensor], drop_prob: float) -> Tensor:
        op = self._ops[k]
        h: Tensor = op(states[self._indices[k]])
        if self.training and drop_prob > 0 and not isinstance(op, Identity):
            h = _drop_path(h, drop_prob)
        return h


class _AuxiliaryHead(nn.Module):
    """Logits from an inner feature map through ``features`` (whose ``[1]`` is a pool).

    Inputs smaller than ``min_size``, too small for that pool to give 2x2, are pooled to
    2x2 adaptively instead, and larger ones are averaged to 1x1 before the classifier,
    so any size works; at the reference's sizes neither step changes anything. The first
    ReLU does not work in place, so the cell output the head reads stays unchanged.
    """

    def __init__(self, features: nn.Sequential, n_classes: int, min_size: int) -> None:
        super().__init__()
        self.features = features
        self.classifier = nn.Linear(768, n_classes)
        self._min_size = min_size

    def forward(self, x: Tensor) -> Tensor:
        if min(x.shape[-2:]) < self._min_size:
            x = self.features[2:](F.adaptive_avg_pool2d(self.features[0](x), 2))
        else:
            x = self.features(x)
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))  # type: ignore[no-any-return]


class AuxiliaryHeadCIFAR(_AuxiliaryHead):
    """The reference CIFAR auxiliary classifier, for 8x8 feature maps (any size works).

    Args:
        c: channels of the feature map.
        n_classes: number of output logits.

    Example:
        >>> import torch
        >>> AuxiliaryHeadCIFAR(16, 10)(torch.zeros(2, 16, 8, 8)).shape
        torch.Size([2, 10])
    """

    def __init__(self, c: int, n_classes: int) -> None:
        features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(inplace=True),
        )
        super().__init__(features, n_classes, min_size=8)


class AuxiliaryHeadImageNet(_AuxiliaryHead):
    """The reference ImageNet auxiliary classifier, without a batch norm after its last conv.

    Args:
        c: channels of the feature map (7x7 at 224x224 inputs; any size works).
        n_classes: number of output logits.

    Example:
        >>> import torch
        >>> AuxiliaryHeadImageNet(16, 10)(torch.zeros(2, 16, 7, 7)).shape
        torch.Size([2, 10])
    """

    def __init__(self, c: int, n_classes: int) -> None:
        features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=2, padding=0, count_include_pad=False),
            nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False), nn.ReLU(inplace=True),
        )
        super().__init__(features, n_classes, min_size=7)


class _Network(nn.Module):
    """The cell stack, auxiliary head and classifier shared by both reference networks."""

    cells: nn.ModuleList
    auxiliary_head: nn.Module | None
    global_pooling: nn.Module
    classifier: nn.Module
    drop_path_prob: float
    aux_logits: Tensor | None = None

    def _stack(self, genotype: Genotype, channels: int, layers: int, c_stem: int,
               reduction_prev: bool) -> tuple[int, int]:
        """Add ``self.cells``; return the channels of the last cell and of the aux point."""
        self.cells = nn.ModuleList()
        c_prev_prev, c_prev, c_curr, c_aux = c_stem, c_stem, channels, c_stem
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            c_curr *= 2 if reduction else 1
            cell = Cell(genotype, c_prev_prev, c_prev, c_curr, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.multiplier * c_curr
            if i == 2 * layers // 3:
                c_aux = c_prev
        self._aux_index = 2 * layers // 3
        return c_prev, c_aux

    def _run(self, s0: Tensor, s1: Tensor) -> Tensor:
        """Logits from the stem outputs; keeps the auxiliary logits when training."""
        self.aux_logits = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self._aux_index and self.training and self.auxiliary_head is not None:
                self.aux_logits = self.auxiliary_head(s1)
        out = self.global_pooling(s1)
        return self.classifier(out.flatten(1))  # type: ignore[no-any-return]


class NetworkCIFAR(_Network):
    """The reference CIFAR network: a 3x3 stem, ``layers`` cells, a classifier.

    Reduce cells sit at ``layers // 3`` and ``2 * layers // 3``; the auxiliary head, if
    any, reads the output of cell ``2 * layers // 3``. ``forward`` returns the logits;
    in training it also stores the auxiliary logits in ``aux_logits`` (else None) until
    the next forward, for the loop to add their loss. ``drop_path_prob`` may be changed
    between epochs, as the reference schedules it.

    Args:
        channels: channels of the first cells (the reference's ``C``, 36).
        n_classes: number of output logits.
        layers: number of cells (20).
        auxiliary: whether to add the auxiliary head.
        genotype: the two cells.
        in_channels: channels of the input images.
        drop_path_prob: probability of dropping a non-identity edge in training.

    Example:
        >>> import torch
        >>> net = NetworkCIFAR(4, 10, 3, True, GENOTYPES["DARTS_V2"], in_channels=1)
        >>> net.eval()(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self, channels: int, n_classes: int, layers: int, auxiliary: bool,
                 genotype: Genotype, in_channels: int = 3, drop_path_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_path_prob = drop_path_prob
        c_stem = 3 * channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem)
        )
        c_prev, c_aux = self._stack(genotype, channels, layers, c_stem, False)
        self.auxiliary_head = AuxiliaryHeadCIFAR(c_aux, n_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        s = self.stem(x)
        return self._run(s, s)


class NetworkImageNet(_Network):
    """The reference ImageNet network (mobile setting: 224x224 inputs, any size works).

    Two stride-2 stems bring 224x224 inputs to 28x28 before the cells; the final pool
    is adaptive, which equals the reference's 7x7 average pool at 224x224. Arguments
    and ``aux_logits`` are as for :class:`NetworkCIFAR`; ``channels`` must be even.

    Example:
        >>> import torch
        >>> net = NetworkImageNet(4, 10, 3, True, GENOTYPES["DARTS_V2"])
        >>> net.eval()(torch.zeros(1, 3, 64, 64)).shape
        torch.Size([1, 10])
    """

    def __init__(self, channels: int, n_classes: int, layers: int, auxiliary: bool,
                 genotype: Genotype, in_channels: int = 3, drop_path_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_path_prob = drop_path_prob
        c = channels
        self.stem0 = nn.Sequential(
            nn.Conv2d(in_channels, c // 2, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c // 2), nn.ReLU(inplace=True),
            nn.Conv2d(c // 2, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c),
        )
        self.stem1 = nn.Sequential(
            nn.ReLU(inplace=False), nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c),
        )
        c_prev, c_aux = self._stack(genotype, channels, layers, c, True)
        self.auxiliary_head = AuxiliaryHeadImageNet(c_aux, n_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        s0 = self.stem0(x)
        return self._run(s0, self.stem1(s0))


# --- the space -----------------------------------------------------------------------
def _paths(cell: str, node: int, k: int) -> tuple[str, str]:
    return f"{cell}.node{node}.op{k}", f"{cell}.node{node}.input{k}"


class DartsSpace(SearchSpace):
    """The NASNet/DARTS cell space: a normal and a reduce cell of ``n_nodes`` nodes each.

    Each node of each cell has four decisions: ``{cell}.node{i}.op{k}`` (an operation of
    ``ops``) and ``{cell}.node{i}.input{k}`` (``"0"`` to ``str(i + 1)``: inputs 0 and 1 are
    the previous cells, ``2 + j`` is node ``j``) for ``k`` in 0, 1, the indexing of the
    reference genotypes. ``none`` is not an operation of discrete cells; it appears only
    in the supernet. Architectures print as genotype strings; their keys treat the two
    (op, input) pairs of a node as unordered, since the node sums them.

    Args:
        channels: channels of the first cells of built networks (36 for CIFAR in the
            paper, 48 for ImageNet).
        layers: number of cells (20 for CIFAR, 14 for ImageNet).
        n_nodes: intermediate nodes per cell (4 in DARTS, 5 in NASNet and AmoebaNet).
        ops: candidate operations, in encoding order; defaults to :data:`DARTS_SEARCH_OPS`.
        auxiliary: whether built networks have the auxiliary head.
        drop_path: drop-path probability of built networks in training.
        network: ``"cifar"`` (the reference ``NetworkCIFAR``) or ``"imagenet"``.
        concat: which intermediate nodes a cell concatenates: ``"all"`` or ``"unused"``
            (those no node reads).

    Example:
        >>> import torch
        >>> space = DartsSpace(channels=4, layers=3)
        >>> arch = space.parse(str(GENOTYPES["DARTS_V2"]))
        >>> arch.values[:4]
        ('sep_conv_3x3', '0', 'sep_conv_3x3', '1')
        >>> space.parse(str(arch)) == arch
        True
        >>> space.build(arch, (3, 32, 32), 10).eval()(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    name = "darts"
    TEST_CONFIG = {"channels": 4, "layers": 3}

    def __init__(self, channels: int = 36, layers: int = 20, n_nodes: int = 4,
                 ops: Sequence[str] | None = None, auxiliary: bool = False,
                 drop_path: float = 0.0, network: str = "cifar", concat: str = "all") -> None:
        self.channels = channels
        self.layers = layers
        self.n_nodes = n_nodes
        self.ops = ops
        self.auxiliary = auxiliary
        self.drop_path = drop_path
        self.network = network
        self.concat = concat

    # --- settings --------------------------------------------------------------------
    def check(self) -> None:
        """Raise InvalidParameterError unless the constructor arguments are valid."""
        owner = type(self).__name__
        check_int(owner, "channels", self.channels, 1)
        check_int(owner, "layers", self.layers, 1)
        check_int(owner, "n_nodes", self.n_nodes, 1)
        _check_ops(owner, self.ops)
        _check_choice(owner, "auxiliary", self.auxiliary, (False, True))
        _check_choice(owner, "network", self.network, NETWORKS)
        _check_choice(owner, "concat", self.concat, CONCAT_MODES)
        if isinstance(self.drop_path, bool) or not isinstance(self.drop_path, (int, float)) \
                or not 0 <= self.drop_path < 1:
            raise InvalidParameterError(f"The 'drop_path' parameter of {owner} must be a "
                                        f"number in [0, 1). Got {self.drop_path!r} instead.")
        if self.network == "imagenet" and self.channels % 2:
            raise InvalidParameterError(f"The 'channels' parameter of {owner} must be even for "
                                        f"network='imagenet'. Got {self.channels!r} instead.")

    def op_names(self) -> tuple[str, ...]:
        """The candidate operations of every edge, in encoding order."""
        return DARTS_SEARCH_OPS if self.ops is None else tuple(self.ops)

    def config(self) -> dict[str, Any]:
        """The constructor arguments, with ``ops`` spelled out."""
        ops = self.ops if self.ops is not None and not isinstance(self.ops, (list, tuple)) \
            else list(self.op_names())
        return {"channels": self.channels, "layers": self.layers, "n_nodes": self.n_nodes,
                "ops": ops, "auxiliary": self.auxiliary, "drop_path": self.drop_path,
                "network": self.network, "concat": self.concat}

    # --- decisions and strings -------------------------------------------------------
    def decisions(self) -> tuple[Decision, ...]:
        """Per cell, node and ``k``: the operation, then its input."""
        self.check()
        ops = self.op_names()
        decisions = []
        for cell in CELL_TYPES:
            for node in range(self.n_nodes):
                inputs = tuple(str(j) for j in range(node + 2))
                for k in (0, 1):
                    op_path, input_path = _paths(cell, node, k)
                    decisions += [Decision(op_path, ops), Decision(input_path, inputs)]
        return tuple(decisions)

    def to_genotype(self, arch: Architecture | tuple[str, ...]) -> Genotype:
        """The genotype of an architecture (or of decision values) of this space."""
        values = arch.values if isinstance(arch, Architecture) else arch
        half = len(values) // 2
        cells = [
            [(values[k], int(values[k + 1])) for k in range(start, start + half, 2)]
            for start in (0, half)
        ]
        return Genotype(cells[0], self._concat_of(cells[0]), cells[1], self._concat_of(cells[1]))

    def _concat_of(self, pairs: list[tuple[str, int]]) -> list[int]:
        if self.concat == "unused":
            return unused_nodes(pairs)
        return list(range(2, 2 + len(pairs) // 2))

    def format(self, values: tuple[str, ...]) -> str:
        """The reference genotype string, e.g. ``Genotype(normal=[('sep_conv_3x3', 0), ...``."""
        return format_genotype(self.to_genotype(values))

    def canonical(self, values: tuple[str, ...]) -> str:
        """The genotype string with each node's two (op, input) pairs sorted.

        A node sums its two edges, so swapping them yields the same network; nothing
        else is merged (nodes computing the same function stay distinct).
        """
        pairs = [(values[k], values[k + 1]) for k in range(0, len(values), 2)]
        nodes = [sorted(pairs[k:k + 2], key=lambda p: (int(p[1]), p[0]))
                 for k in range(0, len(pairs), 2)]
        return self.format(tuple(v for node in nodes for pair in node for v in pair))

    def parse(self, text: str) -> Architecture:
        """Parse a genotype string (see :func:`parse_genotype`).

        Raises:
            InvalidArchitectureError: naming the malformed part, or the decision path of
                an unknown operation or an input out of range, or a wrong concat list.
        """
        return self.from_genotype(parse_genotype(text))

    def from_genotype(self, genotype: Genotype) -> Architecture:
        """The architecture of a genotype; its concat lists must be those of the space."""
        arch = self.from_values(self._edge_values(genotype))
        expected = self.to_genotype(arch)
        for cell in CELL_TYPES:
            field = f"{cell}_concat"
            got = list(getattr(genotype, field))
            if got != getattr(expected, field):
                raise InvalidArchitectureError(
                    f"Genotype field {field!r} got {got}; with concat={self.concat!r} this space "
                    f"needs {getattr(expected, field)}.", path=field,
                )
        return arch

    def _edge_values(self, genotype: Genotype) -> list[str]:
        """The decision values of the genotype's edges, each checked against its decision."""
        ops, n, values = self.op_names(), self.n_nodes, []
        for cell in CELL_TYPES:
            pairs = list(getattr(genotype, cell))
            if len(pairs) != 2 * n:
                raise InvalidArchitectureError(
                    f"Genotype field {cell!r} must hold {2 * n} (op, input) pairs, 2 for each "
                    f"of {n} nodes; got {len(pairs)}.", path=cell,
                )
            for k, (op, index) in enumerate(pairs):
                op_path, input_path = _paths(cell, k // 2, k % 2)
                allowed = list(range(k // 2 + 2))
                if op not in ops:
                    raise InvalidArchitectureError(
                        f"Decision {op_path!r} got {op!r}; allowed: {list(ops)}.", path=op_path)
                if index not in allowed:
                    raise InvalidArchitectureError(
                        f"Decision {input_path!r} got {index!r}; allowed: {allowed}.",
                        path=input_path)
                values += [op, str(index)]
        return values

    def cell_graphs(self, arch: Architecture) -> tuple[CellGraph, ...]:
        """Both cells as DAGs: inputs, nodes 0..n-1, the output, fed by the concatenated nodes."""
        genotype = self.to_genotype(arch)
        graphs = []
        for cell in CELL_TYPES:
            pairs, concat = getattr(genotype, cell), getattr(genotype, f"{cell}_concat")
            n = len(pairs) // 2
            nodes = ("c_{k-2}", "c_{k-1}", *(str(i) for i in range(n)), "c_{k}")
            edges = [(index, 2 + k // 2, op) for k, (op, index) in enumerate(pairs)]
            edges += [(state, n + 2, "") for state in concat]
            graphs.append(CellGraph(cell, nodes, tuple(edges), inputs=2))
        return tuple(graphs)

    # --- networks --------------------------------------------------------------------
    def build(self, arch: Architecture, input_shape: Sequence[int], n_classes: int) -> nn.Module:
        """A freshly initialised reference network (CIFAR or ImageNet) for this architecture.

        Args:
            arch: an architecture of this space.
            input_shape: ``(channels, height, width)`` of one input; any size works.
            n_classes: number of output logits.
        """
        self.check()
        self.validate(arch)
        in_channels = _check_shape(input_shape)
        check_int("DartsSpace.build", "n_classes", n_classes, 1)
        network = NetworkCIFAR if self.network == "cifar" else NetworkImageNet
        return network(self.channels, n_classes, self.layers, self.auxiliary,
                       self.to_genotype(arch), in_channels, float(self.drop_path))

    def supernet(self, input_shape: Sequence[int], n_classes: int, *,
                 channels: int | None = None, layers: int | None = None) -> DartsSupernet:
        """The DARTS supernet over this space: every edge mixes ``none`` and ``ops``.

        Args:
            input_shape: ``(channels, height, width)`` of one input.
            n_classes: number of output logits.
            channels: first-cell channels; defaults to the space's (DARTS searches at 16).
            layers: number of cells; defaults to the space's (DARTS searches with 8).
        """
        from archsearch.spaces.darts_supernet import DartsSupernet

        self.check()
        in_channels = _check_shape(input_shape)
        check_int("DartsSpace.supernet", "n_classes", n_classes, 1)
        return DartsSupernet(self.channels if channels is None else channels, n_classes,
                             self.layers if layers is None else layers, n_nodes=self.n_nodes,
                             ops=self.op_names(), in_channels=in_channels)

    def derive(self, supernet: DartsSupernet) -> Architecture:
        """The discrete architecture a trained supernet selects (see ``DartsSupernet.genotype``)."""
        self.check()
        if supernet.n_nodes != self.n_nodes or supernet.ops != self.op_names():
            raise IncompatibleError(
                f"The supernet has {supernet.n_nodes} nodes and ops {list(supernet.ops)}; this "
                f"space has {self.n_nodes} nodes and ops {list(self.op_names())}."
            )
        return self.from_values(self._edge_values(supernet.genotype()))


def _check_ops(owner: str, ops: object) -> None:
    if ops is None:
        return
    names = list(ops) if isinstance(ops, (list, tuple)) else []
    known = all(isinstance(op, str) and op in DARTS_ALL_OPS for op in names)
    if not names or not known or len(set(names)) != len(names):
        raise InvalidParameterError(
            f"The 'ops' parameter of {owner} must be a non-empty list of distinct operations "
            f"from {list(DARTS_ALL_OPS)}. Got {ops!r} instead."
        )


def _check_choice(owner: str, name: str, value: object, allowed: tuple[object, ...]) -> None:
    if isinstance(value, bool) != isinstance(allowed[0], bool) or value not in allowed:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be one of {list(allowed)}. "
            f"Got {value!r} instead."
        )


def _check_shape(input_shape: Sequence[int]) -> int:
    """The channels of ``input_shape`` after checking it is three positive ints."""
    shape = tuple(input_shape) if isinstance(input_shape, Sequence) else ()
    valid = [not isinstance(s, bool) and isinstance(s, int) and s >= 1 for s in shape]
    if len(shape) != 3 or not all(valid):
        raise InvalidParameterError(
            "The 'input_shape' parameter of DartsSpace must be 3 ints >= 1 "
            f"(channels, height, width). Got {input_shape!r} instead."
        )
    return int(shape[0])


# --- published cells -----------------------------------------------------------------
def space_for(genotype: Genotype | str, **settings: Any) -> tuple[DartsSpace, Architecture]:
    """A space that holds ``genotype``, and its architecture there.

    The space takes ``n_nodes`` from the genotype, ``ops`` = :data:`DARTS_SEARCH_OPS` if
    they suffice else :data:`DARTS_ALL_OPS`, and the ``concat`` mode its concat lists
    follow; ``settings`` give the other constructor arguments.

    Example:
        >>> space, arch = space_for(GENOTYPES["AmoebaNet"], channels=4, layers=3)
        >>> space.n_nodes, space.concat
        (5, 'unused')
    """
    if isinstance(genotype, str):
        genotype = parse_genotype(genotype)
    fixed = {"n_nodes", "ops", "concat"} & set(settings)
    if fixed:
        raise InvalidParameterError(
            f"The {sorted(fixed)[0]!r} setting is taken from the genotype; pass only channels, "
            "layers, auxiliary, drop_path or network."
        )
    used = {op for cell in CELL_TYPES for op, _ in getattr(genotype, cell)}
    ops = DARTS_SEARCH_OPS if used <= set(DARTS_SEARCH_OPS) else DARTS_ALL_OPS
    n_nodes = max(1, len(genotype.normal) // 2)
    everything = list(range(2, 2 + n_nodes))
    concat = "all" if [*genotype.normal_concat] == [*genotype.reduce_concat] == everything \
        else "unused"
    space = DartsSpace(n_nodes=n_nodes, ops=ops, concat=concat, **settings)
    space.check()
    return space, space.from_genotype(genotype)


def published(name: str, **settings: Any) -> tuple[DartsSpace, Architecture]:
    """A published cell by its name in :data:`GENOTYPES`, with a space that holds it.

    ``settings`` are constructor arguments of the space other than those the genotype
    fixes (see :func:`space_for`).

    Example:
        >>> space, arch = published("NASNet")
        >>> str(arch) == str(GENOTYPES["NASNet"])
        True
    """
    if name not in GENOTYPES:
        raise unknown_name("published genotype", name, GENOTYPES, "archsearch.spaces.GENOTYPES")
    return space_for(GENOTYPES[name], **settings)
