"""Local search (White, Nolen & Savani, UAI 2021: "Exploring the loss landscape in neural
architecture search"), the simple baseline that is hard to beat on NAS benchmarks."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from archsearch._utils.seeding import rng_for
from archsearch._utils.validation import check_int
from archsearch.errors import InvalidParameterError
from archsearch.spaces.base import SearchSpace
from archsearch.strategies.base import Strategy
from archsearch.types import Architecture, FrozenTrial, Objective

__all__ = ["LocalSearch", "neighbours"]

_ORDER_STREAM = 0x10CA1
Phase = Literal["start", "neighbours", "restart"]


def neighbours(space: SearchSpace, arch: Architecture) -> list[Architecture]:
    """Every architecture one decision away from ``arch``, one per key, ``arch``'s excluded.

    Example:
        >>> import archsearch, numpy as np
        >>> space = archsearch.create_space("nb201")
        >>> len(neighbours(space, space.sample(np.random.default_rng(0)))) <= 6 * 4
        True
    """
    indices = list(space.encode(arch))
    found: dict[str, Architecture] = {}
    for i, decision in enumerate(space.decisions()):
        for choice in range(len(decision.choices)):
            if choice != indices[i]:
                other = space.decode(indices[:i] + [choice] + indices[i + 1:])
                if other.key != arch.key:
                    found.setdefault(other.key, other)
    return list(found.values())


class LocalSearch(Strategy):
    """Hill climbing over one-decision edits, restarted at random from local optima.

    The first ``n_init`` asks are random; the best of them becomes the centre. Its
    neighbours (every architecture one decision away, see :func:`neighbours`) are then
    handed out in a random order, skipping those already evaluated, whose scores count
    as they are. With ``move="best"`` (the paper's algorithm) the whole neighbourhood is
    evaluated and the best neighbour becomes the centre if it beats it; with
    ``move="first"`` the first neighbour that beats the centre becomes the centre at once.
    A centre no neighbour beats is a local optimum: the next ask is a random architecture,
    which becomes the new centre.

    The state is a function of the told trials in order (each neighbourhood's order is
    drawn from the seed and the number of trials told so far), so a resumed search
    continues exactly as the uninterrupted one.

    Args:
        n_init: random architectures whose best is the first centre.
        move: ``"best"`` or ``"first"`` improvement.

    Attributes:
        phase: ``"start"`` (random asks before the first centre), ``"neighbours"`` or
            ``"restart"`` (a local optimum was reached; the next ask is random).
        center: the current centre and its score (None before the first).
        n_restarts: local optima reached so far.

    Example:
        >>> import archsearch
        >>> strategy = archsearch.create_strategy("local", n_init=5)
        >>> strategy.setup(archsearch.create_space("nb201"), archsearch.Objective("acc"), seed=0)
        >>> strategy.phase
        'start'
    """

    name = "local"

    def __init__(self, n_init: int = 10, move: str = "best") -> None:
        self.n_init = n_init
        self.move = move

    def setup(self, space: SearchSpace, objective: Objective, seed: int) -> None:
        check_int(type(self).__name__, "n_init", self.n_init, 1)
        if self.move not in ("best", "first"):
            raise InvalidParameterError(
                f"The 'move' parameter of {type(self).__name__} must be 'best' or 'first'. "
                f"Got {self.move!r} instead.")
        super().setup(space, objective, seed)
        self.phase: Phase = "start"
        self.center: tuple[Architecture, float] | None = None
        self.n_restarts = 0
        self._scores: dict[str, float | None] = {}
        self._n_told = 0
        self._handed: set[str] = set()
        self._queue: list[Architecture] = []
        self._best_start: tuple[Architecture, float] | None = None
        self._best_neighbour: tuple[Architecture, float] | None = None

    def ask(self, rng: np.random.Generator) -> Architecture:
        if self.phase == "neighbours":
            for arch in self._queue:
                if arch.key not in self._scores and arch.key not in self._handed:
                    self._handed.add(arch.key)
                    return arch
        return self.space.sample(rng)  # start, restart, or every neighbour already out

    def tell(self, trial: FrozenTrial) -> None:
        score = self.objective.score(trial.values)
        self._scores[trial.key] = score
        self._n_told += 1
        arch = self.space.parse(trial.arch) if score is not None else None
        if self.phase == "start":
            if arch is not None and score is not None and (
                    self._best_start is None or score > self._best_start[1]):
                self._best_start = (arch, score)
            if self._n_told >= self.n_init and self._best_start is not None:
                self._recentre(*self._best_start)
        elif self.phase == "restart":
            if arch is not None and score is not None:
                self._recentre(arch, score)
        elif any(a.key == trial.key for a in self._queue):
            if arch is not None and score is not None:
                self._consider(arch, score)
            if (centre := self._settle()) is not None:
                self._recentre(*centre)

    def _recentre(self, arch: Architecture, score: float) -> None:
        """Make ``arch`` the centre: queue its unevaluated neighbours in a seeded order.

        Neighbours evaluated before count at once, so the centre may move on (or a
        restart come) before any new ask.
        """
        centre: tuple[Architecture, float] | None = (arch, score)
        while centre is not None:
            self.phase, self.center = "neighbours", centre
            self._best_neighbour = None
            fresh = []
            for other in neighbours(self.space, centre[0]):
                if other.key not in self._scores:
                    fresh.append(other)
                elif (known := self._scores[other.key]) is not None:
                    self._consider(other, known)  # evaluated before: its score counts, free
            order = rng_for(self.seed, _ORDER_STREAM, self._n_told).permutation(len(fresh))
            self._queue = [fresh[i] for i in order]
            centre = self._settle()

    def _consider(self, arch: Architecture, score: float) -> None:
        if self._best_neighbour is None or score > self._best_neighbour[1]:
            self._best_neighbour = (arch, score)

    def _settle(self) -> tuple[Architecture, float] | None:
        """The next centre once the move rule allows a move; a restart once none can come."""
        assert self.center is not None
        best = self._best_neighbour
        done = all(arch.key in self._scores for arch in self._queue)
        if best is not None and best[1] > self.center[1] and (done or self.move == "first"):
            return best
        if done:
            self.phase = "restart"
            self.n_restarts += 1
        return None

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "n_init": self.n_init, "move": self.move}
