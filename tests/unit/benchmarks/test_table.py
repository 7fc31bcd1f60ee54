import gzip
import json

import numpy as np
import pytest

import archsearch
from archsearch import TrialContext, TrialState
from archsearch.benchmarks import TableError, read_table, space_of, write_table
from archsearch.benchmarks.table import meta_path
from archsearch.evaluators.tabular import TabularLookup

A = "|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
# isomorphic to A: node 1 is zero, so whatever reads it adds nothing
A_ISO = "|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"
B = "|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|none~2|"


@pytest.fixture
def space():
    return archsearch.create_space("nb201")


@pytest.fixture
def table_path(tmp_path):
    path = tmp_path / "t.csv.gz"
    write_table(path, [{"arch": A, "acc": 91.5, "lat": 2.0}, {"arch": B, "acc": 80.0, "lat": 1.0}],
                {"space": "nb201", "dataset": "toy"})
    return path


def test_write_read_round_trip(table_path, space):
    assert meta_path(table_path).name == "t.meta.json"
    table = read_table(table_path)
    assert table.archs == [A, B] and table.metrics == ["acc", "lat"]
    assert table.meta["dataset"] == "toy"
    assert space_of(table).name == "nb201"
    table.index(space)
    assert table.lookup(space.parse(B)) == {"acc": 80.0, "lat": 1.0}


def test_isomorphic_architectures_find_the_row(table_path, space):
    assert space.parse(A_ISO).key == space.parse(A).key
    table = read_table(table_path).index(space)
    assert table.lookup(space.parse(A_ISO))["acc"] == 91.5


def test_real_nb201_table_lookup_and_isomorphism(nb201_table, space):
    table = read_table(nb201_table).index(space)
    assert len(table) == 15625 and table.n_distinct == 6466
    best = float(np.nanmax(table.columns["cifar10_val_acc_200ep"]))
    assert best == pytest.approx(91.61, abs=0.01)
    conv = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    assert table.lookup(space.parse(conv))["params_m"] == pytest.approx(1.53, abs=0.005)
    # every string finds its own row first, not an isomorphic one
    for i in np.random.default_rng(0).choice(len(table), 50, replace=False):
        arch = space.parse(table.archs[i])
        assert table.lookup(arch)["nb201_index"] == table.columns["nb201_index"][i]


def test_unknown_architecture_fails_the_trial_with_its_name(table_path, space):
    ev = TabularLookup(table_path, "acc")
    ev.setup(space)
    missing = space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|")
    with pytest.raises(archsearch.TrialFailed, match=r"no row for \|none~0\|"):
        ev.evaluate(missing, TrialContext(0, 0))
    exp = archsearch.Experiment.create("t", space, archsearch.create_strategy("random"), ev,
                                       store=":memory:")
    exp.run(n_trials=5)
    assert {t.state for t in exp.trials()} <= {TrialState.COMPLETE, TrialState.FAILED}


def test_unknown_column_names_it(table_path, space):
    with pytest.raises(TableError, match="no numeric column 'accc'. Did you mean 'acc'"):
        TabularLookup(table_path, "accc").setup(space)


@pytest.mark.parametrize("content, match", [
    (b"", "is empty"),
    (b"name,acc\nx,1\n", "no 'arch' column"),
    (b"arch,acc\n", "no rows"),
    (b"arch,acc\n|bad|,1\n", "row 2: Malformed NB201 arch string"),
    (b"arch,acc\n" + A.encode() + b",1,2\n", "row 2: 3 fields"),
    (b"\xff\xfe\x00garbage", "Cannot read table"),
])
def test_malformed_tables(tmp_path, space, content, match):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(TableError, match=match) as info:
        read_table(path).index(space)
    assert "\n" not in str(info.value)


def test_corrupt_gzip_and_missing_file(tmp_path):
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(gzip.compress(b"arch,acc\n")[:10])
    with pytest.raises(TableError, match="Cannot read table"):
        read_table(path)
    with pytest.raises(TableError, match="No table at"):
        read_table(tmp_path / "nope.csv")


def test_bad_metadata(table_path):
    meta_path(table_path).write_text("{not json")
    with pytest.raises(TableError, match="Cannot read table metadata"):
        read_table(table_path)
    meta_path(table_path).write_text(json.dumps([1, 2]))
    with pytest.raises(TableError, match="JSON object"):
        read_table(table_path)


def test_table_without_space_needs_one(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text(f"arch,acc\n{A},1\n")
    with pytest.raises(TableError, match="names no space"):
        space_of(read_table(path))
    assert space_of(read_table(path), "nb201").name == "nb201"


def test_non_numeric_columns_are_not_metrics(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(f"arch,note,acc\n{A},hello,\n{B},x,3\n")
    table = read_table(path)
    assert table.metrics == ["acc"] and np.isnan(table.columns["acc"][0])


def test_one_bad_cell_names_its_row_and_column(tmp_path, space):
    path = tmp_path / "t.csv"
    path.write_text(f"arch,acc,lat\n{A},91.5,2\n{B},oops,1\n")
    table = read_table(path)
    assert table.metrics == ["lat"]
    with pytest.raises(TableError, match=r"column 'acc' is not numeric: row 3 holds 'oops'") as info:
        TabularLookup(path, "acc").setup(space)
    assert "Did you mean" not in str(info.value) and "\n" not in str(info.value)


def test_duplicate_columns_are_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(f"arch,acc,lat,acc\n{A},1,2,3\n")
    with pytest.raises(TableError, match=r"column 'acc' twice \(columns 2 and 4\)"):
        read_table(path)


def test_duplicate_rows_with_other_values_are_refused(tmp_path, space):
    path = tmp_path / "t.csv"
    path.write_text(f"arch,acc\n{A},1\n{B},2\n{A},3\n")
    with pytest.raises(TableError, match=r"rows 2 and 4 both hold .* with different values") as info:
        read_table(path).index(space)
    assert "\n" not in str(info.value)


def test_duplicate_rows_with_equal_values_are_kept(tmp_path, space):
    path = tmp_path / "t.csv"
    path.write_text(f"arch,acc,lat\n{A},1,\n{B},2,1\n{A},1,\n")
    table = read_table(path).index(space)
    assert table.lookup(space.parse(A))["acc"] == 1.0


def test_a_byte_order_mark_is_read(tmp_path, space):
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"arch,acc\n{A},1\n".encode())
    table = read_table(path).index(space)
    assert table.metrics == ["acc"] and table.lookup(space.parse(A)) == {"acc": 1.0}
    gz = tmp_path / "t.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert read_table(gz).archs == [A]


def test_an_all_nan_objective_is_refused_up_front(tmp_path, space):
    path = tmp_path / "t.csv"
    path.write_text(f"arch,acc,lat\n{A},,1\n{B},nan,2\n")
    with pytest.raises(TableError, match=r"column 'acc' holds no values \(its 2 rows are empty"):
        TabularLookup(path, "acc").setup(space)


def test_cli_search_on_an_all_nan_objective_exits_1(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "t.csv"
    write_table(path, [{"arch": A, "acc": float("nan")}, {"arch": B, "acc": float("nan")}],
                {"space": "nb201"})
    proc = subprocess.run([sys.executable, "-m", "archsearch", "bench", "compare", "--table",
                           str(path), "--objective", "acc", "--budget", "2", "--seeds", "1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2 and "holds no values" in proc.stderr
