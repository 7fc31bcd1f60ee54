import math

import pytest

import archsearch
from archsearch.objectives import pareto_front
from archsearch.reports import plot_pareto

pytest.importorskip("matplotlib")


def trial(number, acc, lat, state=archsearch.TrialState.COMPLETE):
    return archsearch.FrozenTrial(number, 0, number, f"a{number}", f"k{number}", state,
                                  {"acc": acc, "lat": lat})


def test_plot_writes_a_png_and_returns_the_front(tmp_path):
    trials = [trial(0, 0.9, 10.0), trial(1, 0.8, 5.0), trial(2, 0.7, 8.0), trial(3, 0.95, 30.0),
              trial(4, 0.99, 1.0, archsearch.TrialState.FAILED), trial(5, math.nan, 1.0)]
    front = plot_pareto(trials, ("acc", "maximize"), ("lat", "minimize"), tmp_path / "p.png",
                        chosen=trials[0], target=12.0)
    assert [t.number for t in front] == [3, 0, 1]
    assert front == pareto_front(trials, ("acc", "maximize"), ("lat", "minimize"))
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
