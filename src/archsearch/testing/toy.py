"""A toy evaluator with a known optimum, for sanity tests of strategies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archsearch.errors import TrialFailed
from archsearch.evaluators.base import Evaluator, TrialContext
from archsearch.types import Architecture, Objective

__all__ = ["MatchTarget"]


class MatchTarget(Evaluator):
    """Scores an architecture by how many decisions equal those of a target.

    The optimum is the target itself (score = number of decisions). Architectures whose
    string contains ``fail_on`` fail, to exercise failure handling.

    Args:
        target: the decision values of the optimum, in order.
        fail_on: a substring of architecture strings that makes evaluation fail.
    """

    name = "match_target"
    objectives = (Objective("score", "maximize"),)

    def __init__(self, target: Sequence[str], fail_on: str | None = None) -> None:
        self.target = tuple(target)
        self.fail_on = fail_on
        self.calls: list[str] = []

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> dict[str, float]:
        self.calls.append(str(arch))
        if self.fail_on is not None and self.fail_on in str(arch):
            raise TrialFailed(f"{self.fail_on!r} is not allowed")
        return {"score": float(sum(a == b for a, b in zip(arch.values, self.target)))}

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "target": list(self.target), "fail_on": self.fail_on}
