"""``archsearch list KIND``: every name a flag takes, with settings read from the code."""

import contextlib
import io
import json

import pytest

from archsearch.cli.main import main
from archsearch.errors import InvalidParameterError
from archsearch.pruners import create_pruner
from archsearch.strategies import STRATEGIES, Strategy, build_strategy, parse_spec


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def entries(kind):
    code, out, _ = run("list", kind, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["kind"] == kind
    return {e["name"]: e for e in data["entries"]}


def settings(entry):
    return {s["name"]: s.get("default", "REQUIRED") for s in entry["settings"]}


@pytest.mark.parametrize("kind", ["strategies", "pruners", "evaluators", "spaces", "datasets",
                                  "proxies"])
def test_every_kind_lists_names_with_a_description_and_usage(kind):
    rows = entries(kind)
    assert rows and all(r["description"] and r["usage"] for r in rows.values())
    code, out, _ = run("list", kind)
    assert code == 0 and all(name in out for name in rows)


def test_settings_and_defaults_are_the_constructors():
    assert settings(entries("strategies")["evolution"]) == {"population_size": 20, "sample_size": 5}
    assert settings(entries("pruners")["asha"]) == {"min_resource": 1, "eta": 3}
    assert settings(entries("pruners")["hyperband"]) == {"min_resource": 1, "max_resource": None,
                                                         "eta": 3}
    assert settings(entries("spaces")["nb201"]) == {"channels": 16, "cells_per_stage": 5}
    assert settings(entries("strategies")["darts"])["order"] == 1
    assert "scorer" not in settings(entries("strategies")["naswot"])  # set from flags
    assert "fisher_channel" in entries("evaluators")["proxy"]["settings"][0]["choices"]
    code, out, _ = run("list", "pruners")
    assert "min_resource=1  eta=3" in out


def test_a_newly_registered_strategy_is_listed_with_its_settings():
    class Toy(Strategy):
        """A toy strategy."""

        def __init__(self, width: int = 7, mode: str = "fast") -> None:
            self.width, self.mode = width, mode

    STRATEGIES.register("toy-listed")(Toy)
    try:
        toy = entries("strategies")["toy-listed"]
    finally:
        STRATEGIES._factories.pop("toy-listed")
    assert toy["description"] == "A toy strategy."
    assert settings(toy) == {"width": 7, "mode": "fast"}


def test_every_listed_setting_is_accepted_in_a_spec_with_its_default():
    for name, entry in entries("strategies").items():
        if name.startswith("(") or name == "darts":
            continue
        spec = ":".join([name] + [f"{k}={json.dumps(v)}" for k, v in settings(entry).items()])
        build_strategy(*parse_spec(spec))
    for name, entry in entries("pruners").items():
        spec = ":".join([name] + [f"{k}={json.dumps(v)}" for k, v in settings(entry).items()])
        assert create_pruner(spec).config()["name"] == name
    with pytest.raises(InvalidParameterError):  # and a setting not listed is refused
        create_pruner("asha:not_listed=1")


@pytest.mark.parametrize("kind, words", [("strategy", "Did you mean 'strategies'?"),
                                         ("prunres", "Did you mean 'pruners'?"),
                                         ("", "Unknown list kind ''"),
                                         ("zzz", "Known: datasets, evaluators")])
def test_an_unknown_kind_is_one_line_with_a_suggestion(kind, words):
    code, out, err = run("list", kind)
    assert code == 1 and out == ""
    assert err.splitlines()[0].startswith("archsearch: error: Unknown list kind")
    assert words in err.splitlines()[0]


def test_search_help_points_to_archsearch_list():
    code, out, _ = run("search", "--help")
    assert code == 0 and "archsearch list strategies" in " ".join(out.split())
    assert "archsearch list pruners" in " ".join(out.split())
