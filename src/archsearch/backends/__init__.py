"""Where evaluations run: inline, a local process pool, or a Ray cluster."""

from archsearch.backends.base import Backend, Job, Outcome, run_job
from archsearch.backends.inline import InlineBackend
from archsearch.backends.pool import PoolBackend

__all__ = ["Backend", "InlineBackend", "Job", "Outcome", "PoolBackend", "RayBackend", "run_job"]


def __getattr__(name: str) -> object:
    if name == "RayBackend":  # ray is an optional extra, imported when used
        from archsearch.backends.ray import RayBackend

        return RayBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
