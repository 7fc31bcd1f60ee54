"""``archsearch search --strategy darts``: the run directory, show, train and resume."""

import json

from conftest import cli

SMALL = ["--dataset", "digits", "--n-train", "48", "--channels", "2", "--cells", "1",
         "--batch-size", "24", "--threads", "1"]


def test_darts_search_show_and_train(tmp_path):
    run = tmp_path / "run"
    out = cli("search", "--strategy", "darts:order=2:hessian_iters=2", "--run-dir", str(run),
              "--epochs", "2", *SMALL).stdout
    assert "DARTS finished: 2 of 2 epochs" in out
    best = json.loads((run / "best.json").read_text())
    assert best["strategy"] == "darts" and best["values"]["epoch"] == 2.0

    shown = cli("show", str(run)).stdout
    assert "DARTS order 2" in shown and f"result: epoch 2  {best['arch']}" in shown
    assert [line[:9] for line in shown.splitlines()[1:3]] == ["epoch   1", "epoch   2"]
    data = json.loads(cli("show", str(run), "--json").stdout)
    assert [len(e["alphas"]["alphas"]) for e in data["epochs"]] == [6, 6]
    assert data["result"]["arch"] == best["arch"]

    # resuming a finished search changes nothing; its identity settings are checked
    again = cli("search", "--resume", "--run-dir", str(run)).stdout
    assert "DARTS finished: 2 of 2 epochs" in again
    refused = cli("search", "--resume", "--run-dir", str(run), "--strategy", "darts:order=1:hessian_iters=2",
                  check=False)
    assert refused.returncode != 0 and "strategy.order was 2, now 1" in refused.stderr

    trained = cli("train", "--run-dir", str(run), "--epochs", "1", "--threads", "1").stdout
    assert "test accuracy" in trained and (run / "final" / "model.pt").is_file()


def test_darts_refuses_what_does_not_apply_in_one_line(tmp_path):
    for extra, message in [(["--budget", "5"], "--budget does not apply to DARTS"),
                           (["--strategy", "darts:momentum_x=1"], "DARTS has no setting"),
                           (["--strategy", "darts:epochs=3"], "with --epochs"),
                           (["--strategy", "darts:order=3"], "order must be 1 or 2")]:
        args = ["search", "--run-dir", str(tmp_path / "r"), *SMALL]
        if "--strategy" not in extra:
            args += ["--strategy", "darts"]
        proc = cli(*args, *extra, check=False)
        assert proc.returncode != 0
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2, proc.stderr
        assert not (tmp_path / "r" / "store.db").exists()
