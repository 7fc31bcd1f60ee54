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
from archsearch.oneshot.darts import DartsConfig, DartsSearch, build_supernet

__all__ = [
    "Architect",
    "DartsConfig",
    "DartsSearch",
    "alpha_gradient",
    "build_supernet",
    "dominant_eigenvalue",
    "hessian_vector_product",
    "op_shares",
    "random_smoothing",
    "smoothing_epsilon",
    "virtual_weights",
]
