"""search --evaluator proxy: search without training, then train the pick."""

import json

from conftest import cli


def test_search_without_training_picks_the_best_score(tmp_path):
    run = tmp_path / "run"
    cli("search", "--strategy", "random", "--evaluator", "proxy:naswot,params", "--budget", "8",
        "--channels", "4", "--cells", "1", "--batch-size", "32", "--threads", "1",
        "--run-dir", str(run))
    best = json.loads((run / "best.json").read_text())
    trials = json.loads(cli("show", str(run), "--json").stdout)["trials"]
    scores = [t["values"]["naswot"] for t in trials if t["state"] == "complete"]
    assert len(scores) == 8 and best["values"]["naswot"] == max(scores)
    assert {"naswot", "params", "proxy_seconds"} <= set(best["values"])
    trained = cli("train", "--run-dir", str(run), "--epochs", "1", "--threads", "1").stdout
    assert "test accuracy" in trained
    bad = cli("search", "--evaluator", "proxy:zen", "--run-dir", str(tmp_path / "b"), check=False)
    assert bad.returncode != 0 and "Unknown proxy 'zen'" in bad.stderr
