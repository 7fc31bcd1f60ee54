"""Early stopping in a search: pruned trials are stored with their epochs, on every backend."""

import pytest
import torch

import archsearch
from archsearch import (
    Experiment,
    FingerprintMismatchError,
    Hyperband,
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


def test_hyperband_stops_each_trial_only_at_a_rung_of_its_bracket(evaluator):
    exp = _experiment(evaluator, pruner=Hyperband(min_resource=1, eta=2), name="hb")
    exp.run(n_trials=10)
    trials = exp.trials()
    pruner = exp.pruner
    assert [b.min_resource for b in pruner.brackets] == [1, 2, 4]  # max_resource: 4 epochs
    for trial in trials:
        bracket = pruner.brackets[pruner.bracket_of(trial.number)]
        if trial.state is TrialState.PRUNED:
            assert bracket.is_rung(int(trial.values["epochs"])) and bracket.min_resource < 4
        else:
            assert trial.state is TrialState.COMPLETE
    assert any(t.state is TrialState.PRUNED for t in trials)


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


def test_ray_tasks_wait_for_the_drivers_decisions():
    pytest.importorskip("ray")
    from archsearch.testing import FaultInjector

    exp = Experiment.create("ray", SPACE, archsearch.create_strategy("random"),
                            FaultInjector(delay=0.02, steps=4), store=":memory:",
                            pruner=SuccessiveHalving(1, 2))
    exp.run(n_trials=8, backend=RayBackend(workers=2))
    trials = exp.trials()
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    assert len(trials) == 8 and pruned and len(pruned) < 8
    for trial in trials:  # every report stored, the stopped ones stopped at a rung
        epochs = int(trial.values["epochs"]) if trial in pruned else 4
        assert sorted(trial.intermediate) == list(range(1, epochs + 1))
        assert trial in pruned or trial.state is TrialState.COMPLETE
    assert {int(t.values["epochs"]) for t in pruned} <= {1, 2}
    assert sum(len(v) for v in exp.pruner.rungs().values()) == sum(
        sum(exp.pruner.is_rung(s) for s in t.intermediate) for t in trials)


def _paid(trials):
    return sum(N_EPOCHS if t.state is TrialState.COMPLETE else int(t.values["epochs"])
               for t in trials)


@pytest.mark.parametrize("backend", [InlineBackend(), PoolBackend(2, threads=1)],
                         ids=["inline", "pool"])
def test_a_budget_of_epochs_is_never_exceeded_and_left_unused_only_if_too_small(
        evaluator, backend, tmp_path):
    store = str(tmp_path / "runs.db")
    exp = _experiment(evaluator, store)
    exp.run(max_epochs=15, backend=backend)
    spent = exp.epochs_spent()
    n_trials = len(exp.trials())
    assert spent == _paid(exp.trials()) and 15 - N_EPOCHS < spent <= 15
    exp.store.close()
    again = _experiment(evaluator, store)  # a resumed run counts what was paid before
    again.run(max_epochs=spent + 1)
    assert len(again.trials()) == n_trials
    again.run(max_epochs=25)
    assert 25 - N_EPOCHS < again.epochs_spent() == _paid(again.trials()) <= 25


def test_a_budget_of_epochs_needs_an_evaluator_counted_in_epochs(nb201_table):
    exp = Experiment.create("t", archsearch.create_space("nb201"),
                            archsearch.create_strategy("random"),
                            archsearch.TabularLookup(nb201_table, "params_m"), store=":memory:")
    with pytest.raises(IncompatibleError, match="budget of epochs"):
        exp.run(max_epochs=100)


def test_partial_training_stops_when_told_but_never_after_its_last_epoch(evaluator):
    evaluator.setup(SPACE)
    arch = SPACE.parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|")
    with pytest.raises(archsearch.TrialPruned, match=f"stopped after epoch 1 of {N_EPOCHS}"):
        evaluator.evaluate(arch, archsearch.TrialContext(0, 0, lambda step, v: True, True))
    told = archsearch.TrialContext(0, 0, lambda step, v: step == N_EPOCHS, True)
    assert "val_accuracy" in evaluator.evaluate(arch, told)  # nothing left to save


def test_pool_workers_that_wait_for_decisions_still_record_every_fault():
    from archsearch.testing import FaultInjector

    exp = Experiment.create("faults", SPACE, archsearch.create_strategy("random"),
                            FaultInjector({1: "kill", 3: "error"}, delay=0.05), store=":memory:",
                            pruner=SuccessiveHalving(1, 2))
    exp.run(n_trials=6, backend=PoolBackend(2, threads=1), max_retries=0)
    trials = {t.number: t for t in exp.trials()}
    assert len(trials) == 6 and all(t.state.finished for t in trials.values())
    assert trials[1].error == "worker process died (killed by SIGKILL)"
    assert trials[3].error == "RuntimeError('injected error in trial 3')"
    assert sum(t.state is TrialState.COMPLETE for t in trials.values()) == 4
    assert all(dict(t.intermediate) == {0: t.values["score"]} for t in trials.values()
               if t.state is TrialState.COMPLETE)
