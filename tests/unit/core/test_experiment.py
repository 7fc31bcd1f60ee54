import pytest

import archsearch
from archsearch import Experiment, ExperimentExistsError, FingerprintMismatchError, TrialState
from archsearch.evaluators.base import Evaluator
from archsearch.testing import MatchTarget
from archsearch.types import Objective

TARGET = ("nor_conv_3x3",) * 6


def make(store, strategy="evolution", evaluator=None, seed=0, if_exists="error", **kw):
    return Experiment.create("exp", archsearch.create_space("nb201"),
                             archsearch.create_strategy(strategy, **kw),
                             evaluator or MatchTarget(TARGET), store=store, seed=seed,
                             if_exists=if_exists)


def test_no_key_is_evaluated_twice():
    exp = make(":memory:")
    exp.run(n_trials=200)
    keys = [t.key for t in exp.trials()]
    assert len(keys) == 200 and len(set(keys)) == 200


def test_failed_trials_are_recorded_and_the_search_goes_on():
    exp = make(":memory:", strategy="random", evaluator=MatchTarget(TARGET, fail_on="avg_pool"))
    exp.run(n_trials=30)
    states = [t.state for t in exp.trials()]
    assert len(states) == 30
    assert TrialState.FAILED in states and TrialState.COMPLETE in states
    failed = exp.trials([TrialState.FAILED])[0]
    assert "avg_pool" in failed.arch and "not allowed" in failed.error


class Raising(Evaluator):
    name = "raising"
    objectives = (Objective("score"),)

    def __init__(self, error):
        self.error = error

    def evaluate(self, arch, ctx):
        raise self.error


class NaNScore(Evaluator):
    name = "nan"
    objectives = (Objective("score"),)

    def evaluate(self, arch, ctx):
        return {"score": float("nan"), "params": 3.0}


def test_unexpected_error_is_recorded_then_raised_when_not_caught():
    exp = make(":memory:", evaluator=Raising(ZeroDivisionError("oops")))
    with pytest.raises(ZeroDivisionError):
        exp.run(n_trials=3, catch=())
    (trial,) = exp.trials()
    assert trial.state is TrialState.FAILED and "ZeroDivisionError('oops')" in trial.error


def test_caught_errors_fail_the_trial_only():
    exp = make(":memory:", evaluator=Raising(RuntimeError("bad")))
    exp.run(n_trials=3)
    assert [t.state for t in exp.trials()] == [TrialState.FAILED] * 3


def test_nan_objective_fails_the_trial_but_keeps_metrics():
    exp = make(":memory:", evaluator=NaNScore())
    exp.run(n_trials=2)
    trial = exp.trials()[0]
    assert trial.state is TrialState.FAILED and "'score' is nan" in trial.error
    assert trial.values["params"] == 3.0


class InterruptFirst(MatchTarget):
    """Like MatchTarget, but Ctrl-C arrives during the first evaluation."""

    def evaluate(self, arch, ctx):
        if not self.calls:
            self.calls.append(str(arch))
            raise KeyboardInterrupt
        return super().evaluate(arch, ctx)


def test_keyboard_interrupt_marks_the_trial_interrupted_and_resume_reruns_it(tmp_path):
    store = str(tmp_path / "s.db")
    exp = make(store, evaluator=InterruptFirst(TARGET))
    with pytest.raises(KeyboardInterrupt):
        exp.run(n_trials=5)
    (interrupted,) = exp.trials()
    assert interrupted.state is TrialState.INTERRUPTED
    evaluator = MatchTarget(TARGET)
    exp2 = Experiment.create("exp", archsearch.create_space("nb201"),
                             archsearch.create_strategy("evolution"), evaluator, store=store,
                             if_exists="resume")
    exp2.run(n_trials=5)
    assert evaluator.calls[0] == interrupted.arch  # the interrupted architecture comes first
    finished = exp2.trials([TrialState.COMPLETE])
    assert len(finished) == 5 and len({t.key for t in finished}) == 5


