"""Strategies that rank architectures by a training-free proxy before any training.

* :class:`TrainingFree` (``"naswot"``; Mellor et al., ICML 2021): score ``n`` random
  architectures by a proxy, then hand them out best first. With ``n_trials=1`` and a
  training evaluator that is NASWOT's pick, trained; with ``n_trials=k`` it is the cheap
  hybrid that trains the proxy's top k briefly and keeps the best of them.
* :class:`ProxyScreened` (``screen=`` on the CLI): wraps a strategy; each architecture it
  hands out is the proxy's favourite among ``candidates`` proposals of the wrapped strategy,
  so evolution's initial population and its offspring are screened before any training.

Both take a :class:`ProxyScorer`, which holds the task whose minibatch the proxy reads.
An architecture's score depends only on the architecture and the scorer's seed, so a
resumed search ranks exactly as the first run did.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from archsearch._utils.seeding import rng_for, torch_seed_for
from archsearch._utils.validation import check_int
from archsearch.data import Task
from archsearch.errors import InvalidParameterError
from archsearch.evaluators.proxies import ZeroCostProxies
from archsearch.spaces.base import SearchSpace
from archsearch.strategies.base import Strategy
from archsearch.types import Architecture, FrozenTrial, Objective

__all__ = ["ProxyScorer", "ProxyScreened", "TrainingFree"]


class ProxyScorer:
    """One proxy's score of an architecture's untrained network, cached by key.

    The network's initialisation and the minibatch derive from ``seed`` and the
    architecture's key. A score that is not finite (a network whose codes collide), or a
    network the proxy cannot score (NASWOT of one without ReLUs), counts as ``-inf``, so
    it is never preferred.

    Args:
        task: where the minibatch comes from.
        proxy: one of :data:`~archsearch.evaluators.PROXIES`.
        batch_size: the minibatch size.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        seed: the seed the networks and minibatches derive from.

    Attributes:
        seconds: the time spent computing scores so far (cached ones cost nothing).
        requested: the keys of the architectures scored since the last :meth:`setup`,
            cached or not: what one search asked for.
    """

    def __init__(self, task: Task, proxy: str = "naswot", batch_size: int = 128,
                 device: str = "auto", seed: int = 0) -> None:
        self.proxies = ZeroCostProxies(task, (proxy,), batch_size=batch_size, device=device)
        self.proxy, self.batch_size, self.seed = proxy, batch_size, seed
        self.seconds = 0.0
        self._cache: dict[str, float] = {}
        self._space: SearchSpace | None = None
        self.requested: set[str] = set()

    def __len__(self) -> int:
        """How many architectures' scores are cached."""
        return len(self._cache)

    def setup(self, space: SearchSpace) -> None:
        """Bind to a space (the cache is kept if it is the same space)."""
        if self._space is not space:
            self._cache.clear()
        self._space = space
        self.proxies.setup(space)
        self.requested = set()

    def __call__(self, arch: Architecture) -> float:
        if self._space is None:
            raise InvalidParameterError("ProxyScorer.setup(space) must come before scoring.")
        self.requested.add(arch.key)
        if arch.key not in self._cache:
            start = time.perf_counter()
            try:
                scores, _ = self.proxies.scores(arch, torch_seed_for(self.seed,
                                                                     int(arch.key, 16)))
                value = scores[self.proxy]
            except InvalidParameterError:  # e.g. no ReLU for NASWOT's codes
                value = -math.inf
            self._cache[arch.key] = value if math.isfinite(value) else -math.inf
            self.seconds += time.perf_counter() - start
        return self._cache[arch.key]

    def config(self) -> dict[str, Any]:
        return {"proxy": self.proxy, "batch_size": self.batch_size, "seed": self.seed}


def _check_scorer(owner: str, scorer: ProxyScorer | None) -> ProxyScorer:
    if not isinstance(scorer, ProxyScorer):
        raise InvalidParameterError(
            f"{owner} ranks architectures by a training-free proxy on a task's data: pass "
            "scorer=ProxyScorer(task), or search with an evaluator that holds a task.")
    return scorer


def _scorer_for(evaluator: Any) -> ProxyScorer | None:
    """NASWOT on the task of an evaluator that trains (or scores) on one, else None."""
    task = getattr(evaluator, "task", None)
    if not isinstance(task, Task):
        return None
    return ProxyScorer(task, device=str(getattr(evaluator, "device", None) or "auto"))


