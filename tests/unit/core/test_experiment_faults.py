"""The search loop under faults: lost workers, resumes, other processes, slow stores."""

import sqlite3

import pytest

import archsearch
from archsearch import Experiment, TrialState
from archsearch.backends.base import Outcome
from archsearch.backends.inline import InlineBackend
from archsearch.errors import StoreError
from archsearch.evaluators.base import Evaluator
from archsearch.experiment import best_trials
from archsearch.storage import MemoryStore
from archsearch.testing import MatchTarget
from archsearch.types import Objective

TARGET = ("nor_conv_3x3",) * 6


def make(store, evaluator=None, seed=0, if_exists="error", strategy="random"):
    return Experiment.create("exp", archsearch.create_space("nb201"),
                             archsearch.create_strategy(strategy),
                             evaluator or MatchTarget(TARGET), store=store, seed=seed,
                             if_exists=if_exists)


class LoseFirst(InlineBackend):
    """An inline backend whose first ``n`` jobs come back lost, as if their worker died."""

    def __init__(self, n=1):
        super().__init__()
        self.n = n

    def poll(self, timeout):
        out = super().poll(timeout)
        if self.n > 0 and out:
            self.n -= 1
            return [Outcome(out[0].trial_id, TrialState.FAILED,
                            error="worker process died (killed by SIGKILL)", lost=True)]
        return out


def test_a_lost_trial_that_is_retried_spends_no_budget():
    exp = make(":memory:")
    exp.run(n_trials=4, backend=LoseFirst(1), max_retries=2)
    trials = exp.trials()
    assert [t.state for t in trials] == [TrialState.INTERRUPTED] + [TrialState.COMPLETE] * 4
    assert trials[1].key == trials[0].key  # the retry ran, and four trials finished
    assert "retried" in trials[0].error
    assert exp.n_finished() == 4


def test_a_lost_trial_past_its_retries_fails_and_counts():
    exp = make(":memory:")
    exp.run(n_trials=3, backend=LoseFirst(2), max_retries=1)
    states = [t.state for t in exp.trials()]
    assert states == [TrialState.INTERRUPTED, TrialState.FAILED] + [TrialState.COMPLETE] * 2


class SeedScore(Evaluator):
    """Scores an architecture by its training seed alone, as training's noise would."""

    name = "seed-score"
    objectives = (Objective("score"),)

    def evaluate(self, arch, ctx):
        return {"score": float(ctx.seed % 100_003)}


def test_a_retried_or_resumed_architecture_gets_the_same_seed(tmp_path):
    whole = make(":memory:", SeedScore(), seed=3)
    whole.run(n_trials=6)
    scores = {t.key: t.values["score"] for t in whole.trials()}
    # the same run, its second trial lost once (retried under a new number)
    lost = make(":memory:", SeedScore(), seed=3)
    lost.run(n_trials=6, backend=LoseFirst(1))
    for t in lost.trials([TrialState.COMPLETE]):
        assert t.values["score"] == scores[t.key], t
    # and the same run killed with a trial under way, then resumed
    store = str(tmp_path / "s.db")
    part = make(store, SeedScore(), seed=3)
    part.run(n_trials=2)
    part.store.start_trial(part.experiment_id, part.space.parse(whole.trials()[2].arch))
    resumed = make(store, SeedScore(), seed=3, if_exists="resume")
    resumed.run(n_trials=6)
    assert [t.state for t in resumed.trials()].count(TrialState.INTERRUPTED) == 1
    for t in resumed.trials([TrialState.COMPLETE]):
        assert t.values["score"] == scores[t.key], t
    # asks stay reproducible: the same architectures in the same order
    assert [t.arch for t in resumed.trials([TrialState.COMPLETE])] == \
        [t.arch for t in whole.trials()]


class CountingStore(MemoryStore):
    def __init__(self):
        super().__init__()
        self.reads = 0

    def trials(self, experiment_id, states=None):
        self.reads += 1
        return super().trials(experiment_id, states)


def test_best_after_each_trial_reads_nothing_from_the_store():
    store = CountingStore()
    exp = make(store)
    seen = []

    def on_trial(e, trial):
        before = store.reads
        seen.append(e.best()[0].values["score"])
        assert store.reads == before  # the experiment keeps its best as trials end

    exp.run(n_trials=30, callbacks=[on_trial])
    assert seen == sorted(seen)  # a running best never gets worse
    assert exp.best() == best_trials(exp.trials([TrialState.COMPLETE]),
                                     exp.objective)
    resumed = make(store, if_exists="resume")
    assert resumed.best() == exp.best()


def test_two_searches_of_one_store_file_are_refused(tmp_path):
    store = str(tmp_path / "s.db")
    first = make(store)
    first.run(n_trials=2)
    second = make(store, if_exists="resume")  # one after the other is fine
    errors = []

    def resume_meanwhile(e, trial):
        if not errors:
            with pytest.raises(StoreError, match=r"in use by another archsearch process "
                               r"\(search pid \d+\)") as err:
                make(store, if_exists="resume")
            errors.append(err)

    second.run(n_trials=4, callbacks=[resume_meanwhile])
    assert errors and [t.state for t in second.trials()] == [TrialState.COMPLETE] * 4
    make(store, if_exists="resume").run(n_trials=5)  # released when the run ended


def test_an_unreadable_trial_row_is_skipped_counted_and_not_run_again(tmp_path, capsys):
    store = str(tmp_path / "s.db")
    exp = make(store)
    exp.run(n_trials=5)
    conn = sqlite3.connect(store)
    conn.execute("UPDATE trials SET metrics='{not json' WHERE number=1")
    conn.execute("UPDATE trials SET state='bogus' WHERE number=3")
    conn.commit()
    conn.close()
    resumed = make(store, if_exists="resume")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("archsearch: warning: ") for line in err)
    assert "(id 2)" in err[0] and "(id 4)" in err[1]
    assert [t.number for t in resumed.trials()] == [0, 2, 4]
    assert resumed.n_finished() == 5  # the unreadable ones count as failed
    resumed.run(n_trials=7)
    assert [t.number for t in resumed.trials()] == [0, 2, 4, 5, 6]
    assert capsys.readouterr().err == ""  # warned once per row, not at every read