def test_resume_after_a_dead_process_reproduces_the_uninterrupted_run(tmp_path):
    whole = make(":memory:", seed=7)
    whole.run(n_trials=40)
    store = str(tmp_path / "s.db")
    part = make(store, seed=7)
    part.run(n_trials=25)
    # a process that died mid-trial leaves a RUNNING row behind
    resumed = make(store, seed=7, if_exists="resume")
    resumed.run(n_trials=40)
    assert [t.arch for t in resumed.trials()] == [t.arch for t in whole.trials()]


def test_running_rows_of_a_dead_process_are_rerun(tmp_path):
    store = str(tmp_path / "s.db")
    exp = make(store)
    exp.run(n_trials=3)
    arch = exp.space.sample(__import__("numpy").random.default_rng(99))
    exp.store.start_trial(exp.experiment_id, arch)  # as if killed while evaluating it
    resumed = make(store, if_exists="resume")
    resumed.run(n_trials=5)
    trials = resumed.trials()
    assert trials[3].state is TrialState.INTERRUPTED
    assert trials[4].arch == str(arch) and trials[4].state is TrialState.COMPLETE
    assert resumed.n_finished() == 5


def test_existing_name_is_refused_without_resume(tmp_path):
    store = str(tmp_path / "s.db")
    make(store).run(n_trials=2)
    with pytest.raises(ExperimentExistsError, match=r"\(2 trials\)"):
        make(store)


def test_resume_with_other_identity_settings_is_refused(tmp_path):
    store = str(tmp_path / "s.db")
    make(store, population_size=10).run(n_trials=2)
    with pytest.raises(FingerprintMismatchError,
                       match="strategy.population_size was 10, now 20"):
        make(store, if_exists="resume", population_size=20)
    with pytest.raises(FingerprintMismatchError, match="seed was 0, now 1"):
        make(store, if_exists="resume", population_size=10, seed=1)


def test_budget_counts_earlier_trials(tmp_path):
    store = str(tmp_path / "s.db")
    make(store).run(n_trials=4)
    exp = make(store, if_exists="resume")
    exp.run(n_trials=6)
    assert exp.n_finished() == 6


def test_timeout_stops_starting_trials():
    exp = make(":memory:")
    exp.run(timeout=0.2)
    assert exp.n_finished() >= 1


def test_best_orders_by_the_objective():
    exp = make(":memory:")
    exp.run(n_trials=20)
    scores = [t.values["score"] for t in exp.best(5)]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == max(t.values["score"] for t in exp.trials())


class Stubborn(archsearch.strategies.RandomSearch):
    """Always proposes the same architecture."""

    def ask(self, rng):
        return self.space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")


def test_a_strategy_stuck_on_one_architecture_gets_new_ones():
    exp = Experiment.create("s", archsearch.create_space("nb201"), Stubborn(),
                            MatchTarget(TARGET), store=":memory:")
    exp.run(n_trials=20)
    keys = [t.key for t in exp.trials()]
    assert len(keys) == 20 and len(set(keys)) == 20


class _SignalsInItsDestructor:
    """Stands for a pipe or process object that happens to be collected as Ctrl-C comes."""

    def __del__(self):
        import os
        import signal

        os.kill(os.getpid(), signal.SIGINT)
        sum(range(1000))  # the handler runs here, and Python ignores what a destructor raises


def test_a_ctrl_c_swallowed_by_a_destructor_still_stops_the_search(ctrl_c):
    from archsearch.testing import FaultInjector

    space = archsearch.create_space("nb201", channels=4, cells_per_stage=1)
    exp = Experiment.create("c", space, archsearch.create_strategy("random"),
                            FaultInjector(delay=0.01), store=":memory:")

    def collect_at_trial_2(e, trial):
        if trial.number == 2:
            _SignalsInItsDestructor()  # made and collected at once

    with pytest.raises(KeyboardInterrupt):
        exp.run(n_trials=6, callbacks=[collect_at_trial_2])
    assert len(exp.trials()) == 3  # stopped where it was pressed, not after all six
    import signal

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
