import json
import subprocess
import sys

import numpy as np
import pytest

import archsearch
from archsearch.benchmarks import compare_strategies, plot_curves, read_table


@pytest.fixture(scope="module")
def nb201(nb201_table_module):
    space = archsearch.create_space("nb201")
    return read_table(nb201_table_module).index(space), space


@pytest.fixture(scope="module")
def nb201_table_module():
    from conftest import NB201_TABLE
    if not NB201_TABLE.is_file():
        pytest.skip(f"NAS-Bench-201 table not found at {NB201_TABLE}")
    return NB201_TABLE


def test_curves_are_monotone_in_the_objective_and_reported_correctly(nb201):
    table, space = nb201
    result = compare_strategies(table, space, "cifar10_val_acc_12ep", ["random", "evolution"],
                                budget=30, seeds=4, report="cifar10_val_acc_200ep")
    for curves in result.curves.values():
        assert curves.shape == (4, 30) and not np.isnan(curves).any()
        assert (curves <= result.optimum).all()
    # with report == objective the curve is best-so-far, so it never goes down
    same = compare_strategies(table, space, "cifar10_val_acc_12ep", ["random"], budget=30, seeds=3)
    assert (np.diff(same.curves["random"], axis=1) >= 0).all()
    mean, std = result.final("evolution")
    assert 80 < mean < 92 and std >= 0


def test_evolution_beats_random_on_nb201(nb201):
    table, space = nb201
    result = compare_strategies(table, space, "cifar10_val_acc_12ep", ["random", "evolution"],
                                budget=100, seeds=30, report="cifar10_val_acc_200ep")
    assert result.final("evolution")[0] > result.final("random")[0]


def test_plot_is_written(nb201, tmp_path):
    pytest.importorskip("matplotlib")
    table, space = nb201
    result = compare_strategies(table, space, "cifar10_val_acc_12ep", ["random"], budget=5, seeds=2)
    plot_curves(result, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_compare_json(nb201_table_module, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "archsearch", "bench", "compare", "--table", str(nb201_table_module),
         "--space", "nb201", "--objective", "cifar10_val_acc_12ep", "--report",
         "cifar10_val_acc_200ep", "--budget", "10", "--seeds", "3", "--json"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data["strategies"]) == {"random", "evolution"}
    assert len(data["strategies"]["random"]["curve_mean"]) == 10


def test_cli_compare_bad_column(nb201_table_module):
    proc = subprocess.run(
        [sys.executable, "-m", "archsearch", "bench", "compare", "--table", str(nb201_table_module),
         "--space", "nb201", "--objective", "cifar10_val_acc_12", "--budget", "3", "--seeds", "1"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "no numeric column 'cifar10_val_acc_12'" in proc.stderr


def test_cli_search_on_a_table(nb201_table_module, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "archsearch", "search", "--evaluator", f"table:{nb201_table_module}",
         "--objective", "cifar10_val_acc_12ep", "--budget", "30", "--run-dir", str(run)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    best = json.loads((run / "best.json").read_text())
    shown = json.loads(subprocess.run([sys.executable, "-m", "archsearch", "show", str(run),
                                       "--json"], capture_output=True, text=True).stdout)
    values = [t["values"]["cifar10_val_acc_12ep"] for t in shown["trials"]]
    assert len(values) == 30 and best["values"]["cifar10_val_acc_12ep"] == max(values)


def test_cli_table_evaluator_needs_an_objective(nb201_table_module, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "archsearch", "search", "--evaluator", f"table:{nb201_table_module}",
         "--budget", "3", "--run-dir", str(tmp_path / "r")], capture_output=True, text=True)
    assert proc.returncode == 1 and "needs --objective" in proc.stderr
    assert not (tmp_path / "r").exists()  # nothing written for a command that cannot run


def test_one_strategy_with_several_settings(nb201):
    table, space = nb201
    specs = ["reinforce:lr=0.3:batch_size=1", "reinforce:lr=1e-5"]
    result = compare_strategies(table, space, "cifar10_val_acc_12ep", specs, budget=40, seeds=2)
    assert list(result.curves) == specs
    assert not np.array_equal(result.curves[specs[0]], result.curves[specs[1]])


def test_bad_settings_fail_before_any_run(nb201):
    table, space = nb201
    with pytest.raises(archsearch.InvalidParameterError, match="lr"):
        compare_strategies(table, space, "cifar10_val_acc_12ep", ["random", "reinforce:lr=-1"],
                           budget=5, seeds=1)


def test_compare_under_a_mnas_reward_counts_picks_meeting_the_target(nb201_table_module):
    proc = subprocess.run(
        [sys.executable, "-m", "archsearch", "bench", "compare", "--table", str(nb201_table_module),
         "--space", "nb201", "--objective", "cifar10_val_acc_12ep", "--mnas-target", "8",
         "--mnas-latency", "latency_ms_pixel3", "--mnas-constraint", "hard",
         "--strategies", "random", "--budget", "30", "--seeds", "4", "--json"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["objective"]["kind"] == "mnas_reward" and out["objective"]["beta"] == -1.0
    assert out["objective"]["accuracy_scale"] == 0.01  # a table of percentages: ACC a fraction
    assert out["report"] == "cifar10_val_acc_12ep"
    assert 0 <= out["strategies"]["random"]["picks_meeting_target"] <= 4


def test_library_compare_keeps_each_pick(nb201):
    from archsearch.objectives import MnasReward
    table, space = nb201
    reward = MnasReward.hard("cifar10_val_acc_12ep", "latency_ms_pixel3", 8.0)
    result = compare_strategies(table, space, reward, ["random"], budget=20, seeds=3)
    picks = result.picks["random"]
    assert len(picks) == 3
    for pick, curve in zip(picks, result.curves["random"]):
        assert pick["mnas_reward"] == pytest.approx(reward.value(pick))
        assert curve[-1] == pick["cifar10_val_acc_12ep"]


@pytest.fixture
def small_table(tmp_path):
    from archsearch.benchmarks import write_table

    space = archsearch.create_space("nb201")
    rows = [{"arch": str(space.sample(np.random.default_rng(s))), "acc": float(s)} for s in range(8)]
    path = tmp_path / "t.csv"
    write_table(path, rows, {"space": "nb201"})
    return path


@pytest.mark.parametrize("where", ["missing/c.png", "file/c.png", "dir", "c.unknown"])
def test_cli_compare_checks_the_plot_path_before_any_run(small_table, tmp_path, monkeypatch,
                                                         capsys, where):
    pytest.importorskip("matplotlib")
    from archsearch.cli import bench, main

    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    ran = []
    monkeypatch.setattr(bench, "compare_strategies", lambda *a, **k: ran.append(1))
    code = main.main(["bench", "compare", "--table", str(small_table), "--objective", "acc",
                      "--budget", "2", "--seeds", "1", "--plot", str(tmp_path / where)])
    err = capsys.readouterr().err
    assert code == 1 and not ran, err
    assert err.startswith("archsearch: error: --plot ") and len(err.splitlines()) == 2, err


def test_cli_compare_prints_its_results_before_plotting(small_table, tmp_path, monkeypatch,
                                                         capsys):
    pytest.importorskip("matplotlib")
    from archsearch.cli import bench, main

    def broken(result, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bench, "plot_curves", broken)
    code = main.main(["bench", "compare", "--table", str(small_table), "--objective", "acc",
                      "--budget", "2", "--seeds", "2", "--json", "--plot", str(tmp_path / "c.png")])
    out, err = capsys.readouterr()
    assert code == 1 and "No space left" in err
    assert set(json.loads(out)["strategies"]) == {"random", "evolution"}
