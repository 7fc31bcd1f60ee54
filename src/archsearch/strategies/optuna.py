"""Optuna's samplers as strategies: TPE (Bergstra et al., NeurIPS 2011) and NSGA-II (Deb et al., 2002).

Each decision of the space becomes an Optuna categorical parameter over its choice indices
(``0 .. n - 1``), named by the decision's path, and an Optuna trial's parameters decode to
an architecture with ``space.decode``. An in-memory Optuna study holds what the strategy
has been told; archsearch's store remains the record of the search. optuna is an optional
dependency (``pip install 'archsearch[optuna]'``), imported at setup.
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from abc import abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from archsearch._utils.imports import require
from archsearch._utils.validation import check_bool, check_float, check_int
from archsearch.objectives import Direction, MultiObjective
from archsearch.spaces.base import SearchSpace
from archsearch.strategies.base import Strategy
from archsearch.types import Architecture, FrozenTrial, Objective, TrialState

if TYPE_CHECKING:
    import optuna

__all__ = ["OptunaNSGA2", "OptunaStrategy", "OptunaTPE"]

_REPLAY_SEED = 0  # the sampler that files a trial in the study proposes nothing that is used


class OptunaStrategy(Strategy):
    """Base class of strategies that run an Optuna sampler over a space's decisions.

    A scalar objective becomes one Optuna direction, ``"maximize"``, whose value is
    ``objective.score``; a :class:`~archsearch.objectives.MultiObjective` becomes one
    direction per metric, with the metrics' own values. A trial that is not complete, or
    has no finite score (a missing metric), is told to Optuna as FAIL.

    Each ask sets a new sampler on the study, seeded from the trial's numpy generator, and
    asks the study for a trial, so a proposal depends only on the trials told so far (in
    order) and that generator: equal seeds give equal searches. A told trial that this
    strategy handed out is completed in the study; any other (replayed on resume, re-served
    after an interruption, or a random architecture the experiment took instead of a
    repeated proposal) is enqueued and asked for with a fixed-seed sampler, which runs the
    sampler's bookkeeping (NSGA-II's generations) as for its own asks, and then told. So
    resuming (``setup`` then ``tell`` of the finished trials in order) rebuilds an
    equivalent study and the next asks are those an uninterrupted run would make. A
    proposal the experiment rejects as already evaluated stays a RUNNING Optuna trial,
    which neither sampler reads (NSGA-II counts complete trials only, and TPE's constant
    liar is off).

    The samplers are given the space's decisions as their joint search space rather than
    inferring it from the study's trials at every ask; what they see is the same.
    Optuna's INFO logging and experimental warnings are turned off while the strategy
    calls Optuna, and restored afterwards.
    """

    multi_objective = True

    @abstractmethod
    def _check(self) -> None:
        """Validate the settings (raises InvalidParameterError)."""

    @abstractmethod
    def _sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        """A new sampler with these settings, seeded with ``seed``."""

    def setup(self, space: SearchSpace, objective: Objective, seed: int) -> None:
        self._check()
        super().setup(space, objective, seed)
        require("optuna", "optuna")  # one line naming the extra if optuna is missing
        import optuna

        from archsearch.strategies._optuna_samplers import search_space

        decisions = space.decisions()
        self._paths = tuple(d.path for d in decisions)
        self._choices = tuple(tuple(range(len(d.choices))) for d in decisions)
        self._search_space = search_space(self._paths, self._choices)
        directions: tuple[Direction, ...] = (
            objective.directions if isinstance(objective, MultiObjective) else ("maximize",))
        with _quiet():
            self.study: optuna.Study = optuna.create_study(
                storage=None, sampler=self._sampler(seed), directions=directions)
        self._asked: dict[str, tuple[int, tuple[int, ...]]] = {}  # key -> (number, indices)

    def ask(self, rng: np.random.Generator) -> Architecture:
        with _quiet():
            self.study.sampler = self._sampler(int(rng.integers(2**31)))
            trial = self.study.ask()
            indices = self._suggest(trial)
        arch = self.space.decode(indices)
        self._asked[arch.key] = (trial.number, indices)
        return arch

    def tell(self, trial: FrozenTrial) -> None:
        from optuna.trial import TrialState as OptunaState

        indices = tuple(int(i) for i in self.space.encode(self.space.parse(trial.arch)))
        values = self._values(trial)
        asked = self._asked.pop(trial.key, None)
        with _quiet():
            number = asked[0] if asked is not None and asked[1] == indices else self._add(indices)
            state = OptunaState.COMPLETE if values is not None else OptunaState.FAIL
            self.study.tell(number, values, state=state)

    def _values(self, trial: FrozenTrial) -> list[float] | None:
        """What Optuna is told for ``trial``: one value per direction, or None (FAIL)."""
        if trial.state is not TrialState.COMPLETE:
            return None
        if isinstance(self.objective, MultiObjective):
            vector = self.objective.vector(trial.values)
            return None if vector is None else list(vector)
        score = self.objective.score(trial.values)
        return None if score is None or not math.isfinite(score) else [score]

    def _suggest(self, trial: optuna.Trial) -> tuple[int, ...]:
        """Suggest every decision's choice index in ``trial``, in order."""
        return tuple(trial.suggest_categorical(path, choices)
                     for path, choices in zip(self._paths, self._choices))

    def _add(self, indices: tuple[int, ...]) -> int:
        """Add an architecture the strategy did not hand out to the study; its trial number.

        The trial goes through ``before_trial`` and ``sample_relative`` as a proposal does
        (a fixed parameter alone would skip the latter), so samplers that keep state in
        the trial's attributes, as NSGA-II keeps its generations, see it as their own.
        """
        self.study.enqueue_trial(dict(zip(self._paths, indices)))
        self.study.sampler = self._sampler(_REPLAY_SEED)
        trial = self.study.ask()
        _ = trial.relative_params
        self._suggest(trial)
        return trial.number