class TrainingFree(Strategy):
    """NASWOT's search: score ``n`` random architectures by a proxy, best first.

    The ``n`` distinct candidates are drawn from the strategy's seed, so a resumed search
    draws the same ones. Each ask hands out the best-scored candidate not yet handed out or
    finished; when all ``n`` are used, random architectures follow.

    Args:
        n: how many random architectures are scored.
        scorer: the proxy (see :class:`ProxyScorer`); by default NASWOT on the task of the
            experiment's evaluator (a training evaluator holds one).

    Example:
        >>> import archsearch
        >>> from archsearch.data import load_task
        >>> scorer = ProxyScorer(load_task("digits"), "naswot", batch_size=32)
        >>> strategy = TrainingFree(n=5, scorer=scorer)
        >>> strategy.setup(archsearch.create_space("nb201", channels=4, cells_per_stage=1),
        ...                archsearch.Objective("val_accuracy"), seed=0)
        >>> first = strategy.ask(np.random.default_rng(0))
        >>> scorer(first) == max(scorer(a) for a in strategy.ranked)
        True
    """

    name = "naswot"

    def __init__(self, n: int = 100, scorer: ProxyScorer | None = None) -> None:
        self.n, self.scorer = n, scorer

    def bind(self, evaluator: Any) -> None:
        if self.scorer is None:  # NASWOT on the evaluator's task
            self.scorer = _scorer_for(evaluator)

    def setup(self, space: SearchSpace, objective: Objective, seed: int) -> None:
        check_int(type(self).__name__, "n", self.n, 1)
        self.scorer = _check_scorer(type(self).__name__, self.scorer)
        super().setup(space, objective, seed)
        self.scorer.setup(space)
        self._ranked: list[Architecture] | None = None
        self._used: set[str] = set()

    @property
    def ranked(self) -> list[Architecture]:
        """The candidates, best score first (scored on first use)."""
        if self._ranked is None:
            rng = rng_for(self.seed, 0x5C0E)
            candidates: dict[str, Architecture] = {}
            for _ in range(100 * self.n):  # a small space may hold fewer than n
                arch = self.space.sample(rng)
                candidates.setdefault(arch.key, arch)
                if len(candidates) == self.n:
                    break
            archs = list(candidates.values())
            scorer = self.scorer
            assert scorer is not None
            order = np.argsort([-scorer(a) for a in archs], kind="stable")
            self._ranked = [archs[i] for i in order]
        return self._ranked

    def ask(self, rng: np.random.Generator) -> Architecture:
        for arch in self.ranked:
            if arch.key not in self._used:
                self._used.add(arch.key)
                return arch
        return self.space.sample(rng)

    def tell(self, trial: FrozenTrial) -> None:
        self._used.add(trial.key)

    def config(self) -> dict[str, Any]:
        scorer = self.scorer.config() if isinstance(self.scorer, ProxyScorer) else None
        return {"name": self.name, "n": self.n, "scorer": scorer}


class ProxyScreened(Strategy):
    """A strategy whose proposals are screened by a proxy before any training.

    Each ask collects ``candidates`` distinct proposals of the wrapped strategy (skipping
    architectures already handed out) and returns the one the proxy scores best; tells go
    to the wrapped strategy. Suits strategies whose asks are independent draws (random,
    evolution); a strategy that learns from what it proposed (a controller) or ties each
    ask to a trial (Optuna) is refused.

    Args:
        strategy: the strategy screened.
        scorer: the proxy (see :class:`ProxyScorer`).
        candidates: proposals per architecture handed out.
        first: screen only the first ``first`` architectures (e.g. evolution's initial
            population: a warm start), then pass the strategy's proposals through; None
            screens every one.

    Example:
        >>> import archsearch
        >>> from archsearch.data import load_task
        >>> scorer = ProxyScorer(load_task("digits"), "naswot", batch_size=32)
        >>> screened = ProxyScreened(archsearch.create_strategy("evolution"), scorer, 4)
        >>> screened.config()["screen"]["candidates"]
        4
    """

    SCREENABLE = ("random", "evolution")

    def __init__(self, strategy: Strategy, scorer: ProxyScorer | None = None,
                 candidates: int = 10, first: int | None = None) -> None:
        self.strategy, self.scorer, self.candidates = strategy, scorer, candidates
        self.first = first
        self.name = strategy.name
        self.multi_objective = strategy.multi_objective

    def bind(self, evaluator: Any) -> None:
        self.strategy.bind(evaluator)
        if self.scorer is None:
            self.scorer = _scorer_for(evaluator)

    def setup(self, space: SearchSpace, objective: Objective, seed: int) -> None:
        check_int(type(self).__name__, "candidates", self.candidates, 1)
        if self.first is not None:
            check_int(type(self).__name__, "first", self.first, 1)
        self.scorer = _check_scorer(type(self).__name__, self.scorer)
        if self.strategy.name not in self.SCREENABLE:
            raise InvalidParameterError(
                f"Proxy screening works with {' or '.join(self.SCREENABLE)}, whose proposals "
                f"are independent draws; not with {self.strategy.name!r}.")
        self.strategy.setup(space, objective, seed)
        super().setup(space, objective, seed)
        self.scorer.setup(space)
        self._used: set[str] = set()

    def ask(self, rng: np.random.Generator) -> Architecture:
        if self.first is not None and len(self._used) >= self.first:
            return self.strategy.ask(rng)  # past the warm start
        proposals: dict[str, Architecture] = {}
        for _ in range(10 * self.candidates):  # a converged population repeats itself
            arch = self.strategy.ask(rng)
            if arch.key not in self._used:
                proposals.setdefault(arch.key, arch)
                if len(proposals) == self.candidates:
                    break
        if not proposals:
            return self.strategy.ask(rng)
        scorer = self.scorer
        assert scorer is not None
        best = max(proposals.values(), key=scorer)
        self._used.add(best.key)
        return best

    def tell(self, trial: FrozenTrial) -> None:
        self._used.add(trial.key)
        self.strategy.tell(trial)

    def config(self) -> dict[str, Any]:
        scorer = self.scorer.config() if isinstance(self.scorer, ProxyScorer) else None
        screen = {"candidates": self.candidates, "scorer": scorer}
        if self.first is not None:
            screen["first"] = self.first
        return {**self.strategy.config(), "screen": screen}
