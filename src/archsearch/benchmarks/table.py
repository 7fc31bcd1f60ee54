"""Tabular benchmarks: a file with one row per architecture and its metrics.

A table is a CSV (optionally gzip'ed) or Parquet file with an ``arch`` column holding the
space's canonical strings and numeric metric columns. Beside it, ``<stem>.meta.json``
may describe it: the space and its settings, the dataset, the training recipe, the
fidelities (which columns are the same metric at several budgets) and provenance.
Lookups go by the exact string first and then by the canonical key, so an architecture
isomorphic to a row finds that row.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import json
import math
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.errors import ArchSearchError, InvalidArchitectureError
from archsearch.spaces.base import SearchSpace
from archsearch.types import Architecture

__all__ = ["Table", "TableError", "read_table", "write_table", "meta_path", "space_of"]


class TableError(ArchSearchError, ValueError):
    """A table file is missing, malformed, or lacks what was asked of it."""


def meta_path(path: str | Path) -> Path:
    """The metadata file beside a table: ``x.csv.gz`` -> ``x.meta.json``."""
    path = Path(path)
    name = path.name
    for suffix in (".csv.gz", ".csv", ".parquet"):
        if name.endswith(suffix):
            return path.with_name(name[: -len(suffix)] + ".meta.json")
    return path.with_name(name + ".meta.json")


@dataclass(eq=False)
class Table:
    """A loaded table: architecture strings, numeric columns and metadata.

    Use :func:`read_table`; then :meth:`index` binds it to a space for lookups.

    Example:
        >>> import archsearch, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> arch = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|"
        >>> write_table(path, [{"arch": arch, "acc": 91.5}], {"space": "nb201"})
        >>> table = read_table(path)
        >>> table.index(archsearch.create_space("nb201")).lookup(table.space.parse(arch))["acc"]
        91.5
    """

    path: Path
    archs: list[str]
    columns: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)
    space: SearchSpace | None = None
    not_numeric: dict[str, tuple[int, str]] = field(default_factory=dict, repr=False)
    _rows: list[dict[str, float]] = field(default_factory=list, repr=False)
    _by_string: dict[str, int] = field(default_factory=dict, repr=False)
    _by_key: dict[str, int] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.archs)

    @property
    def metrics(self) -> list[str]:
        """Names of the numeric columns."""
        return list(self.columns)

    def check_columns(self, names: Iterable[str]) -> None:
        """Raise TableError naming the first column the table lacks or that holds no number.

        A column with a cell that is not a number is not a metric; asked for, it is named
        with the row (line of the file) and the text of its first such cell.
        """
        for name in names:
            if name in self.not_numeric:
                row, text = self.not_numeric[name]
                raise TableError(f"Table {self.path}: column {name!r} is not numeric: row {row} "
                                 f"holds {text[:40]!r}. Put a finite number there, or leave the cell "
                                 "empty for a missing value.")
            if name in self.columns and np.isnan(self.columns[name]).all():
                others = [m for m in self.metrics if not np.isnan(self.columns[m]).all()]
                raise TableError(f"Table {self.path}: column {name!r} holds no values (its "
                                 f"{len(self)} rows are empty or NaN). Choose a column with "
                                 f"values: {others[:10]}.")
            if name not in self.columns:
                close = difflib.get_close_matches(name, list(self.columns), n=1)
                hint = f"Did you mean {close[0]!r}?" if close else f"Numeric columns: {self.metrics}."
                raise TableError(f"Table {self.path} has no numeric column {name!r}. {hint}")

    def index(self, space: SearchSpace) -> Table:
        """Parse every row's architecture in ``space`` and build the lookup indices."""
        self.space = space
        self._by_string, self._by_key = {}, {}
        names = list(self.columns)
        values = np.stack([self.columns[n] for n in names], axis=1) if names else None
        self._rows = [dict(zip(names, map(float, row))) for row in values] if values is not None \
            else [{} for _ in self.archs]
        for i, text in enumerate(self.archs):
            try:
                arch = space.parse(text)
            except InvalidArchitectureError as err:
                raise TableError(f"Table {self.path}, row {i + 2}: {err}") from None
            first = self._by_string.setdefault(arch.string, i)
            if first != i and values is not None and not np.array_equal(
                    values[first], values[i], equal_nan=True):
                # The same architecture twice with equal values (tables concatenated) is
                # harmless; with other values, which to answer is a guess: refuse.
                differ = next(n for n, a, b in zip(names, values[first], values[i])
                              if not (a == b or (math.isnan(a) and math.isnan(b))))
                raise TableError(
                    f"Table {self.path}: rows {first + 2} and {i + 2} both hold {arch.string} "
                    f"with different values ({differ} {values[first][names.index(differ)]:g} "
                    f"vs {values[i][names.index(differ)]:g}). Keep one row per architecture.")
            self._by_key.setdefault(arch.key, i)
        return self

    def row_of(self, arch: Architecture) -> int | None:
        """The row of ``arch`` (or of an isomorphic architecture), or None."""
        row = self._by_string.get(arch.string)
        return self._by_key.get(arch.key) if row is None else row

    def lookup(self, arch: Architecture) -> dict[str, float]:
        """Every numeric column of the row of ``arch``; raises TableError if it has none."""
        row = self.row_of(arch)
        if row is None:
            raise TableError(f"Table {self.path} has no row for {arch} (nor for any isomorphic "
                             f"architecture); it holds {len(self)} rows.")
        return dict(self._rows[row])

    @property
    def n_distinct(self) -> int:
        """Distinct canonical keys among the rows (after :meth:`index`)."""
        return len(self._by_key)


