"""The NAS-RL chain space (Zoph & Le, ICLR 2017): a stack of searched conv layers.

Each of ``depth`` layers picks its number of filters, kernel height, kernel width and
stride; with ``skips`` on it also picks, for every earlier layer, whether that layer's
output feeds it (the paper's anchor points). Networks follow the paper's rules for
turning any such choice into a valid network:

- a layer's input is the depth-wise concatenation of the outputs of the earlier layers
  it selects; with ``skips`` off, each layer reads the previous one (a plain chain);
- a layer that selects no earlier layer reads the image;
- inputs of different sizes are zero-padded to the largest height and width before
  concatenation (centred; an odd extra row or column goes at the bottom or right);
- the outputs of layers that feed no later layer are padded and concatenated in the same
  way, then global average pooling and a linear layer give the logits.

Each layer is a bias-free ``kh x kw`` convolution with "same" padding (``k // 2`` on each
side, so kernel sizes must be odd), batch norm and ReLU. A stride ``s`` maps a side of
``n`` pixels to ``ceil(n / s)``, so maps never shrink below 1x1 and any input size works.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archsearch.errors import InvalidArchitectureError, InvalidParameterError
from archsearch.spaces.base import (
    SearchSpace,
    check_build_args,
    malformed,
    split_arch_string,
)
from archsearch.types import Architecture, Decision

__all__ = ["ChainSpace", "ChainLayer", "ChainNet", "pad_cat"]

_FIELDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("filters", re.compile(r"f([^kxs+]*)")),
    ("kernel_h", re.compile(r"k([^xs+]*)")),
    ("kernel_w", re.compile(r"x([^s+]*)")),
    ("stride", re.compile(r"s([^+]*)")),
)
"""The fields of a layer item in order, each a marker letter and its value."""

_INDEX = re.compile(r"0|[1-9][0-9]*")
MAX_DEPTH = 100  # NAS-RL's deepest networks had 39 layers


@dataclass(frozen=True)
class ChainLayer:
    """One layer of a chain network.

    Args:
        filters: output channels.
        kernel_h: kernel height (odd).
        kernel_w: kernel width (odd).
        stride: stride in both directions.
        inputs: indices of the earlier layers whose outputs feed this one, increasing;
            empty means the layer reads the image.
    """

    filters: int
    kernel_h: int
    kernel_w: int
    stride: int
    inputs: tuple[int, ...]


def pad_cat(maps: Sequence[Tensor]) -> Tensor:
    """Concatenate maps along channels, zero-padding each to the largest height and width."""
    if len(maps) == 1:
        return maps[0]
    height = max(m.shape[-2] for m in maps)
    width = max(m.shape[-1] for m in maps)
    padded = []
    for m in maps:
        dh, dw = height - m.shape[-2], width - m.shape[-1]
        padded.append(F.pad(m, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2)))
    return torch.cat(padded, dim=1)


class ChainNet(nn.Module):
    """A network of conv-BN-ReLU layers wired as :class:`ChainLayer` s say.

    Attributes:
        in_channels: input channels of each layer, after concatenation.
        sinks: the layers that feed no later layer; their outputs make the features.

    Args:
        layers: the layers, in order.
        in_channels: channels of the input images.
        n_classes: number of output logits.

    Example:
        >>> import torch
        >>> net = ChainNet([ChainLayer(4, 3, 3, 2, ()), ChainLayer(8, 1, 3, 1, ())], 1, 10)
        >>> net.in_channels, net.sinks
        ((1, 1), (0, 1))
        >>> net(torch.zeros(2, 1, 7, 7)).shape
        torch.Size([2, 10])
    """

    def __init__(self, layers: Sequence[ChainLayer], in_channels: int, n_classes: int) -> None:
        super().__init__()
        self.inputs = tuple(layer.inputs for layer in layers)
        self.in_channels = tuple(
            sum(layers[j].filters for j in layer.inputs) if layer.inputs else in_channels
            for layer in layers
        )
        self.layers = nn.ModuleList(
            _conv_bn_relu(c_in, layer) for c_in, layer in zip(self.in_channels, layers)
        )
        used = {j for layer in layers for j in layer.inputs}
        self.sinks = tuple(i for i in range(len(layers)) if i not in used)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(sum(layers[i].filters for i in self.sinks), n_classes)

    def forward(self, x: Tensor) -> Tensor:
        outputs: list[Tensor] = []
        for layer, inputs in zip(self.layers, self.inputs):
            outputs.append(layer(pad_cat([outputs[j] for j in inputs] if inputs else [x])))
        features = pad_cat([outputs[i] for i in self.sinks])
        return self.classifier(self.pool(features).flatten(1))  # type: ignore[no-any-return]


def _conv_bn_relu(c_in: int, layer: ChainLayer) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(
            c_in,
            layer.filters,
            (layer.kernel_h, layer.kernel_w),
            stride=layer.stride,
            padding=(layer.kernel_h // 2, layer.kernel_w // 2),
            bias=False,
        ),
        nn.BatchNorm2d(layer.filters),
        nn.ReLU(),
    )


class ChainSpace(SearchSpace):
    """The NAS-RL space: ``depth`` conv layers with searched shapes and skip inputs.

    Decisions of layer ``i``, in order: ``layer{i}.filters``, ``layer{i}.kernel_h``,
    ``layer{i}.kernel_w``, ``layer{i}.stride`` and, with ``skips`` on,
    ``layer{i}.skip{j}`` for ``j = 0 .. i-1`` with choices ``"0"`` and ``"1"`` (whether
    layer ``j`` feeds layer ``i``). See the module docstring for how networks are wired.

    Architectures print as one item per layer, joined by ``|``::

        arch  := layer ("|" layer)*                   (exactly depth layers)
        layer := "L" i ":" "f" F "k" H "x" W "s" S ("+" j)*

    where ``i`` is the layer's index, ``F``, ``H``, ``W``, ``S`` are its filters, kernel
    height, kernel width and stride as written in the constructor's choices, and each
    ``+j`` names an earlier layer ``j`` feeding it, in increasing order. With ``skips``
    off no ``+j`` may appear. Surrounding whitespace is ignored; anything else that does
    not fit raises a one-line InvalidArchitectureError naming the decision at fault.
    The key is the string itself: no two strings are treated as the same network.

    Args:
        depth: number of conv layers.
        filters: the filter counts a layer may pick.
        kernel_sizes: the kernel heights and widths a layer may pick (odd ints).
        strides: the strides a layer may pick.
        skips: whether layers also pick their inputs among all earlier layers.

    Example:
        >>> import torch
        >>> space = ChainSpace(depth=2, filters=(8, 16), kernel_sizes=(1, 3), strides=(1, 2))
        >>> arch = space.parse("L0:f8k3x1s2|L1:f16k3x3s1+0")
        >>> arch.values
        ('8', '3', '1', '2', '16', '3', '3', '1', '1')
        >>> space.build(arch, (1, 8, 8), 10)(torch.zeros(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """

    name = "chain"
    TEST_CONFIG = {"depth": 3, "filters": (4, 8), "kernel_sizes": (1, 3), "strides": (1, 2)}

    def __init__(
        self,
        depth: int = 6,
        filters: Sequence[int] = (24, 36, 48, 64),
        kernel_sizes: Sequence[int] = (1, 3, 5, 7),
        strides: Sequence[int] = (1, 2),
        skips: bool = True,
    ) -> None:
        self.depth = depth
        self.filters = filters
        self.kernel_sizes = kernel_sizes
        self.strides = strides
        self.skips = skips

    def check(self) -> None:
        """Raise InvalidParameterError unless the constructor arguments are valid."""
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or \
                not 1 <= self.depth <= MAX_DEPTH:
            raise _bad_parameter("depth", f"an int in [1, {MAX_DEPTH}]", self.depth)
        _check_choices("filters", self.filters, odd=False)
        _check_choices("kernel_sizes", self.kernel_sizes, odd=True)
        _check_choices("strides", self.strides, odd=False)
        if not isinstance(self.skips, bool):
            raise _bad_parameter("skips", "a bool", self.skips)

    def config(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {
            "depth": self.depth,
            "filters": self.filters,
            "kernel_sizes": self.kernel_sizes,
            "strides": self.strides,
            "skips": self.skips,
        }

    def decisions(self) -> tuple[Decision, ...]:
        """Per layer: filters, kernel height, kernel width, stride, then its skip inputs."""
        self.check()
        kernels = tuple(str(k) for k in self.kernel_sizes)
        decisions: list[Decision] = []
        for i in range(self.depth):
            decisions += [
                Decision(f"layer{i}.filters", tuple(str(f) for f in self.filters)),
                Decision(f"layer{i}.kernel_h", kernels),
                Decision(f"layer{i}.kernel_w", kernels),
                Decision(f"layer{i}.stride", tuple(str(s) for s in self.strides)),
            ]
            if self.skips:
                decisions += [Decision(f"layer{i}.skip{j}", ("0", "1")) for j in range(i)]
        return tuple(decisions)

    def layers(self, values: Sequence[str]) -> tuple[ChainLayer, ...]:
        """The layers described by decision values (in decision order)."""
        layers, pos = [], 0
        for i in range(self.depth):
            f, kh, kw, s = (int(v) for v in values[pos : pos + 4])
            pos += 4
            if self.skips:
                inputs = tuple(j for j in range(i) if values[pos + j] == "1")
                pos += i
            else:
                inputs = (i - 1,) if i else ()
            layers.append(ChainLayer(f, kh, kw, s, inputs))
        return tuple(layers)

    def format(self, values: tuple[str, ...]) -> str:
        """The string of the architecture, e.g. ``L0:f24k3x3s1|L1:f36k5x1s2+0``."""
        items = []
        for i, layer in enumerate(self.layers(values)):
            shape = f"f{layer.filters}k{layer.kernel_h}x{layer.kernel_w}s{layer.stride}"
            skips = "" if not self.skips else "".join(f"+{j}" for j in layer.inputs)
            items.append(f"L{i}:{shape}{skips}")
        return "|".join(items)

    def parse(self, text: str) -> Architecture:
        """Parse an architecture string (surrounding whitespace is ignored).

        Raises:
            InvalidArchitectureError: naming the first fault found and, where one is at
                fault, the decision path.
        """
        self.check()
        stripped, items = split_arch_string("chain arch string", text, "|", self.depth, "layers")
        decisions = iter(self.decisions())
        values: list[str] = []
        for i, item in enumerate(items):
            shape = [next(decisions) for _ in _FIELDS]
            skips = [next(decisions) for _ in range(i if self.skips else 0)]
            values += self._parse_layer(stripped, i, item, shape, skips)
        return self.from_values(values)

    def _parse_layer(
        self, text: str, i: int, item: str, shape: list[Decision], skips: list[Decision]
    ) -> list[str]:
        header = f"L{i}:"
        if not item.startswith(header):
            raise _malformed(text, f"layer {i} item {item!r} must start with {header!r}.",
                             f"layer{i}")
        values, pos = [], len(header)
        for decision, (_, pattern) in zip(shape, _FIELDS):
            match = pattern.match(item, pos)
            if match is None:
                marker = pattern.pattern[0]
                raise _malformed(text, f"layer {i} item {item!r} lacks the {marker!r} field "
                                 f"of {decision.path!r} at position {pos}.", decision.path)
            values.append(_choice(decision, match.group(1)))
            pos = match.end()
        return values + self._parse_skips(text, i, item[pos:], skips)

    def _parse_skips(self, text: str, i: int, tail: str, skips: list[Decision]) -> list[str]:
        """The skip values of layer ``i`` from its ``+j+k...`` tail (empty, or starts with +)."""
        selected: list[int] = []
        for token in tail.split("+")[1:]:
            if _INDEX.fullmatch(token) is None or len(token) > 9:  # (no layer has a 10-digit index)
                raise _malformed(text, f"layer {i} skip input {'+' + token[:12]!r} must be '+j' "
                                 "with j a layer index.", f"layer{i}")
            j, path = int(token), f"layer{i}.skip{token}"
            if not self.skips:
                raise _malformed(text, f"layer {i} lists input '+{j}' but skips are off.", path)
            if j >= i:
                allowed = f"0..{i - 1}" if i else "none"
                raise _malformed(text, f"layer {i} cannot read from layer {j} ('+{j}'); "
                                 f"allowed earlier layers: {allowed}.", path)
            if selected and j <= selected[-1]:
                raise _malformed(text, f"layer {i} skip inputs must be listed once each in "
                                 f"increasing order; got '+{j}' after '+{selected[-1]}'.", path)
            selected.append(j)
        return ["1" if j in selected else "0" for j in range(len(skips))]

    def build(self, arch: Architecture, input_shape: Sequence[int], n_classes: int) -> nn.Module:
        """A freshly initialised network for this architecture.

        Args:
            arch: an architecture of this space.
            input_shape: ``(channels, height, width)`` of one input; any size works.
            n_classes: number of output logits.
        """
        self.check()
        self.validate(arch)
        in_channels = check_build_args("ChainSpace.build", input_shape, n_classes)
        return ChainNet(self.layers(arch.values), in_channels, n_classes)


def _bad_parameter(name: str, what: str, value: object) -> InvalidParameterError:
    return InvalidParameterError(
        f"The {name!r} parameter of ChainSpace must be {what}. Got {value!r} instead."
    )


def _check_choices(name: str, value: object, odd: bool) -> None:
    what = "a non-empty sequence of distinct " + ("odd ints >= 1" if odd else "ints >= 1")
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise _bad_parameter(name, what, value)
    ints = [not isinstance(v, bool) and isinstance(v, int) and v >= 1 for v in value]
    if not all(ints) or len(set(value)) != len(value) or (odd and any(v % 2 == 0 for v in value)):
        raise _bad_parameter(name, what, value)




def _choice(decision: Decision, value: str) -> str:
    if value not in decision.choices:
        raise InvalidArchitectureError(
            f"Decision {decision.path!r} got {value!r}; allowed: {list(decision.choices)}.",
            path=decision.path,
        )
    return value


def _malformed(text: str, why: str, path: str | None = None) -> InvalidArchitectureError:
    return malformed("chain arch string", text, why, path)
