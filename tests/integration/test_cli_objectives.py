"""Objectives, Pareto fronts and presets from the command line."""

import json

import pytest

from conftest import cli


def table_search(run_dir, table, *extra):
    return cli("search", "--run-dir", str(run_dir), "--evaluator", f"table:{table}",
               "--space", "nb201", "--objective", "cifar10_val_acc_12ep", *extra)


def test_hard_mnas_reward_on_a_table_picks_within_the_target(tmp_path, nb201_table):
    run = tmp_path / "run"
    table_search(run, nb201_table, "--mnas-target", "4", "--mnas-latency", "latency_ms_pixel3",
                 "--mnas-constraint", "hard", "--strategy", "random", "--budget", "40")
    shown = json.loads(cli("show", str(run), "--json").stdout)
    trials = [t for t in shown["trials"] if t["state"] == "complete"]
    best = shown["best"]["values"]
    meeting = [t["values"] for t in trials if t["values"]["latency_ms_pixel3"] <= 4]
    assert meeting, "a random sample of 40 has cells under 4 ms"
    # under a hard constraint the best trial meets T and is the most accurate that does
    assert best["latency_ms_pixel3"] <= 4
    assert best["cifar10_val_acc_12ep"] == max(v["cifar10_val_acc_12ep"] for v in meeting)
    assert best["mnas_reward"] == pytest.approx(best["cifar10_val_acc_12ep"] / 100)  # a fraction
    assert shown["settings"]["objective"]["kind"] == "mnas_reward"

    # the reward's accuracy and latency give the default Pareto front; it is non-dominated
    front = set(shown["pareto"]["trials"])
    acc_lat = {t["number"]: (t["values"]["cifar10_val_acc_12ep"],
                             t["values"]["latency_ms_pixel3"]) for t in trials}
    for n, (a, lat) in acc_lat.items():
        dominated = any(a2 >= a and l2 <= lat and (a2, l2) != (a, lat)
                        for a2, l2 in acc_lat.values())
        assert (n in front) == (not dominated)

    png = tmp_path / "front.png"
    out = cli("show", str(run), "--plot", str(png))
    assert "Pareto front of cifar10_val_acc_12ep (max) and latency_ms_pixel3 (min)" in out.stdout
    assert "<- best" in out.stdout and png.read_bytes()[:4] == b"\x89PNG"


def test_pareto_of_any_two_metrics_and_a_minimised_objective(tmp_path, nb201_table):
    run = tmp_path / "run"
    table_search(run, nb201_table, "--strategy", "evolution", "--budget", "15",
                 "--objective", "cifar10_val_acc_12ep:min")
    shown = json.loads(cli("show", str(run), "--json", "--pareto",
                           "params_m,cifar10_val_acc_12ep:max").stdout)
    assert shown["pareto"]["metrics"] == [["params_m", "minimize"], ["cifar10_val_acc_12ep", "maximize"]]
    accs = [t["values"]["cifar10_val_acc_12ep"] for t in shown["trials"]]
    assert shown["best"]["values"]["cifar10_val_acc_12ep"] == min(accs)


@pytest.mark.parametrize("extra, message", [
    (["--mnas-target", "4"], "--mnas-latency COLUMN"),
    (["--mnas-latency", "latency_ms_pixel3"], "needs --mnas-target"),
    (["--mnas-target", "-1", "--mnas-latency", "latency_ms_pixel3"],
     "--mnas-target must be a finite number > 0"),
    (["--strategy", "reinforce:lr"], "NAME[:KEY=VALUE]"),
    (["--objective", "cifar10_val_acc_12ep:mid"], ":max or :min"),
    (["--objective", "cifar10_val_acc_12ep:max", "--minimize"], "contradicts"),
])
def test_bad_objective_options_are_one_line(tmp_path, nb201_table, extra, message):
    proc = cli("search", "--run-dir", str(tmp_path / "r"), "--evaluator", f"table:{nb201_table}",
               "--space", "nb201", "--objective", "cifar10_val_acc_12ep", "--budget", "1", *extra,
               check=False)
    assert proc.returncode == 1 and message in proc.stderr.splitlines()[0], proc.stderr
    assert not (tmp_path / "r").exists()


def test_show_rejects_unknown_pareto_metrics(tmp_path, nb201_table):
    run = tmp_path / "run"
    table_search(run, nb201_table, "--strategy", "random", "--budget", "2")
    proc = cli("show", str(run), "--pareto", "cifar10_val_acc_12ep,latency", check=False)
    assert proc.returncode == 1 and "No trial has metric 'latency'" in proc.stderr
    proc = cli("show", str(run), "--plot", str(tmp_path / "x.png"), check=False)
    assert proc.returncode == 1 and "--plot needs --pareto" in proc.stderr


