"""The MnasNet factorized hierarchical search space (Tan et al., CVPR 2019).

A network is a stem, seven blocks and a head, on the skeleton of MobileNetV2 (Sandler et
al., CVPR 2018), from which MnasNet searches filter sizes and layer counts relative to
it. Each block picks one setting that all its layers share: the operation, its kernel
size, a squeeze-and-excitation ratio, a skip operation, a filter multiplier of the
block's base filters and a layer count relative to its base count (at least one layer).
Only the first layer of a block strides. With six choices of 4, 2, 2, 3, 3 and 3 values,
a block has the paper's 432 settings.

Layers use batch norm and ReLU (MnasNet's activation; no swish):

- ``conv``: a ``k x k`` convolution, batch norm, ReLU.
- ``dwconv``: a depthwise-separable convolution: ``k x k`` depthwise, BN, ReLU, then a
  linear ``1x1`` projection and BN (MobileNetV2's first block).
- ``mbconv3`` / ``mbconv6``: the mobile inverted bottleneck: ``1x1`` expansion to 3 or 6
  times the input channels, BN, ReLU, ``k x k`` depthwise, BN, ReLU, linear ``1x1``
  projection, BN.

Squeeze-and-excitation, when on, follows the depthwise convolution (the ``k x k``
convolution for ``conv``) and squeezes to ``max(1, int(c_in * ratio))`` channels with a
ReLU and a sigmoid gate, as ``tensorflow/tpu`` ``models/official/mnasnet`` does.

Skip operations:

- ``none``: no shortcut.
- ``identity``: the residual ``x + f(x)`` where the layer keeps the shape (stride 1 and as
  many output as input channels); layers that change the shape get no shortcut, as in
  MobileNetV2.
- ``pool``: a residual on every layer: where the layer strides, the shortcut is an average
  pool of the stride's size; where the channels change, a ``1x1`` convolution and BN
  project it. On layers that keep the shape it equals ``identity``.

Filters are ``base * width * multiplier`` rounded to a multiple of 8 by MobileNetV2's
rule (nearest multiple, at least 8, never more than 10% below). The stem has
``32 * width`` filters, rounded the same way; the head has 1280, or ``1280 * width`` when
``width > 1``, as in MobileNetV2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from archsearch.errors import InvalidArchitectureError, InvalidParameterError
from archsearch.spaces.base import (
    SearchSpace,
    check_build_args,
    malformed,
    split_arch_string,
)
from archsearch.types import Architecture, Decision

__all__ = [
    "MnasSpace", "MnasBlock", "MnasLayer", "MnasNet", "SqueezeExcite", "MNAS_SKELETON",
    "make_divisible",
]

MNAS_SKELETON: tuple[tuple[int, int, int], ...] = (
    (16, 1, 1),
    (24, 2, 2),
    (32, 3, 2),
    (64, 4, 2),
    (96, 3, 1),
    (160, 3, 2),
    (320, 1, 1),
)
"""Base filters, base layer count and stride of each block: MobileNetV2's for 224x224."""

_FIELDS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("op", "", {v: v for v in ("conv", "dwconv", "mbconv3", "mbconv6")}),
    ("kernel", "k", {"3": "3", "5": "5"}),
    ("se", "se", {"0": "0", "0.25": "0.25"}),
    ("skip", "skip", {"none": "none", "identity": "id", "pool": "pool"}),
    ("filters", "f", {v: v for v in ("0.75", "1.0", "1.25")}),
    ("layers", "l", {"-1": "-1", "0": "+0", "+1": "+1"}),
)
"""Per block decision: name, string prefix, and the string token of each choice."""

_EXPANSION = {"conv": 0, "dwconv": 1, "mbconv3": 3, "mbconv6": 6}


@dataclass(frozen=True)
class MnasBlock:
    """The setting of one block, resolved to numbers.

    Args:
        op: ``"conv"``, ``"dwconv"``, ``"mbconv3"`` or ``"mbconv6"``.
        kernel: kernel size of the spatial convolution.
        se_ratio: squeeze-and-excitation ratio (0 for none).
        skip: ``"none"``, ``"identity"`` or ``"pool"``.
        out_channels: output channels of every layer.
        n_layers: number of layers.
        stride: stride of the first layer.
    """

    op: str
    kernel: int
    se_ratio: float
    skip: str
    out_channels: int
    n_layers: int
    stride: int


