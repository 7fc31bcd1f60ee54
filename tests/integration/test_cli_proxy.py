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


def test_naswot_strategy_trains_the_top_k_by_proxy(tmp_path):
    """The hybrid: score 12 untrained, train the best 2 briefly, keep the better."""
    import archsearch
    from archsearch.data import load_task
    from archsearch.strategies import ProxyScorer, TrainingFree
    from archsearch.types import Objective

    run = tmp_path / "run"
    cli("search", "--strategy", "naswot:n=12:proxy=params", "--budget", "2", "--epochs", "1",
        "--channels", "4", "--cells", "1", "--threads", "1", "--seed", "3",
        "--run-dir", str(run))
    trials = json.loads(cli("show", str(run), "--json").stdout)["trials"]
    space = archsearch.create_space("nb201", channels=4, cells_per_stage=1)
    ranked = TrainingFree(n=12, scorer=ProxyScorer(load_task("digits", seed=3), "params"))
    ranked.setup(space, Objective("val_accuracy"), seed=3)
    assert [t["arch"] for t in trials] == [str(a) for a in ranked.ranked[:2]]
    assert all("val_accuracy" in t["values"] for t in trials)
    resumed = cli("search", "--resume", "--budget", "3", "--run-dir", str(run),
                  "--threads", "1").stdout
    trials = json.loads(cli("show", str(run), "--json").stdout)["trials"]
    assert "best of 3" in resumed and trials[2]["arch"] == str(ranked.ranked[2])
    bad = cli("search", "--strategy", "reinforce:screen=4", "--run-dir", str(tmp_path / "b"),
              check=False)
    assert bad.returncode != 0 and "not with 'reinforce'" in bad.stderr
