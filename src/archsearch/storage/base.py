"""The store protocol: what the experiment loop, reports and the CLI need of a store."""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any, Protocol

from archsearch.types import Architecture, FrozenTrial, TrialState

__all__ = ["Store"]


class Store(Protocol):
    """Experiments and their trials. A trial is written before it runs and when it ends."""

    def create_experiment(self, name: str, fingerprint: Mapping[str, Any]) -> int: ...

    def find_experiment(self, name: str) -> tuple[int, dict[str, Any]] | None: ...

    def experiment_names(self) -> list[str]: ...

    def start_trial(self, experiment_id: int, arch: Architecture) -> FrozenTrial: ...

    def report(self, trial_id: int, step: int, value: float) -> None: ...

    def finish_trial(self, trial_id: int, state: TrialState,
                     values: Mapping[str, float] | None = None,
                     error: str | None = None) -> FrozenTrial: ...

    def mark_interrupted(self, experiment_id: int) -> int: ...

    def trial(self, trial_id: int) -> FrozenTrial: ...

    def trials(self, experiment_id: int,
               states: Container[TrialState] | None = None) -> list[FrozenTrial]: ...

    def close(self) -> None: ...