def make_divisible(value: float, divisor: int = 8) -> int:
    """MobileNetV2's rounding: nearest multiple of ``divisor``, at least it, at most 10% low.

    Example:
        >>> make_divisible(24 * 0.75), make_divisible(16 * 0.25), make_divisible(40)
        (24, 8, 40)
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
             relu: bool = True) -> list[nn.Module]:
    conv = nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False)
    return [conv, nn.BatchNorm2d(c_out)] + ([nn.ReLU()] if relu else [])


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation: a per-channel gate computed from pooled features.

    Args:
        channels: channels of the gated map.
        reduced: channels of the bottleneck.

    Example:
        >>> import torch
        >>> SqueezeExcite(8, 2)(torch.ones(1, 8, 3, 3)).shape
        torch.Size([1, 8, 3, 3])
    """

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        gate = self.expand(self.reduce(x.mean((2, 3), keepdim=True)).relu()).sigmoid()
        return x * gate  # type: ignore[no-any-return]


class MnasLayer(nn.Module):
    """One layer of a block: the operation and its shortcut.

    Args:
        c_in: input channels.
        c_out: output channels.
        block: the block's setting (its ``out_channels`` is ignored for ``c_out``).
        stride: this layer's stride.

    Example:
        >>> import torch
        >>> block = MnasBlock("mbconv6", 3, 0.25, "pool", 24, 1, 2)
        >>> MnasLayer(16, 24, block, 2)(torch.zeros(1, 16, 7, 7)).shape
        torch.Size([1, 24, 4, 4])
    """

    def __init__(self, c_in: int, c_out: int, block: MnasBlock, stride: int) -> None:
        super().__init__()
        expansion, k = _EXPANSION[block.op], block.kernel
        mid = c_out if expansion == 0 else c_in * expansion
        se = [SqueezeExcite(mid, max(1, int(c_in * block.se_ratio)))] if block.se_ratio else []
        if expansion == 0:
            body = _conv_bn(c_in, c_out, k, stride) + se
        else:
            expand = _conv_bn(c_in, mid, 1) if expansion > 1 else []
            depthwise = _conv_bn(mid, mid, k, stride, groups=mid)
            body = expand + depthwise + se + _conv_bn(mid, c_out, 1, relu=False)
        self.body = nn.Sequential(*body)
        same = stride == 1 and c_in == c_out
        self.residual = block.skip == "pool" or (block.skip == "identity" and same)
        shortcut: list[nn.Module] = []
        if block.skip == "pool" and stride > 1:
            shortcut.append(nn.AvgPool2d(stride, stride, ceil_mode=True))
        if block.skip == "pool" and c_in != c_out:
            shortcut += _conv_bn(c_in, c_out, 1, relu=False)
        self.shortcut = nn.Sequential(*shortcut)

    def forward(self, x: Tensor) -> Tensor:
        y = self.body(x)
        return y + self.shortcut(x) if self.residual else y  # type: ignore[no-any-return]


