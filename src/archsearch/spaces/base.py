"""The search-space protocol: what every space provides to strategies and evaluators.

A space is a list of categorical :class:`~archsearch.types.Decision` s plus the knowledge
to print, parse, canonicalise and build the architectures they describe. Everything a
strategy needs (sample, mutate, encode/decode) is defined here once in terms of the
decisions; a concrete space supplies the string format, the key and ``build``.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from archsearch.errors import InvalidArchitectureError, InvalidParameterError
from archsearch.types import Architecture, CellGraph, Decision

__all__ = ["SearchSpace", "check_build_args", "check_input_shape", "malformed", "split_arch_string"]


class SearchSpace(ABC):
    """Base class of search spaces.

    Subclasses set ``name``, implement :meth:`decisions`, :meth:`format`, :meth:`parse`
    and :meth:`build`, and may override :meth:`canonical` to make isomorphic
    architectures share a key.
    """

    name: str = ""
    #: Settings that keep built networks tiny, for contract tests of every registered space.
    TEST_CONFIG: dict[str, Any] = {}

    # --- what a subclass provides -------------------------------------------------
    @abstractmethod
    def decisions(self) -> tuple[Decision, ...]:
        """The ordered categorical decisions that define an architecture."""

    @abstractmethod
    def format(self, values: tuple[str, ...]) -> str:
        """The canonical string of the architecture with these decision values."""

    @abstractmethod
    def parse(self, text: str) -> Architecture:
        """Parse the canonical string; raises InvalidArchitectureError naming the fault."""

    @abstractmethod
    def build(self, arch: Architecture, input_shape: Sequence[int], n_classes: int) -> nn.Module:
        """A freshly initialised network for inputs of ``input_shape`` (C, H, W)."""

    def config(self) -> dict[str, Any]:
        """Settings that define the space (and so the identity of a search over it)."""
        return {}

    def canonical(self, values: tuple[str, ...]) -> str:
        """A string equal for isomorphic architectures; defaults to the string itself."""
        return self.format(values)

    def cell_graphs(self, arch: Architecture) -> tuple[CellGraph, ...]:
        """The cells of ``arch`` as labelled DAGs (drawn in reports, and the source of the
        path encoding predictors read); empty if the space has none."""
        return ()

    # --- shared machinery ---------------------------------------------------------
    def from_values(self, values: Mapping[str, str] | Sequence[str]) -> Architecture:
        """Build an architecture from decision values (by path or in order), validated."""
        decisions = self.decisions()
        if isinstance(values, Mapping):
            missing = [d.path for d in decisions if d.path not in values]
            extra = sorted(set(values) - {d.path for d in decisions})
            if missing or extra:
                bad = missing[0] if missing else extra[0]
                what = "is missing" if missing else "is not a decision of this space"
                raise InvalidArchitectureError(
                    f"Decision {bad!r} {what} in the {self.name} space.", path=bad
                )
            values = [values[d.path] for d in decisions]
        values = tuple(values)
        if len(values) != len(decisions):
            raise InvalidArchitectureError(
                f"The {self.name} space has {len(decisions)} decisions; got {len(values)} values."
            )
        for decision, value in zip(decisions, values):
            if value not in decision.choices:
                raise InvalidArchitectureError(
                    f"Decision {decision.path!r} got {value!r}; allowed: {list(decision.choices)}.",
                    path=decision.path,
                )
        return self._make(values)

    def _make(self, values: tuple[str, ...]) -> Architecture:
        digest = hashlib.sha1(self.canonical(values).encode()).hexdigest()[:16]
        return Architecture(self.name, values, self.format(values), digest)

    def validate(self, arch: Architecture) -> None:
        """Raise InvalidArchitectureError unless ``arch`` belongs to this space."""
        if arch.space != self.name:
            raise InvalidArchitectureError(
                f"Architecture of space {arch.space!r} given to the {self.name!r} space."
            )
        self.from_values(arch.values)

    def key(self, arch: Architecture) -> str:
        """The deduplication key: equal for isomorphic architectures."""
        return arch.key

    def sample(self, rng: np.random.Generator) -> Architecture:
        """A uniformly random architecture."""
        return self.decode([int(rng.integers(len(d.choices))) for d in self.decisions()])

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        """A copy of ``arch`` with one decision changed to another value (input untouched)."""
        decisions = self.decisions()
        mutable = [i for i, d in enumerate(decisions) if len(d.choices) > 1]
        i = mutable[int(rng.integers(len(mutable)))]
        current = decisions[i].index(arch.values[i])
        other = (current + 1 + int(rng.integers(len(decisions[i].choices) - 1))) % len(
            decisions[i].choices
        )
        values = list(arch.values)
        values[i] = decisions[i].choices[other]
        return self._make(tuple(values))

    def encode(self, arch: Architecture) -> np.ndarray:
        """Choice indices, one per decision, in order."""
        return np.array(
            [d.index(v) for d, v in zip(self.decisions(), arch.values)], dtype=np.int64
        )

    def decode(self, indices: Sequence[int] | np.ndarray) -> Architecture:
        """The architecture with these choice indices (inverse of :meth:`encode`)."""
        decisions = self.decisions()
        if len(indices) != len(decisions):
            raise InvalidArchitectureError(
                f"The {self.name} space has {len(decisions)} decisions; got {len(indices)} indices."
            )
        values = []
        for d, i in zip(decisions, indices):
            if not 0 <= int(i) < len(d.choices):
                raise InvalidArchitectureError(
                    f"Decision {d.path!r} has {len(d.choices)} choices; got index {int(i)}.",
                    path=d.path,
                )
            values.append(d.choices[int(i)])
        return self._make(tuple(values))

    @property
    def size(self) -> int:
        """The number of distinct decision vectors (isomorphic ones counted apart)."""
        n = 1
        for d in self.decisions():
            n *= len(d.choices)
        return n

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def check_input_shape(owner: str, input_shape: Sequence[int]) -> int:
    """The channel count of ``input_shape`` after checking it is three positive ints."""
    shape = tuple(input_shape) if isinstance(input_shape, Sequence) else ()
    valid = [not isinstance(s, bool) and isinstance(s, int) and s >= 1 for s in shape]
    if len(shape) != 3 or not all(valid):
        raise InvalidParameterError(
            f"The 'input_shape' parameter of {owner} must be 3 ints >= 1 "
            f"(channels, height, width). Got {input_shape!r} instead."
        )
    return int(shape[0])


def check_build_args(owner: str, input_shape: Sequence[int], n_classes: int) -> int:
    """Check ``build``'s input shape and class count; returns the input channels."""
    channels = check_input_shape(owner, input_shape)
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
        raise InvalidParameterError(
            f"The 'n_classes' parameter of {owner} must be an int >= 1. Got {n_classes!r} instead.")
    return channels


