"""Successive halving: rungs, the top-1/eta rule in both directions, and history from trials."""

import pytest

from archsearch import InvalidParameterError, SuccessiveHalving
from archsearch.types import FrozenTrial, TrialState


def _trial(number, state, intermediate):
    return FrozenTrial(number + 1, 1, number, "a", f"k{number}", state, intermediate=intermediate)


def test_rungs_sit_at_min_resource_times_powers_of_eta():
    pruner = SuccessiveHalving(min_resource=2, eta=3)
    assert [s for s in range(1, 60) if pruner.is_rung(s)] == [2, 6, 18, 54]


def test_a_value_goes_on_only_in_the_top_third_of_its_rung():
    pruner = SuccessiveHalving(min_resource=1, eta=3)
    pruner.setup("maximize")
    # fewer than eta values: only a new best goes on
    assert pruner.should_prune(1, 0.5) is False
    assert pruner.should_prune(1, 0.4) is True
    assert pruner.should_prune(1, 0.6) is False
    # 6 values: the best 2 go on
    assert pruner.should_prune(1, 0.3) is True
    assert pruner.should_prune(1, 0.55) is True  # third of [0.6, 0.55, 0.5, ...]
    assert pruner.should_prune(1, 0.58) is False  # second of six
    assert pruner.should_prune(2, 0.0) is False  # not a rung: never stopped
    assert pruner.rungs() == {1: [0.5, 0.4, 0.6, 0.3, 0.55, 0.58]}


def test_minimize_keeps_the_smallest_values():
    pruner = SuccessiveHalving(min_resource=1, eta=2)
    pruner.setup("minimize")
    assert [pruner.should_prune(1, v) for v in (0.5, 0.7, 0.4, 0.6)] == [False, True, False, True]


def test_history_is_read_from_finished_trials_only():
    pruner = SuccessiveHalving(min_resource=1, eta=2)
    pruner.setup("maximize", [
        _trial(0, TrialState.COMPLETE, {1: 0.9, 2: 0.95, 3: 0.96}),
        _trial(1, TrialState.PRUNED, {1: 0.2}),
        _trial(2, TrialState.INTERRUPTED, {1: 0.99}),  # runs again and reports anew
        _trial(3, TrialState.RUNNING, {1: 0.99}),
    ])
    assert pruner.rungs() == {1: [0.9, 0.2], 2: [0.95]}
    assert pruner.should_prune(1, 0.5) is True  # [0.9, 0.5, 0.2]: only 0.9 goes on
    assert pruner.should_prune(2, 0.97) is False


@pytest.mark.parametrize("kwargs", [{"eta": 1}, {"min_resource": 0}, {"eta": 2.5}])
def test_bad_settings_are_refused_at_setup(kwargs):
    with pytest.raises(InvalidParameterError, match="SuccessiveHalving"):
        SuccessiveHalving(**kwargs).setup("maximize")
