"""The reference DARTS networks: cells with fixed operations, stacked for CIFAR or ImageNet.

:class:`NetworkCIFAR` and :class:`NetworkImageNet` are built as the reference code's
``cnn/model.py`` builds them, so their parameter counts and ``state_dict`` keys equal the
reference's; each :class:`Cell` follows one cell of a genotype.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from archsearch.ops.darts_ops import OPS, FactorizedReduce, Identity, ReLUConvBN
from archsearch.ops.drop_path import drop_path
from archsearch.spaces.darts_genotypes import Genotype

__all__ = ["AuxiliaryHeadCIFAR", "AuxiliaryHeadImageNet", "Cell", "NetworkCIFAR", "NetworkImageNet"]


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
        >>> from archsearch.spaces import GENOTYPES
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
            h = drop_path(h, drop_prob)
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
        >>> from archsearch.spaces import GENOTYPES
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
        >>> from archsearch.spaces import GENOTYPES
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
