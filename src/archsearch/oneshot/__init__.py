"""One-shot architecture search: a supernet trained once, an architecture derived from it."""

from archsearch.oneshot.architect import (
    Architect,
    alpha_gradient,
    hessian_vector_product,
    virtual_weights,
)

__all__ = ["Architect", "alpha_gradient", "hessian_vector_product", "virtual_weights"]
