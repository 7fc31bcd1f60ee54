"""Score an architecture by looking it up in a tabular benchmark."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from archsearch.benchmarks.table import Table, TableError, read_table
from archsearch.errors import TrialFailed, TrialPruned
from archsearch.evaluators.base import Evaluator, TrialContext
from archsearch.spaces.base import SearchSpace
from archsearch.types import Architecture, Objective

__all__ = ["TabularLookup"]

_EPOCHS = re.compile(r"^(.*)_(\d+)ep$")


class TabularLookup(Evaluator):
    """Answer every numeric column of a table's row for an architecture.

    Isomorphic architectures find the same row (lookup by canonical key). An
    architecture without a row fails its trial with a message naming it.

    Fidelities: when the objective column is named ``<metric>_<N>ep`` and the table holds
    the same metric after fewer epochs (``<metric>_12ep`` beside ``<metric>_200ep`` in
    NAS-Bench-201), a search with a pruner sees them as a training run would: each is
    reported at its epoch, lowest first, and the trial is stopped (recorded as pruned
    with the epochs it got) as soon as the pruner says so, before the full value is read.
    Without a pruner the lookup answers the whole row at once.

    Args:
        table: a path to a table file, or a loaded :class:`~archsearch.benchmarks.Table`.
        objective: the column the search optimises.
        direction: ``"maximize"`` or ``"minimize"``.

    Example:
        >>> import archsearch, os, tempfile
        >>> from archsearch.benchmarks import write_table
        >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> arch = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|"
        >>> write_table(path, [{"arch": arch, "acc": 91.5}])
        >>> ev = TabularLookup(path, "acc")
        >>> ev.setup(archsearch.create_space("nb201"))
        >>> ev.evaluate(ev.space.parse(arch), archsearch.TrialContext(0, seed=0))
        {'acc': 91.5}
    """

    name = "table"

    def __init__(self, table: str | Path | Table, objective: str,
                 direction: Literal["maximize", "minimize"] = "maximize") -> None:
        self.table = table
        self.objective = objective
        self.direction = direction

    @property
    def objectives(self) -> tuple[Objective, ...]:  # type: ignore[override]
        return (Objective(self.objective, self.direction),)

    def setup(self, space: SearchSpace) -> None:
        super().setup(space)
        self._table = self.table if isinstance(self.table, Table) else read_table(self.table)
        if self._table.space is not space:
            self._table.index(space)
        self._table.check_columns([self.objective])
        if self.direction not in ("maximize", "minimize"):
            raise TableError(f"direction must be 'maximize' or 'minimize'. Got {self.direction!r}.")

    def check_columns(self, names: list[str]) -> None:
        """Raise TableError naming the first of ``names`` the (set up) table lacks."""
        self._table.check_columns(names)

    def fidelities(self) -> list[tuple[int, str]]:
        """``(epochs, column)`` of the objective's metric at every budget, fewest first."""
        found = _EPOCHS.match(self.objective)
        if found is None:
            return []
        stem, most = found.group(1), int(found.group(2))
        pairs = [(int(m.group(2)), name) for name in self._table.metrics
                 if (m := _EPOCHS.match(name)) is not None and m.group(1) == stem
                 and int(m.group(2)) <= most]
        return sorted(pairs)

    def max_epochs(self) -> int | None:
        """The objective's epochs, when its column is named ``<metric>_<N>ep``."""
        found = _EPOCHS.match(self.objective)
        return None if found is None else int(found.group(2))

    def report_steps(self) -> list[int] | None:
        """The epochs of the objective's fidelity columns (None: not a METRIC_<N>ep objective)."""
        return [epochs for epochs, _ in self.fidelities()] or None

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> dict[str, float]:
        try:
            row = self._table.lookup(arch)
        except TableError as err:
            raise TrialFailed(str(err)) from None
        if ctx.pruning:
            for epochs, column in self.fidelities():
                ctx.report(epochs, row[column])
                if ctx.should_prune() and column != self.objective:
                    raise TrialPruned(f"stopped after {epochs} epochs ({column} "
                                      f"{row[column]:g})")
        return row

    def config(self) -> dict[str, Any]:
        table = getattr(self, "_table", None) or (
            self.table if isinstance(self.table, Table) else read_table(self.table))
        return {"name": self.name, "table": str(Path(table.path).resolve()), "rows": len(table),
                "objective": self.objective, "direction": self.direction}
