"""The Ray backend on a local cluster: faults recorded and retried; a clear message without ray."""

import sys

import pytest

import archsearch
from archsearch import Experiment
from archsearch._utils.imports import MissingDependencyError
from archsearch.backends import RayBackend
from archsearch.testing import FaultInjector
from archsearch.types import TrialState

SPACE = archsearch.create_space("nb201", channels=4, cells_per_stage=1)


def test_ray_records_every_fault_and_loses_no_trial():
    pytest.importorskip("ray")
    exp = Experiment.create("ray", SPACE, archsearch.create_strategy("random"),
                            FaultInjector({1: "kill", 6: "nan", 7: "hang"}, delay=0.1),
                            store=":memory:")
    # the limit leaves Ray time to notice the killed worker on a loaded machine (over 8 s seen)
    backend = RayBackend(workers=2, trial_timeout=20.0)
    exp.run(n_trials=9, backend=backend)
    trials = exp.trials()
    by_number = {t.number: t for t in trials}
    # the lost trial, retried, is not finished and spends none of the 9
    assert len(trials) == 10 and all(t.state.finished for t in trials if t.number != 1)
    assert by_number[1].state is TrialState.INTERRUPTED
    assert by_number[1].error.startswith("Ray task lost (WorkerCrashedError")
    assert by_number[1].error.endswith("; retried as a new trial")
    assert by_number[6].error == "objective 'score' is nan"
    assert by_number[7].error == "stopped after the time limit of 20 s"
    retried = [t for t in trials if t.key == by_number[1].key]  # tried again, as a new trial
    assert len(retried) == 2 and retried[1].number > 1, trials
    assert retried[1].state is TrialState.COMPLETE or retried[1].number in (6, 7), trials
    complete = next(t for t in trials if t.state is TrialState.COMPLETE)
    assert dict(complete.intermediate) == {0: complete.values["score"]}
    import ray

    assert not ray.is_initialized()  # the local cluster it started is gone


def test_without_ray_the_backend_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails
    with pytest.raises(MissingDependencyError, match=r"pip install 'archsearch\[ray\]'"):
        RayBackend().start(SPACE, FaultInjector(), lambda *a: None)
