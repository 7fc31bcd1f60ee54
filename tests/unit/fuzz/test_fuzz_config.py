"""Strategy specs, --space-arg pairs, space settings and a run directory's config.json.

A resumed search reads its settings back from config.json; whatever a user (or a crash, or
another program) leaves there must end in a one-line error, and a failed resume must leave
the run directory as it was.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from fuzz_support import check_cli, fuzz, outcome, print_summary, run_cli, tree_hashes
from hypothesis import given
from hypothesis import strategies as st

import archsearch
from archsearch.cli._common import read_json, space_args
from archsearch.errors import InvalidParameterError
from archsearch.spaces import SPACES
from archsearch.strategies import list_strategies, parse_strategy_spec

torch.set_num_threads(1)

SCALARS = (st.none() | st.booleans() | st.integers(-3, 40) | st.sampled_from([-2**70, 2**64, 10**30])
           | st.floats() | st.text(max_size=8))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
DEEP = st.integers(1, 3).map(lambda k: ["[" * 5000, "{\"a\":" * 3000 + "1", "[" * 100000][k - 1])
VALUE_TEXT = st.one_of(JSON.map(lambda v: json.dumps(v)), st.text(max_size=12), DEEP)


# --- strategy specs and --space-arg ---------------------------------------------------------
@st.composite
def spec(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from([*list_strategies(), "darts", "", "Random", "evolution "])
                | st.text(max_size=6))
    pairs = draw(st.lists(st.tuples(st.sampled_from(["lr", "screen", "proxy", "n", "x", "", "1a",
                                                     "a b", "screen_first"]) | st.text(max_size=4),
                                    st.sampled_from(["=", "", "=="]), VALUE_TEXT), max_size=3))
    return ":".join([name, *(k + s + v for k, s, v in pairs)])


@fuzz(300)
@given(spec())
def test_strategy_specs(text: str) -> None:
    parsed = outcome("config:strategy-spec", lambda: parse_strategy_spec(text))
    if parsed is not None:
        name, kwargs = parsed
        assert name in list_strategies() and isinstance(kwargs, dict)


@fuzz(300)
@given(st.lists(st.builds(lambda k, s, v: k + s + v, st.text(max_size=6), st.sampled_from(["=", ""]),
                          VALUE_TEXT), max_size=3))
def test_space_arg_pairs(pairs: list[str]) -> None:
    out = outcome("config:space-arg", lambda: space_args(pairs))
    if out is not None:
        assert isinstance(out, dict)


@pytest.mark.parametrize("name", sorted(SPACES.names()))
@fuzz(150)
@given(data=st.data())
def test_space_settings(name: str, data: st.DataObject) -> None:
    """Random JSON values for a space's real settings: a usable space or a one-line error."""
    import inspect

    params = list(inspect.signature(SPACES.get(name)).parameters)
    keys = data.draw(st.lists(st.sampled_from([*params, "bogus"]), max_size=2, unique=True))
    kwargs = {k: data.draw(JSON) for k in keys}

    def build() -> str:
        space = archsearch.create_space(name, **kwargs)
        space.check() if hasattr(space, "check") else None
        decisions = space.decisions()
        if len(decisions) > 2000:  # a legal but enormous space: creating it is enough
            return ""
        import numpy as np

        arch = space.sample(np.random.default_rng(0))
        assert space.parse(str(arch)) == arch
        return str(arch)

    outcome(f"config:space-settings:{name}", build)


# --- JSON files -------------------------------------------------------------------------------
@fuzz(200)
@given(st.one_of(st.binary(max_size=64), JSON.map(lambda v: json.dumps(v).encode()),
                 DEEP.map(str.encode)))
