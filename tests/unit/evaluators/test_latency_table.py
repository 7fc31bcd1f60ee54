import json

import numpy as np
import pytest
import torch
from torch import nn

import archsearch
from archsearch import TrialState
from archsearch.evaluators import latency_table as lt
from archsearch.evaluators.latency_table import (
    Calibration,
    LatencyLookup,
    LatencyTable,
    LatencyTableError,
    prediction_error,
    trace_ops,
)

SHAPE = (3, 16, 16)


@pytest.fixture(autouse=True)
def one_thread():
    """Timings on a busy machine stall when an op waits for a second thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def toy():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.ReLU(), nn.Flatten(),
                         nn.Linear(64, 2))


def small_table(**kw):
    return LatencyTable(kw.pop("input_shape", (1, 4, 4)), n_warmup=1, n_repeat=3, **kw)


def test_prediction_is_the_sum_of_entries_with_identity_calibration():
    table, model = small_table(), toy()
    predicted = table.predict(model)
    keys = trace_ops(model, torch.zeros(1, 1, 4, 4)).keys
    assert len(keys) == 5 and len(table) == 4  # the two ReLUs share a key and count twice
    assert keys[1] == keys[2] == "ReLU() <- 1x4x4x4 -> 1x4x4x4"
    assert predicted == pytest.approx(sum(table.entries[k] for k in keys))
    assert table.calibration == Calibration()


def test_functions_between_leaves_are_keyed():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 1)

        def forward(self, x):
            return torch.cat([x + self.conv(x), x], dim=1).flatten(1)

    keys = trace_ops(Residual(), torch.zeros(1, 2, 3, 3)).keys
    assert keys[0].startswith("Conv2d(2, 2, kernel_size=(1, 1)")
    assert keys[1:] == ["Tensor.add(1x2x3x3, 1x2x3x3) -> 1x2x3x3",
                        "torch.cat([1x2x3x3, 1x2x3x3], dim=1) -> 1x4x3x3",
                        "Tensor.flatten(1x4x3x3, 1) -> 1x36"]


def test_unknown_keys_are_measured_once(monkeypatch):
    timed = []
    real = lt._time_ms

    def counting(thunks, *args):
        timed.append(len(thunks))
        return real(thunks, *args)

    monkeypatch.setattr(lt, "_time_ms", counting)
    table, model = small_table(), toy()
    assert table.measure(model) == 4
    before = dict(table.entries)
    table.predict(model)
    table.predict(nn.Sequential(nn.ReLU()), (4, 4, 4))  # a ReLU of the same shape: known
    assert timed == [4] and table.entries == before


def test_entries_at_another_batch_size_keep_batch_1_keys():
    table = small_table(batch_size=8)
    table.measure(toy())
    assert all("<- 1x" in key for key in table.entries)


def test_json_round_trip(tmp_path):
    table, model = small_table(), toy()
    table.measure(model)
    table.calibration = Calibration(1.5, 0.01, 0.2, 3, "full")
    table.save(tmp_path / "t.json")
    loaded = LatencyTable.load(tmp_path / "t.json")
    assert loaded.to_json() == table.to_json()
    assert loaded.predict(model) == pytest.approx(table.predict(model))
    assert len(loaded) == len(table)  # nothing measured again


@pytest.mark.parametrize("text, why", [
    ("{not json", "not JSON"),
    ('["a list"]', "expected a JSON object"),
    ("BAD_ENTRY", "entry 'ReLU' must be a finite number"),
    ("NO_CALIBRATION", "missing field 'calibration'"),
    ("BAD_FORM", "calibration form 'cubic' is not one of"),
])
def test_malformed_file_is_one_line_error(tmp_path, text, why):
    good = small_table().to_json()
    if text == "BAD_ENTRY":
        text = json.dumps({**good, "entries": {"ReLU": "fast"}})
    elif text == "BAD_FORM":
        text = json.dumps({**good, "calibration": {**good["calibration"], "form": "cubic"}})
    elif text == "NO_CALIBRATION":
        text = json.dumps({k: v for k, v in good.items() if k != "calibration"})
    (tmp_path / "t.json").write_text(text)
    with pytest.raises(LatencyTableError, match="Malformed latency table") as info:
        LatencyTable.load(tmp_path / "t.json")
    assert why in str(info.value) and "\n" not in str(info.value)


def test_calibration_recovers_a_linear_overhead(monkeypatch):
    """With deterministic op times, whole-network times a*sum + b*n + c are fitted exactly."""
    monkeypatch.setattr(lt, "_time_ms", lambda thunks, *args: [0.1 * (i + 1) for i in range(len(thunks))])
    space = archsearch.create_space("nb201", channels=2, cells_per_stage=1)
    rng = np.random.default_rng(0)
    models = [space.build(space.sample(rng), (1, 8, 8), 10) for _ in range(8)]
    table = LatencyTable((1, 8, 8))
    features = [table._features(m, None) for m in models]
    truth = [2.0 * s + 0.05 * n + 0.3 for s, n in features]
    cal = table.calibrate(models[:5], measured_ms=truth[:5])
    assert cal.form == "full" and (cal.a, cal.b, cal.c) == pytest.approx((2.0, 0.05, 0.3))
    assert [table.predict(m) for m in models[5:]] == pytest.approx(truth[5:])


def test_calibration_reduces_error_on_nb201_archs(tiny_space):
    rng = np.random.default_rng(0)
    archs = [tiny_space.sample(rng) for _ in range(5)]
    table = LatencyTable(SHAPE, n_warmup=2, n_repeat=5)
    models = [tiny_space.build(a, SHAPE, 10) for a in archs]
    measured = lt.measure_networks_ms(models, SHAPE, n_rounds=2, n_warmup=2, n_repeat=10)
    raw = [table.predict(m) for m in models]
    table.calibrate(models, measured_ms=measured)
    fitted = [table.predict(m) for m in models]
    # Every form contains the identity, so the fitted relative error can only be smaller.
    sse = [sum(((p - m) / m) ** 2 for p, m in zip(pred, measured)) for pred in (raw, fitted)]
    assert sse[1] <= sse[0] + 1e-12
    err = prediction_error(table, tiny_space, archs[:2], n_rounds=1, n_warmup=1, n_repeat=5)
    assert len(err.errors_pct) == 2 and err.max_pct >= err.median_pct >= 0


def test_a_few_noisy_networks_cannot_buy_a_wild_fit():
    """Nearly proportional features: the full fit has a < 0, so a scale is kept instead."""
    features = [(1.0, 10), (1.1, 12), (1.2, 11), (1.3, 14), (1.4, 13), (1.5, 15)]
    measured = [1.25, 1.45, 1.3, 1.7, 1.6, 1.85]
    x = np.array([[s, n, 1.0] for s, n in features])
    assert lt._fit(x, np.array(measured), lt.FORMS["full"])[0] < 0
    cal = lt.fit_calibration(features, measured)
    assert cal.form == "scale" and cal.a == pytest.approx(1.21, abs=0.01)
    assert lt.fit_calibration(features[:3], measured[:3]).form in ("identity", "scale")


def test_calibrate_needs_three_models():
    with pytest.raises(archsearch.InvalidParameterError, match="at least 3 models"):
        small_table().calibrate([toy(), toy()])


def test_model_on_another_device_is_refused():
    table = small_table()
    table.device = "meta"
    with pytest.raises(archsearch.InvalidParameterError, match="move it with model.to"):
        table.predict(toy())


def test_latency_lookup_in_an_experiment(tiny_space, tmp_path):
    table = LatencyTable(SHAPE, n_warmup=1, n_repeat=3)
    table.save(tmp_path / "t.json")
    for source in (table, tmp_path / "t.json"):
        evaluator = LatencyLookup(source, n_classes=10)
        exp = archsearch.Experiment.create("lat", tiny_space, archsearch.create_strategy("random"),
                                           evaluator, store=":memory:")
        exp.run(n_trials=4)
        trials = exp.trials()
        assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
        assert all(t.values["latency_ms_predicted"] > 0 for t in trials)
        assert exp.best()[0].values["latency_ms_predicted"] == min(
            t.values["latency_ms_predicted"] for t in trials)
    assert len(table) > 0 and evaluator.config()["input_shape"] == list(SHAPE)
