"""Early stopping in a search: pruned trials are stored with their epochs, on every backend."""

import pytest
import torch

import archsearch
from archsearch import (
    Experiment,
    FingerprintMismatchError,
    IncompatibleError,
    PartialTraining,
    SuccessiveHalving,
    TrainConfig,
    TrialState,
)
from archsearch.backends import InlineBackend, PoolBackend, RayBackend
from archsearch.data import load_task

SPACE = archsearch.create_space("nb201", channels=4, cells_per_stage=1)
N_EPOCHS = 4


@pytest.fixture(scope="module")
def evaluator():
    torch.set_num_threads(1)
    return PartialTraining(load_task("digits", seed=0, n_train=300),
                           TrainConfig(n_epochs=N_EPOCHS, batch_size=64))


def _experiment(evaluator, store=":memory:", pruner=None, name="asha"):
    return Experiment.create(name, SPACE, archsearch.create_strategy("random"), evaluator,
                             store=store, if_exists="resume",
                             pruner=SuccessiveHalving(1, 2) if pruner is None else pruner)


def _check_trials(trials):
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert pruned and complete and len(pruned) + len(complete) == len(trials), trials
    for trial in pruned:
        epochs = int(trial.values["epochs"])
        assert dict(trial.values) == {"epochs": epochs}  # no score: strategies skip it
        assert sorted(trial.intermediate) == list(range(1, epochs + 1))
        assert epochs in (1, 2) and "stopped after epoch" in trial.error
    for trial in complete:
        assert sorted(trial.intermediate) == list(range(1, N_EPOCHS + 1))


@pytest.mark.parametrize("backend", [InlineBackend(), PoolBackend(2, threads=1)],
                         ids=["inline", "pool"])
def test_the_pruner_stops_trials_and_records_their_epochs(evaluator, backend):
    exp = _experiment(evaluator)
    exp.run(n_trials=6, backend=backend)
    trials = exp.trials()
    assert len(trials) == 6
    _check_trials(trials)
    # every rung decision is one the rung history supports
    assert sum(len(v) for v in exp.pruner.rungs().values()) == sum(
        sum(exp.pruner.is_rung(s) for s in t.intermediate) for t in trials)


def test_resume_keeps_the_rung_history(evaluator, tmp_path):
    store = str(tmp_path / "runs.db")
    first = _experiment(evaluator, store)
    first.run(n_trials=3)
    rungs = first.pruner.rungs()
    first.store.close()
    again = _experiment(evaluator, store)
    assert again.pruner.rungs() == rungs
    again.run(n_trials=6)
    _check_trials(again.trials())
    with pytest.raises(FingerprintMismatchError, match="pruner.eta was 2, now 3"):
        _experiment(evaluator, store, SuccessiveHalving(1, 3))


def test_an_experiment_without_a_pruner_resumes_without_one(evaluator, tmp_path):
    store = str(tmp_path / "runs.db")
    exp = Experiment.create("plain", SPACE, archsearch.create_strategy("random"), evaluator,
                            store=store)
    assert "pruner" not in exp.store.find_experiment("plain")[1]
    Experiment.create("plain", SPACE, archsearch.create_strategy("random"), evaluator,
                      store=store, if_exists="resume")


def test_ray_refuses_to_prune_and_names_the_alternatives(evaluator):
    with pytest.raises(IncompatibleError, match="inline or pool backend"):
        _experiment(evaluator).run(n_trials=1, backend=RayBackend(workers=1))
