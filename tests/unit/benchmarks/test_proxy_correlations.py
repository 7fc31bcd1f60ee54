"""bench proxies: each proxy's rank agreement with a table column, through the CLI too."""

import json

import numpy as np
import pytest

import archsearch
from archsearch.benchmarks.proxies import proxy_correlations
from archsearch.benchmarks.table import read_table, write_table
from archsearch.data import load_task
from archsearch.evaluators.cost import count_params
from conftest import cli


@pytest.fixture
def params_table(tmp_path):
    """A table whose 'acc' column is each network's parameter count."""
    space = archsearch.create_space("nb201", channels=4, cells_per_stage=1)
    rng = np.random.default_rng(0)
    archs = {str(space.sample(rng)) for _ in range(40)}
    rows = [{"arch": a, "acc": count_params(space.build(space.parse(a), (1, 8, 8), 10))}
            for a in sorted(archs)[:12]]
    path = tmp_path / "t.csv"
    write_table(path, rows, {"space": "nb201", "space_config": space.config()})
    return path, space


def test_a_proxy_equal_to_the_column_ranks_it_perfectly(params_table):
    path, space = params_table
    table = read_table(path)
    report = proxy_correlations(table, space, load_task("digits"), sample=12, column="acc",
                                proxies=("params", "naswot"), batch_size=16)
    assert report.n == 12 and report.kendall_tau["params"] == pytest.approx(1.0)
    assert report.spearman_rho["params"] == pytest.approx(1.0)
    assert -1 <= report.kendall_tau["naswot"] <= 1 and report.seconds_per_arch["naswot"] > 0
    again = proxy_correlations(table, space, load_task("digits"), sample=12, column="acc",
                               proxies=("naswot",), batch_size=16)
    assert again.scores["naswot"] == report.scores["naswot"]


def test_bench_proxies_command(params_table):
    path, _ = params_table
    out = cli("bench", "proxies", "--table", str(path), "--dataset", "digits", "--sample", "6",
              "--proxies", "params,synflow", "--column", "acc", "--batch-size", "16",
              "--threads", "1", "--json").stdout
    report = json.loads(out)
    assert report["n"] == 6 and report["kendall_tau"]["params"] == pytest.approx(1.0)
    bad = cli("bench", "proxies", "--table", str(path), "--dataset", "digits", "--proxies",
              "zen", "--column", "acc", check=False)
    assert bad.returncode != 0 and "Unknown proxy 'zen'" in bad.stderr
