"""The custom-space example of docs/custom_space.md works, with every registered strategy."""

import re
from pathlib import Path

import pytest

import archsearch
from archsearch.spaces import SPACES
from archsearch.testing import check_space

DOC = Path(__file__).resolve().parents[2] / "docs" / "custom_space.md"


@pytest.fixture(scope="module")
def doc_namespace():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    namespace: dict = {}
    try:
        exec(compile(blocks[0], str(DOC), "exec"), namespace)  # the doc's own code, not input
        yield namespace
    finally:
        SPACES._factories.pop("tiny_mlp", None)


def test_the_documented_space_passes_the_contract(doc_namespace):
    space = archsearch.create_space("tiny_mlp")
    check_space(space, input_shape=(1, 8, 8), n_classes=10)
    arch = space.parse("32relu-64tanh")
    assert str(arch) == "32relu-64tanh"
    with pytest.raises(archsearch.InvalidArchitectureError, match="layer1.width"):
        space.parse("32relu-7tanh")


@pytest.mark.parametrize("strategy", archsearch.list_strategies())
def test_every_strategy_searches_the_documented_space(doc_namespace, strategy):
    from archsearch.data import load_task

    space = archsearch.create_space("tiny_mlp")
    kwargs = {}
    if strategy == "naswot":  # ranks untrained networks on the task's data
        from archsearch.strategies import ProxyScorer

        kwargs = {"n": 20, "scorer": ProxyScorer(load_task("digits"), batch_size=32)}
    exp = archsearch.Experiment.create(
        "mlp", space, archsearch.create_strategy(strategy, **kwargs),
        archsearch.PartialTraining(load_task("digits"), archsearch.TrainConfig(n_epochs=1)),
        store=":memory:")
    exp.run(n_trials=6)
    trials = exp.trials([archsearch.TrialState.COMPLETE])
    assert len(trials) == 6 and len({t.key for t in trials}) == 6
    assert exp.best()[0].values["val_accuracy"] > 0.2


def test_the_search_example_runs(doc_namespace):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    namespace = dict(doc_namespace)
    exec(compile(blocks[1], str(DOC), "exec"), namespace)
    assert len(namespace["exp"].trials()) == 8
