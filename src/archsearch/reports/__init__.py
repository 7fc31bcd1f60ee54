"""Reports: drawings of architectures and Pareto plots (matplotlib, an optional dependency)."""

from archsearch.reports.draw import draw_architecture, draw_cell
from archsearch.reports.pareto import plot_pareto

__all__ = ["draw_cell", "draw_architecture", "plot_pareto"]
