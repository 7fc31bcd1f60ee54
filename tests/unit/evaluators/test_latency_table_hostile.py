"""Hostile latency-table files: refused on load in one line, never a wrong latency or a hang."""

import json
import os
import threading

import pytest

from archsearch.evaluators.latency_table import Calibration, LatencyTable, LatencyTableError


def good():
    table = LatencyTable((1, 8, 8), n_warmup=0, n_repeat=1)
    table.entries = {"ReLU() <- 1x4x8x8 -> 1x4x8x8": 0.01}
    table.calibration = Calibration(1.2, 0.001, 0.05, 3, "full")
    return table.to_json()


def with_(field, value):
    data = good()
    if "." in field:
        outer, inner = field.split(".")
        data[outer] = {**data[outer], inner: value}
    else:
        data[field] = value
    return json.dumps(data)


@pytest.mark.parametrize("text, why", [
    (with_("calibration.a", float("nan")), "calibration 'a' must be a finite number > 0"),
    (with_("calibration.a", 1e400), "calibration 'a' must be a finite number > 0"),
    (with_("calibration.a", -1.0), "calibration 'a' must be a finite number > 0"),
    (with_("calibration.a", 0.0), "calibration 'a' must be a finite number > 0"),
    (with_("calibration.c", float("-inf")), "calibration 'c' must be a finite number"),
    (with_("calibration.b", True), "calibration 'b' must be a finite number"),
    (with_("calibration.n_models", -5), "calibration 'n_models' must be an int >= 0"),
    (with_("calibration", None), "calibration must be a JSON object"),
    (with_("entries", {"ReLU": 1e308}), "entry 'ReLU' must be a finite number"),
    (with_("entries", [1, 2]), "entries must be a JSON object"),
    (with_("input_shape", [-1, 8, 8]), "input_shape must be"),
    (with_("input_shape", [0, 8, 8]), "input_shape must be"),
    (with_("input_shape", [1.5, 8, 8]), "input_shape must be"),
    (with_("input_shape", [True, 8, 8]), "input_shape must be"),
    (with_("input_shape", []), "input_shape must be"),
    (with_("input_shape", [3, 100000, 100000]), "input_shape must be"),
    (with_("device", "meta"), "device must be"),
    (with_("device", 3), "device must be"),
    (with_("version", True), "version True is not 1"),
])
def test_hostile_fields_are_refused_in_one_line(tmp_path, text, why):
    path = tmp_path / "t.json"
    path.write_text(text)
    with pytest.raises(LatencyTableError, match="Malformed latency table") as info:
        LatencyTable.load(path)
    assert why in str(info.value) and "\n" not in str(info.value)



def test_a_good_table_still_loads(tmp_path):
    (tmp_path / "t.json").write_text(json.dumps(good()))
    table = LatencyTable.load(tmp_path / "t.json")
    assert table.calibration == Calibration(1.2, 0.001, 0.05, 3, "full")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    result = {}

    def load():
        try:
            LatencyTable.load(fifo)
        except LatencyTableError as err:
            result["err"] = str(err)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():  # unblock the reader so the test process can end
        with open(fifo, "w") as f:
            f.write("{}")
        worker.join(5)
        pytest.fail("loading a named pipe blocked")
    assert "is not a regular file" in result["err"]
