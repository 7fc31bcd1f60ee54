"""bench compare at an equal budget of epochs, with and without early stopping on a table's fidelities."""

import json

import numpy as np
import pytest

import archsearch
from archsearch.benchmarks import compare_strategies
from archsearch.benchmarks.table import read_table, write_table
from archsearch.errors import IncompatibleError, InvalidParameterError
from conftest import cli

SPACE_ARGS = {"depth": 3, "filters": [4, 8], "kernel_sizes": [1, 3], "strides": [1],
              "skips": False}
FULL = 8


@pytest.fixture(scope="module")
def fidelity_table(tmp_path_factory):
    """Every architecture of a 512-architecture chain space with a 2- and an 8-epoch column.

    The 2-epoch value ranks like the 8-epoch one, with noise, as a real short training does.
    """
    space = archsearch.create_space("chain", **SPACE_ARGS)
    rng = np.random.default_rng(0)
    archs = sorted({str(space.sample(rng)) for _ in range(20000)})
    assert len(archs) == 512
    full = rng.uniform(80, 95, len(archs))
    rows = [{"arch": a, "acc_2ep": f - 20 + rng.normal(0, 1.5), f"acc_{FULL}ep": f,
             "params": float(i)} for i, (a, f) in enumerate(zip(archs, full))]
    path = tmp_path_factory.mktemp("t") / "fid.csv"
    write_table(path, rows, {"space": "chain", "space_config": space.config()})
    return path


def _compare(path, specs, budget, **kwargs):
    space = archsearch.create_space("chain", **SPACE_ARGS)
    return compare_strategies(read_table(path), space, f"acc_{FULL}ep", specs, budget=budget,
                              seeds=6, unit="epochs", **kwargs)


def test_every_run_spends_at_most_its_epochs_and_pruning_buys_more_trials(fidelity_table):
    budget = 30 * FULL
    result = _compare(fidelity_table, ["random", "random@asha:min_resource=2:eta=4"], budget,
                      points=12)
    assert result.unit == "epochs" and list(result.x) == list(range(20, budget + 1, 20))
    plain, pruned = result.trials["random"], result.trials["random@asha:min_resource=2:eta=4"]
    assert plain == [30] * 6 and result.pruned["random"] == [0] * 6
    for n, stopped in zip(pruned, result.pruned["random@asha:min_resource=2:eta=4"]):
        # a stopped trial cost 2 epochs, a complete one 8: together within the budget,
        # and the next full trial would not have fit
        assert budget - FULL < 2 * stopped + FULL * (n - stopped) <= budget
        assert stopped > 0 and n > 30
    for curves in result.curves.values():
        assert not np.isnan(curves).any() and (np.diff(curves, axis=1) >= 0).all()
    # with 2-epoch values that rank well, stopping the weak buys a better pick
    assert result.final("random@asha:min_resource=2:eta=4")[0] > result.final("random")[0]


def test_the_first_point_has_no_pick_before_a_full_trial_is_paid(fidelity_table):
    result = _compare(fidelity_table, ["random"], 4 * FULL, points=4 * FULL)
    curve = result.curves["random"]
    assert np.isnan(curve[:, :FULL - 1]).all() and not np.isnan(curve[:, FULL - 1]).any()


def test_a_budget_of_epochs_needs_an_objective_in_epochs_and_room_for_a_trial(fidelity_table):
    with pytest.raises(InvalidParameterError, match="buys no trial"):
        _compare(fidelity_table, ["random"], FULL - 1)
    space = archsearch.create_space("chain", **SPACE_ARGS)
    with pytest.raises(InvalidParameterError, match="'params' is not one"):
        compare_strategies(read_table(fidelity_table), space, "params", ["random"],
                           unit="epochs", budget=10, seeds=1)


def test_a_pruner_whose_rungs_miss_the_fidelities_is_refused_before_any_run(
        fidelity_table, monkeypatch):
    import archsearch.benchmarks.compare as compare

    ran = []
    monkeypatch.setattr(compare, "_one_run", lambda *a: ran.append(a))
    # rungs at 1, 3, 9: the table reports at 2 and 8 only, so nothing would ever be stopped
    with pytest.raises(IncompatibleError, match="e.g. asha:min_resource=2"):
        _compare(fidelity_table, ["random", "random@asha"], 40)
    assert ran == []
    monkeypatch.undo()
    with pytest.raises(IncompatibleError, match="e.g. hyperband:min_resource=2"):
        _compare(fidelity_table, ["random@hyperband:min_resource=3:eta=2"], 40)


@pytest.mark.parametrize("spec, match", [("random@", "names no pruner"),
                                         ("random@asha:eta=1", "eta"),
                                         ("random@median", "Unknown pruner 'median'")])
def test_a_bad_pruner_in_a_spec_fails_before_any_run(fidelity_table, spec, match):
    with pytest.raises(InvalidParameterError, match=match):
        _compare(fidelity_table, ["random", spec], 40)


def test_cli_compare_at_an_equal_budget_of_epochs(fidelity_table):
    out = cli("bench", "compare", "--table", str(fidelity_table), "--objective",
              f"acc_{FULL}ep", "--strategies", "random,random@hyperband:min_resource=2",
              "--budget-epochs", "80", "--seeds", "3", "--json")
    data = json.loads(out.stdout)
    assert data["unit"] == "epochs" and data["budget"] == 80 and data["x"][-1] == 80
    assert data["strategies"]["random"]["trials"] == 10.0
    assert data["strategies"]["random@hyperband:min_resource=2"]["trials"] >= 10.0
    text = cli("bench", "compare", "--table", str(fidelity_table), "--objective",
               f"acc_{FULL}ep", "--strategies", "random@asha:min_resource=2",
               "--budget-epochs", "80", "--seeds", "2").stdout
    assert "after 80 epochs" in text and "stopped" in text
    bad = cli("bench", "compare", "--table", str(fidelity_table), "--objective",
              f"acc_{FULL}ep", "--budget", "5", "--budget-epochs", "80", check=False)
    assert bad.returncode == 2 and "not allowed with argument" in bad.stderr
