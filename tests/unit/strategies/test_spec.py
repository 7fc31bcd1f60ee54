import pytest

from archsearch import InvalidParameterError
from archsearch.errors import UnknownNameError
from archsearch.strategies import parse_strategy_spec


def test_plain_name():
    assert parse_strategy_spec("random") == ("random", {})


def test_settings_are_json_values_else_text():
    name, kwargs = parse_strategy_spec(" reinforce:lr=1e-2:batch_size=10:x=true:y=abc ")
    assert name == "reinforce"
    assert kwargs == {"lr": 0.01, "batch_size": 10, "x": True, "y": "abc"}


@pytest.mark.parametrize("spec", ["reinforce:lr", "reinforce:=3", "reinforce:1x=2"])
def test_malformed_settings_are_named(spec):
    with pytest.raises(InvalidParameterError, match="NAME\\[:KEY=VALUE\\]"):
        parse_strategy_spec(spec)


def test_unknown_name_suggests():
    with pytest.raises(UnknownNameError, match="reinforce"):
        parse_strategy_spec("reinforc:lr=0.1")
