import json
import math

import pytest

import archsearch
from archsearch import Experiment, FrozenTrial, InvalidParameterError, TrialState
from archsearch.experiment import best_trials
from archsearch.objectives import MnasReward, MultiObjective, objective_from_json, pareto_front
from archsearch.testing import MatchTarget


@pytest.mark.parametrize("acc, lat, target, alpha, beta, expected", [
    (0.8, 10.0, 10.0, -0.07, -0.07, 0.8),                      # at the target: ACC
    (0.8, 20.0, 10.0, -0.07, -0.07, 0.8 * 2 ** -0.07),         # twice too slow, soft
    (0.8, 5.0, 10.0, -0.07, -0.07, 0.8 * 0.5 ** -0.07),        # faster: a small bonus
    (0.8, 5.0, 10.0, 0.0, -1.0, 0.8),                          # hard: no bonus under T
    (0.8, 20.0, 10.0, 0.0, -1.0, 0.4),                         # hard: ACC / (LAT / T)
])
def test_mnas_reward_values(acc, lat, target, alpha, beta, expected):
    reward = MnasReward(accuracy="a", latency="l", target=target, alpha=alpha, beta=beta)
    assert reward.value({"a": acc, "l": lat}) == pytest.approx(expected)
    assert reward.score({"a": acc, "l": lat}) == pytest.approx(expected)


def test_soft_and_hard_presets():
    soft, hard = MnasReward.soft("a", "l", 3.0), MnasReward.hard("a", "l", 3.0)
    assert (soft.alpha, soft.beta) == (-0.07, -0.07) and (hard.alpha, hard.beta) == (0.0, -1.0)


@pytest.mark.parametrize("values", [{"a": 0.5}, {"l": 1.0}, {"a": math.nan, "l": 1.0},
                                    {"a": 0.5, "l": 0.0}, {"a": 0.5, "l": math.inf}])
def test_mnas_reward_missing_or_bad_metrics(values):
    assert MnasReward.soft("a", "l", 1.0).score(values) is None


def test_bad_target():
    with pytest.raises(InvalidParameterError, match="'target' parameter of MnasReward"):
        MnasReward(target=0)


def test_json_round_trip():
    multi = MultiObjective(("a", "maximize"), ("l", "minimize"), ("p", "minimize"))
    for objective in (MnasReward.hard("a", "l", 2.5), archsearch.Objective("x", "minimize"), multi):
        data = json.loads(json.dumps(objective.to_json()))  # as stored with a search
        assert objective_from_json(data) == objective
        assert type(objective_from_json(data)) is type(objective)


def test_multi_objective_scores_by_its_first_metric_when_all_are_there():
    multi = MultiObjective(("lat", "minimize"), ("acc", "maximize"))
    assert (multi.name, multi.direction, multi.names) == ("lat", "minimize", ("lat", "acc"))
    assert multi.vector({"acc": 0.9, "lat": 3.0}) == (3.0, 0.9)
    assert multi.score({"acc": 0.9, "lat": 3.0}) == -3.0
    for values in ({"lat": 3.0}, {"lat": 3.0, "acc": math.nan}, {"lat": math.inf, "acc": 0.9}):
        assert multi.vector(values) is None and multi.score(values) is None
        assert multi.sort_value(values) == math.inf


@pytest.mark.parametrize("metrics", [(), (("a", "maximize"),), (("a", "maximize"), ("a", "minimize")),
                                     (("a", "maximize"), ("b", "up")), ("a", "b")])
def test_multi_objective_bad_metrics(metrics):
    with pytest.raises(InvalidParameterError, match="MultiObjective needs two or more") as info:
        MultiObjective(*metrics)
    assert "\n" not in str(info.value)


def trial(n, a, b, state=TrialState.COMPLETE):
    return FrozenTrial(n, 0, n, "x", str(n), state, {"acc": a, "lat": b})


def test_pareto_front():
    trials = [trial(0, 0.9, 10), trial(1, 0.8, 5), trial(2, 0.85, 12), trial(3, 0.7, 5),
              trial(4, 0.95, 20), trial(5, 0.99, 1, TrialState.FAILED), trial(6, math.nan, 1)]
    front = pareto_front(trials, ("acc", "maximize"), ("lat", "minimize"))
    assert [t.number for t in front] == [4, 0, 1]


