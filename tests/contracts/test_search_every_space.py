"""A short search with every registered strategy on every registered space, on real data."""

import pytest

import archsearch
from archsearch.data import load_task


@pytest.fixture(scope="module")
def digits():
    return load_task("digits", n_train=300)


@pytest.mark.parametrize("strategy", archsearch.list_strategies())
@pytest.mark.parametrize("space_name", archsearch.list_spaces())
def test_search_runs(space_name, strategy, digits):
    space = archsearch.create_space(space_name)
    space = archsearch.create_space(space_name, **type(space).TEST_CONFIG)
    evaluator = archsearch.PartialTraining(digits, archsearch.TrainConfig(n_epochs=1, batch_size=64))
    exp = archsearch.Experiment.create("s", space, archsearch.create_strategy(strategy), evaluator,
                                       store=":memory:", seed=1)
    exp.run(n_trials=3)
    trials = exp.trials()
    assert [t.state for t in trials] == [archsearch.TrialState.COMPLETE] * 3, trials
    assert len({t.key for t in trials}) == 3
    for t in trials:
        assert space.parse(t.arch).key == t.key
        assert 0.0 <= t.values["val_accuracy"] <= 1.0 and t.values["params"] > 0
