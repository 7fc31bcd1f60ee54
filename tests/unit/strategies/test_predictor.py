import numpy as np
import pytest
import torch

import archsearch
from archsearch import Experiment, InvalidParameterError, Objective, TrialState
from archsearch.strategies import PredictorGuided
from archsearch.testing import MatchTarget, check_strategy

torch.set_num_threads(1)

TARGET = ("nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_1x1",
          "nor_conv_3x3")
SMALL = {"n_init": 6, "batch_size": 4, "n_candidates": 20, "n_epochs": 30}


def run(strategy, n_trials, seed=0, store=":memory:", evaluator=None, **kwargs):
    exp = Experiment.create("p", archsearch.create_space("nb201"), strategy,
                            evaluator or MatchTarget(TARGET), store=store, seed=seed, **kwargs)
    exp.run(n_trials=n_trials)
    return exp


def predictor(**kwargs):
    return archsearch.create_strategy("predictor", **{**SMALL, **kwargs})


# --- the strategy ------------------------------------------------------------------------
def test_replay_reproduces_asks_mid_batch():
    # 30 trials replayed from 15: 6 random, then batches of 4 from 6, 10, 14: mid-batch
    check_strategy(predictor(), archsearch.create_space("nb201"))


@pytest.mark.parametrize("n_trials", [5, 6, 17])
def test_budget_is_respected_exactly(n_trials):
    exp = run(predictor(), n_trials)
    trials = exp.trials()
    assert len(trials) == n_trials and len({t.key for t in trials}) == n_trials
    assert all(t.state is TrialState.COMPLETE for t in trials)


def test_first_asks_are_random_then_batches_follow():
    exp = run(predictor(), 18)
    strategy = exp.strategy
    assert isinstance(strategy, PredictorGuided)
    assert strategy.n_fits == 3  # after 6, 10 and 14 trials
    random = run(archsearch.create_strategy("random"), 6)
    assert [t.arch for t in exp.trials()[:6]] == [t.arch for t in random.trials()]


def test_deterministic_under_a_seed():
    def archs(seed):
        return [t.arch for t in run(predictor(), 20, seed=seed).trials()]

    assert archs(5) == archs(5)
    assert archs(5) != archs(6)


def test_resume_mid_batch_continues_the_uninterrupted_run(tmp_path):
    whole = run(predictor(), 24, seed=7)
    store = str(tmp_path / "runs.db")
    run(predictor(), 12, seed=7, store=store)  # stops two trials into the batch begun at 10
    resumed = run(predictor(), 24, seed=7, store=store, if_exists="resume")
    assert [t.arch for t in resumed.trials()] == [t.arch for t in whole.trials()]


def test_failed_trials_are_left_out_and_the_search_goes_on():
    exp = run(predictor(), 30, evaluator=MatchTarget(TARGET, fail_on="avg_pool"))
    trials = exp.trials()
    failed = [t for t in trials if t.state is TrialState.FAILED]
    assert len(trials) == 30 and failed and exp.strategy.n_fits >= 1
    assert len({t.key for t in trials}) == 30
    late = [t.state for t in trials[-10:]]
    assert late.count(TrialState.FAILED) < 5  # mutants of scored parents fail less than draws


def test_a_start_with_every_trial_failed_stays_random():
    exp = run(predictor(), 10, evaluator=MatchTarget(TARGET, fail_on="|"))
    assert exp.strategy.n_fits == 0
    assert [t.state for t in exp.trials()] == [TrialState.FAILED] * 10


def test_predictor_finds_the_optimum_of_a_toy_problem_before_random_does():
    def best(strategy, seed):
        return run(strategy, 60, seed=seed).best()[0].values["score"]

    # the toy's score adds up one term per decision: the one-hot encoding suits it
    guided = [best(predictor(n_init=10, batch_size=10, n_candidates=50, encoding="onehot"), s)
              for s in range(3)]
    rnd = [best(archsearch.create_strategy("random"), s) for s in range(3)]
    assert guided.count(len(TARGET)) >= 2 and np.mean(guided) > np.mean(rnd) + 1


def test_used_up_neighbourhoods_of_the_best_pass_on_to_the_next_best():
    from archsearch.strategies.local import neighbours

    space = archsearch.create_space("nb201")
    strategy = predictor(n_parents=3)
    strategy.setup(space, Objective("score"), seed=0)
    rng = np.random.default_rng(0)
    rows = [(space.sample(rng), float(score)) for score in (4, 3, 2, 1)]
    used = {n.key for arch, _ in rows[:3] for n in neighbours(space, arch)}
    exclude = used | {arch.key for arch, _ in rows}
    found = strategy._candidates(rows, exclude, rng)
    fourth = {n.key for n in neighbours(space, rows[3][0])}
    assert len(found) >= strategy.batch_size and {a.key for a in found} <= fourth


@pytest.mark.parametrize("acquisition", ["its", "ucb"])
@pytest.mark.parametrize("name", archsearch.list_spaces())
def test_asks_are_valid_in_every_space(name, acquisition):
    space = archsearch.create_space(name)
    strategy = predictor(acquisition=acquisition, encoding="both", max_edits=2, random_share=0.5)
    strategy.setup(space, Objective("score"), seed=0)
    for number in range(12):
        arch = strategy.ask(np.random.default_rng(number))
        space.validate(arch)
        strategy.tell(archsearch.FrozenTrial(number, 0, number, str(arch), arch.key,
                                             TrialState.COMPLETE,
                                             {"score": float(space.encode(arch).sum())}))
    assert strategy.n_fits == 2


@pytest.mark.parametrize("kwargs, match", [
    ({"n_init": 1}, "'n_init' parameter of PredictorGuided must be an int >= 2. Got 1"),
    ({"batch_size": 10, "n_candidates": 5},
     r"'n_candidates' parameter of PredictorGuided must be an int >= 10"),
    ({"random_share": 1.5}, r"'random_share' parameter of PredictorGuided must be a number in"),
    ({"encoding": "graph"}, r"'encoding' parameter of PredictorGuided must be one of \['onehot'"),
    ({"acquisition": "ei"}, r"'acquisition' parameter of PredictorGuided must be one of \['its'"),
    ({"ensemble_size": 0}, "'ensemble_size' parameter of PredictorGuided must be an int >= 1"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        archsearch.create_strategy("predictor", **kwargs).setup(
            archsearch.create_space("nb201"), Objective("s"), 0)


def test_spec_settings_reach_the_strategy():
    from archsearch.strategies import build_strategy, parse_strategy_spec

    strategy = build_strategy(*parse_strategy_spec(
        "predictor:ensemble_size=3:n_candidates=50:batch_size=5:encoding=onehot"))
    config = strategy.config()
    assert (config["ensemble_size"], config["n_candidates"], config["batch_size"],
            config["encoding"]) == (3, 50, 5, "onehot")
