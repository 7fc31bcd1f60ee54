"""How well training-free proxies rank the architectures of a table built by training."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archsearch.benchmarks.table import Table
from archsearch.data import Task
from archsearch.evaluators.proxies import PROXIES, ZeroCostProxies
from archsearch.spaces.base import SearchSpace

__all__ = ["ProxyReport", "proxy_correlations"]


@dataclass
class ProxyReport:
    """Rank agreement of each proxy with a table column, and its cost."""

    column: str
    n: int
    kendall_tau: dict[str, float] = field(default_factory=dict)
    spearman_rho: dict[str, float] = field(default_factory=dict)
    seconds_per_arch: dict[str, float] = field(default_factory=dict)
    scores: dict[str, list[float]] = field(default_factory=dict)
    archs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "n": self.n, "kendall_tau": self.kendall_tau,
                "spearman_rho": self.spearman_rho, "seconds_per_arch": self.seconds_per_arch}


def proxy_correlations(table: Table, space: SearchSpace, task: Task, *, sample: int,
                       column: str, proxies: Sequence[str] = PROXIES, seed: int = 0,
                       batch_size: int = 128, device: str = "cpu",
                       progress: Callable[[int, int], None] | None = None) -> ProxyReport:
    """Score ``sample`` distinct rows of ``table`` with each proxy; correlate with ``column``.

    Rows are a seeded sample; each architecture's network and minibatch derive from
    ``seed`` and its row, so reruns agree. Non-finite scores (e.g. NASWOT of a cell whose
    codes coincide) rank lowest.
    """
    table.index(space)
    table.check_columns([column])
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(table), size=min(sample, len(table)), replace=False)
    evaluator = ZeroCostProxies(task, proxies, batch_size=batch_size, device=device)
    evaluator.setup(space)
    report = ProxyReport(column, len(rows))
    scores: dict[str, list[float]] = {p: [] for p in proxies}
    seconds: dict[str, float] = {p: 0.0 for p in proxies}
    for i, row in enumerate(rows):
        arch = space.parse(table.archs[row])
        got, took = evaluator.scores(arch, int(seed) * 1_000_003 + int(row))
        for p in proxies:
            scores[p].append(got[p])
            seconds[p] += took[p]
        report.archs.append(table.archs[row])
        if progress is not None:
            progress(i + 1, len(rows))
    from scipy import stats  # here, not at the top: it costs every CLI start 0.6 s

    target = np.asarray(table.columns[column], dtype=float)[rows]
    for p in proxies:
        values = np.asarray(scores[p], dtype=float)
        values = np.where(np.isfinite(values), values, -np.inf)
        ranked = stats.rankdata(values)  # -inf ranks lowest
        report.kendall_tau[p] = round(float(stats.kendalltau(ranked, target).statistic), 4)
        report.spearman_rho[p] = round(float(stats.spearmanr(ranked, target).statistic), 4)
        report.seconds_per_arch[p] = seconds[p] / max(1, len(rows))
    report.scores = scores
    return report
