"""The process pool: parallel trials, and every fault recorded with nothing lost."""

import os
import signal
import time

import pytest

import archsearch
from archsearch import BackendError, Experiment, InvalidParameterError
from archsearch.backends import InlineBackend, PoolBackend
from archsearch.storage import SQLiteStore
from archsearch.testing import FaultInjector
from archsearch.types import TrialState

SPACE = archsearch.create_space("nb201", channels=4, cells_per_stage=1)


def _experiment(evaluator, store=":memory:", name="faults", seed=0):
    return Experiment.create(name, SPACE, archsearch.create_strategy("evolution", population_size=4,
                                                                     sample_size=2),
                             evaluator, store=store, seed=seed, if_exists="resume")


def test_pool_records_every_fault_and_loses_no_trial():
    started = time.monotonic()
    exp = _experiment(FaultInjector({1: "kill", 6: "nan", 7: "error", 8: "hang"}, delay=0.1))
    exp.run(n_trials=10, backend=PoolBackend(2, threads=1, trial_timeout=2.0))
    assert time.monotonic() - started < 60
    trials = exp.trials()
    by_number = {t.number: t for t in trials}
    # the lost trial, retried, is not finished and spends none of the 10
    assert len(trials) == 11 and all(t.state.finished for t in trials if t.number != 1)
    assert by_number[1].state is TrialState.INTERRUPTED
    assert by_number[1].error == "worker process died (killed by SIGKILL); retried as a new trial"
    assert by_number[6].error == "objective 'score' is nan"
    assert by_number[7].error == "RuntimeError('injected error in trial 7')"
    assert by_number[8].error == "stopped after the time limit of 2 s"
    # the killed trial's architecture was tried again as a new trial, which completed
    # unless its number (set by when the retry was submitted) carries a fault of its own
    retried = [t for t in trials if t.key == by_number[1].key]
    assert len(retried) == 2 and retried[1].number > 1, trials
    assert retried[1].state is TrialState.COMPLETE or retried[1].number in (6, 7, 8), trials
    assert sum(t.state is TrialState.COMPLETE for t in trials) == 7
    # intermediate values reached the store from the workers
    complete = next(t for t in trials if t.state is TrialState.COMPLETE)
    assert dict(complete.intermediate) == {0: complete.values["score"]}


def test_an_architecture_whose_worker_keeps_dying_is_retried_up_to_the_limit():
    # one worker: trial 0 dies, its retries are trials 1 and 2, which die too
    exp = _experiment(FaultInjector({0: "kill", 1: "kill", 2: "kill"}))
    exp.run(n_trials=5, backend=PoolBackend(1, threads=1), max_retries=2)
    trials = exp.trials()
    assert [t.key for t in trials[:3]] == [trials[0].key] * 3
    assert all(t.error.startswith("worker process died (killed by SIGKILL)") for t in trials[:3])
    assert [t.state for t in trials[:3]] == [TrialState.INTERRUPTED] * 2 + [TrialState.FAILED]
    assert trials[3].key != trials[0].key  # given up after two retries
    assert [t.state for t in trials[3:]] == [TrialState.COMPLETE] * 4  # retries spend no budget


def test_pool_trials_run_in_parallel():
    exp = _experiment(FaultInjector(delay=1.0))
    started = time.monotonic()
    exp.run(n_trials=6, backend=PoolBackend(3, threads=1))
    took = time.monotonic() - started
    trials = exp.trials()
    assert len(trials) == 6 and all(t.state is TrialState.COMPLETE for t in trials)
    overlap = sum(a.finished_at > b.started_at and a.number < b.number
                  for a in trials for b in trials if a is not b)
    assert overlap >= 3, took  # later trials started before earlier ones ended


class _DiesInWorkers(FaultInjector):
    """Sets up in the driver; exits during set-up in a worker process."""

    def setup(self, space):
        import multiprocessing

        super().setup(space)
        if multiprocessing.parent_process() is not None:
            os._exit(3)


def test_a_pool_whose_workers_cannot_start_says_so():
    exp = _experiment(_DiesInWorkers())
    with pytest.raises(BackendError, match=r"died while starting \(exit code 3") as err:
        exp.run(n_trials=2, backend=PoolBackend(1, threads=1))
    assert "__main__" not in str(err.value)  # the script is guarded: no advice that misleads
    assert [t.state for t in exp.trials()] == [TrialState.INTERRUPTED]


class _KillsOneWhileImporting(PoolBackend):
    """Kills its first worker with SIGKILL as soon as it is started (it is still importing)."""

    def start(self, *args, **kwargs):
        super().start(*args, **kwargs)
        self._workers[0].process.kill()


