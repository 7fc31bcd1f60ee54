"""What a search prints per trial: 'trial n of N', FLOPs and parameters in human units."""

import pytest

from archsearch._utils.units import format_flops
from archsearch.cli.search import _trial_line
from archsearch.types import FrozenTrial, TrialState


@pytest.mark.parametrize(("flops", "text"), [
    (4_123_456, "4.12 MFLOPs"), (812, "812 FLOPs"), (1_234_567_890, "1.23 GFLOPs"),
    (45_600.0, "45.6 kFLOPs"), (0, "0 FLOPs"), (float("nan"), "–"), (None, "–"),
    (2.5e12, "2.5 TFLOPs")])
def test_flops_in_human_units(flops, text):
    assert format_flops(flops) == text


def trial(number, state=TrialState.COMPLETE, **values):
    return FrozenTrial(number + 5, 1, number, "|arch|", "k", state, values,
                       error=None if state is TrialState.COMPLETE else "boom")


def test_trial_line_counts_trials_against_the_budget():
    line = _trial_line(trial(3, val_accuracy=0.5, params=14846.0, flops=4123456.0),
                       "val_accuracy", 12.5, done=4, cfg={"budget": 20})
    assert "trial 3 (4 of 20)" in line
    assert "flops=4.12 MFLOPs" in line and "params=14,846" in line
    assert "4123456" not in line and "e+06" not in line


@pytest.mark.parametrize(("cfg", "said"), [
    ({"budget": None, "budget_epochs": 30}, "(4; budget 30 epochs)"),
    ({"budget": None, "budget_seconds": 60.0}, "(4; budget 60 s of trials)"),
    ({"budget": None, "timeout": 120.0}, "(4; until 120 s)"),
    ({"budget": 10, "budget_epochs": 30}, "(4 of 10)")])
def test_trial_line_without_a_count_says_what_the_budget_is(cfg, said):
    line = _trial_line(trial(3, TrialState.FAILED), "val_accuracy", 1.0, done=4, cfg=cfg)
    assert f"trial 3 {said} failed: boom" in line
