"""archsearch.ops: small torch blocks shared by search spaces."""

from archsearch.ops.darts_ops import OPS as DARTS_OPS
from archsearch.ops.darts_ops import DilConv, FactorizedReduce, SepConv
from archsearch.ops.drop_path import drop_path
from archsearch.ops.mixed_op import MixedOp, naive_mixed_sum, set_fast_mixing
from archsearch.ops.nb201_ops import (
    OPS,
    AvgPool3x3,
    Identity,
    ReLUConvBN,
    ResNetBasicblock,
    Zero,
)

__all__ = ["OPS", "AvgPool3x3", "Identity", "ReLUConvBN", "ResNetBasicblock", "Zero",
           "DARTS_OPS", "DilConv", "FactorizedReduce", "MixedOp", "SepConv", "naive_mixed_sum",
           "set_fast_mixing", "drop_path"]
