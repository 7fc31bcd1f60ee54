import numpy as np
import pytest

import archsearch
from archsearch import Experiment, InvalidParameterError, UnknownNameError
from archsearch.objectives import MultiObjective
from archsearch.testing import MatchTarget, check_strategy

TARGET = ("nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_1x1",
          "nor_conv_3x3")


@pytest.mark.parametrize("name", [*archsearch.list_strategies(), "evolution:screen=3"])
def test_strategy_contract(name):
    if name == "naswot" or "screen" in name:  # ranked by a proxy on a task's minibatch
        from archsearch.data import load_task
        from archsearch.strategies import ProxyScorer, build_strategy, parse_strategy_spec

        scorer = ProxyScorer(load_task("digits"), "naswot", batch_size=16)
        name, kwargs = parse_strategy_spec(name)
        kwargs = {"n": 40} if name == "naswot" else kwargs
        space = archsearch.create_space("nb201", channels=4, cells_per_stage=1)
        check_strategy(build_strategy(name, kwargs, scorer), space)
        return
    check_strategy(archsearch.create_strategy(name), archsearch.create_space("nb201"))


def test_evolution_finds_the_optimum_of_a_toy_problem():
    space = archsearch.create_space("nb201")
    exp = Experiment.create("toy", space, archsearch.create_strategy("evolution"),
                            MatchTarget(TARGET), store=":memory:", seed=3)
    exp.run(n_trials=300)
    assert exp.best()[0].values["score"] == len(TARGET)


def test_evolution_beats_random_on_a_toy_problem():
    def best_after(strategy, seed):
        exp = Experiment.create("toy", archsearch.create_space("nb201"),
                                archsearch.create_strategy(strategy), MatchTarget(TARGET),
                                store=":memory:", seed=seed)
        exp.run(n_trials=150)
        return exp.best()[0].values["score"]

    evo = np.mean([best_after("evolution", s) for s in range(5)])
    rnd = np.mean([best_after("random", s) for s in range(5)])
    assert evo > rnd


def test_evolution_mutates_the_tournament_winner():
    space = archsearch.create_space("nb201")
    strategy = archsearch.create_strategy("evolution", population_size=4, sample_size=4)
    strategy.setup(space, archsearch.Objective("score"), seed=0)
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(4)]
    for i, arch in enumerate(archs):
        strategy.tell(archsearch.FrozenTrial(i, 0, i, str(arch), arch.key,
                                             archsearch.TrialState.COMPLETE, {"score": float(i)}))
    child = strategy.ask(rng)  # tournament of the whole population: parent is archs[3]
    assert sum(a != b for a, b in zip(child.values, archs[3].values)) == 1


def test_evolution_ages_out_the_oldest():
    space = archsearch.create_space("nb201")
    strategy = archsearch.create_strategy("evolution", population_size=3, sample_size=2)
    strategy.setup(space, archsearch.Objective("score"), seed=0)
    rng = np.random.default_rng(1)
    for i in range(5):
        arch = space.sample(rng)
        strategy.tell(archsearch.FrozenTrial(i, 0, i, str(arch), arch.key,
                                             archsearch.TrialState.COMPLETE, {"score": 100.0 - i}))
    assert [s for _, s in strategy.population] == [98.0, 97.0, 96.0]


@pytest.mark.parametrize("kwargs, match", [
    ({"population_size": 1}, "'population_size' parameter of RegularizedEvolution must be an int >= 2"),
    ({"population_size": 10, "sample_size": 80},
     r"'sample_size' parameter of RegularizedEvolution must be an int in \[1, population_size=10\]. Got 80"),
    ({"sample_size": "3"}, "Got '3' instead"),
])
def test_evolution_bad_parameters(kwargs, match):
    strategy = archsearch.create_strategy("evolution", **kwargs)
    with pytest.raises(InvalidParameterError, match=match):
        strategy.setup(archsearch.create_space("nb201"), archsearch.Objective("s"), 0)


def test_unknown_strategy_suggests():
    with pytest.raises(UnknownNameError, match="Did you mean 'evolution'"):
        archsearch.create_strategy("evolutoin")


def test_unknown_strategy_parameter():
    with pytest.raises(InvalidParameterError, match="population"):
        archsearch.create_strategy("random", population=3)


TWO = MultiObjective(("score", "maximize"), ("cost", "minimize"))


@pytest.mark.parametrize("strategy, owner", [("evolution", "RegularizedEvolution"),
                                             ("reinforce", "Reinforce")])
def test_scalar_strategies_refuse_a_multi_objective(strategy, owner):
    with pytest.raises(InvalidParameterError,
                       match=f"{owner} needs a single objective; use 'optuna-nsga2'") as info:
        archsearch.create_strategy(strategy).setup(archsearch.create_space("nb201"), TWO, 0)
    assert "\n" not in str(info.value) and "['score', 'cost']" in str(info.value)


def test_random_search_takes_a_multi_objective():
    class WithCost(MatchTarget):
        def evaluate(self, arch, ctx):
            return {**super().evaluate(arch, ctx), "cost": float(arch.values.count("none"))}

    exp = Experiment.create("r", archsearch.create_space("nb201"),
                            archsearch.create_strategy("random"), WithCost(TARGET),
                            store=":memory:", objective=TWO)
    exp.run(n_trials=5)
    assert len(exp.trials([archsearch.TrialState.COMPLETE])) == 5
    assert exp.best(k=None) == exp.best(k=5) and exp.best(k=None)
