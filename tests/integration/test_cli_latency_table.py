"""``archsearch latency-table``: the file it writes is what ``search --latency-table`` reads."""

import contextlib
import io
import json
import os

import pytest
from tests.conftest import cli

from archsearch import TrialContext, create_space
from archsearch.cli.main import main
from archsearch.evaluators.latency_table import LatencyLookup, LatencyTable

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|"
TINY = ["--space", "nb201", "--channels", "4", "--cells", "1", "--archs", "4", "--calibrate", "3",
        "--warmup", "0", "--repeats", "2", "--threads", "1"]


def build(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["latency-table", *argv])
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def test_a_built_table_is_accepted_by_search(tmp_path):
    path = tmp_path / "lat.json"
    code, out, _ = build(*TINY, "--dataset", "digits", "--out", str(path))
    assert code == 0 and out.strip() == str(path)
    table = LatencyTable.load(path)
    assert table.input_shape == (1, 8, 8) and len(table) > 10
    assert table.calibration.n_models == 3
    # the library's evaluator reads it, and so does the command line's search
    lookup = LatencyLookup(path)
    space = create_space("nb201", channels=4, cells_per_stage=1)
    lookup.setup(space)
    arch = space.parse(ARCH)
    assert lookup.evaluate(arch, TrialContext(0, seed=0))["latency_ms_predicted"] > 0
    assert len(lookup._table) == len(table)  # every operation of the arch was in the table


@pytest.mark.slow
def test_search_reads_a_built_table(tmp_path):  # about 30 s: a search in a subprocess
    path = tmp_path / "lat.json"
    assert build(*TINY, "--dataset", "digits", "--out", str(path))[0] == 0
    run = tmp_path / "run"
    cli("search", "--run-dir", str(run), "--latency-table", str(path), "--dataset", "digits",
        "--channels", "4", "--cells", "1", "--epochs", "1", "--n-train", "200", "--threads", "1",
        "--strategy", "random", "--budget", "1")
    trial = json.loads(cli("show", str(run), "--json").stdout)["trials"][0]
    assert trial["values"]["latency_ms_predicted"] > 0


def test_an_existing_file_is_kept_unless_forced(tmp_path):
    path = tmp_path / "lat.json"
    path.write_text("keep me")
    code, _, err = build(*TINY, "--input", "1x8x8", "--out", str(path))
    assert code == 1 and "exists; pass --force" in err and path.read_text() == "keep me"
    code, _, _ = build(*TINY, "--input", "1x8x8", "--classes", "3", "--out", str(path), "--force")
    assert code == 0 and LatencyTable.load(path).input_shape == (1, 8, 8)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("argv, words", [
    (["--calibrate", "2"], "--calibrate must be an int in [3, 10000]"),
    (["--archs", "2"], "--archs must be an int in [3, 10000]"),
    (["--repeats", "0"], "--repeats must be"),
    (["--warmup", "-1"], "--warmup must be"),
    (["--batch", "0"], "--batch must be"),
    (["--threads", "0"], "--threads must be"),
    (["--classes", "0"], "--classes must be"),
    (["--input", "1x8"], "--input must look like CxHxW"),
    (["--space", "nb210"], "Did you mean 'nb201'"),
    (["--device", "gpu7"], "--device must be"),
    (["--dataset", "digits", "--input", "1x8x8"], "Give --dataset or --input/--classes"),
    (["--image-size", "8"], "go with --dataset"),
    (["--dataset", "digitz"], "Did you mean 'digits'"),
    (["--space-arg", "nope=1"], "nope"),
])
def test_bad_flags_get_one_line_and_write_nothing(tmp_path, argv, words):
    path = tmp_path / "lat.json"
    code, out, err = build(*TINY, *argv, "--out", str(path))
    assert code == 1 and out == "" and not path.exists()
    line = err.splitlines()[0]
    assert line.startswith("archsearch: error: ") and words in line


def test_an_out_in_a_missing_folder_or_a_folder_is_refused(tmp_path):
    code, _, err = build(*TINY, "--out", str(tmp_path / "no" / "lat.json"))
    assert code == 1 and "does not exist" in err
    code, _, err = build(*TINY, "--out", str(tmp_path), "--force")
    assert code == 1 and "is not a file" in err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_folder_is_refused_before_timing(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        code, _, err = build(*TINY, "--out", str(folder / "lat.json"))
    finally:
        folder.chmod(0o700)
    assert code == 1 and "is not writable" in err