@pytest.mark.parametrize("preset, space, extra", [
    ("nas-rl", "chain", ["--space-arg", "depth=2"]),
    ("nasnet", "darts", ["--channels", "4", "--space-arg", "layers=3"]),
])
def test_presets_search_then_train(tmp_path, preset, space, extra):
    run = tmp_path / "run"
    out = cli("search", "--preset", preset, "--run-dir", str(run), "--budget", "2", "--epochs", "1",
              "--n-train", "300", "--threads", "1", *extra)
    assert "best of 2 complete trials" in out.stdout
    config = json.loads((run / "config.json").read_text())
    assert config["space"] == space and config["strategy"] == "reinforce"
    assert config["preset"] == preset
    if preset == "nas-rl":  # the user's setting refines the preset's, the rest stay
        assert config["space_args"]["depth"] == 2 and config["space_args"]["filters"] == [24, 36, 48, 64]
    shown = json.loads(cli("show", str(run), "--json").stdout)
    assert shown["settings"]["strategy"]["name"] == "reinforce"
    out = cli("train", "--run-dir", str(run), "--epochs", "1", "--threads", "1")
    assert "test accuracy" in out.stdout


def test_several_objectives_search_for_a_pareto_front(tmp_path, nb201_table):
    pytest.importorskip("optuna")
    run = tmp_path / "run"
    out = table_search(run, nb201_table, "--objective", "cifar10_val_acc_12ep,latency_ms_pixel3",
                       "--strategy", "optuna-nsga2:population_size=8", "--budget", "24").stdout
    assert "Pareto front" in out
    shown = json.loads(cli("show", str(run), "--json").stdout)
    assert shown["settings"]["objective"]["metrics"] == [
        ["cifar10_val_acc_12ep", "maximize"], ["latency_ms_pixel3", "minimize"]]
    front = shown["pareto"]["trials"]
    values = {t["number"]: t["values"] for t in shown["trials"] if t["state"] == "complete"}
    assert front and shown["best"]["number"] == front[0]
    best_acc = max(v["cifar10_val_acc_12ep"] for v in values.values())
    assert values[front[0]]["cifar10_val_acc_12ep"] == best_acc
    fastest = min(v["latency_ms_pixel3"] for v in values.values())
    assert min(values[n]["latency_ms_pixel3"] for n in front) == fastest
    proc = cli("search", "--run-dir", str(tmp_path / "e"), "--evaluator", f"table:{nb201_table}",
               "--space", "nb201", "--objective", "cifar10_val_acc_12ep,latency_ms_pixel3",
               "--strategy", "evolution", "--budget", "2", check=False)
    assert proc.returncode == 1 and "needs a single objective" in proc.stderr


FAST = ["--dataset", "digits", "--channels", "4", "--cells", "1", "--epochs", "1",
        "--n-train", "300", "--threads", "1", "--strategy", "random", "--budget", "2"]


def test_mnas_reward_with_measured_and_predicted_latency(tmp_path):
    from archsearch import create_space
    from archsearch.evaluators import build_latency_table
    from archsearch.objectives import MnasReward

    run = tmp_path / "measured"
    out = cli("search", "--run-dir", str(run), "--mnas-target", "1.5", *FAST).stdout
    assert "latency_ms" in out and "mnas_reward" in out
    reward = MnasReward.soft("val_accuracy", "latency_ms", 1.5)
    for t in json.loads(cli("show", str(run), "--json").stdout)["trials"]:
        assert t["values"]["latency_ms"] > 0
        assert t["values"]["mnas_reward"] == pytest.approx(reward.value(t["values"]))

    table = tmp_path / "lat.json"
    space = create_space("nb201", channels=4, cells_per_stage=1)
    build_latency_table(space, (1, 8, 8), 10, n_archs=3, n_calibrate=3, n_warmup=0,
                        n_repeat=2).save(table)
    run = tmp_path / "predicted"
    cli("search", "--run-dir", str(run), "--mnas-target", "1.5", "--mnas-constraint", "hard",
        "--latency-table", str(table), *FAST)
    shown = json.loads(cli("show", str(run), "--json").stdout)
    assert shown["settings"]["objective"]["latency"] == "latency_ms_predicted"
    reward = MnasReward.hard("val_accuracy", "latency_ms_predicted", 1.5)
    for t in shown["trials"]:
        assert "latency_ms" not in t["values"]  # predicted, not measured
        assert t["values"]["mnas_reward"] == pytest.approx(reward.value(t["values"]))
