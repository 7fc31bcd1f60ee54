"""archsearch.ops: small torch blocks shared by search spaces."""

from archsearch.ops.nb201_ops import (
    OPS,
    AvgPool3x3,
    Identity,
    ReLUConvBN,
    ResNetBasicblock,
    Zero,
)

__all__ = ["OPS", "AvgPool3x3", "Identity", "ReLUConvBN", "ResNetBasicblock", "Zero"]
