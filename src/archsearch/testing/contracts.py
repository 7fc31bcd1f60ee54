"""The space and strategy contracts, as plain functions raising AssertionError."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from archsearch.errors import InvalidArchitectureError
from archsearch.spaces.base import SearchSpace
from archsearch.strategies.base import Strategy
from archsearch.types import FrozenTrial, Objective, TrialState

__all__ = ["check_space", "check_strategy", "check_parse"]


def check_space(space: SearchSpace, input_shape: Sequence[int] = (1, 8, 8), n_classes: int = 3,
                n_samples: int = 5, seed: int = 0) -> None:
    """Sample -> validate -> build -> forward; string, encode/decode round trips; mutate."""
    rng = np.random.default_rng(seed)
    decisions = space.decisions()
    if not decisions:
        raise AssertionError(f"{space.name}: no decisions")
    for _ in range(n_samples):
        arch = space.sample(rng)
        space.validate(arch)
        _check(space.parse(str(arch)) == arch, f"{space.name}: parse(str(arch)) != arch for {arch}")
        _check(space.decode(space.encode(arch)) == arch, f"{space.name}: decode(encode) != arch")
        _check(hash(arch) == hash(space.parse(str(arch))), f"{space.name}: unstable hash")
        values = arch.values
        child = space.mutate(arch, rng)
        _check(arch.values == values, f"{space.name}: mutate edited its input")
        _check(sum(a != b for a, b in zip(arch.values, child.values)) == 1,
               f"{space.name}: mutate changed other than one decision")
        model = space.build(arch, input_shape, n_classes)
        with torch.no_grad():
            out = model.eval()(torch.randn(2, *input_shape))
        _check(tuple(out.shape) == (2, n_classes), f"{space.name}: output shape {tuple(out.shape)}")
        _check(bool(torch.isfinite(out).all()), f"{space.name}: non-finite output")
    for bad in ("", "???", str(space.sample(rng)) + "x"):
        try:
            space.parse(bad)
        except InvalidArchitectureError as err:
            _check("\n" not in str(err), f"{space.name}: multi-line error for {bad!r}")
        else:
            raise AssertionError(f"{space.name}: parse accepted malformed {bad!r}")


def check_strategy(strategy: Strategy, space: SearchSpace, n_trials: int = 30,
                   seed: int = 0) -> None:
    """Asks are valid architectures of the space, and replaying tells reproduces the asks."""
    objective = Objective("score")

    def run(n: int, tells: list[FrozenTrial] | None = None) -> tuple[list[str], list[FrozenTrial]]:
        strategy.setup(space, objective, seed)
        for trial in tells or []:
            strategy.tell(trial)
        asked, told = [], []
        for number in range(len(tells or []), n):
            arch = strategy.ask(np.random.default_rng([seed, number]))
            space.validate(arch)
            asked.append(str(arch))
            trial = FrozenTrial(number, 0, number, str(arch), arch.key, TrialState.COMPLETE,
                                {"score": float(np.sum(space.encode(arch)))})
            strategy.tell(trial)
            told.append(trial)
        return asked, told

    first, told = run(n_trials)
    replayed, _ = run(n_trials, told[: n_trials // 2])
    _check(first[n_trials // 2:] == replayed,
           f"{strategy.name}: replaying finished trials did not reproduce the next asks")


def check_parse(space: SearchSpace, text: object) -> None:
    """``text`` parses to an architecture that round-trips, or fails with a one-line error.

    Meant for property-based tests that throw random and near-miss strings at a parser.
    """
    try:
        arch = space.parse(text)  # type: ignore[arg-type]
    except InvalidArchitectureError as err:
        _check(bool(str(err)) and "\n" not in str(err), f"{space.name}: bad error {err!r}")
        return
    _check(space.parse(str(arch)) == arch, f"{space.name}: {text!r} does not round-trip")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise AssertionError(message)
