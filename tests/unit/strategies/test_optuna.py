import logging
import math
import subprocess
import sys

import numpy as np
import pytest

import archsearch
from archsearch import Experiment, FrozenTrial, InvalidParameterError, Objective, TrialState
from archsearch._utils.imports import MissingDependencyError
from archsearch.objectives import MultiObjective
from archsearch.spaces import SPACES
from archsearch.testing import MatchTarget

optuna = pytest.importorskip("optuna")

TARGET = ("nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_1x1",
          "nor_conv_3x3")
OPTUNA = ["optuna-tpe", "optuna-nsga2"]
SMALL = {"optuna-tpe": {"n_startup_trials": 5}, "optuna-nsga2": {"population_size": 6}}
TWO = MultiObjective(("score", "maximize"), ("cost", "minimize"))


class WithCost(MatchTarget):
    """MatchTarget plus a cost that grows with the number of convolutions."""

    def evaluate(self, arch, ctx):
        values = super().evaluate(arch, ctx)
        return {**values, "cost": float(sum("conv" in v for v in arch.values))}


def small_space(name):
    factory = SPACES.get(name)
    return archsearch.create_space(name, **getattr(factory, "TEST_CONFIG", {}))


def trial(number, arch, values, state=TrialState.COMPLETE):
    return FrozenTrial(number, 0, number, str(arch), arch.key, state, values)


def search(strategy, seed=3, n_trials=30, objective=None, evaluator=None, store=":memory:",
           **kwargs):
    exp = Experiment.create("s", archsearch.create_space("nb201"),
                            archsearch.create_strategy(strategy, **SMALL[strategy]),
                            evaluator or WithCost(TARGET), store=store, seed=seed,
                            objective=objective, **kwargs)
    exp.run(n_trials=n_trials)
    return exp


def generations(strategy):
    """The NSGA-II generation of each trial of the strategy's study."""
    study = strategy.study
    return [study.sampler.get_trial_generation(study, t) for t in study.trials]


@pytest.mark.parametrize("strategy", OPTUNA)
@pytest.mark.parametrize("space_name", archsearch.list_spaces())
def test_asks_are_valid_in_every_space(strategy, space_name):
    space = small_space(space_name)
    s = archsearch.create_strategy(strategy, **SMALL[strategy])
    s.setup(space, Objective("score"), seed=0)
    for number in range(15):  # past TPE's startup trials and NSGA-II's first generations
        arch = s.ask(np.random.default_rng([0, number]))
        space.validate(arch)
        s.tell(trial(number, arch, {"score": float(np.sum(space.encode(arch)))}))
    params = s.study.trials[-1].params
    assert list(params) == [d.path for d in space.decisions()]
    assert space.decode([params[d.path] for d in space.decisions()]) == arch


@pytest.mark.parametrize("strategy, stock", [
    ("optuna-tpe", lambda: optuna.samplers.TPESampler(multivariate=True)),
    ("optuna-nsga2", lambda: optuna.samplers.NSGAIISampler()),
])
@pytest.mark.parametrize("space_name", archsearch.list_spaces())
def test_samplers_get_the_search_space_optuna_would_infer(strategy, stock, space_name):
    space = small_space(space_name)
    s = archsearch.create_strategy(strategy)
    s.setup(space, Objective("score"), seed=0)
    for number in range(3):
        arch = s.ask(np.random.default_rng(number))
        s.tell(trial(number, arch, {"score": 1.0}))
    study, last = s.study, s.study.trials[-1]
    given = study.sampler.infer_relative_search_space(study, last)
    assert given and list(given.items()) == list(stock().infer_relative_search_space(study, last).items())


@pytest.mark.parametrize("strategy", OPTUNA)
def test_equal_seeds_give_equal_searches(strategy):
    def archs(seed):
        return [t.arch for t in search(strategy, seed=seed, n_trials=20).trials()]

    assert archs(3) == archs(3)
    assert archs(3) != archs(4)


@pytest.mark.parametrize("strategy, objective", [
    ("optuna-tpe", None), ("optuna-tpe", TWO), ("optuna-nsga2", None), ("optuna-nsga2", TWO),
])
def test_resume_makes_the_asks_of_an_uninterrupted_run(tmp_path, strategy, objective):
    whole = search(strategy, seed=6, n_trials=40, objective=objective)
    store = str(tmp_path / "runs.db")
    first = search(strategy, seed=6, n_trials=22, objective=objective, store=store)
    states = [t.state for t in first.strategy.study.trials]
    assert optuna.trial.TrialState.RUNNING in states  # a repeat was proposed and left unused
    resumed = search(strategy, seed=6, n_trials=40, objective=objective, store=store,
                     if_exists="resume")
    assert [t.arch for t in resumed.trials()] == [t.arch for t in whole.trials()]
    if strategy == "optuna-nsga2":
        assert max(generations(resumed.strategy)) >= 3


