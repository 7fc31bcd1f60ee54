"""Tabular benchmarks: the table format, strategy comparison on a table, and table building."""

from archsearch.benchmarks.compare import CompareResult, compare_strategies, plot_curves
from archsearch.benchmarks.table import Table, TableError, read_table, space_of, write_table

__all__ = ["CompareResult", "Table", "TableError", "compare_strategies", "plot_curves",
           "read_table", "space_of", "write_table"]
