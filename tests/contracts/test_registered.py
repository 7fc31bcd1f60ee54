"""Every registered component passes its contract; registering one enrols it here."""

import importlib

import pytest

import archsearch
from archsearch.testing import check_space, check_strategy


@pytest.mark.parametrize("name", archsearch.list_spaces())
def test_space_contract(name):
    space = archsearch.create_space(name)
    space = archsearch.create_space(name, **type(space).TEST_CONFIG)  # small networks
    check_space(space, input_shape=(1, 28, 28), n_classes=10, n_samples=3)
    check_space(space, input_shape=(3, 32, 32), n_classes=10, n_samples=2)


@pytest.mark.parametrize("name", archsearch.list_strategies())
@pytest.mark.parametrize("space", archsearch.list_spaces())
def test_strategy_contract(name, space):
    strategy, space = archsearch.create_strategy(name), archsearch.create_space(space)
    if name == "naswot":  # scores small untrained networks, on a training evaluator's task
        from archsearch.data import load_task

        space = archsearch.create_space(space.name, **type(space).TEST_CONFIG)
        strategy = archsearch.create_strategy(name, n=40)
        strategy.bind(archsearch.PartialTraining(load_task("digits", n_train=300),
                                                 archsearch.TrainConfig(n_epochs=1)))
    check_strategy(strategy, space)


@pytest.mark.parametrize("module", ["archsearch", "archsearch.data", "archsearch.spaces",
                                    "archsearch.strategies", "archsearch.evaluators",
                                    "archsearch.storage", "archsearch.testing", "archsearch.errors",
                                    "archsearch.types"])
def test_every_exported_name_exists(module):
    mod = importlib.import_module(module)
    missing = [name for name in mod.__all__ if not hasattr(mod, name)]
    assert not missing


def test_check_space_catches_a_broken_space(tiny_space):
    class EditsInPlace(type(tiny_space)):
        def mutate(self, arch, rng):
            return arch  # changes nothing: not one decision

    with pytest.raises(AssertionError, match="mutate changed other than one decision"):
        check_space(EditsInPlace(channels=4, cells_per_stage=1))


def test_list_patterns():
    assert archsearch.list_spaces("nb*") == ["nb201"]
    assert archsearch.list_strategies("x*") == []
    assert "digits" in archsearch.list_datasets()