def test_trials_not_handed_out_are_filed_like_own_ones():
    space = archsearch.create_space("nb201")
    own, replay = (archsearch.create_strategy("optuna-nsga2", population_size=4) for _ in "ab")
    own.setup(space, Objective("score"), seed=0)
    replay.setup(space, Objective("score"), seed=0)
    for number in range(14):
        arch = own.ask(np.random.default_rng(number))
        told = trial(number, arch, {"score": float(number % 5)})
        own.tell(told)
        replay.tell(told)

    assert generations(own) == generations(replay) == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 2
    rng = np.random.default_rng(99)
    assert own.ask(rng) == replay.ask(np.random.default_rng(99))


@pytest.mark.parametrize("strategy", OPTUNA)
def test_failed_trials_are_told_as_fail(strategy):
    exp = search(strategy, n_trials=30, evaluator=WithCost(TARGET, fail_on="none"))
    failed = exp.trials([TrialState.FAILED])
    assert failed and len(exp.trials([TrialState.COMPLETE])) == 30 - len(failed)
    states = [t.state for t in exp.strategy.study.trials]
    assert states.count(optuna.trial.TrialState.FAIL) == len(failed)
    space = archsearch.create_space("nb201")
    arch = space.sample(np.random.default_rng(0))
    exp.strategy.tell(trial(30, arch, {"score": math.nan}))
    exp.strategy.tell(trial(31, arch, {}, TrialState.PRUNED))
    assert [t.state.name for t in exp.strategy.study.trials[-2:]] == ["FAIL", "FAIL"]


def test_tpe_beats_random_on_a_toy_problem():
    def best(strategy, seed):
        exp = Experiment.create("toy", archsearch.create_space("nb201"),
                                archsearch.create_strategy(strategy), MatchTarget(TARGET),
                                store=":memory:", seed=seed)
        exp.run(n_trials=50)
        return exp.best()[0].values["score"]

    tpe = [best("optuna-tpe", seed) for seed in range(5)]
    rnd = [best("random", seed) for seed in range(5)]
    assert np.mean(tpe) > np.mean(rnd) + 0.5


def dominates(a, b):
    """Whether trial a is at least as good as b on score and cost, and better on one."""
    sa, ca, sb, cb = a.values["score"], a.values["cost"], b.values["score"], b.values["cost"]
    return sa >= sb and ca <= cb and (sa > sb or ca < cb)


def test_nsga2_returns_a_pareto_front():
    exp = search("optuna-nsga2", n_trials=40, objective=TWO)
    trials = exp.trials([TrialState.COMPLETE])
    front = exp.best(k=None)
    assert front and exp.best() == front[:1]
    assert not any(dominates(t, f) for f in front for t in trials)
    points = {(f.values["score"], f.values["cost"]) for f in front}
    assert all(any(dominates(f, t) for f in front) or (t.values["score"], t.values["cost"]) in points
               for t in trials)
    assert [f.values["score"] for f in front] == sorted((f.values["score"] for f in front),
                                                        reverse=True)
    assert points == {tuple(t.values) for t in exp.strategy.study.best_trials}  # Optuna agrees


def test_missing_optuna_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'archsearch\[optuna\]'") as info:
        archsearch.create_strategy("optuna-tpe").setup(archsearch.create_space("nb201"),
                                                        Objective("score"), 0)
    assert "\n" not in str(info.value)


def test_importing_archsearch_leaves_optuna_alone():
    code = "import sys, archsearch; print('optuna' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_optuna_logging_is_quiet_and_restored():
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("optuna")
    logger.addHandler(handler)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.INFO)
    try:
        search("optuna-tpe", n_trials=5)
        assert records == [] and optuna.logging.get_verbosity() == logging.INFO
    finally:
        optuna.logging.set_verbosity(verbosity)
        logger.removeHandler(handler)


@pytest.mark.parametrize("strategy, kwargs, match", [
    ("optuna-tpe", {"n_startup_trials": -1}, "'n_startup_trials' parameter of OptunaTPE must be an int >= 0"),
    ("optuna-tpe", {"multivariate": 1}, "'multivariate' parameter of OptunaTPE must be True or False"),
    ("optuna-nsga2", {"population_size": 1}, "'population_size' parameter of OptunaNSGA2 must be an int"),
    ("optuna-nsga2", {"mutation_prob": 2.0}, r"'mutation_prob' parameter of \w+ must be a number in \[0.0"),
    ("optuna-nsga2", {"crossover_prob": "high"}, "'crossover_prob' parameter of OptunaNSGA2 must be a"),
    ("optuna-nsga2", {"swapping_prob": -0.5}, "'swapping_prob' parameter of OptunaNSGA2 must be a number"),
])
def test_bad_parameters(strategy, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        archsearch.create_strategy(strategy, **kwargs).setup(
            archsearch.create_space("nb201"), Objective("score"), 0)


def test_config_lists_every_setting():
    assert archsearch.create_strategy("optuna-tpe").config() == {
        "name": "optuna-tpe", "n_startup_trials": 10, "multivariate": True}
    assert archsearch.create_strategy("optuna-nsga2", mutation_prob=0.2).config() == {
        "name": "optuna-nsga2", "population_size": 20, "mutation_prob": 0.2,
        "crossover_prob": 0.9, "swapping_prob": 0.5}
