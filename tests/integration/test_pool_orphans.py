"""A pool driver killed with SIGKILL leaves no worker behind, whatever its workers were doing;
a pool far larger than the machine is refused before anything starts.

Every process the driver starts inherits a marker in its environment, so its descendants are
found wherever they were reparented; the test never kills one itself before its assertion.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

GRACE = 10.0  # seconds a worker may take to notice that its driver is gone

DRIVER = textwrap.dedent('''
    import re
    import sys
    import time

    import archsearch
    from archsearch.backends import PoolBackend
    from archsearch.backends.base import Job
    from archsearch.testing import FaultInjector


    class Stuck(FaultInjector):
        """Trains 'forever' inside one native call that holds the GIL."""

        def evaluate(self, arch, ctx):
            print("training", flush=True)
            re.match(r"(a+)+$", "a" * 64 + "b")  # 2**64 steps in C, the GIL held
            return {"score": 0.0}


    if __name__ == "__main__":
        phase = sys.argv[1]
        space = archsearch.create_space("nb201", channels=4, cells_per_stage=1)
        backend = PoolBackend(2, threads=1)
        backend.start(space, Stuck() if phase == "training" else FaultInjector(), lambda *a: False)
        arch = space.sample(__import__("numpy").random.default_rng(0))
        for i in range(2):
            backend.submit(Job(i, i, arch, 0))
        if phase == "idle":  # both jobs done: both workers wait for the next one
            done = []
            while len(done) < 2:
                done += backend.poll(1.0)
            print("idle", flush=True)
        time.sleep(3600)
''')


def _environ(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f.read()


def _state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def _marked(mark, but=()):
    """Live processes (not zombies) whose environment holds ``mark``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in but:
            try:
                if mark in _environ(entry) and _state(entry) != "Z":
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _has_torch(pid):
    try:
        with open(f"/proc/{pid}/maps") as f:
            return "libtorch" in f.read()
    except OSError:
        return False


def _kill_and_time(proc, mark):
    """SIGKILL the driver; seconds until its last descendant is gone (or None after GRACE)."""
    os.kill(proc.pid, signal.SIGKILL)
    killed = time.monotonic()
    proc.wait()
    while time.monotonic() - killed < GRACE:
        if not _marked(mark, but=(proc.pid,)):
            return time.monotonic() - killed
        time.sleep(0.05)
    return None


def _start(args, mark, cwd):
    env = {**os.environ, "ARCHSEARCH_TEST_MARK": mark}
    return subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)


def _cleanup(proc, mark):
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for pid in _marked(mark):  # only after the assertion: whatever a failure left behind
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def test_workers_killed_with_their_driver_while_importing(tmp_path):
    mark = f"ARCHSEARCH_TEST_MARK=orphans-{uuid.uuid4().hex}".encode()
    proc = _start([sys.executable, "-m", "archsearch", "search", "--backend", "pool",
                   "--workers", "3", "--threads", "1", "--budget", "6", "--epochs", "1",
                   "--channels", "4", "--cells", "1", "--run-dir", str(tmp_path / "run")],
                  mark.decode().split("=", 1)[1], tmp_path)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # kill once the workers run, before torch is in
            workers = _marked(mark, but=(proc.pid,))
            if len(workers) >= 3 and not all(_has_torch(p) for p in workers):
                break
            assert proc.poll() is None, "the search ended before its workers started"
            time.sleep(0.01)
        else:
            pytest.fail("the pool's workers never appeared")
        importing = [p for p in workers if not _has_torch(p)]
        assert importing  # some worker is still importing when its driver dies
        took = _kill_and_time(proc, mark)
        left = _marked(mark, but=(proc.pid,))
        print(f"importing: last worker gone {took} s after the driver's SIGKILL")
        assert took is not None, f"{len(left)} processes still running {GRACE} s later"
    finally:
        _cleanup(proc, mark)


@pytest.mark.parametrize("phase", ["idle", "training"])
def test_workers_killed_with_their_driver_while_idle_or_training(tmp_path, phase):
    mark = f"ARCHSEARCH_TEST_MARK=orphans-{uuid.uuid4().hex}".encode()
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    proc = _start([sys.executable, str(script), phase], mark.decode().split("=", 1)[1],
                  tmp_path)
    try:
        line = proc.stdout.readline().strip()
        assert line == phase, line
        if phase == "training":
            proc.stdout.readline()  # both workers are inside the native call
            time.sleep(0.5)
        assert len(_marked(mark, but=(proc.pid,))) >= 2
        took = _kill_and_time(proc, mark)
        left = _marked(mark, but=(proc.pid,))
        print(f"{phase}: last worker gone {took} s after the driver's SIGKILL")
        assert took is not None, f"{len(left)} processes still running {GRACE} s later"
    finally:
        _cleanup(proc, mark)


def test_the_cli_refuses_a_pool_far_above_the_cores_before_writing_anything(tmp_path):
    from conftest import cli

    run_dir = tmp_path / "run"
    proc = cli("search", "--backend", "pool", "--workers", "1000", "--run-dir", str(run_dir),
               check=False)
    assert proc.returncode == 1
    error = proc.stderr.splitlines()[0]
    assert error.startswith("archsearch: error: --workers 1000 x --threads 1 is 1000 torch "
                            "threads for ") and "imports torch" in error, proc.stderr
    assert error.endswith("Use fewer --workers or --threads, or --oversubscribe to start them "
                          "all anyway."), error
    assert not run_dir.exists()
