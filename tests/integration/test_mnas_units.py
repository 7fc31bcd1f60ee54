"""The MnasNet reward is on one scale (accuracy as a fraction) via a table and via training."""

import json
import sqlite3

import pytest

import archsearch
from archsearch.benchmarks import write_table
from archsearch.cli import search
from archsearch.cli._common import DEFAULTS
from archsearch.evaluators import TrialContext
from archsearch.objectives import MnasReward
from conftest import cli

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|"


def settings(**given):
    return {**DEFAULTS, **search.SEARCH_DEFAULTS, **search.RUN_DEFAULTS, **given}


class Trained:
    """What partial training reports for ARCH: accuracy as a fraction."""

    objectives = (archsearch.Objective("val_accuracy"),)


def test_same_architecture_same_reward_via_a_table_and_via_training(tmp_path):
    table = tmp_path / "t.csv"
    write_table(table, [{"arch": ARCH, "acc": 80.0, "lat": 20.0}], {"space": "nb201"})
    cfg = settings(evaluator=f"table:{table}", objective="acc", mnas_target=10.0,
                   mnas_latency="lat")
    evaluator, _ = search._evaluator(cfg)
    space = archsearch.create_space("nb201")
    evaluator.setup(space)
    via_table = search._objective(cfg, evaluator)
    row = evaluator.evaluate(space.parse(ARCH), TrialContext(0, seed=0))
    via_training = search._objective(settings(mnas_target=10.0), Trained())
    trained = {"val_accuracy": 0.8, "latency_ms": 20.0}
    assert via_table.value(row) == pytest.approx(via_training.value(trained))
    assert 0 < via_table.value(row) < 1
    assert cfg["mnas_accuracy_scale"] == 0.01  # recorded in config.json, kept on resume


def test_table_search_stores_the_reward_of_fractions_and_old_runs_resume(tmp_path, nb201_table):
    def table_search(run, *extra):
        return cli("search", "--run-dir", str(run), "--evaluator", f"table:{nb201_table}",
                   "--space", "nb201", "--objective", "cifar10_val_acc_12ep", "--mnas-target",
                   "4", "--mnas-latency", "latency_ms_pixel3", "--strategy", "random", *extra)

    run = tmp_path / "run"
    table_search(run, "--budget", "3")
    shown = json.loads(cli("show", str(run), "--json").stdout)
    reward = MnasReward.soft("cifar10_val_acc_12ep", "latency_ms_pixel3", 4.0, 0.01)
    for t in shown["trials"]:
        assert t["values"]["mnas_reward"] == pytest.approx(reward.value(t["values"]))
        assert 0 < t["values"]["mnas_reward"] < 1
    assert shown["settings"]["objective"]["accuracy_scale"] == 0.01

    config = json.loads((run / "config.json").read_text())
    assert config["mnas_accuracy_scale"] == 0.01
    (run / "config.json").write_text(json.dumps({**config, "mnas_accuracy_scale": "abc"}))
    refused = cli("search", "--run-dir", str(run), "--resume", check=False)
    assert refused.returncode == 1 and "setting 'mnas_accuracy_scale' must be" in refused.stderr

    # a run made before the scale existed has it nowhere: it resumes with its own identity
    del config["mnas_accuracy_scale"]
    (run / "config.json").write_text(json.dumps(config))
    with sqlite3.connect(run / "store.db") as db:
        (text,) = db.execute("SELECT fingerprint FROM experiments").fetchone()
        stored = json.loads(text)
        del stored["objective"]["accuracy_scale"]
        db.execute("UPDATE experiments SET fingerprint=?", (json.dumps(stored, sort_keys=True),))
    cli("search", "--run-dir", str(run), "--resume", "--budget", "4")
    shown = json.loads(cli("show", str(run), "--json").stdout)
    assert "accuracy_scale" not in shown["settings"]["objective"]
    assert len(shown["trials"]) == 4
