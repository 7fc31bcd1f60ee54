"""The candidate operations and the residual block of the NAS-Bench-201 networks.

They follow ``xautodl/models/cell_operations.py`` of the benchmark (Dong & Yang, ICLR
2020) for the affine, running-statistics configuration its evaluated networks use, with
the same submodule names, so parameter counts and ``state_dict`` keys agree with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from torch import Tensor, nn

__all__ = [
    "SEARCH_OPS",
    "ReLUConvBN",
    "Zero",
    "Identity",
    "AvgPool3x3",
    "ResNetBasicblock",
    "OPS",
]


class ReLUConvBN(nn.Module):
    """ReLU, then a bias-free convolution, then a batch norm.

    Args:
        c_in: input channels.
        c_out: output channels.
        kernel_size: side of the square kernel.
        stride: convolution stride.
        padding: zero padding on each side.
        affine: whether the batch norm learns a scale and shift (supernets use False).

    Example:
        >>> import torch
        >>> ReLUConvBN(8, 16, 3, 1, 1)(torch.zeros(2, 8, 5, 5)).shape
        torch.Size([2, 16, 5, 5])
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int,
                 affine: bool = True) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine, track_running_stats=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)  # type: ignore[no-any-return]


class Zero(nn.Module):
    """The ``none`` operation: zeros shaped like the (strided) input.

    Args:
        stride: spatial stride; the output keeps every ``stride``-th row and column.

    Example:
        >>> import torch
        >>> Zero()(torch.ones(1, 2, 3, 3)).abs().sum().item()
        0.0
    """

    def __init__(self, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class Identity(nn.Module):
    """The ``skip_connect`` operation inside a cell: returns its input.

    Example:
        >>> import torch
        >>> x = torch.ones(1, 2, 3, 3)
        >>> Identity()(x) is x
        True
    """

    def forward(self, x: Tensor) -> Tensor:
        return x


class AvgPool3x3(nn.AvgPool2d):
    """The ``avg_pool_3x3`` operation: 3x3 average pooling that ignores the padding.

    Args:
        stride: pooling stride.

    Example:
        >>> import torch
        >>> AvgPool3x3()(torch.ones(1, 2, 4, 4)).mean().item()
        1.0
    """

    def __init__(self, stride: int = 1) -> None:
        super().__init__(3, stride=stride, padding=1, count_include_pad=False)


class ResNetBasicblock(nn.Module):
    """The benchmark's residual block that halves the resolution between stages.

    ``out = downsample(x) + conv_b(conv_a(x))`` where ``downsample`` is a 2x2 average pool
    followed by a bias-free 1x1 convolution. The pool uses ``ceil_mode`` so that odd
    sizes also line up with the strided convolution; on even sizes (every size the
    benchmark itself accepts) this changes nothing.

    Args:
        inplanes: input channels.
        planes: output channels.
        stride: stride of ``conv_a``; must be 2, the only stride the benchmark uses.

    Example:
        >>> import torch
        >>> ResNetBasicblock(16, 32, 2)(torch.zeros(1, 16, 8, 8)).shape
        torch.Size([1, 32, 4, 4])
    """

    def __init__(self, inplanes: int, planes: int, stride: int = 2) -> None:
        super().__init__()
        if stride != 2:
            raise ValueError(f"ResNetBasicblock supports stride 2 only. Got {stride} instead.")
        self.conv_a = ReLUConvBN(inplanes, planes, 3, stride, 1)
        self.conv_b = ReLUConvBN(planes, planes, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0, ceil_mode=True),
            nn.Conv2d(inplanes, planes, kernel_size=1, stride=1, padding=0, bias=False),
        )
        self.in_dim = inplanes
        self.out_dim = planes

    def forward(self, x: Tensor) -> Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))  # type: ignore[no-any-return]


OPS: Mapping[str, Callable[[int], nn.Module]] = {
    "none": lambda c: Zero(),
    "skip_connect": lambda c: Identity(),
    "nor_conv_1x1": lambda c: ReLUConvBN(c, c, 1, 1, 0),
    "nor_conv_3x3": lambda c: ReLUConvBN(c, c, 3, 1, 1),
    "avg_pool_3x3": lambda c: AvgPool3x3(),
}
"""Constructors of the five cell operations, by benchmark name, for ``c`` channels."""

SEARCH_OPS: Mapping[str, Callable[[int], nn.Module]] = {
    **OPS,
    "nor_conv_1x1": lambda c: ReLUConvBN(c, c, 1, 1, 0, affine=False),
    "nor_conv_3x3": lambda c: ReLUConvBN(c, c, 3, 1, 1, affine=False),
}
"""The same operations as they appear inside a supernet (batch norms without affine)."""
