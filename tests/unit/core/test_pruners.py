"""Successive halving and Hyperband: rungs, the top-1/eta rule in both directions, brackets,
and history from trials."""

import numpy as np
import pytest

from archsearch import (
    Hyperband,
    IncompatibleError,
    InvalidParameterError,
    SuccessiveHalving,
    create_pruner,
)
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


def test_hyperband_brackets_follow_the_paper_and_share_trials_in_its_proportions():
    pruner = Hyperband(min_resource=1, eta=3)
    pruner.setup("maximize", max_resource=27)
    assert [b.min_resource for b in pruner.brackets] == [1, 3, 9, 27]
    # Hyperband's n_i = ceil((s_max + 1) / (s + 1) * eta^s) for s = 3, 2, 1, 0
    assert pruner.weights == [27, 12, 6, 4]
    counts = np.bincount([pruner.bracket_of(n) for n in range(49 * 3)], minlength=4)
    assert counts.tolist() == [81, 36, 18, 12]
    # interleaved: no bracket waits for a whole cycle of the others
    first = [pruner.bracket_of(n) for n in range(12)]
    assert set(first) == {0, 1, 2, 3}
    # a max_resource between powers of eta: the last bracket's first rung is below it
    pruner.setup("maximize", max_resource=20)
    assert [b.min_resource for b in pruner.brackets] == [1, 3, 9]


def test_hyperband_trials_compete_only_within_their_bracket():
    pruner = Hyperband(min_resource=1, eta=2)
    pruner.setup("maximize", max_resource=4)
    by_bracket = {}
    for n in range(20):
        by_bracket.setdefault(pruner.bracket_of(n), []).append(n)
    aggressive, patient = by_bracket[0][:2], by_bracket[1][:2]
    assert pruner.should_prune(1, 0.9, aggressive[0]) is False
    assert pruner.should_prune(1, 0.5, aggressive[1]) is True  # below 0.9 at rung 1
    # the patient bracket has no rung at step 1, and its rung 2 has not seen the others
    assert pruner.should_prune(1, 0.1, patient[0]) is False
    assert pruner.should_prune(2, 0.1, patient[0]) is False  # first value of its rung 2
    assert pruner.should_prune(2, 0.05, patient[1]) is True
    assert pruner.brackets[0].rungs() == {1: [0.9, 0.5]}
    assert pruner.brackets[1].rungs() == {2: [0.1, 0.05]}


def test_hyperband_reads_each_trials_history_into_its_own_bracket():
    pruner = Hyperband(min_resource=1, eta=2, max_resource=4)
    pruner.setup("maximize")
    trials = [_trial(n, TrialState.COMPLETE, {1: 0.1 * n, 2: 0.1 * n, 4: 0.1 * n})
              for n in range(8)]
    again = Hyperband(min_resource=1, eta=2, max_resource=4)
    again.setup("maximize", trials)
    for k, bracket in enumerate(again.brackets):
        mine = [t for t in trials if pruner.bracket_of(t.number) == k]
        expected = {}
        for t in mine:
            for step, v in t.intermediate.items():
                if bracket.is_rung(step):
                    expected.setdefault(step, []).append(v)
        assert bracket.rungs() == expected and mine


def test_hyperband_needs_the_length_of_a_full_trial():
    with pytest.raises(IncompatibleError, match="steps of a full trial"):
        Hyperband().setup("maximize")
    with pytest.raises(InvalidParameterError, match="exceeds the 4 epochs"):
        Hyperband(min_resource=5).setup("maximize", max_resource=4)
    with pytest.raises(InvalidParameterError, match="max_resource"):
        create_pruner("hyperband:min_resource=3:max_resource=2")
    assert create_pruner("hyperband:eta=2").config() == {
        "name": "hyperband", "min_resource": 1, "max_resource": None, "eta": 2}
    with pytest.raises(InvalidParameterError, match="takes min_resource, max_resource, eta"):
        create_pruner("hyperband:brackets=2")


def test_hyperband_moves_first_rungs_to_the_steps_a_table_reports():
    pruner = Hyperband(min_resource=12, eta=3)
    # NB201: 12 and 200 epochs. Rungs at 36 and 108 would never come: those brackets
    # become one that waits for the end
    pruner.setup("maximize", max_resource=200, steps=[12, 200])
    assert [b.min_resource for b in pruner.brackets] == [12, 200]
    assert pruner.weights == [3, 2]  # Hyperband's shares for two brackets
    pruner = Hyperband(min_resource=1, eta=3)
    pruner.setup("maximize", max_resource=9, steps=[2, 5, 9])  # 1 -> 2, 3 -> 5, 9 stays
    assert [b.min_resource for b in pruner.brackets] == [2, 5, 9]
    pruner.setup("maximize", max_resource=9, steps=range(1, 10))  # every epoch: as before
    assert [b.min_resource for b in pruner.brackets] == [1, 3, 9]