def read_table(path: str | Path) -> Table:
    """Read a CSV (``.csv`` / ``.csv.gz``) or Parquet table and its metadata, if any."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"No table at {path}.")
    header, rows = _read_parquet(path) if path.suffix == ".parquet" else _read_csv(path)
    if "arch" not in header:
        raise TableError(f"Table {path} has no 'arch' column; its columns: {header[:10]}.")
    if not rows:
        raise TableError(f"Table {path} has no rows.")
    seen: dict[str, int] = {}
    for j, name in enumerate(header):
        if name in seen:
            raise TableError(f"Table {path} has the column {name!r} twice (columns "
                             f"{seen[name] + 1} and {j + 1}). Rename or drop one.")
        seen[name] = j
    a = header.index("arch")
    archs = [str(r[a]) for r in rows]
    columns, not_numeric = {}, {}
    for j, name in enumerate(header):
        if j != a:
            numeric, bad = _numeric([r[j] for r in rows])
            if numeric is not None:
                columns[name] = numeric
            else:
                not_numeric[name] = (bad + 2, str(rows[bad][j]))
    return Table(path=path, archs=archs, columns=columns, meta=_read_meta(path),
                 not_numeric=not_numeric)


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    # Read as a stream: a small .gz may inflate to gigabytes, which the csv module's field
    # limit stops long before they are all in memory.
    reader = None
    try:
        binary = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")
        with io.TextIOWrapper(binary, encoding="utf-8-sig", newline="") as text:  # BOM dropped
            reader = csv.reader(_lines(text, path))
            header = next(reader, None)
            rows = list(reader)
    except UnicodeDecodeError as err:
        raise TableError(f"Cannot read table {path}: it is not UTF-8 text ({err.reason} at byte "
                         f"{err.start}). Save it as UTF-8 CSV.") from None
    except csv.Error as err:
        where = f", row {reader.line_num}" if reader is not None else ""
        raise TableError(f"Table {path}{where}: {err}.") from None
    except (OSError, EOFError, zlib.error) as err:
        raise TableError(f"Cannot read table {path}: {type(err).__name__}: {err}".rstrip(": ")
                         + ".") from None
    if not header:
        raise TableError(f"Table {path} is empty.")
    header = [h.strip() for h in header]
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise TableError(f"Table {path}, row {i + 2}: {len(row)} fields, the header has "
                             f"{len(header)}.")
    return header, rows


_MAX_LINE = 1 << 22  # characters of one line of a CSV table


def _lines(text: io.TextIOWrapper, path: Path) -> Iterator[str]:
    """The lines of ``text``, refusing one longer than ``_MAX_LINE`` before it is all read."""
    number = 0
    while line := text.readline(_MAX_LINE):
        number += 1
        if len(line) == _MAX_LINE and not line.endswith("\n"):
            raise TableError(f"Table {path}, line {number}: longer than {_MAX_LINE:,} "
                             "characters; a table row is far shorter. Is it a table?")
        yield line


def _read_parquet(path: Path) -> tuple[list[str], list[list[Any]]]:
    try:
        import pyarrow.parquet as pq  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise TableError("Reading Parquet tables needs pyarrow: pip install 'archsearch[parquet]'."
                         ) from None
    try:
        data = pq.read_table(path).to_pydict()
    except Exception as err:  # noqa: BLE001 - pyarrow raises many types for bad files
        raise TableError(f"Cannot read table {path}: {' '.join(str(err).split())[:200]}") from None
    header = list(data)
    return header, [list(r) for r in zip(*data.values())]


def _numeric(values: Sequence[Any]) -> tuple[np.ndarray | None, int]:
    """The values as float64 (empty cells are NaN), or None and the index of the first
    value that is not a finite number."""
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        try:
            out[i] = math.nan if v in ("", None) else float(v)
        except (TypeError, ValueError, OverflowError):
            return None, i
        if math.isinf(out[i]):  # 'inf', '1e999': no benchmark measures an infinite value
            return None, i
    return out, -1


def _read_meta(path: Path) -> dict[str, Any]:
    meta = meta_path(path)
    if not meta.is_file():
        return {}
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError) as err:
        raise TableError(f"Cannot read table metadata {meta}: {err}.") from None
    if not isinstance(data, dict):
        raise TableError(f"Table metadata {meta} must be a JSON object.")
    return data


def write_table(path: str | Path, rows: Sequence[Mapping[str, Any]],
                meta: Mapping[str, Any] | None = None) -> None:
    """Write rows (dicts with an ``arch`` key) as CSV (gzip'ed for ``.gz``) and metadata."""
    path = Path(path)
    if not rows:
        raise TableError(f"No rows to write to {path}.")
    header = ["arch"] + [k for k in rows[0] if k != "arch"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row.get(k)) for k in header])
    data = buffer.getvalue().encode()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    tmp.replace(path)
    if meta is not None:
        meta_path(path).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else format(value, ".10g")
    return str(value)


def space_of(table: Table, name: str | None = None, **config: Any) -> SearchSpace:
    """The space a table belongs to: ``name`` if given, else its metadata's."""
    from archsearch.spaces import create_space

    name = name or table.meta.get("space")
    if not name:
        raise TableError(f"Table {table.path} names no space (no {meta_path(table.path).name}); "
                         "pass the space (CLI: --space).")
    settings = table.meta.get("space_config", {})
    if not isinstance(name, str) or not isinstance(settings, dict):
        raise TableError(f"Table metadata {meta_path(table.path)}: 'space' must be a name and "
                         "'space_config' an object of settings.")
    return create_space(name, **{**settings, **config})
