"""Value types shared by every part: architectures, decisions, trials, objectives."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Architecture", "CellGraph", "Decision", "Objective", "TrialState", "FrozenTrial"]


@dataclass(frozen=True)
class Decision:
    """One categorical choice of a search space.

    Args:
        path: dotted name, e.g. ``"cell.edge_1_0.op"``; appears verbatim in errors.
        choices: the allowed values, in a fixed order (their indices are the encoding).
    """

    path: str
    choices: tuple[str, ...]

    def index(self, value: str) -> int:
        """Position of ``value`` in ``choices`` (raises ValueError if absent)."""
        return self.choices.index(value)


@dataclass(frozen=True)
class Architecture:
    """One point of a search space: an immutable, hashable value.

    Built by a space (``space.parse``, ``space.sample``, ``space.from_decisions``), never by
    hand. Two architectures are equal when their space and decisions are; ``key`` is equal
    for isomorphic architectures, so it is what deduplication and the store use.

    Example:
        >>> import archsearch
        >>> space = archsearch.create_space("nb201")
        >>> arch = space.parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|")
        >>> space.parse(str(arch)) == arch
        True
    """

    space: str
    values: tuple[str, ...]
    string: str = field(compare=False)
    key: str = field(compare=False)

    def __str__(self) -> str:
        return self.string

    def to_json(self) -> dict[str, str]:
        """A JSON-ready dict; ``space.parse(d["arch"])`` rebuilds the architecture."""
        return {"space": self.space, "arch": self.string, "key": self.key}


@dataclass(frozen=True)
class Objective:
    """A metric a search optimises and its direction."""

    name: str
    direction: Literal["maximize", "minimize"] = "maximize"

    def better(self, a: float, b: float) -> bool:
        """Whether value ``a`` is strictly better than ``b``."""
        return a > b if self.direction == "maximize" else a < b

    def value(self, values: Mapping[str, float]) -> float | None:
        """The objective's own value for these metrics (None if missing or NaN)."""
        value = values.get(self.name)
        return None if value is None or math.isnan(value) else float(value)

    def score(self, values: Mapping[str, float]) -> float | None:
        """The value to maximise for these metrics, or None if it cannot be computed."""
        value = self.value(values)
        if value is None:
            return None
        return value if self.direction == "maximize" else -value

    def sort_value(self, values: Mapping[str, float]) -> float:
        """A number that sorts best-first in ascending order; missing values sort last."""
        score = self.score(values)
        return math.inf if score is None else -score

    def to_json(self) -> dict[str, Any]:
        """The objective as JSON-ready data (part of an experiment's identity)."""
        return {"name": self.name, "direction": self.direction}


class TrialState(str, enum.Enum):
    """Life cycle of a trial in the store.

    ``RUNNING`` is written before evaluation starts. ``INTERRUPTED`` marks a trial whose
    process died while it ran; its architecture is handed out again on resume and it does
    not count against the budget.
    """

    RUNNING = "running"
    COMPLETE = "complete"
    PRUNED = "pruned"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        """Whether the trial ended and counts against the budget."""
        return self in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED)


@dataclass(frozen=True)
class FrozenTrial:
    """A trial as recorded in the store."""

    id: int
    experiment_id: int
    number: int
    arch: str
    key: str
    state: TrialState
    values: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    intermediate: Mapping[int, float] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        """Seconds between start and end, or None while running."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the trial."""
        return {
            "number": self.number,
            "arch": self.arch,
            "key": self.key,
            "state": self.state.value,
            "values": dict(self.values),
            "error": self.error,
            "duration_s": self.duration_s,
        }


@dataclass(frozen=True)
class CellGraph:
    """A cell as a labelled DAG, for drawing and reports.

    Args:
        name: e.g. ``"normal"``, ``"reduce"`` or ``"cell"``.
        nodes: node labels in topological order, e.g. ``["c_{k-2}", "c_{k-1}", "0", "1", "c_{k}"]``.
        edges: ``(source index, target index, operation)`` triples; an empty operation
            draws a plain arrow (e.g. concatenation into the output).
        inputs: how many leading nodes are cell inputs (drawn apart).
    """

    name: str
    nodes: tuple[str, ...]
    edges: tuple[tuple[int, int, str], ...]
    inputs: int = 1
