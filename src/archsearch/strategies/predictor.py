"""Predictor-guided search: BANANAS (White, Neiswanger & Savani, AAAI 2021).

After ``n_init`` random architectures, the strategy works in batches. At the start of each
batch it fits an ensemble of small MLPs to the scores of the finished trials (one-hot and
path encodings, :mod:`~archsearch.strategies.encodings`), proposes candidates by mutating
the best architectures so far (plus a few random ones), and hands out the ``batch_size``
candidates an acquisition function over the ensemble ranks highest.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from archsearch._utils.seeding import rng_for
from archsearch._utils.validation import check_float, check_int
from archsearch.errors import InvalidParameterError
from archsearch.spaces.base import SearchSpace
from archsearch.strategies.base import Strategy
from archsearch.strategies.surrogate import EnsemblePredictor
from archsearch.types import Architecture, FrozenTrial, Objective

__all__ = ["PredictorGuided"]

ACQUISITIONS = ("its", "ucb")
_BATCH_STREAM = 0xBA7A


class PredictorGuided(Strategy):
    """BANANAS: a neural predictor ensemble picks each batch among mutations of the best.

    The first ``n_init`` asks are random. Then, every ``batch_size`` finished trials, the
    ensemble is trained from scratch on the scored trials so far (failed ones are left
    out), up to ``n_candidates`` new architectures are proposed (a ``random_share`` of
    them drawn at random, the rest mutations of one of the ``n_parents`` best with 1 to
    ``max_edits`` decisions changed; of the next best too, once the neighbourhoods of the
    best are used up), and the batch is the candidates ranked highest by the acquisition
    function:

    * ``"its"`` (default): independent Thompson sampling, as in BANANAS: each candidate
      gets one draw from a normal with the ensemble's mean and spread for it, and the
      batch is the highest draws. The draws make the batch diverse without a batch
      penalty, and a candidate the members disagree on gets its chance in proportion to
      the disagreement.
    * ``"ucb"``: the mean plus ``kappa`` times the spread (``kappa=0`` is greedy).

    Asks hand the batch out in order, skipping architectures already handed out or
    finished. Each batch is a function of the trials finished before it began and of the
    seed, so resuming (``setup`` then ``tell`` of the finished trials in order) rebuilds
    the batch under way and hands out exactly the asks the uninterrupted search would.

    Defaults follow BANANAS (five MLPs, path encoding, independent Thompson sampling, 100
    single-edit mutants) except for smaller batches of 5 mutating the best 3, tuned on the
    NAS-Bench-201 table (pick by 12-epoch accuracy, budget 100, 60 seeds;
    ``benchmarks/predictor_search.py``): against batches of 10 from the best 10, the pick
    after 50 queries gained 0.1 point of 200-epoch accuracy (91.26 against 91.15), and 50
    runs instead of 43 ended on the table's best 12-epoch architecture (evolution: 16).
    A one-hot or combined encoding, UCB, two-edit mutants, 10% random candidates, 200
    candidates, 3 members or another random start (10, 15, 30) did not do better.

    Args:
        n_init: random architectures before the first fit.
        batch_size: architectures proposed per fit.
        n_candidates: candidates the acquisition function ranks per fit.
        n_parents: how many of the best architectures so far are mutated.
        max_edits: the most decisions a candidate changes from its parent.
        random_share: the share of candidates drawn at random, in [0, 1].
        encoding: ``"path"``, ``"onehot"`` or ``"both"`` (spaces without cell graphs
            always use one-hot).
        acquisition: ``"its"`` or ``"ucb"``.
        kappa: weight of the spread in ``"ucb"``.
        ensemble_size: MLPs in the ensemble.
        hidden_size: width of each MLP's hidden layers.
        n_layers: hidden layers per MLP.
        n_epochs: full-batch Adam steps per fit.
        lr: Adam learning rate.

    Example:
        >>> import archsearch
        >>> strategy = archsearch.create_strategy("predictor", n_init=10, batch_size=5)
        >>> strategy.setup(archsearch.create_space("nb201"), archsearch.Objective("acc"), seed=0)
        >>> strategy.config()["acquisition"]
        'its'
    """

    name = "predictor"

    def __init__(self, n_init: int = 20, batch_size: int = 5, n_candidates: int = 100,
                 n_parents: int = 3, max_edits: int = 1, random_share: float = 0.0,
                 encoding: str = "path", acquisition: str = "its", kappa: float = 1.0,
                 ensemble_size: int = 5, hidden_size: int = 32, n_layers: int = 2,
                 n_epochs: int = 100, lr: float = 0.01) -> None:
        self.n_init = n_init
        self.batch_size = batch_size
        self.n_candidates = n_candidates
        self.n_parents = n_parents
        self.max_edits = max_edits
        self.random_share = random_share
        self.encoding = encoding
        self.acquisition = acquisition
        self.kappa = kappa
        self.ensemble_size = ensemble_size
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.n_epochs = n_epochs
        self.lr = lr

    def setup(self, space: SearchSpace, objective: Objective, seed: int) -> None:
        owner = type(self).__name__
        check_int(owner, "n_init", self.n_init, 2)
        check_int(owner, "batch_size", self.batch_size, 1)
        check_int(owner, "n_candidates", self.n_candidates, self.batch_size, None, "batch_size")
        check_int(owner, "n_parents", self.n_parents, 1)
        check_int(owner, "max_edits", self.max_edits, 1)
        check_float(owner, "random_share", self.random_share, 0.0, 1.0)
        check_float(owner, "kappa", self.kappa, 0.0)
        if self.acquisition not in ACQUISITIONS:
            raise InvalidParameterError(
                f"The 'acquisition' parameter of {owner} must be one of {list(ACQUISITIONS)}. "
                f"Got {self.acquisition!r} instead.")
        self.predictor = EnsemblePredictor(space, self.encoding, self.ensemble_size,
                                           self.hidden_size, self.n_layers, self.n_epochs,
                                           self.lr, owner=owner)  # checks the rest
        super().setup(space, objective, seed)
        self._told: list[tuple[str, Architecture | None, float | None]] = []
        self._told_keys: set[str] = set()
        self._handed: set[str] = set()
        self._batch: list[Architecture] = []
        self._batch_start: int | None = None
        self.n_fits = 0

    # --- ask / tell ---------------------------------------------------------------------
    def ask(self, rng: np.random.Generator) -> Architecture:
        start = self._batch_start_for(len(self._told))
        if start is not None and start != self._batch_start:
            self._batch = self._propose(start)
            self._batch_start = start
        if start is not None:
            for arch in self._batch:
                if arch.key not in self._told_keys and arch.key not in self._handed:
                    self._handed.add(arch.key)
                    return arch
        return self.space.sample(rng)  # the random start (or a batch used up by parallel asks)

    def tell(self, trial: FrozenTrial) -> None:
        score = self.objective.score(trial.values)
        arch = self.space.parse(trial.arch) if score is not None else None
        self._told.append((trial.key, arch, score))
        self._told_keys.add(trial.key)

    def _batch_start_for(self, n_told: int) -> int | None:
        """How many trials had finished when the batch under way began (None: random start).

        A batch needs two scored trials to learn from; while fewer exist, asks stay random.
        """
        if n_told < self.n_init:
            return None
        start = self.n_init + (n_told - self.n_init) // self.batch_size * self.batch_size
        scored = sum(score is not None for _, _, score in self._told[:start])
        return start if scored >= 2 else None

    # --- one batch ----------------------------------------------------------------------
    def _propose(self, start: int) -> list[Architecture]:
        """The batch begun after ``start`` finished trials: a function of those and the seed."""
        rows = [(arch, score) for _, arch, score in self._told[:start]
                if arch is not None and score is not None]
        rng = rng_for(self.seed, _BATCH_STREAM, start)
        exclude = {key for key, _, _ in self._told[:start]} | self._handed
        candidates = self._candidates(rows, exclude, rng)
        if not candidates:
            return []
        self.predictor.seed = int(rng.integers(2**31))
        self.predictor.fit([a for a, _ in rows], [s for _, s in rows])
        self.n_fits += 1
        mean, std = self.predictor.predict(candidates)
        if self.acquisition == "its":
            value = mean + std * rng.standard_normal(len(candidates))
        else:
            value = mean + self.kappa * std
        order = np.argsort(-value, kind="stable")[: self.batch_size]
        return [candidates[i] for i in order]

    def _candidates(self, rows: list[tuple[Architecture, float]], exclude: set[str],
                    rng: np.random.Generator) -> list[Architecture]:
        """Up to ``n_candidates`` new architectures: a random share, then mutants of the best.

        Mutants come from the ``n_parents`` best rows; once their neighbourhoods are used up
        (a long search around the same optimum), from the next ``n_parents`` as well, until
        a batch can be filled.
        """
        found: dict[str, Architecture] = {}

        def draw(make: Callable[[], Architecture], wanted: int) -> None:
            stale = 0  # attempts since the last new architecture: a used-up neighbourhood
            while len(found) < wanted and stale < self.n_candidates:
                arch = make()
                if arch.key in exclude or arch.key in found:
                    stale += 1
                else:
                    found[arch.key], stale = arch, 0

        draw(lambda: self.space.sample(rng), round(self.random_share * self.n_candidates))
        ranked = [arch for arch, _ in sorted(rows, key=lambda row: -row[1])]  # ties: earlier
        for first in range(0, len(ranked), self.n_parents):
            parents = ranked[first:first + self.n_parents]
            draw(partial(self._mutant, parents, rng), self.n_candidates)
            if len(found) >= self.batch_size:
                break
        return list(found.values())

    def _mutant(self, parents: list[Architecture], rng: np.random.Generator) -> Architecture:
        """A random parent with 1 to ``max_edits`` mutations."""
        arch = parents[int(rng.integers(len(parents)))]
        for _ in range(1 + int(rng.integers(self.max_edits))):
            arch = self.space.mutate(arch, rng)
        return arch

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "n_init": self.n_init, "batch_size": self.batch_size,
                "n_candidates": self.n_candidates, "n_parents": self.n_parents,
                "max_edits": self.max_edits, "random_share": self.random_share,
                "encoding": self.encoding, "acquisition": self.acquisition,
                "kappa": self.kappa, "ensemble_size": self.ensemble_size,
                "hidden_size": self.hidden_size, "n_layers": self.n_layers,
                "n_epochs": self.n_epochs, "lr": self.lr}