def test_a_derived_objective_is_stored_and_drives_the_search():
    space = archsearch.create_space("nb201")
    target = ("nor_conv_3x3",) * 6

    class WithLatency(MatchTarget):
        def evaluate(self, arch, ctx):
            score = super().evaluate(arch, ctx)["score"]
            return {"score": score, "lat": 1.0 + arch.values.count("nor_conv_3x3")}

    reward = MnasReward.hard("score", "lat", target=3.0)
    exp = Experiment.create("m", space, archsearch.create_strategy("evolution"),
                            WithLatency(target), store=":memory:", objective=reward)
    exp.run(n_trials=60)
    best = exp.best()[0]
    assert best.values["mnas_reward"] == pytest.approx(reward.value(best.values))
    assert all(best.values["mnas_reward"] >= t.values["mnas_reward"] for t in exp.trials())


def test_pareto_front_of_three_metrics():
    def t3(n, a, b, c):
        return FrozenTrial(n, 0, n, "x", str(n), TrialState.COMPLETE, {"a": a, "b": b, "c": c})

    trials = [t3(0, 1, 1, 1), t3(1, 2, 0, 0), t3(2, 1, 1, 1), t3(3, 0, 2, 0), t3(4, 0, 0, 2),
              t3(5, 1, 0, 0), t3(6, 2, 1, 0)]
    metrics = [("a", "maximize"), ("b", "maximize"), ("c", "maximize")]
    assert [t.number for t in pareto_front(trials, *metrics)] == [6, 0, 3, 4]
    with pytest.raises(InvalidParameterError, match="pareto_front needs one or more"):
        pareto_front(trials)


def test_best_trials_of_a_multi_objective_is_the_front():
    trials = [trial(0, 0.9, 10), trial(1, 0.8, 5), trial(2, 0.85, 12), trial(3, 0.95, 20)]
    multi = MultiObjective(("acc", "maximize"), ("lat", "minimize"))
    assert [t.number for t in best_trials(trials, multi, k=None)] == [3, 0, 1]
    assert [t.number for t in best_trials(trials, multi)] == [3]
    assert [t.number for t in best_trials(trials, archsearch.Objective("lat", "minimize"), None)] \
        == [1, 0, 2, 3]


def test_a_trial_missing_a_metric_of_a_multi_objective_fails_and_says_which():
    class NoLatencyForPools(MatchTarget):
        def evaluate(self, arch, ctx):
            values = super().evaluate(arch, ctx)
            return values if "avg_pool_3x3" in str(arch) else {**values, "lat": 1.0}

    multi = MultiObjective(("score", "maximize"), ("lat", "minimize"))
    exp = Experiment.create("m", archsearch.create_space("nb201"),
                            archsearch.create_strategy("random"), NoLatencyForPools(["none"] * 6),
                            store=":memory:", objective=multi)
    exp.run(n_trials=10)
    failed = exp.trials([TrialState.FAILED])
    assert failed and all(t.error == "objective 'lat' is None" for t in failed)
    assert all("avg_pool_3x3" in t.arch for t in failed)


def test_mnas_reward_takes_accuracy_as_a_fraction_whatever_its_scale():
    as_fraction = MnasReward.soft("acc", "lat", 10.0)
    as_percent = MnasReward.soft("acc", "lat", 10.0, accuracy_scale=0.01)
    assert as_percent.value({"acc": 80.0, "lat": 20.0}) == pytest.approx(
        as_fraction.value({"acc": 0.8, "lat": 20.0}))
    assert as_percent.value({"acc": 80.0, "lat": 20.0}) < 1
    assert objective_from_json(as_percent.to_json()) == as_percent
    for bad in (0, -0.01, math.nan, True, "0.01"):
        with pytest.raises(InvalidParameterError, match="'accuracy_scale' parameter"):
            MnasReward(accuracy_scale=bad)


def test_mnas_reward_json_of_fractions_is_unchanged():
    """Stored runs' identity holds no scale: a reward on fractions writes what it always did."""
    assert MnasReward.hard("a", "l", 2.5).to_json() == {
        "kind": "mnas_reward", "name": "mnas_reward", "direction": "maximize", "accuracy": "a",
        "latency": "l", "target": 2.5, "alpha": 0.0, "beta": -1.0}
