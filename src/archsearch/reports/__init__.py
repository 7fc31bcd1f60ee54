"""Reports: drawings of architectures (matplotlib, an optional dependency)."""

from archsearch.reports.draw import draw_architecture, draw_cell

__all__ = ["draw_cell", "draw_architecture"]
