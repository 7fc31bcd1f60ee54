"""A run writes only inside its run directory, with the user's own permissions."""

import os
import stat
import subprocess
import sys


def test_search_and_train_write_only_inside_the_run_directory(tmp_path):
    run = tmp_path / "a" / "run"
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "MPLCONFIGDIR": str(home / "mpl")}
    old = os.umask(0o027)
    try:
        for args in (["search", "--budget", "2", "--epochs", "1", "--channels", "4", "--cells",
                      "1", "--threads", "1", "--name", "../../escape", "--run-dir", str(run)],
                     ["train", "--run-dir", str(run), "--epochs", "1", "--threads", "1"]):
            subprocess.run([sys.executable, "-m", "archsearch", *args], cwd=tmp_path, env=env,
                           check=True, capture_output=True, timeout=300)
    finally:
        os.umask(old)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and home not in p.parents]
    assert written and all(run in p.parents for p in written), written
    for path in written:  # the umask was honoured: nothing readable or writable by others
        assert not stat.S_IMODE(path.stat().st_mode) & 0o007, path
