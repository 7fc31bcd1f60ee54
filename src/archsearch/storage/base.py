"""The store protocol: what the experiment loop, reports and the CLI need of a store."""

from __future__ import annotations

import json
import operator
from collections.abc import Container, Mapping
from typing import Any, Protocol

from archsearch.errors import InvalidParameterError
from archsearch.types import Architecture, FrozenTrial, TrialState

__all__ = ["DEAD_PROCESS", "Store"]

#: The error of a trial found running when its experiment resumed: its process died.
DEAD_PROCESS = "interrupted: the process running it stopped"


class Store(Protocol):
    """Experiments and their trials. A trial is written before it runs and when it ends."""

    def create_experiment(self, name: str, fingerprint: Mapping[str, Any]) -> int: ...

    def find_experiment(self, name: str) -> tuple[int, dict[str, Any]] | None: ...

    def experiment_names(self) -> list[str]: ...

    def start_trial(self, experiment_id: int, arch: Architecture) -> FrozenTrial: ...

    def report(self, trial_id: int, step: int, value: float) -> None: ...

    def finish_trial(self, trial_id: int, state: TrialState,
                     values: Mapping[str, float] | None = None,
                     error: str | None = None, *,
                     artifacts: Mapping[str, Any] | None = None,
                     experiment_state: tuple[int, bytes] | None = None) -> FrozenTrial:
        """Record a trial's end, with its artifacts and its experiment's state, all or nothing.

        ``artifacts`` are JSON-serialisable values stored by name with the trial (a name
        written again is replaced); one that is not serialisable raises ValueError and
        nothing is written. ``experiment_state`` is ``(step, blob)``, replacing the
        experiment's previous state in the same write.
        """
        ...

    def artifacts(self, trial_id: int) -> dict[str, Any]:
        """A trial's artifacts, sorted by name (empty if it has none)."""
        ...

    def experiment_state(self, experiment_id: int) -> tuple[int, bytes] | None:
        """The experiment's last ``(step, blob)`` state, or None if none was written."""
        ...

    def mark_interrupted(self, experiment_id: int) -> int: ...

    def trial(self, trial_id: int) -> FrozenTrial: ...

    def trials(self, experiment_id: int,
               states: Container[TrialState] | None = None) -> list[FrozenTrial]: ...

    def close(self) -> None: ...


# --- helpers shared by the store implementations --------------------------------------
def encode_artifacts(trial_id: int, artifacts: Mapping[str, Any] | None) -> dict[str, str]:
    """Each artifact as JSON text; raises before anything is written if one cannot be."""
    out: dict[str, str] = {}
    for name, value in (artifacts or {}).items():
        if not isinstance(name, str) or not name:
            raise InvalidParameterError(
                f"Artifact names of trial {trial_id} must be non-empty strings; got {name!r}.")
        try:
            out[name] = json.dumps(value)
        except (TypeError, ValueError) as err:
            raise InvalidParameterError(
                f"Artifact {name!r} of trial {trial_id} is not JSON-serialisable ({err}); "
                "pass numbers, strings, lists and dicts (e.g. tensor.tolist())."
            ) from None
    return out


def check_experiment_state(state: tuple[int, bytes] | None) -> tuple[int, bytes] | None:
    """``(step, blob)`` with an int step and bytes blob, or None; raises on anything else."""
    if state is None:
        return None
    try:
        step, blob = state
        if isinstance(step, bool) or not isinstance(blob, (bytes, bytearray, memoryview)):
            raise TypeError
        return operator.index(step), bytes(blob)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            "experiment_state must be a (step: int, blob: bytes) pair; got "
            f"{type(state).__name__} {_brief(state)}."
        ) from None


def _brief(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2:
        return f"({value[0]!r}, <{type(value[1]).__name__}>)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
