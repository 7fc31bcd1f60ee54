"""The candidate operations of the NASNet/DARTS cell spaces.

They follow ``cnn/operations.py`` of the DARTS reference code (Liu et al., ICLR 2019),
with the same submodule names, so parameter counts and ``state_dict`` keys agree with it.
Every constructor in :data:`OPS` takes ``(C, stride, affine)`` as the reference's does.
``Identity`` and ``Zero`` are the NAS-Bench-201 ones, which behave as the reference's
(``Zero(stride)`` keeps every ``stride``-th row and column). The one change is in
:class:`FactorizedReduce`, which also accepts odd sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from archsearch.ops.nb201_ops import Identity, ReLUConvBN, Zero

__all__ = [
    "OPS",
    "DilConv",
    "FactorizedReduce",
    "Identity",
    "ReLUConvBN",
    "SepConv",
    "Zero",
]


class DilConv(nn.Module):
    """ReLU, a dilated depthwise convolution, a pointwise convolution, a batch norm.

    Args:
        c_in: input channels.
        c_out: output channels.
        kernel_size: side of the depthwise kernel.
        stride: depthwise stride.
        padding: zero padding on each side.
        dilation: spacing of the depthwise kernel.
        affine: whether the batch norm learns a scale and a shift.

    Example:
        >>> import torch
        >>> DilConv(4, 4, 3, 2, 2, 2)(torch.zeros(1, 4, 8, 8)).shape
        torch.Size([1, 4, 4, 4])
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int,
                 dilation: int, affine: bool = True) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel_size, stride=stride, padding=padding,
                      dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, kernel_size=1, padding=0, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)  # type: ignore[no-any-return]


class SepConv(nn.Module):
    """Two stacked ReLU, depthwise, pointwise, batch-norm blocks; only the first strides.

    Args:
        c_in: input channels.
        c_out: output channels.
        kernel_size: side of the depthwise kernels.
        stride: stride of the first depthwise convolution.
        padding: zero padding on each side.
        affine: whether the batch norms learn a scale and a shift.

    Example:
        >>> import torch
        >>> SepConv(4, 4, 5, 1, 2)(torch.zeros(1, 4, 7, 7)).shape
        torch.Size([1, 4, 7, 7])
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int,
                 affine: bool = True) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel_size, stride=stride, padding=padding, groups=c_in,
                      bias=False),
            nn.Conv2d(c_in, c_in, kernel_size=1, padding=0, bias=False),
            nn.BatchNorm2d(c_in, affine=affine),
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel_size, stride=1, padding=padding, groups=c_in,
                      bias=False),
            nn.Conv2d(c_in, c_out, kernel_size=1, padding=0, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)  # type: ignore[no-any-return]


class FactorizedReduce(nn.Module):
    """Halve the resolution with two 1x1 stride-2 convolutions, offset by one pixel.

    ``conv_1`` sees the even rows and columns, ``conv_2`` the odd ones; their outputs are
    concatenated and batch-normed. On an odd height or width the shifted input is padded
    by one zero row or column at the end so both halves have the size ``ceil(n / 2)`` of
    a strided 3x3 operation (the reference fails there); even sizes are untouched.

    Args:
        c_in: input channels.
        c_out: output channels; must be even.
        affine: whether the batch norm learns a scale and a shift.

    Example:
        >>> import torch
        >>> FactorizedReduce(4, 8)(torch.zeros(1, 4, 7, 8)).shape
        torch.Size([1, 8, 4, 4])
    """

    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even c_out. Got {c_out} instead.")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.halves(self.relu(x)))  # type: ignore[no-any-return]

    def halves(self, x: Tensor) -> Tensor:
        """The two convolutions of an input already through ``relu``, concatenated, before ``bn``.

        A :class:`~archsearch.ops.MixedOp` calls this with the ReLU it shares between
        candidates.
        """
        shifted = x[:, :, 1:, 1:]
        height, width = x.shape[-2:]
        if height % 2 or width % 2:
            shifted = F.pad(shifted, (0, width % 2, 0, height % 2))
        return torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1)


def _conv_7x1_1x7(c: int, stride: int, affine: bool) -> nn.Module:
    return nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(c, c, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
        nn.Conv2d(c, c, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
        nn.BatchNorm2d(c, affine=affine),
    )


def _skip_connect(c: int, stride: int, affine: bool) -> nn.Module:
    return Identity() if stride == 1 else FactorizedReduce(c, c, affine=affine)


OPS: Mapping[str, Callable[[int, int, bool], nn.Module]] = {
    "none": lambda c, stride, affine: Zero(stride),
    "avg_pool_3x3": lambda c, stride, affine: nn.AvgPool2d(
        3, stride=stride, padding=1, count_include_pad=False
    ),
    "max_pool_3x3": lambda c, stride, affine: nn.MaxPool2d(3, stride=stride, padding=1),
    "skip_connect": _skip_connect,
    "sep_conv_3x3": lambda c, stride, affine: SepConv(c, c, 3, stride, 1, affine=affine),
    "sep_conv_5x5": lambda c, stride, affine: SepConv(c, c, 5, stride, 2, affine=affine),
    "sep_conv_7x7": lambda c, stride, affine: SepConv(c, c, 7, stride, 3, affine=affine),
    "dil_conv_3x3": lambda c, stride, affine: DilConv(c, c, 3, stride, 2, 2, affine=affine),
    "dil_conv_5x5": lambda c, stride, affine: DilConv(c, c, 5, stride, 4, 2, affine=affine),
    "conv_7x1_1x7": _conv_7x1_1x7,
}
"""Constructors of the cell operations by reference name: ``DARTS_OPS[name](C, stride, affine)``."""
