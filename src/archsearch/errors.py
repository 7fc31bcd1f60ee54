"""Errors raised by archsearch.

Every error derives from :class:`ArchSearchError` and, where one fits, from the builtin
error it resembles, so ``except ValueError`` keeps working for callers that do not know
archsearch. Messages are one line: what is wrong, what is allowed, what was received.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ArchSearchError",
    "BackendError",
    "InvalidParameterError",
    "InvalidArchitectureError",
    "UnknownNameError",
    "IncompatibleError",
    "DatasetError",
    "ExperimentExistsError",
    "FingerprintMismatchError",
    "StoreError",
    "CheckpointError",
    "TrialFailed",
    "TrialPruned",
    "unknown_name",
]


class ArchSearchError(Exception):
    """Base class of every error archsearch raises on purpose."""


class InvalidParameterError(ArchSearchError, ValueError, TypeError):
    """A parameter of a component or a function has a value outside its allowed set."""


class InvalidArchitectureError(ArchSearchError, ValueError):
    """An architecture string or decision is malformed for its space.

    Args:
        message: what is wrong.
        path: the dotted decision path at fault, when one is known.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class UnknownNameError(ArchSearchError, KeyError):
    """A registered name (space, strategy, dataset, ...) does not exist."""

    def __str__(self) -> str:  # KeyError quotes its argument; a message should read plainly.
        return str(self.args[0]) if self.args else ""


class IncompatibleError(ArchSearchError, TypeError):
    """Two components cannot work together (a strategy needs what a space lacks)."""


class DatasetError(ArchSearchError, OSError):
    """A dataset is missing or its files are malformed."""


class ExperimentExistsError(ArchSearchError):
    """An experiment of that name already exists and resuming was not asked for."""


class FingerprintMismatchError(ArchSearchError):
    """Resuming an experiment with settings that differ from those that created it."""


class StoreError(ArchSearchError, RuntimeError):
    """The store cannot be opened, read or written."""


class BackendError(ArchSearchError, RuntimeError):
    """Workers cannot be started or reached (not a fault of one trial)."""


class CheckpointError(ArchSearchError, ValueError):
    """A checkpoint file is missing, corrupt, or of another architecture."""


class TrialFailed(ArchSearchError):
    """An evaluation failed in a way that is recorded, not fatal (a diverging loss)."""


class TrialPruned(ArchSearchError):
    """An evaluation was stopped early on purpose; the trial is recorded as pruned."""


def unknown_name(kind: str, name: str, known: Iterable[str], hint: str) -> UnknownNameError:
    """Build the error for an unknown registered name, suggesting the closest known one."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    suggestion = f" Did you mean {close[0]!r}?" if close else f" Known: {', '.join(known)}."
    return UnknownNameError(f"Unknown {kind} {name!r}.{suggestion} See {hint}.")
