"""archsearch search --prune: pruned trials shown with their epochs; the pruner is identity."""

import json

from conftest import cli

FAST = ["--dataset", "digits", "--n-train", "300", "--channels", "4", "--cells", "1",
        "--threads", "1", "--strategy", "random"]


def test_search_prunes_shows_epochs_and_resumes_with_the_same_pruner(tmp_path):
    run_dir = str(tmp_path / "run")
    cli("search", *FAST, "--epochs", "3", "--budget", "5", "--prune", "asha:eta=2",
        "--run-dir", run_dir)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["prune"] == "asha:eta=2"
    trials = json.loads(cli("show", run_dir, "--json").stdout)["trials"]
    pruned = [t for t in trials if t["state"] == "pruned"]
    assert pruned and all(t["values"]["epochs"] in (1, 2) for t in pruned), trials
    assert "stopped after epoch" in cli("show", run_dir).stdout

    out = cli("search", "--resume", "--run-dir", run_dir, "--prune", "asha:eta=3", check=False)
    assert out.returncode == 1 and "pruner.eta was 2, now 3" in out.stderr
    cli("search", "--resume", "--run-dir", run_dir, "--budget", "6")  # the stored pruner
    assert len(json.loads(cli("show", run_dir, "--json").stdout)["trials"]) == 6


def test_bad_pruner_settings_fail_before_anything_is_written(tmp_path):
    run_dir = tmp_path / "run"
    out = cli("search", *FAST, "--prune", "asha:eta=1", "--run-dir", str(run_dir), check=False)
    assert out.returncode == 1 and "'eta' parameter of SuccessiveHalving" in out.stderr
    out = cli("search", *FAST, "--prune", "median", "--run-dir", str(run_dir), check=False)
    assert out.returncode == 1 and "Unknown pruner 'median'" in out.stderr
    out = cli("search", *FAST, "--budget-seconds", "-1", "--run-dir", str(run_dir), check=False)
    assert out.returncode == 1 and "--budget-seconds must be a number > 0" in out.stderr
    assert not run_dir.exists()


def test_hyperband_under_a_budget_of_seconds(tmp_path):
    run_dir = str(tmp_path / "run")
    # a trial of 30 epochs takes a second or two (far longer on a loaded machine); the first
    # of each bracket is never stopped by the pruner, only by the budget
    proc = cli("search", *FAST, "--epochs", "30", "--prune", "hyperband:min_resource=10:eta=2",
               "--budget-seconds", "6", "--run-dir", run_dir, check=False)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["budget"] is None and config["budget_seconds"] == 6
    trials = json.loads(cli("show", run_dir, "--json").stdout)["trials"]
    last = trials[-1]
    if last["state"] == "pruned":  # else the budget ran out in its last epoch: it completed
        assert "the budget of 6 seconds was spent" in last["error"]
        assert 0 < last["values"]["epochs"] < 30
    spent = [t["duration_s"] for t in trials]
    assert sum(spent[:-1]) < 6 <= sum(spent)  # none started after the budget was spent
    if proc.returncode == 0:
        assert trials[0]["state"] == "complete"
    else:  # so slow a machine that the budget ran out inside the first trial
        assert len(trials) == 1 and "No trial of 'search' completed" in proc.stderr


def test_a_table_search_spends_its_budget_of_epochs_exactly(tmp_path, nb201_table):
    run_dir = str(tmp_path / "run")
    cli("search", "--evaluator", f"table:{nb201_table}", "--space", "nb201", "--objective",
        "cifar10_val_acc_200ep", "--strategy", "random", "--prune", "asha:min_resource=12",
        "--budget-epochs", "2000", "--run-dir", run_dir)
    trials = json.loads(cli("show", run_dir, "--json").stdout)["trials"]
    paid = sum(200 if t["state"] == "complete" else t["values"]["epochs"] for t in trials)
    assert 2000 - 200 < paid <= 2000 and any(t["state"] == "pruned" for t in trials)
    out = cli("search", "--evaluator", f"table:{nb201_table}", "--space", "nb201",
              "--objective", "params_m", "--budget-epochs", "100",
              "--run-dir", str(tmp_path / "bad"), check=False)
    assert out.returncode == 1 and "--budget-epochs needs an evaluator" in out.stderr


def test_a_run_directory_from_before_pruning_resumes(tmp_path):
    run_dir = tmp_path / "run"
    cli("search", *FAST, "--epochs", "1", "--budget", "1", "--run-dir", str(run_dir))
    config = json.loads((run_dir / "config.json").read_text())
    for key in ("prune", "budget_epochs", "budget_seconds"):  # written by newer versions only
        del config[key]
    (run_dir / "config.json").write_text(json.dumps(config))
    cli("search", "--resume", "--run-dir", str(run_dir), "--budget", "2")
    assert len(json.loads(cli("show", str(run_dir), "--json").stdout)["trials"]) == 2
