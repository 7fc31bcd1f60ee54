"""One-shot architecture search: a supernet trained once, an architecture derived from it."""

from archsearch.oneshot.architect import (
    Architect,
    alpha_gradient,
    hessian_vector_product,
    virtual_weights,
)
from archsearch.oneshot.collapse import (
    dominant_eigenvalue,
    op_shares,
    random_smoothing,
    smoothing_epsilon,
)
from archsearch.oneshot.darts import (
    DartsConfig,
    DartsSearch,
    build_supernet,
    epoch_base,
    epoch_number,
)

__all__ = [
    "Architect",
    "DartsConfig",
    "DartsSearch",
    "alpha_gradient",
    "build_supernet",
    "dominant_eigenvalue",
    "epoch_base",
    "epoch_number",
    "hessian_vector_product",
    "op_shares",
    "random_smoothing",
    "smoothing_epsilon",
    "virtual_weights",
]
