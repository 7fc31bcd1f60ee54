"""Proxy-ranked strategies: NASWOT's best-first order, screening, resume, refusals."""

import numpy as np
import pytest

import archsearch
from archsearch.data import load_task
from archsearch.errors import InvalidParameterError
from archsearch.evaluators.cost import count_params
from archsearch.experiment import Experiment
from archsearch.storage import MemoryStore
from archsearch.strategies import ProxyScorer, ProxyScreened, TrainingFree, build_strategy
from archsearch.testing.toy import MatchTarget
from archsearch.types import Objective

SPACE_ARGS = {"depth": 2, "filters": [4, 8], "kernel_sizes": [1, 3], "strides": [1],
              "skips": False}  # 64 architectures


@pytest.fixture(scope="module")
def task():
    return load_task("digits")


@pytest.fixture
def space():
    return archsearch.create_space("chain", **SPACE_ARGS)


def _params(space, task, arch):
    return count_params(space.build(arch, task.input_shape, task.n_classes))


def test_naswot_hands_out_its_candidates_best_first_then_random(space, task):
    strategy = TrainingFree(n=6, scorer=ProxyScorer(task, "params", batch_size=16))
    strategy.setup(space, Objective("x"), seed=3)
    rng = np.random.default_rng(0)
    asked = [strategy.ask(rng) for _ in range(6)]
    assert len({a.key for a in asked}) == 6
    counts = [_params(space, task, a) for a in asked]
    assert counts == sorted(counts, reverse=True)
    assert {a.key for a in asked} == {a.key for a in strategy.ranked}
    assert strategy.ask(rng).space == space.name  # exhausted: a random architecture


def test_naswot_candidates_depend_on_the_seed_not_the_ask_stream(space, task):
    scorer = ProxyScorer(task, "naswot", batch_size=16)
    first, second, other = (TrainingFree(n=5, scorer=scorer) for _ in range(3))
    first.setup(space, Objective("x"), seed=1)
    second.setup(space, Objective("x"), seed=1)
    other.setup(space, Objective("x"), seed=2)
    a = [first.ask(np.random.default_rng(0)).key for _ in range(5)]
    b = [second.ask(np.random.default_rng(9)).key for _ in range(5)]
    assert a == b
    assert {s.key for s in other.ranked} != set(a)


def test_screening_returns_the_proxy_favourite_of_the_wrapped_proposals(space, task):
    scorer = ProxyScorer(task, "params", batch_size=16)
    better = 0
    for seed in range(6):
        screened = ProxyScreened(archsearch.create_strategy("random"), scorer, candidates=4)
        screened.setup(space, Objective("x"), seed=0)
        pick = screened.ask(np.random.default_rng(seed))
        rng, proposals = np.random.default_rng(seed), {}
        while len(proposals) < 4:  # what the wrapped random search proposes
            arch = space.sample(rng)
            proposals.setdefault(arch.key, arch)
        assert pick.key in proposals
        assert scorer(pick) == max(scorer(a) for a in proposals.values())
        better += scorer(pick) > scorer(next(iter(proposals.values())))
    assert better > 0  # the screen changed some picks


def test_screened_evolution_resumes_to_the_same_trials(space, task):
    def run(n, store=None):
        scorer = ProxyScorer(task, "naswot", batch_size=16)
        strategy = build_strategy("evolution", {"population_size": 3, "sample_size": 2,
                                                "screen": 3}, scorer)
        evaluator = MatchTarget(["8", "3", "3", "1"] * 2)
        exp = Experiment.create("s", space, strategy, evaluator, store=store or MemoryStore(),
                                seed=5, if_exists="resume")
        exp.run(n_trials=n)
        return exp

    whole = [t.key for t in run(8).trials()]
    store = MemoryStore()
    run(4, store)
    resumed = [t.key for t in run(8, store).trials()]
    assert resumed == whole and len(set(whole)) == 8


def test_refusals_are_clear(space, task):
    with pytest.raises(InvalidParameterError, match="scorer=ProxyScorer"):
        archsearch.create_strategy("naswot", n=5).setup(space, Objective("x"), 0)
    scorer = ProxyScorer(task, "naswot")
    with pytest.raises(InvalidParameterError, match="not with 'reinforce'"):
        ProxyScreened(archsearch.create_strategy("reinforce"), scorer).setup(
            space, Objective("x"), 0)
    with pytest.raises(InvalidParameterError, match="no screen="):
        build_strategy("naswot", {"screen": 3}, scorer)
    with pytest.raises(InvalidParameterError, match="asks for proxy 'synflow'"):
        build_strategy("random", {"screen": 3, "proxy": "synflow"}, scorer)
    with pytest.raises(InvalidParameterError, match="candidates"):
        build_strategy("random", {"screen": 0}, scorer).setup(space, Objective("x"), 0)
    with pytest.raises(InvalidParameterError, match="setup"):
        ProxyScorer(task)(space.sample(np.random.default_rng(0)))


def test_scorer_caches_and_counts_what_a_search_asked_for(space, task):
    scorer = ProxyScorer(task, "naswot", batch_size=16)
    scorer.setup(space)
    arch = space.sample(np.random.default_rng(0))
    first = scorer(arch)
    spent = scorer.seconds
    assert scorer(arch) == first and scorer.seconds == spent > 0
    assert len(scorer) == 1 and scorer.requested == {arch.key}
    scorer.setup(space)  # a new search: the cache stays, the count restarts
    assert len(scorer) == 1 and scorer.requested == set()
    fresh = ProxyScorer(task, "naswot", batch_size=16)
    fresh.setup(space)
    assert fresh(arch) == first  # a property of the architecture and the seed


def test_screen_first_is_a_warm_start_then_passes_proposals_through(space, task):
    scorer = ProxyScorer(task, "params", batch_size=16)
    screened = build_strategy("random", {"screen": 8, "screen_first": 2}, scorer)
    screened.setup(space, Objective("x"), seed=0)
    assert screened.config()["screen"]["first"] == 2
    for seed in range(2):  # the warm start: the favourite of 8 proposals
        rng, proposals = np.random.default_rng(seed), {}
        while len(proposals) < 8:
            arch = space.sample(rng)
            proposals.setdefault(arch.key, arch)
        pick = screened.ask(np.random.default_rng(seed))
        assert scorer(pick) == max(scorer(a) for a in proposals.values())
    for seed in range(3):  # now the wrapped strategy's own proposal
        assert screened.ask(np.random.default_rng(seed)) == space.sample(
            np.random.default_rng(seed))
    with pytest.raises(InvalidParameterError, match="goes with screen"):
        build_strategy("random", {"screen_first": 2}, scorer)

