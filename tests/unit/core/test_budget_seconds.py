"""A budget of evaluation seconds: no trial starts once spent, running trials stop at a step."""

import time

import numpy as np
import pytest

import archsearch
from archsearch import Experiment, InvalidParameterError, TrialState
from archsearch.backends import PoolBackend
from archsearch.testing import FaultInjector

SPACE = archsearch.create_space("nb201", channels=4, cells_per_stage=1)
STEP = 0.05  # seconds per step
STEPS = 6


def _experiment(store=":memory:", delay=STEP, steps=STEPS, **kwargs):
    return Experiment.create("s", SPACE, archsearch.create_strategy("random"),
                             FaultInjector(delay=delay, steps=steps, **kwargs), store=store,
                             if_exists="resume")


def _spent(trials):
    return sum(t.duration_s for t in trials)


def test_trials_stop_at_their_next_step_once_the_seconds_are_spent():
    exp = _experiment()
    exp.run(max_seconds=1.0)
    trials = exp.trials()
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    last = trials[-1]
    # a full trial takes 0.3 s: three fit, the fourth is stopped at a step
    assert len(complete) == 3 and trials[:3] == complete and len(trials) == 4
    assert last.state is TrialState.PRUNED
    assert last.error.endswith("the budget of 1 seconds was spent")
    assert 1 <= last.values["epochs"] < STEPS
    assert 1.0 <= _spent(trials) == pytest.approx(exp.seconds_spent())
    assert _spent(trials) < 1.0 + 2 * STEP  # over by at most a step (and bookkeeping)


def test_a_resumed_search_counts_the_seconds_spent_before(tmp_path):
    store = str(tmp_path / "runs.db")
    first = _experiment(store)
    first.run(max_seconds=0.5)
    spent = first.seconds_spent()
    n = len(first.trials())
    first.store.close()
    again = _experiment(store)
    assert again.seconds_spent() == pytest.approx(spent)
    again.run(max_seconds=spent)  # nothing left: no trial starts
    assert len(again.trials()) == n
    again.run(max_seconds=spent + 0.5)
    assert len(again.trials()) > n and spent + 0.5 <= again.seconds_spent() < spent + 0.5 + 2 * STEP


def test_a_trial_of_a_dead_process_costs_nothing_known(tmp_path):
    store = str(tmp_path / "runs.db")
    exp = _experiment(store)
    exp.store.start_trial(exp.experiment_id, SPACE.sample(np.random.default_rng(0)))
    exp.store.close()
    time.sleep(0.2)
    again = _experiment(store)  # resuming marks it interrupted
    assert again.trials()[0].state is TrialState.INTERRUPTED
    assert again.seconds_spent() == 0.0


def test_pool_workers_stop_when_the_seconds_are_spent():
    exp = _experiment(delay=0.2, steps=20)  # a full trial: 4 s
    exp.run(max_seconds=3.0, backend=PoolBackend(2, threads=1))
    trials = exp.trials()
    assert trials and all(t.state is TrialState.PRUNED for t in trials)
    assert all("budget of 3 seconds" in t.error for t in trials)
    # the first step of each worker comes after it starts up, so allow for that once
    assert 3.0 <= _spent(trials) < 3.0 + 2 * 0.2 + 2 * 5.0


def test_bad_budgets_are_refused_before_anything_runs():
    exp = _experiment()
    with pytest.raises(InvalidParameterError, match="max_seconds"):
        exp.run(max_seconds=0)
    assert exp.trials() == []
