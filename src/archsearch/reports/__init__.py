"""Reports: drawings of architectures, Pareto plots and an HTML page about a search run
(matplotlib, an optional dependency)."""

from archsearch.reports.draw import draw_architecture, draw_cell
from archsearch.reports.html import write_report
from archsearch.reports.pareto import plot_pareto
from archsearch.reports.summary import RunSummary, load_run

__all__ = ["draw_cell", "draw_architecture", "plot_pareto", "write_report", "load_run", "RunSummary"]