class MnasNet(nn.Module):
    """Stem, blocks of :class:`MnasLayer` s, head and classifier.

    Args:
        blocks: the blocks' settings, in order.
        in_channels: channels of the input images.
        n_classes: number of output logits.
        stem_channels: filters of the stem's 3x3 convolution.
        stem_stride: stride of the stem.
        head_channels: filters of the head's 1x1 convolution.
        dropout: dropout rate before the classifier.

    Example:
        >>> import torch
        >>> blocks = [MnasBlock("dwconv", 3, 0.0, "identity", 8, 1, 1),
        ...           MnasBlock("mbconv6", 5, 0.25, "pool", 16, 2, 2)]
        >>> net = MnasNet(blocks, 1, 10, stem_channels=8, stem_stride=2, head_channels=32)
        >>> net(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self, blocks: Sequence[MnasBlock], in_channels: int, n_classes: int, *,
                 stem_channels: int, stem_stride: int, head_channels: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.stem = nn.Sequential(*_conv_bn(in_channels, stem_channels, 3, stem_stride))
        layers: list[nn.Module] = []
        c_in = stem_channels
        for block in blocks:
            for i in range(block.n_layers):
                layers.append(MnasLayer(c_in, block.out_channels, block, block.stride if i == 0 else 1))
                c_in = block.out_channels
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Sequential(*_conv_bn(c_in, head_channels, 1))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(head_channels, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        features = self.pool(self.head(self.blocks(self.stem(x)))).flatten(1)
        return self.classifier(self.dropout(features))  # type: ignore[no-any-return]


class MnasSpace(SearchSpace):
    """The MnasNet space: six shared choices per block over MobileNetV2's skeleton.

    Decisions of block ``b``, in order: ``block{b}.op`` (``conv``, ``dwconv``,
    ``mbconv3``, ``mbconv6``), ``block{b}.kernel`` (``3``, ``5``), ``block{b}.se``
    (``0``, ``0.25``), ``block{b}.skip`` (``none``, ``identity``, ``pool``),
    ``block{b}.filters`` (``0.75``, ``1.0``, ``1.25``) and ``block{b}.layers`` (``-1``,
    ``0``, ``+1``). See the module docstring for what they build.

    Architectures print as one item per block, joined by ``|``::

        arch  := block ("|" block)*                         (exactly n_blocks blocks)
        block := OP "_k" K "_se" R "_skip" S "_f" M "_l" D
        OP := conv | dwconv | mbconv3 | mbconv6     K := 3 | 5      R := 0 | 0.25
        S  := none | id | pool      M := 0.75 | 1.0 | 1.25      D := -1 | +0 | +1

    e.g. ``mbconv6_k3_se0.25_skipid_f1.0_l+0``; ``id`` stands for ``identity`` and ``+0``
    for ``0``. Surrounding whitespace is ignored; anything else that does not fit raises
    a one-line InvalidArchitectureError naming the decision at fault. The key is the
    string itself (settings that build the same network, such as ``l-1`` and ``l+0`` on
    a one-layer block, keep distinct keys).

    Args:
        width: multiplier of every block's and the stem's filters.
        n_blocks: how many of the seven skeleton blocks to use (the first ones).
        stem_stride: stride of the stem, 2 as in MnasNet, or 1 for small inputs.
        small_input: give the first two stride-2 blocks stride 1. With ``stem_stride=1``
            a 32x32 input reaches the head at 8x8, as a 224x224 input reaches it at 7x7
            with the defaults.
        dropout: dropout rate before the classifier.

    Example:
        >>> import torch
        >>> space = MnasSpace(width=0.25, n_blocks=2)
        >>> arch = space.parse("dwconv_k3_se0_skipid_f1.0_l+0|mbconv6_k5_se0.25_skippool_f0.75_l-1")
        >>> arch.values[6:]
        ('mbconv6', '5', '0.25', 'pool', '0.75', '-1')
        >>> space.build(arch, (1, 28, 28), 10)(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    name = "mnas"
    TEST_CONFIG = {"width": 0.25, "stem_stride": 1, "small_input": True}

    def __init__(self, width: float = 1.0, n_blocks: int = 7, stem_stride: int = 2,
                 small_input: bool = False, dropout: float = 0.2) -> None:
        self.width = width
        self.n_blocks = n_blocks
        self.stem_stride = stem_stride
        self.small_input = small_input
        self.dropout = dropout

    def check(self) -> None:
        """Raise InvalidParameterError unless the constructor arguments are valid."""
        if not _is_number(self.width) or not 0 < self.width <= 8:
            raise _bad_parameter("width", "a number in (0, 8]", self.width)
        if not _is_int(self.n_blocks) or not 1 <= self.n_blocks <= len(MNAS_SKELETON):
            raise _bad_parameter("n_blocks", f"an int in [1, {len(MNAS_SKELETON)}]", self.n_blocks)
        if not _is_int(self.stem_stride) or self.stem_stride not in (1, 2):
            raise _bad_parameter("stem_stride", "1 or 2", self.stem_stride)
        if not isinstance(self.small_input, bool):
            raise _bad_parameter("small_input", "a bool", self.small_input)
        if not _is_number(self.dropout) or not 0 <= self.dropout < 1:
            raise _bad_parameter("dropout", "a number in [0, 1)", self.dropout)

    def config(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {"width": self.width, "n_blocks": self.n_blocks, "stem_stride": self.stem_stride,
                "small_input": self.small_input, "dropout": self.dropout}

    def decisions(self) -> tuple[Decision, ...]:
        """Per block: op, kernel, se, skip, filters, layers."""
        self.check()
        return tuple(
            Decision(f"block{b}.{name}", tuple(tokens))
            for b in range(self.n_blocks)
            for name, _, tokens in _FIELDS
        )

    def baseline(self) -> Architecture:
        """MobileNetV2 in this space: ``dwconv`` then ``mbconv6``, 3x3, no SE, identity skips."""
        rest = ("3", "0", "identity", "1.0", "0")
        ops = ["dwconv"] + ["mbconv6"] * (self.n_blocks - 1)
        return self.from_values([v for op in ops for v in (op, *rest)])

    def blocks(self, values: Sequence[str]) -> tuple[MnasBlock, ...]:
        """The blocks' settings described by decision values (in decision order)."""
        strides = [s for _, _, s in MNAS_SKELETON[: self.n_blocks]]
        if self.small_input:
            for b in [b for b, s in enumerate(strides) if s > 1][:2]:
                strides[b] = 1
        blocks = []
        for b, stride in enumerate(strides):
            op, kernel, se, skip, filters, layers = values[6 * b : 6 * b + 6]
            base_filters, base_layers, _ = MNAS_SKELETON[b]
            out = make_divisible(base_filters * float(self.width) * float(filters))
            n_layers = max(1, base_layers + int(layers))
            blocks.append(MnasBlock(op, int(kernel), float(se), skip, out, n_layers, stride))
        return tuple(blocks)

    def format(self, values: tuple[str, ...]) -> str:
        """The string of the architecture, e.g. ``mbconv6_k3_se0.25_skipid_f1.0_l+0|...``."""
        items = []
        for b in range(self.n_blocks):
            fields = zip(_FIELDS, values[6 * b : 6 * b + 6])
            items.append("_".join(prefix + tokens[v] for (_, prefix, tokens), v in fields))
        return "|".join(items)

    def parse(self, text: str) -> Architecture:
        """Parse an architecture string (surrounding whitespace is ignored).

        Raises:
            InvalidArchitectureError: naming the first fault found and, where one is at
                fault, the decision path.
        """
        self.check()
        stripped, items = split_arch_string("mnas arch string", text, "|", self.n_blocks, "blocks")
        values: list[str] = []
        for b, item in enumerate(items):
            values += _parse_block(stripped, b, item)
        return self.from_values(values)

    def build(self, arch: Architecture, input_shape: Sequence[int], n_classes: int) -> nn.Module:
        """A freshly initialised network for this architecture.

        Args:
            arch: an architecture of this space.
            input_shape: ``(channels, height, width)`` of one input; any size works.
            n_classes: number of output logits.
        """
        self.check()
        self.validate(arch)
        in_channels = check_build_args("MnasSpace.build", input_shape, n_classes)
        return MnasNet(
            self.blocks(arch.values), in_channels, n_classes,
            stem_channels=make_divisible(32 * float(self.width)),
            stem_stride=self.stem_stride,
            head_channels=make_divisible(1280 * max(1.0, float(self.width))),
            dropout=float(self.dropout),
        )


def _parse_block(text: str, b: int, item: str) -> list[str]:
    """The six decision values of block ``b`` from its ``op_kK_seR_skipS_fM_lD`` item."""
    parts = item.split("_")
    values = []
    for part, (name, prefix, tokens) in zip(parts, _FIELDS):
        by_token = {prefix + token: value for value, token in tokens.items()}
        if part not in by_token:
            path = f"block{b}.{name}"
            raise InvalidArchitectureError(
                f"Decision {path!r} got {_shown(part)!r} in mnas arch string {_shown(text)!r}; "
                f"allowed: {', '.join(by_token)}.", path=path
            )
        values.append(by_token[part])
    if len(parts) != len(_FIELDS):
        missing = len(parts) < len(_FIELDS)
        path = f"block{b}.{_FIELDS[len(parts)][0]}" if missing else f"block{b}"
        raise _malformed(text, f"block {b} item {item!r} has {len(parts)} fields separated by "
                         f"'_', expected {len(_FIELDS)} (op_kK_seR_skipS_fM_lD).", path)
    return values


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bad_parameter(name: str, what: str, value: object) -> InvalidParameterError:
    return InvalidParameterError(
        f"The {name!r} parameter of MnasSpace must be {what}. Got {value!r} instead."
    )




def _shown(text: str) -> str:
    return text if len(text) <= 120 else text[:117] + "..."


def _malformed(text: str, why: str, path: str | None = None) -> InvalidArchitectureError:
    return malformed("mnas arch string", text, why, path)