class OptunaTPE(OptunaStrategy):
    """Optuna's tree-structured Parzen estimator (TPE), for one or several objectives.

    The first ``n_startup_trials`` asks are random; afterwards TPE models the choices of
    good and of other trials and proposes what is likely under the first and unlikely under
    the second. With ``multivariate`` the decisions are modelled jointly, which suits cells
    whose operations interact; Optuna's own default is independent per decision for several
    objectives. The constant liar (Optuna 5's default) is off: trials run one at a time,
    and a proposal the experiment rejects as a repeat must not count as a pending trial.
    Other settings are Optuna's defaults. See :class:`OptunaStrategy` for how
    objectives, failures, seeding and resume work.

    Args:
        n_startup_trials: random trials before TPE takes over (Optuna's default, 10).
        multivariate: model all decisions jointly (True) or each on its own.

    Example:
        >>> import archsearch
        >>> strategy = archsearch.create_strategy("optuna-tpe", n_startup_trials=20)
        >>> strategy.config()["multivariate"]
        True
    """

    name = "optuna-tpe"

    def __init__(self, n_startup_trials: int = 10, multivariate: bool = True) -> None:
        self.n_startup_trials = n_startup_trials
        self.multivariate = multivariate

    def _check(self) -> None:
        owner = type(self).__name__
        check_int(owner, "n_startup_trials", self.n_startup_trials, 0)
        check_bool(owner, "multivariate", self.multivariate)

    def _sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        from archsearch.strategies._optuna_samplers import FixedSpaceTPE

        return FixedSpaceTPE(self._search_space, n_startup_trials=self.n_startup_trials,
                             multivariate=self.multivariate, constant_liar=False, seed=seed)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "n_startup_trials": self.n_startup_trials,
                "multivariate": self.multivariate}


class OptunaNSGA2(OptunaStrategy):
    """Optuna's NSGA-II: a genetic algorithm that keeps a non-dominated, well spread population.

    The first generation of ``population_size`` trials is random. Each later generation
    breeds from an elite: the best ``population_size`` of the previous generation and its
    elite, by non-dominated sorting and then crowding distance. A child copies one elite
    member's choices or, with probability ``crossover_prob``, mixes those of two members
    picked by binary tournament (taking each decision from the second with probability
    ``swapping_prob``); then each decision is redrawn at random with probability
    ``mutation_prob`` (default ``1 / number of decisions``). With one objective it is a
    plain elitist genetic algorithm. See :class:`OptunaStrategy` for how objectives,
    failures, seeding and resume work.

    Args:
        population_size: trials per generation (20 suits a budget of about 100).
        mutation_prob: per-decision mutation probability in [0, 1], or None for
            ``1 / number of decisions``.
        crossover_prob: probability that a child mixes two parents, in [0, 1].
        swapping_prob: probability that crossover takes a decision from the second
            parent, in [0, 1].

    Example:
        >>> import archsearch
        >>> strategy = archsearch.create_strategy("optuna-nsga2", population_size=10)
        >>> strategy.config()["population_size"]
        10
    """

    name = "optuna-nsga2"

    def __init__(self, population_size: int = 20, mutation_prob: float | None = None,
                 crossover_prob: float = 0.9, swapping_prob: float = 0.5) -> None:
        self.population_size = population_size
        self.mutation_prob = mutation_prob
        self.crossover_prob = crossover_prob
        self.swapping_prob = swapping_prob

    def _check(self) -> None:
        owner = type(self).__name__
        check_int(owner, "population_size", self.population_size, 2)
        if self.mutation_prob is not None:
            check_float(owner, "mutation_prob", self.mutation_prob, 0.0, 1.0)
        check_float(owner, "crossover_prob", self.crossover_prob, 0.0, 1.0)
        check_float(owner, "swapping_prob", self.swapping_prob, 0.0, 1.0)

    def _sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        from archsearch.strategies._optuna_samplers import FixedSpaceNSGAII

        return FixedSpaceNSGAII(self._search_space, population_size=self.population_size,
                                mutation_prob=self.mutation_prob,
                                crossover_prob=self.crossover_prob,
                                swapping_prob=self.swapping_prob, seed=seed)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "population_size": self.population_size,
                "mutation_prob": self.mutation_prob, "crossover_prob": self.crossover_prob,
                "swapping_prob": self.swapping_prob}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Optuna's INFO logging and ExperimentalWarning off inside the block; restored after."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(level, logging.WARNING))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)
