"""How good is a table: spread of accuracies, agreement of fidelities, seed-to-seed noise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archsearch.benchmarks.table import Table

__all__ = ["TableQuality", "table_quality"]


@dataclass
class TableQuality:
    """Figures of merit of a table's accuracy columns."""

    column: str
    rows: int
    spread: dict[str, float]
    fidelities: dict[str, dict[str, float]] = field(default_factory=dict)
    noise: dict[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "rows": self.rows, "spread": self.spread,
                "fidelities": self.fidelities, "noise": self.noise}


def table_quality(table: Table, column: str | None = None, other: Table | None = None) -> TableQuality:
    """Spread of ``column``, its rank agreement with every other fidelity, and with ``other``.

    Args:
        table: an indexed table.
        column: the reference accuracy column (default: the last fidelity in the metadata).
        other: the same architectures trained with another seed (a table built with
            ``--seed`` changed, or a sample of them), for Kendall tau between seeds.
    """
    fidelities = list(table.meta.get("fidelities", {}).get("val_acc", []))
    column = column or (fidelities[-1] if fidelities else table.metrics[0])
    table.check_columns([column])
    ref = table.columns[column]
    ok = np.isfinite(ref)
    q = np.percentile(ref[ok], [0, 10, 50, 90, 100])
    spread = {"min": q[0], "p10": q[1], "median": q[2], "p90": q[3], "max": q[4],
              "std": float(np.std(ref[ok])), "p90_minus_p10": q[3] - q[1]}
    result = TableQuality(column, int(ok.sum()), {k: round(float(v), 4) for k, v in spread.items()})
    for name in fidelities:
        if name != column and name in table.columns:
            result.fidelities[name] = _agreement(table.columns[name], ref)
    if other is not None:
        other.check_columns([column])
        pairs = [(ref[i], other.columns[column][j]) for i, j in _common_rows(table, other)]
        a, b = (np.array(x) for x in zip(*pairs)) if pairs else (np.array([]), np.array([]))
        result.noise = {**_agreement(b, a), "rows": len(pairs),
                        "mean_abs_diff": round(float(np.nanmean(np.abs(a - b))), 4) if pairs else np.nan}
    return result


def _common_rows(table: Table, other: Table) -> list[tuple[int, int]]:
    if table.space is None or other.space is None:
        raise ValueError("index both tables first")
    out = []
    for j, text in enumerate(other.archs):
        i = table.row_of(other.space.parse(text))
        if i is not None:
            out.append((i, j))
    return out


def _agreement(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return {"kendall_tau": float("nan"), "spearman_rho": float("nan")}
    from scipy import stats  # here, not at the top: it costs every CLI start 0.6 s

    tau = stats.kendalltau(x[ok], y[ok]).statistic
    rho = stats.spearmanr(x[ok], y[ok]).statistic
    return {"kendall_tau": round(float(tau), 4), "spearman_rho": round(float(rho), 4)}
