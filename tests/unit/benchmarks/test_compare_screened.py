"""Comparing proxy-ranked strategies on a table: NASWOT's pick, screening, scoring counts."""

import json

import numpy as np
import pytest

import archsearch
from archsearch.benchmarks import compare_strategies
from archsearch.benchmarks.table import read_table, write_table
from archsearch.data import load_task
from archsearch.errors import InvalidParameterError
from archsearch.evaluators.cost import count_params
from archsearch.strategies import ProxyScorer
from conftest import cli

SPACE_ARGS = {"depth": 2, "filters": [4, 8], "kernel_sizes": [1, 3], "strides": [1],
              "skips": False}


@pytest.fixture(scope="module")
def params_table(tmp_path_factory):
    """Every architecture of a 64-architecture chain space; 'acc' is its parameter count."""
    space = archsearch.create_space("chain", **SPACE_ARGS)
    rng = np.random.default_rng(0)
    archs = {str(space.sample(rng)) for _ in range(3000)}
    assert len(archs) == 64
    rows = [{"arch": a, "acc": count_params(space.build(space.parse(a), (1, 8, 8), 10))}
            for a in sorted(archs)]
    path = tmp_path_factory.mktemp("t") / "t.csv"
    write_table(path, rows, {"space": "chain", "space_config": space.config()})
    return path


def test_a_proxy_equal_to_the_objective_makes_naswot_pick_the_optimum(params_table):
    table = read_table(params_table)
    space = archsearch.create_space("chain", **SPACE_ARGS)
    scorer = ProxyScorer(load_task("digits"), "params", batch_size=16)
    specs = ["random", "random:screen=4", "naswot:n=64"]
    result = compare_strategies(table, space, "acc", specs, budget=1, seeds=8, scorer=scorer)
    assert result.final("naswot:n=64") == (result.optimum, 0.0)
    assert result.final("random:screen=4")[0] > result.final("random")[0]
    assert result.proxy_evaluations == {"random:screen=4": [4] * 8, "naswot:n=64": [64] * 8}
    assert len(scorer) == 64 and scorer.seconds > 0  # each scored once across all runs
    with pytest.raises(InvalidParameterError, match="scorer=ProxyScorer"):
        compare_strategies(table, space, "acc", ["naswot"], budget=1, seeds=1)


def test_bench_compare_builds_the_scorer_from_the_dataset(params_table):
    out = cli("bench", "compare", "--table", str(params_table), "--objective", "acc",
              "--strategies", "naswot:n=64:proxy=params,evolution:screen=3:proxy=params",
              "--budget", "2", "--seeds", "2", "--dataset", "digits", "--batch-size", "16",
              "--json").stdout
    report = json.loads(out)
    assert report["strategies"]["naswot:n=64:proxy=params"]["mean"] == report["optimum"]
    missing = cli("bench", "compare", "--table", str(params_table), "--objective", "acc",
                  "--strategies", "naswot", check=False)
    assert missing.returncode != 0 and "--dataset" in missing.stderr
    mixed = cli("bench", "compare", "--table", str(params_table), "--objective", "acc",
                "--strategies", "naswot:proxy=params,random:screen=2", "--dataset", "digits",
                check=False)
    assert mixed.returncode != 0 and "One proxy per comparison" in mixed.stderr
