import math

import pytest
import torch

import archsearch
from archsearch import PartialTraining, TrainConfig, TrialContext
from archsearch.data import load_task
from archsearch.errors import InvalidParameterError, TrialFailed
from archsearch.evaluators import count_flops, count_params, measure_latency_ms

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def digits():
    return load_task("digits", seed=0)


def evaluator(task, **train):
    e = PartialTraining(task, TrainConfig(**{"n_epochs": 2, **train}))
    e.setup(archsearch.create_space("nb201", channels=4, cells_per_stage=1))
    return e


def test_metrics_and_reports(digits):
    e = evaluator(digits)
    reports = {}
    ctx = TrialContext(0, seed=1, reporter=lambda step, v: reports.__setitem__(step, v))
    m = e.evaluate(e.space.parse(ARCH), ctx)
    assert set(m) >= {"val_accuracy", "val_loss", "train_loss", "params", "flops", "train_seconds"}
    assert 0.3 < m["val_accuracy"] <= 1.0  # two epochs on digits learn something
    assert sorted(reports) == [1, 2] and reports[2] == m["val_accuracy"]
    model = e.space.build(e.space.parse(ARCH), digits.input_shape, 10)
    assert m["params"] == count_params(model) and m["flops"] == count_flops(model, (1, 8, 8))


def test_deterministic_under_a_seed(digits):
    e = evaluator(digits)
    arch = e.space.parse(ARCH)
    a = e.evaluate(arch, TrialContext(0, seed=5))
    b = e.evaluate(arch, TrialContext(0, seed=5))
    c = e.evaluate(arch, TrialContext(0, seed=6))
    assert a["val_loss"] == b["val_loss"] and a["train_loss"] == b["train_loss"]
    assert a["train_loss"] != c["train_loss"]


def test_diverging_training_fails_the_trial(digits):
    e = evaluator(digits, lr=1e12, grad_clip=0.0, n_epochs=1)
    with pytest.raises(TrialFailed, match="training loss became nan"):
        e.evaluate(e.space.parse(ARCH), TrialContext(0, seed=0))


def test_diverging_trial_is_recorded_and_the_search_goes_on(digits):
    e = PartialTraining(digits, TrainConfig(n_epochs=1, lr=1e12, grad_clip=0.0))
    exp = archsearch.Experiment.create(
        "nan", archsearch.create_space("nb201", channels=4, cells_per_stage=1),
        archsearch.create_strategy("random"), e, store=":memory:")
    exp.run(n_trials=2)
    trials = exp.trials()
    assert len(trials) == 2
    assert all(t.state is archsearch.TrialState.FAILED and "nan" in t.error for t in trials)


def test_bad_training_settings(digits):
    with pytest.raises(InvalidParameterError, match="'batch_size' parameter of TrainConfig"):
        evaluator(digits, batch_size=0)


def test_flops_of_a_conv_match_the_formula():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
    assert count_flops(conv, (3, 16, 16)) == 2 * 8 * 16 * 16 * 3 * 9
    assert count_params(conv) == 8 * 3 * 9


def test_latency_is_positive_and_grows_with_work():
    small = torch.nn.Conv2d(3, 4, 1)
    big = torch.nn.Sequential(*[torch.nn.Conv2d(64, 64, 3, padding=1) for _ in range(4)])
    t_small = measure_latency_ms(small, (3, 8, 8), n_repeat=5)
    t_big = measure_latency_ms(big, (64, 64, 64), n_repeat=5)
    assert 0 < t_small < t_big and math.isfinite(t_big)