def test_read_json_files(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("json") / "config.json"
    path.write_bytes(data)
    out = outcome("config:json-file", lambda: read_json(path, "run configuration"),
                  InvalidParameterError)
    if out is not None:
        assert isinstance(out, dict)


# --- config.json of a finished run, through search --resume ----------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("fuzz-config") / "run"
    code, _, err, _ = run_cli(["search", "--budget", "2", "--epochs", "1", "--channels", "4",
                               "--cells", "1", "--threads", "1", "--run-dir", str(run_dir)])
    assert code == 0, err
    return run_dir


KEYS = ["space", "channels", "cells", "space_args", "dataset", "data_dir", "data_path",
        "val_fraction", "n_train", "image_size", "seed", "epochs", "batch_size", "lr",
        "weight_decay", "crop_padding", "cutout", "hflip", "device", "threads", "strategy",
        "population_size", "sample_size", "name", "evaluator", "objective", "minimize",
        "mnas_target", "mnas_latency", "mnas_constraint", "latency_table", "preset", "budget",
        "timeout", "unknown_key"]
TEXTS = st.sampled_from(["nb201", "darts", "chain", "digits", "npz", "cifar10", "image-folder",
                         "random", "evolution:screen=2", "reinforce:lr=[[", "darts", "train",
                         "proxy:naswot", "table:/nonexistent.csv", "cpu", "cuda:7", "auto", "x",
                         "val_accuracy:min", "latency_ms", "soft", "nas-rl", "/nonexistent",
                         "depth=8", ""])


def setting(key: str) -> st.SearchStrategy[object]:
    """Random JSON values for ``key``, short of those that start a legitimate, long job."""
    values = st.one_of(JSON, TEXTS)
    if key == "name":  # another name is a new search, which would run: only wrong types
        return JSON.filter(lambda v: not isinstance(v, str))
    if key == "image_size":  # a legal but enormous resize would only be slow
        return values.filter(lambda v: not (isinstance(v, int) and 64 < v < 2**63))
    return values


@st.composite
def config_edit(draw: st.DrawFn) -> dict[str, object]:
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True))
    return {k: draw(setting(k)) for k in keys}


@fuzz(300)
@given(edit=config_edit(), drop=st.booleans())
def test_resume_with_edited_config(finished_run: Path, tmp_path_factory: pytest.TempPathFactory,
                                   edit: dict[str, object], drop: bool) -> None:
    run_dir = tmp_path_factory.mktemp("resume") / "run"
    shutil.copytree(finished_run, run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    if drop:  # a key removed instead of changed
        config.pop(next(iter(edit)), None)
    else:
        config.update(edit)
    (run_dir / "config.json").write_text(json.dumps(config))
    before = tree_hashes(run_dir)
    code = check_cli("config:resume", ["search", "--resume", "--run-dir", str(run_dir),
                                       "--budget", "1", "--timeout", "1", "--threads", "1"])
    if code != 0:
        assert tree_hashes(run_dir) == before, f"a failed resume changed {run_dir}"


@fuzz(150)
@given(st.one_of(st.binary(max_size=40), JSON.map(lambda v: json.dumps(v).encode()),
                 DEEP.map(str.encode)))
def test_resume_with_garbled_config(finished_run: Path, tmp_path_factory: pytest.TempPathFactory,
                                    data: bytes) -> None:
    run_dir = tmp_path_factory.mktemp("garbled") / "run"
    shutil.copytree(finished_run, run_dir)
    (run_dir / "config.json").write_bytes(data)
    before = tree_hashes(run_dir)
    code = check_cli("config:resume-garbled", ["search", "--resume", "--run-dir", str(run_dir),
                                               "--budget", "1", "--timeout", "1", "--threads", "1"])
    if code != 0:
        assert tree_hashes(run_dir) == before


def test_summary() -> None:
    print_summary("config:")


def test_the_cli_check_catches_foreign_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI turns any exception into one line; the check must still see a KeyError escape."""
    from archsearch.cli import main as cli_main

    real = cli_main.build_parser

    def build():
        parser = real()
        commands = next(a for a in parser._actions if a.dest == "command")
        commands.choices["search"].set_defaults(handler=lambda args: {}["boom"])
        return parser

    monkeypatch.setattr(cli_main, "build_parser", build)
    with pytest.raises(AssertionError, match="KeyError escaped"):
        check_cli("config:self-test", ["search"])
