"""An in-memory store: the SQLite store's behaviour without a database, for fast loops.

Searches on a tabular benchmark evaluate a trial in microseconds; this store keeps their
records in Python objects so the bookkeeping costs no more than the lookup.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
from collections.abc import Container, Mapping
from typing import Any

from archsearch.errors import ExperimentExistsError, StoreError
from archsearch.storage.base import DEAD_PROCESS, check_experiment_state, encode_artifacts
from archsearch.types import Architecture, FrozenTrial, TrialState

__all__ = ["MemoryStore"]


class MemoryStore:
    """A store held in memory; lost when the process ends.

    Example:
        >>> store = MemoryStore()
        >>> store.create_experiment("demo", {"seed": 0})
        0
    """

    path = ":memory:"

    def __init__(self) -> None:
        self._experiments: dict[str, tuple[int, dict[str, Any]]] = {}
        self._trials: list[FrozenTrial] = []
        self._by_experiment: dict[int, list[int]] = {}
        self._artifacts: dict[int, dict[str, str]] = {}  # trial id -> name -> JSON text
        self._states: dict[int, tuple[int, bytes]] = {}

    def create_experiment(self, name: str, fingerprint: Mapping[str, Any]) -> int:
        if name in self._experiments:
            n = len(self._by_experiment[self._experiments[name][0]])
            raise ExperimentExistsError(
                f"Experiment {name!r} already exists in memory ({n} trials). "
                'Use if_exists="resume" (CLI: --resume) or a new name.')
        experiment_id = len(self._experiments)
        self._experiments[name] = (experiment_id, copy.deepcopy(dict(fingerprint)))
        self._by_experiment[experiment_id] = []
        return experiment_id

    def find_experiment(self, name: str) -> tuple[int, dict[str, Any]] | None:
        found = self._experiments.get(name)
        return None if found is None else (found[0], copy.deepcopy(found[1]))

    def experiment_names(self) -> list[str]:
        return list(self._experiments)

    def start_trial(self, experiment_id: int, arch: Architecture) -> FrozenTrial:
        ids = self._by_experiment[experiment_id]
        trial = FrozenTrial(id=len(self._trials), experiment_id=experiment_id, number=len(ids),
                            arch=str(arch), key=arch.key, state=TrialState.RUNNING,
                            started_at=time.time(), intermediate={})
        self._trials.append(trial)
        ids.append(trial.id)
        return trial

    def report(self, trial_id: int, step: int, value: float) -> None:
        trial = self.trial(trial_id)
        self._trials[trial_id] = dataclasses.replace(
            trial, intermediate={**trial.intermediate, int(step): float(value)})

    def finish_trial(self, trial_id: int, state: TrialState,
                     values: Mapping[str, float] | None = None,
                     error: str | None = None, *,
                     artifacts: Mapping[str, Any] | None = None,
                     experiment_state: tuple[int, bytes] | None = None) -> FrozenTrial:
        clean = {k: float(v) if math.isfinite(float(v)) else math.nan
                 for k, v in (values or {}).items()}
        trial = dataclasses.replace(self.trial(trial_id), state=state, values=clean, error=error,
                                    finished_at=time.time())
        encoded = encode_artifacts(trial_id, artifacts)
        resume = check_experiment_state(experiment_state)
        # Everything that can fail is done above: the writes below happen together or not at all.
        self._trials[trial_id] = trial
        if encoded:
            self._artifacts.setdefault(trial_id, {}).update(encoded)
        if resume is not None:
            self._states[trial.experiment_id] = resume
        return trial

    def artifacts(self, trial_id: int) -> dict[str, Any]:
        self.trial(trial_id)  # an unknown trial raises, as in the SQLite store
        stored = self._artifacts.get(trial_id, {})
        return {name: json.loads(stored[name]) for name in sorted(stored)}

    def experiment_state(self, experiment_id: int) -> tuple[int, bytes] | None:
        return self._states.get(experiment_id)

    def mark_interrupted(self, experiment_id: int) -> int:
        n = 0
        for i in self._by_experiment[experiment_id]:
            if self._trials[i].state is TrialState.RUNNING:
                self.finish_trial(i, TrialState.INTERRUPTED, None,
                                  DEAD_PROCESS)
                n += 1
        return n

    def trial(self, trial_id: int) -> FrozenTrial:
        if not 0 <= trial_id < len(self._trials):
            raise StoreError(f"The in-memory store has no trial with id {trial_id}.")
        return self._trials[trial_id]

    def trials(self, experiment_id: int,
               states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        out = [self._trials[i] for i in self._by_experiment.get(experiment_id, [])]
        return out if states is None else [t for t in out if t.state in states]

    def close(self) -> None:
        """Nothing to release."""