def test_a_worker_killed_while_importing_is_replaced_and_the_search_goes_on():
    exp = _experiment(FaultInjector())
    exp.run(n_trials=4, backend=_KillsOneWhileImporting(2, threads=1))
    trials = exp.trials()
    # its job never began: the new worker ran it, and no trial was lost
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4, trials


class _KilledWhileSettingUp(FaultInjector):
    """SIGKILLs the worker while it sets up: once (a flag file), or every time."""

    def __init__(self, flag=None):
        super().__init__()
        self.flag = flag

    def setup(self, space):
        import multiprocessing

        super().setup(space)
        if multiprocessing.parent_process() is None:
            return
        if self.flag is None or not os.path.exists(self.flag):
            if self.flag is not None:
                open(self.flag, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_while_setting_up_is_replaced(tmp_path):
    exp = _experiment(_KilledWhileSettingUp(str(tmp_path / "killed")))
    exp.run(n_trials=3, backend=PoolBackend(1, threads=1))
    assert [t.state for t in exp.trials()] == [TrialState.COMPLETE] * 3


def test_workers_killed_while_starting_again_and_again_stop_the_search():
    exp = _experiment(_KilledWhileSettingUp())
    with pytest.raises(BackendError, match=r"keep being killed while starting \(killed by "
                       r"SIGKILL, 4 in a row\): is the machine out of memory\?") as err:
        exp.run(n_trials=2, backend=PoolBackend(1, threads=1))
    assert "__main__" not in str(err.value)


UNGUARDED = """
import archsearch
from archsearch import Experiment
from archsearch.backends import PoolBackend
from archsearch.testing import FaultInjector

space = archsearch.create_space("nb201", channels=4, cells_per_stage=1)
exp = Experiment.create("x", space, archsearch.create_strategy("random"), FaultInjector(),
                        store=":memory:")
exp.run(n_trials=2, backend=PoolBackend(1, threads=1))
print("finished")
"""


def test_a_script_without_a_main_guard_is_told_to_add_one(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode != 0 and "finished" not in proc.stdout
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("archsearch.errors.BackendError: ") and \
        "if __name__ == '__main__':" in last, proc.stderr


def test_worker_counts_far_above_the_cores_are_refused_unless_asked_for():
    from archsearch.backends.pool import THREADS_PER_CORE, usable_cores

    limit = THREADS_PER_CORE * usable_cores()
    with pytest.raises(InvalidParameterError, match=rf"^workers {limit + 1} x threads 1 is "
                       rf"{limit + 1} torch threads for .*at most {limit} \({THREADS_PER_CORE} a "
                       r"core\).*imports torch.*oversubscribe=True"):
        PoolBackend(limit + 1, threads=1)
    with pytest.raises(InvalidParameterError, match=r"x threads 3 is"):
        PoolBackend(limit // 2, threads=3)
    assert PoolBackend(limit, threads=1).capacity == limit  # (nothing starts before a run)
    assert PoolBackend(1000, threads=1, oversubscribe=True).capacity == 1000
    with pytest.raises(InvalidParameterError, match="'oversubscribe' .* True or False. Got 'no'"):
        PoolBackend(2, oversubscribe="no")


def test_inline_time_limit_and_bad_backend_settings():
    exp = _experiment(FaultInjector({1: "hang"}))
    exp.run(n_trials=3, backend=InlineBackend(trial_timeout=0.5))
    assert [t.error for t in exp.trials()] == [None, "stopped after the time limit of 0.5 s", None]
    with pytest.raises(InvalidParameterError, match="workers"):
        PoolBackend(0)
    with pytest.raises(InvalidParameterError, match="trial_timeout"):
        PoolBackend(2, trial_timeout=0)


def test_ctrl_c_in_the_driver_marks_running_trials_interrupted(tmp_path, ctrl_c):
    store = SQLiteStore(tmp_path / "s.db")
    exp = _experiment(FaultInjector({0: "hang"}), store=store)

    def interrupt(e, trial):  # trial 0 hangs on one worker; the other runs 1, 2, ...
        if trial.number == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        exp.run(n_trials=6, backend=PoolBackend(2, threads=1), callbacks=[interrupt])
    states = [t.state for t in exp.trials()]
    assert states[0] is TrialState.INTERRUPTED and TrialState.RUNNING not in states
    resumed = _experiment(FaultInjector({0: "hang"}), store=store)  # trial 0 is not rerun
    resumed.run(n_trials=6, backend=PoolBackend(2, threads=1))
    done = [t for t in resumed.trials() if t.state is TrialState.COMPLETE]
    assert len({t.key for t in done}) == len(done) == 6
