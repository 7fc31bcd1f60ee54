import numpy as np
import pytest

import archsearch
from archsearch import Experiment, InvalidParameterError, Objective, TrialState
from archsearch.strategies import LocalSearch
from archsearch.strategies.local import neighbours
from archsearch.testing import MatchTarget, check_strategy

A = ("nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_1x1",
     "nor_conv_3x3")
B = ("skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "nor_conv_3x3",
     "avg_pool_3x3")  # differs from A in every decision


def two_peaks(arch):
    """A's matches, or B's minus a half: A is the optimum, B a strict local optimum."""
    match = lambda target: sum(a == b for a, b in zip(arch.values, target))  # noqa: E731
    return float(max(match(A), match(B) - 0.5))


def drive(strategy, score, n_trials, seed=0):
    """Ask and tell by hand; the phase and centre before each ask, and each ask."""
    space = archsearch.create_space("nb201")
    strategy.setup(space, Objective("score"), seed)
    log = []
    for number in range(n_trials):
        phase, centre = strategy.phase, strategy.center
        arch = strategy.ask(np.random.default_rng([seed, number]))
        log.append((phase, centre, arch))
        strategy.tell(archsearch.FrozenTrial(number, 0, number, str(arch), arch.key,
                                             TrialState.COMPLETE, {"score": score(arch)}))
    return space, log


def edits(a, b):
    return sum(x != y for x, y in zip(a.values, b.values))


def test_neighbours_change_one_decision_each():
    space = archsearch.create_space("nb201")
    arch = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|"
                       "nor_conv_1x1~1|nor_conv_3x3~2|")
    found = neighbours(space, arch)
    assert found and all(edits(arch, n) == 1 for n in found)
    assert len({n.key for n in found}) == len(found) and arch.key not in {n.key for n in found}
    assert len(found) <= 6 * 4


def test_start_is_random_then_only_neighbours_of_the_centre():
    space, log = drive(archsearch.create_strategy("local", n_init=8), two_peaks, 60)
    assert [phase for phase, _, _ in log[:8]] == ["start"] * 8
    starts = [arch for _, _, arch in log[:8]]
    first_centre = log[8][1][0]
    assert first_centre == max(starts, key=two_peaks)  # the best of the start
    walked = [(centre, arch) for phase, centre, arch in log[8:] if phase == "neighbours"]
    assert walked and all(edits(centre[0], arch) == 1 for centre, arch in walked)


@pytest.mark.parametrize("move", ["best", "first"])
def test_restarts_at_a_local_optimum(move):
    scores = {}  # by key, as a benchmark scores isomorphic cells: the first one met decides

    def score(arch):
        return scores.setdefault(arch.key, two_peaks(arch))

    strategy = archsearch.create_strategy("local", n_init=3, move=move)
    space, log = drive(strategy, score, 300)
    restarts = [i for i, (phase, _, _) in enumerate(log) if phase == "restart"]
    assert isinstance(strategy, LocalSearch) and len(restarts) == strategy.n_restarts >= 2
    for i in restarts:
        (centre, best), restart = log[i][1], log[i][2]
        hood = neighbours(space, centre)
        assert all(n.key in scores and scores[n.key] <= best for n in hood)  # all seen, none better
        if i + 1 < len(log) and log[i + 1][0] == "neighbours":  # the walk goes on from it
            assert log[i + 1][1][1] >= score(restart)


def test_best_move_evaluates_the_whole_neighbourhood_first():
    strategy = archsearch.create_strategy("local", n_init=1)
    space, log = drive(strategy, two_peaks, 40)
    first = log[1][1][0]
    hood = {n.key for n in neighbours(space, first)}
    asked = [arch.key for phase, centre, arch in log[1:] if centre and centre[0] == first]
    assert set(asked) == hood  # every neighbour of the first centre, before it moves


def test_first_move_takes_the_first_improvement():
    strategy = archsearch.create_strategy("local", n_init=1, move="first")
    _, log = drive(strategy, two_peaks, 40)
    for (_, centre, arch), (_, after, _) in zip(log[1:], log[2:]):
        if centre is not None and two_peaks(arch) > centre[1]:
            assert after[0] == arch


def test_replay_reproduces_asks():
    check_strategy(archsearch.create_strategy("local", n_init=5), archsearch.create_space("nb201"))


def make(store=":memory:", seed=0, evaluator=None, **kwargs):
    return Experiment.create("ls", archsearch.create_space("nb201"),
                             archsearch.create_strategy("local", n_init=5),
                             evaluator or MatchTarget(A), store=store, seed=seed, **kwargs)


@pytest.mark.parametrize("n_trials", [3, 5, 41])
def test_budget_is_respected_exactly(n_trials):
    exp = make()
    exp.run(n_trials=n_trials)
    assert len(exp.trials()) == n_trials and len({t.key for t in exp.trials()}) == n_trials


def test_deterministic_under_a_seed():
    def archs(seed):
        exp = make(seed=seed)
        exp.run(n_trials=30)
        return [t.arch for t in exp.trials()]

    assert archs(3) == archs(3) and archs(3) != archs(4)


def test_resume_continues_the_uninterrupted_run(tmp_path):
    whole = make(seed=7)
    whole.run(n_trials=60)
    store = str(tmp_path / "runs.db")
    make(store, seed=7).run(n_trials=23)
    resumed = make(store, seed=7, if_exists="resume")
    resumed.run(n_trials=60)
    assert [t.arch for t in resumed.trials()] == [t.arch for t in whole.trials()]


def test_failed_trials_do_not_break_it():
    exp = make(evaluator=MatchTarget(A, fail_on="avg_pool"))
    exp.run(n_trials=80)
    states = [t.state for t in exp.trials()]
    assert len(states) == 80 and TrialState.FAILED in states
    assert exp.best()[0].values["score"] >= 4


def test_finds_the_optimum_of_a_toy_problem():
    exp = make(seed=1)
    exp.run(n_trials=150)
    assert exp.best()[0].values["score"] == len(A)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_init": 0}, "'n_init' parameter of LocalSearch must be an int >= 1. Got 0"),
    ({"move": "steepest"}, "'move' parameter of LocalSearch must be 'best' or 'first'"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        archsearch.create_strategy("local", **kwargs).setup(
            archsearch.create_space("nb201"), Objective("s"), 0)
