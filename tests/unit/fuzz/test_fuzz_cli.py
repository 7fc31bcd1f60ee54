"""The command line, in process: random argument lists and real options with garbage values.

Every run must exit 0, 1 or 2 with at most one error line, no exception other than the
project's may be reported, and a failing command pointed at a finished run directory must
leave each of its files byte-identical. Budgets, epochs and sizes are pinned small at the end
of each argument list (argparse keeps the last value), so nothing real runs long.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from fuzz_support import check_cli, fuzz, print_summary, run_cli, tree_hashes
from hypothesis import given
from hypothesis import strategies as st

import archsearch
from archsearch.benchmarks.table import write_table

torch.set_num_threads(1)

NB201 = archsearch.create_space("nb201")
ARCH = str(NB201.sample(np.random.default_rng(0)))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fuzz-cli")
    run_dir = root / "run"
    code, _, err, _ = run_cli(["search", "--budget", "2", "--epochs", "1", "--channels", "4",
                               "--cells", "1", "--threads", "1", "--run-dir", str(run_dir)])
    assert code == 0, err
    table = root / "t.csv"
    write_table(table, [{"arch": str(NB201.sample(np.random.default_rng(s))), "acc": s / 10,
                         "latency_ms": s} for s in range(6)], {"space": "nb201"})
    (root / "junk.csv").write_bytes(b"\x00\xff garbage")
    (root / "junk.json").write_text("{")
    return {"root": root, "run": run_dir, "table": table}


TEXT = st.one_of(st.sampled_from(["", "-1", "0", "1", "2.5", "nan", "inf", "1e999", "x", "--", "-",
                                  "=", "a=b", "nb201", "chain", "mnas", "random", "evolution",
                                  "reinforce:lr=0.1", "naswot:n=2", "darts", "optuna-tpe", "train",
                                  "proxy", "proxy:synflow,bogus", "table:", "digits", "npz",
                                  "mnist", "cpu", "cuda:9", "x:y", "val_accuracy", "acc",
                                  "acc,latency_ms", "acc:max,latency_ms:min", "a,a", "3x8x8",
                                  "0x1x1", "1x8", "depth=2", "skips=[", "channels=2", "\u0663",
                                  "[" * 300, ARCH, ARCH[:-3], "1" * 40]),
                 st.text(max_size=6))
DEVICE = st.one_of(st.sampled_from(["cpu", "auto", "x", "cuda", "cuda:9", "cuda:-1", "mps", "meta",
                                    "cpu:0", "", "xla", "cuda:99999999999999999999"]), TEXT)
INT = st.one_of(st.integers(1, 4).map(str), st.integers(1, 4).map(str), st.integers(-3, 5).map(str),
                st.sampled_from(["x", "1.5", "", str(2**70)]))

COMMON_SPACE = {"--space": st.sampled_from(["nb201", "chain", "mnas", "bogus", ""]),
                "--channels": INT, "--cells": INT, "--space-arg": TEXT}
COMMON_DATA = {"--dataset": TEXT, "--data-dir": TEXT, "--data-path": TEXT,
               "--val-fraction": TEXT, "--n-train": INT, "--image-size": INT, "--seed": INT}
COMMON_TRAIN = {"--batch-size": INT, "--lr": TEXT, "--weight-decay": TEXT,
                "--crop-padding": INT, "--cutout": INT, "--hflip": None, "--no-hflip": None,
                "--device": DEVICE, "--threads": INT}
OPTIONS = {
    "search": {"--resume": None, "--strategy": TEXT, "--population-size": INT,
               "--sample-size": INT, "--name": TEXT, "--evaluator": TEXT, "--objective": TEXT,
               "--minimize": None, "--mnas-target": TEXT, "--mnas-latency": TEXT,
               "--mnas-constraint": TEXT, "--latency-table": TEXT, "--preset": TEXT,
               **COMMON_SPACE, **COMMON_DATA, **COMMON_TRAIN},
    "show": {"--name": TEXT, "--json": None, "--pareto": TEXT, "--plot": TEXT},
    "train": {"--arch": TEXT, "--out": TEXT, **COMMON_SPACE, **COMMON_DATA, **COMMON_TRAIN},
    "describe": {"--arch": TEXT, "--input": TEXT, "--classes": INT, "--json": None,
                 "--device": DEVICE, **COMMON_SPACE},
    "compare": {"--table": TEXT, "--space": TEXT, "--objective": TEXT, "--minimize": None,
                "--report": TEXT, "--strategies": TEXT, "--mnas-target": TEXT,
                "--mnas-latency": TEXT, "--mnas-constraint": TEXT, "--json": None,
                "--dataset": TEXT, "--batch-size": INT, "--image-size": INT},
}
SMALL = {  # appended last: argparse keeps the last value, so these bound every real run
    "search": ["--budget", "1", "--timeout", "1", "--epochs", "1", "--n-train", "60",
               "--channels", "2", "--cells", "1", "--threads", "1", "--image-size", "8"],
    "show": [],
    "train": ["--epochs", "1", "--n-train", "60", "--channels", "2", "--cells", "1",
              "--threads", "1", "--image-size", "8"],
    "describe": ["--batch", "0", "--channels", "2", "--cells", "1"],
    "compare": ["--budget", "3", "--seeds", "1"],
}


@st.composite
def argv(draw: st.DrawFn, world: dict[str, Path], run_dir: Path) -> list[str]:
    command = draw(st.sampled_from(sorted(OPTIONS)))
    places = {"run": str(run_dir), "store": str(run_dir / "store.db"), "best": str(run_dir / "best.json"),
              "missing": str(world["root"] / "missing"), "table": str(world["table"]),
              "junk": str(world["root"] / "junk.csv"), "junk-json": str(world["root"] / "junk.json")}
    place = st.sampled_from(sorted(places)).map(places.get)
    options = dict(OPTIONS[command])
    if command in ("search", "train"):
        options["--run-dir"] = place
    if command in ("train", "search"):
        options["--data-path"] = place
        options["--latency-table"] = place
    if command == "compare":
        options["--table"] = place
    if command == "search":  # never a search over DARTS cells here: slow, and covered elsewhere
        options["--strategy"] = TEXT.filter(lambda t: not t.startswith("darts"))
    tokens: list[str] = []
    for flag in draw(st.lists(st.sampled_from(sorted(options)), max_size=6)):
        tokens.append(flag)
        if options[flag] is not None:
            tokens.append(draw(options[flag]))
    head = ["bench", "compare"] if command == "compare" else [command]
    if command == "compare":  # its required options, so that most runs get past the parser
        head += ["--table", draw(place), "--objective", draw(st.sampled_from(["acc", "x"]) | TEXT)]
    if command == "describe":
        head += ["--arch", draw(st.sampled_from([ARCH]) | TEXT)]
    if command == "show":
        head.append(draw(place))
    if command == "train" and "--run-dir" not in tokens:  # else it would write to runs/train
        tokens += ["--out", str(world["root"] / "train-out")]
    if command == "search" and "--run-dir" not in tokens:
        tokens += ["--run-dir", str(run_dir)]
    if command == "search" and draw(st.booleans()):
        tokens.append("--resume")
    if draw(st.integers(0, 9)) == 0:  # a stray token
        tokens.insert(draw(st.integers(0, len(tokens))), draw(TEXT))
    return head + tokens + small(command, tokens)


def small(command: str, tokens: list[str]) -> list[str]:
    """SMALL[command], with --channels and --cells only for nb201 (other spaces refuse them),
    and small settings of the chain and mnas spaces in their place."""
    spaces = [tokens[i + 1] for i, t in enumerate(tokens[:-1]) if t == "--space"]
    space = spaces[-1] if spaces else "nb201"
    if space == "nb201" or command not in ("search", "train", "describe"):
        return SMALL[command]
    pinned, rest = SMALL[command], []
    skip = False
    for token in pinned:
        if skip:
            skip = False
        elif token in ("--channels", "--cells"):
            skip = True
        else:
            rest.append(token)
    extra = {"chain": ["--space-arg", "depth=2"], "mnas": ["--space-arg", "width=0.25",
                                                           "--space-arg", "n_blocks=2"]}
    return rest + extra.get(space, [])


@fuzz(300)
@given(data=st.data())
def test_commands_with_garbage_values(world: dict[str, Path], tmp_path_factory: pytest.TempPathFactory,
                                      data: st.DataObject) -> None:
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    shutil.copytree(world["run"], run_dir)
    before = tree_hashes(run_dir)
    args = data.draw(argv(world, run_dir))
    code = check_cli(f"cli:options-{args[0] if args[0] != 'bench' else 'compare'}", args)
    after = tree_hashes(run_dir)
    if code != 0:
        assert after == before, f"{args} failed and changed {run_dir}"
    else:  # a success may add files or rewrite its summary, never lose or damage the store
        assert set(before) <= set(after) and tree_hashes(run_dir).get("store.db")


@fuzz(300)
@given(st.lists(st.one_of(TEXT, st.sampled_from(["search", "show", "train", "describe", "bench",
                                                  "compare", "build", "--help", "-h", "--version",
                                                  "--debug", "--run-dir", "--arch", "--budget"])),
                max_size=6))
def test_random_argument_lists(world: dict[str, Path], args: list[str]) -> None:
    # nothing here may start a job: a search or a build would need no error to run long
    if {"search", "train", "build", "describe", "compare"} & set(args):
        args = [*args, "--no-such-option"]  # still parsed, always a usage error
    check_cli("cli:random-argv", args)


@fuzz(60)
@given(device=DEVICE, shape=st.sampled_from(["3x8x8", "1x1x1", "2x5x7", "0x8x8", "3x8", "x"]),
       command=st.sampled_from(["describe", "train"]))
def test_devices_and_shapes(world: dict[str, Path], device: str, shape: str, command: str) -> None:
    """A valid architecture, so that the device and the input shape are what is tried."""
    if command == "describe":
        args = ["describe", "--arch", ARCH, "--device", device, "--input", shape, *SMALL["describe"]]
    else:
        args = ["train", "--arch", ARCH, "--device", device, "--out", str(world["root"] / "dev"),
                *SMALL["train"]]
    check_cli(f"cli:device-{command}", args)


def test_summary() -> None:
    print_summary("cli:")


# Each numeric flag and the values outside its range: refused in one line, before any data
# is loaded or any folder made, whatever else the command line holds.
OUT_OF_RANGE = {
    "--budget": ["0", "-1"], "--timeout": ["0", "-1", "nan", "-inf"],
    "--budget-epochs": ["0", "-5"], "--budget-seconds": ["0", "-1", "nan"],
    "--population-size": ["0", "-2"], "--sample-size": ["0"], "--mnas-target": ["0", "inf", "nan"],
    "--workers": ["0", "-1"], "--trial-timeout": ["0", "nan", "-inf", "inf", "1e12"], "--max-retries": ["-1"],
    "--final-epochs": ["0"], "--channels": ["0", "-4"], "--cells": ["0", "-1", str(2**70)],
    "--val-fraction": ["0", "1", "-0.5", "1.5", "nan", "inf"], "--n-train": ["0", "-10"],
    "--image-size": ["0", "-8", "99999999"], "--seed": ["-1", str(2**32), str(2**70)],
    "--epochs": ["0", "-1"], "--batch-size": ["0", "-64"],
    "--lr": ["0", "-0.1", "nan", "inf", "-inf", "1e999"], "--weight-decay": ["-1", "nan", "inf"],
    "--crop-padding": ["-1"], "--cutout": ["-2"], "--threads": ["0", "-1"],
    "--label-smoothing": ["1", "-0.1", "nan"], "--drop-path": ["1", "nan"],
    "--aux-weight": ["-1", "inf"], "--ema": ["1", "-0.5", "nan"],
}
TRAIN_ONLY = ("--label-smoothing", "--drop-path", "--aux-weight", "--ema")
NOT_TRAIN = ("--budget", "--timeout", "--budget-epochs", "--budget-seconds", "--population-size",
             "--sample-size", "--mnas-target", "--workers", "--trial-timeout", "--max-retries",
             "--final-epochs")
SWEEP = [(command, flag, value) for flag, values in OUT_OF_RANGE.items() for value in values
         for command in ("search", "train") if flag not in (TRAIN_ONLY, NOT_TRAIN)[command == "train"]]
SWEEP += [("describe", flag, v) for flag in ("--channels", "--cells") for v in OUT_OF_RANGE[flag]]


@pytest.mark.parametrize("command, flag, value", SWEEP)
def test_out_of_range_numbers_are_refused_up_front(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   command: str, flag: str, value: str) -> None:
    from archsearch.cli import _common

    def load_task(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"{flag} {value}: data loaded before the flag was refused")

    monkeypatch.setattr(_common, "load_task", load_task)
    where = tmp_path / "out"
    argv = {"search": ["search", "--run-dir", str(where), "--backend", "pool"],
            "train": ["train", "--arch", ARCH, "--out", str(where)],
            "describe": ["describe", "--arch", ARCH]}[command]
    code, _, err, reported = run_cli([*argv, f"{flag}={value}"])
    lines = err.strip().splitlines()
    assert code == 1 and lines[0].startswith(f"archsearch: error: {flag} must be "), err
    assert len(lines) == 2 and all(issubclass(t, archsearch.ArchSearchError) for t in reported)
    assert not where.exists()
