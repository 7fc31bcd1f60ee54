"""An evaluator that misbehaves on cue, to test how a search survives faults."""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Mapping
from typing import Any

from archsearch.errors import TrialPruned
from archsearch.evaluators.base import Evaluator, TrialContext
from archsearch.types import Architecture, Objective

__all__ = ["FaultInjector"]

ACTIONS = ("kill", "nan", "error", "hang")


class FaultInjector(Evaluator):
    """Scores ``len(str(arch))`` after ``delay`` seconds, except for trials given an action.

    Actions, by trial number: ``"kill"`` kills the evaluating process with SIGKILL (a worker
    dying of out-of-memory looks the same), ``"nan"`` returns a NaN score, ``"error"``
    raises RuntimeError, ``"hang"`` sleeps for an hour (for time limits). Each trial
    reports its score at step 0 before it ends; with ``steps`` > 1 it works like training
    instead: ``delay`` seconds per step, the score reported after each of steps 1..N, and a
    stop when the search says so (before the last step).

    Args:
        actions: trial number -> action.
        delay: seconds every evaluation (or every step of one) takes.
        steps: steps of an evaluation (its "epochs").

    Example:
        >>> FaultInjector({3: "nan"}).config()["actions"]
        {'3': 'nan'}
    """

    name = "fault_injector"
    objectives = (Objective("score", "maximize"),)

    def __init__(self, actions: Mapping[int, str] | None = None, delay: float = 0.0,
                 steps: int = 1) -> None:
        self.actions = {int(k): v for k, v in (actions or {}).items()}
        unknown = set(self.actions.values()) - set(ACTIONS)
        if unknown:
            raise ValueError(f"unknown action {sorted(unknown)[0]!r}; choose from {ACTIONS}")
        self.delay = delay
        self.steps = steps

    def max_epochs(self) -> int | None:
        return self.steps if self.steps > 1 else None

    def report_steps(self) -> list[int] | None:
        return list(range(1, self.steps + 1)) if self.steps > 1 else None

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> dict[str, float]:
        action = self.actions.get(ctx.number)
        score = float(len(str(arch)))
        for step in range(1, self.steps if action is None else 1):
            time.sleep(self.delay)
            ctx.report(step, score)
            if ctx.should_prune():
                raise TrialPruned(f"stopped after step {step} of {self.steps}")
        time.sleep(self.delay)
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if action == "hang":
            time.sleep(3600)
        if action == "error":
            raise RuntimeError(f"injected error in trial {ctx.number}")
        score = math.nan if action == "nan" else score
        ctx.report(self.steps if self.steps > 1 else 0, score)
        return {"score": score}

    def config(self) -> dict[str, Any]:
        steps = {"steps": self.steps} if self.steps > 1 else {}
        return {"name": self.name, "actions": {str(k): v for k, v in self.actions.items()},
                "delay": self.delay, **steps}