def malformed(what: str, text: str, why: str, path: str | None = None,
              limit: int = 120) -> InvalidArchitectureError:
    """The one-line error for a malformed architecture string (long strings shortened)."""
    shown = text if len(text) <= limit else text[: limit - 3] + "..."
    why = why if len(why) <= 3 * limit else why[: 3 * limit - 3] + "..."  # it may quote a part
    return InvalidArchitectureError(f"Malformed {what} {shown!r}: {why}", path=path)


def split_arch_string(what: str, text: object, sep: str, count: int, unit: str) -> tuple[str, list[str]]:
    """Check ``text`` is a string of ``count`` parts joined by ``sep``; return it stripped and split."""
    if not isinstance(text, str):
        raise InvalidArchitectureError(f"A {what} must be a str. Got {type(text).__name__} instead.")
    stripped = text.strip()
    items = stripped.split(sep)
    if len(items) != count:
        raise malformed(what, stripped, f"expected {count} {unit} separated by {sep!r}, got {len(items)}.")
    return stripped, items


def alphas_tensor(owner: str, alphas: Mapping[str, Any], name: str,
                  shape: tuple[int, int]) -> Tensor:
    """``alphas[name]`` (a tensor or nested lists) as a float tensor of ``shape``.

    Raises:
        InvalidParameterError: the entry is missing, not numeric or of another shape.
    """
    if not isinstance(alphas, Mapping) or name not in alphas:
        keys = sorted(alphas) if isinstance(alphas, Mapping) else type(alphas).__name__
        raise InvalidParameterError(f"{owner} needs architecture weights {name!r}; got {keys}.")
    try:
        value = torch.as_tensor(alphas[name], dtype=torch.float64).detach()
    except (TypeError, ValueError, RuntimeError):
        value = None
    if value is None or tuple(value.shape) != shape or not bool(torch.isfinite(value).all()):
        got = "non-numeric values" if value is None else f"shape {tuple(value.shape)}"
        if value is not None and tuple(value.shape) == shape:
            got = "non-finite values"
        raise InvalidParameterError(
            f"{owner}: architecture weights {name!r} must be finite numbers of shape {shape}; "
            f"got {got}."
        )
    return value
