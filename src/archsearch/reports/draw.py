"""Cell drawings in the style of the DARTS paper's figures, with matplotlib only.

Input nodes stand on the left, intermediate nodes follow in topological order on one line,
and the output stands on the right. An edge between neighbouring columns is a straight
arrow; one that skips columns is an arc over (or under) the nodes it skips, raised until
its label clears every node and every label already placed. Edges and their labels are
coloured by operation family (convolutions blue or purple, pools orange or red, skips
green), a larger kernel in a darker shade.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archsearch._utils.imports import require
from archsearch.errors import IncompatibleError, InvalidParameterError
from archsearch.spaces.base import SearchSpace
from archsearch.types import Architecture, CellGraph

__all__ = ["draw_cell", "draw_architecture", "op_color"]

COLUMN = 3.0  # data units between node columns
ROW = 1.5  # data units between input nodes
SCALE = 0.8  # inches per data unit
NODE_H = 0.6  # height of the box a node occupies, for label placement
LABEL_H, GAP = 0.42, 0.12
FONT = 10
FAMILIES: tuple[tuple[str, str], ...] = (
    ("none", "#9e9e9e"), ("zero", "#9e9e9e"), ("skip", "#2e8b3a"), ("identity", "#2e8b3a"),
    ("max_pool", "#c0392b"), ("pool", "#e67e22"), ("sep_conv", "#1f5fa8"),
    ("dil_conv", "#7b3fa0"), ("conv", "#1a7f8e"),
)
FALLBACK = ("#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#5b5bd6")
NODE_COLORS = {"input": "#cfe8cf", "node": "#d6e4f5", "output": "#fbe3a8"}


def op_color(op: str) -> str:
    """The colour of an operation's edge: by family, darker for larger kernels.

    Example:
        >>> op_color("nor_conv_3x3"), op_color("nor_conv_1x1"), op_color("")
        ('#1a7f8e', '#5fa5b0', '#333333')
    """
    if not op:
        return "#333333"
    name = op.lower()
    base = next((color for key, color in FAMILIES if key in name), None)
    if base is None:
        return FALLBACK[zlib.crc32(op.encode()) % len(FALLBACK)]
    kernel = re.search(r"(\d+)x(\d+)", name)
    size = int(kernel.group(1)) if kernel else 3
    return _shade(base, {1: 0.3, 3: 0.0}.get(size, -0.25 if size == 5 else -0.45))


def _shade(color: str, amount: float) -> str:
    """Mix ``color`` with white (amount > 0) or black (amount < 0)."""
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    target = 255 if amount > 0 else 0
    mixed = [round(c + (target - c) * abs(amount)) for c in rgb]
    return "#" + "".join(f"{c:02x}" for c in mixed)


# --- layout ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    w: float
    h: float

    def hits(self, other: _Box) -> bool:
        return (abs(self.x - other.x) < (self.w + other.w) / 2 + GAP
                and abs(self.y - other.y) < (self.h + other.h) / 2 + GAP)


@dataclass(frozen=True)
class _Edge:
    src: int
    dst: int
    op: str
    rad: float  # matplotlib's arc3 curvature: 0 is straight, < 0 bulges up for a left-to-right edge
    label: tuple[float, float]


def _positions(graph: CellGraph) -> list[tuple[float, float]]:
    """Inputs stacked in column 0; every other node in its own column, on y = 0."""
    k = graph.inputs
    inputs = [(0.0, ((k - 1) / 2 - i) * ROW) for i in range(k)]
    return inputs + [((i + 1) * COLUMN, 0.0) for i in range(len(graph.nodes) - k)]


def _label_box(op: str, at: tuple[float, float]) -> _Box:
    if not op:  # a plain arrow keeps its apex clear too, so that arcs do not bunch up
        return _Box(at[0], at[1], 0.6, 0.25)
    return _Box(at[0], at[1], 0.25 + 0.1 * len(op), LABEL_H)


def _arc(a: tuple[float, float], b: tuple[float, float],
         lift: float) -> tuple[float, list[tuple[float, float]]]:
    """arc3 curvature of the edge a -> b whose apex is ``lift`` off the chord (> 0: above,
    for a left-to-right edge), and points along it, the apex in the middle."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    rad = -2 * lift / math.hypot(dx, dy)
    control = ((a[0] + b[0]) / 2 + rad * dy, (a[1] + b[1]) / 2 - rad * dx)
    points = []
    for t in (i / 20 for i in range(2, 19)):
        u = 1 - t
        points.append((u * u * a[0] + 2 * u * t * control[0] + t * t * b[0],
                       u * u * a[1] + 2 * u * t * control[1] + t * t * b[1]))
    return rad, points


def _clear(op: str, points: list[tuple[float, float]], nodes: list[_Box], labels: list[_Box],
           ends: tuple[int, int]) -> bool:
    """Whether the label at the apex and the curve keep off other nodes and labels."""
    apex = _label_box(op, points[len(points) // 2])
    if any(apex.hits(box) for box in nodes + labels):
        return False
    others = [box for i, box in enumerate(nodes) if i not in ends] + labels
    return not any(_Box(x, y, 0.0, 0.0).hits(box) for x, y in points for box in others)


def _raise_until_clear(op: str, a: tuple[float, float], b: tuple[float, float], side: float,
                       lift: float, nodes: list[_Box], labels: list[_Box],
                       ends: tuple[int, int]) -> tuple[float, float, tuple[float, float]]:
    """The lowest (lift, arc3 curvature, apex) from ``lift`` up at which the edge is clear."""
    rad, points = _arc(a, b, side * lift)
    while lift < 12 and not _clear(op, points, nodes, labels, ends):
        lift += 0.2
        rad, points = _arc(a, b, side * lift)
    return lift, rad, points[len(points) // 2]


def _place(graph: CellGraph, pos: Sequence[tuple[float, float]]) -> list[_Edge]:
    """Straight arrows between neighbours; arcs otherwise, raised until they are clear.

    Shorter edges are placed first, so longer ones arc over them; an arc takes the side
    where it needs less height, except that an arc from an outer input bulges outwards.
    """
    nodes = [_Box(x, y, 0.5 + 0.12 * len(re.sub(r"[_{}]", "", label)), NODE_H)
             for label, (x, y) in zip(graph.nodes, pos)]
    labels: list[_Box] = []
    edges = []
    for src, dst, op in sorted(graph.edges, key=lambda e: (abs(pos[e[1]][0] - pos[e[0]][0]), e)):
        a, b = pos[src], pos[dst]
        neighbours = abs(b[0] - a[0]) <= COLUMN + 1e-9
        sides: tuple[float, ...] = (1.0, -1.0) if a[1] >= 0 else (-1.0, 1.0)
        if a[1] != 0 and not neighbours:
            sides = sides[:1]
        start = 0.0 if neighbours else NODE_H
        _, rad, apex = min((_raise_until_clear(op, a, b, side, start, nodes, labels, (src, dst))
                            for side in sides), key=lambda option: option[0])
        labels.append(_label_box(op, apex))
        edges.append(_Edge(src, dst, op, rad, apex))
    return edges


# --- drawing -----------------------------------------------------------------------
def _node_text(label: str) -> str:
    return f"${label}$" if "_{" in label else label


def _node_kind(graph: CellGraph, i: int) -> str:
    if i < graph.inputs:
        return "input"
    return "output" if i == len(graph.nodes) - 1 else "node"


def _extent(pos: Sequence[tuple[float, float]], edges: Sequence[_Edge]) -> tuple[float, ...]:
    """(x0, x1, y0, y1) of a laid-out cell in data units, margins included."""
    xs = [x for x, _ in pos]
    ys = [y for _, y in pos] + [e.label[1] for e in edges]
    return min(xs) - 0.8, max(xs) + 0.8, min(ys) - 0.6, max(ys) + 0.6


def _draw(ax: Any, graph: CellGraph, pos: Sequence[tuple[float, float]], edges: Sequence[_Edge]) -> None:
    boxes = []
    for i, (label, (x, y)) in enumerate(zip(graph.nodes, pos)):
        boxes.append(ax.text(x, y, _node_text(label), ha="center", va="center", fontsize=FONT + 1,
                             zorder=3, bbox={"boxstyle": "round,pad=0.45", "ec": "#444444",
                                             "fc": NODE_COLORS[_node_kind(graph, i)], "lw": 1.2}))
    for edge in edges:
        color = op_color(edge.op)
        ax.annotate("", xy=pos[edge.dst], xytext=pos[edge.src], zorder=1, arrowprops={
            "arrowstyle": "-|>", "color": color, "lw": 1.6 if edge.op else 1.0,
            "connectionstyle": f"arc3,rad={edge.rad:.4f}", "mutation_scale": 14,
            "patchA": boxes[edge.src].get_bbox_patch(), "patchB": boxes[edge.dst].get_bbox_patch(),
            "shrinkA": 1, "shrinkB": 3})
        if edge.op:
            ax.text(*edge.label, edge.op, ha="center", va="center", fontsize=FONT, color=color,
                    zorder=2, bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": color,
                                    "lw": 0.8, "alpha": 0.95})


def _check_suffix(path: str | Path, owner: str) -> Path:
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise InvalidParameterError(
            f"The 'path' parameter of {owner} must end in .png or .svg. Got {str(path)!r} instead.")
    return path


def _figure(graphs: Sequence[CellGraph], title: str | None, path: Path) -> None:
    """Draw the cells side by side at one scale, their centre lines level, and save."""
    plt = require("matplotlib.pyplot", "plot", backend="Agg")
    layouts = [(pos, _place(graph, pos)) for graph, pos in ((g, _positions(g)) for g in graphs)]
    extents = [_extent(pos, edges) for pos, edges in layouts]
    y0, y1 = min(e[2] for e in extents), max(e[3] for e in extents)
    widths = [e[1] - e[0] for e in extents]
    fig, axes = plt.subplots(1, len(graphs), squeeze=False, gridspec_kw={"width_ratios": widths})
    fig.set_size_inches(SCALE * sum(widths) + 0.3 * len(graphs), SCALE * (y1 - y0) + 0.8)
    for ax, graph, (pos, edges), extent in zip(axes[0], graphs, layouts, extents):
        _draw(ax, graph, pos, edges)
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(graph.name, fontsize=FONT + 2)
    if title:
        fig.suptitle(title, fontsize=FONT)
    try:
        fig.savefig(path, dpi=150, bbox_inches="tight", facecolor="white")
    finally:
        plt.close(fig)


def draw_cell(graph: CellGraph, path: str | Path, *, title: str | None = None) -> Path:
    """Draw one cell to a PNG or SVG file (chosen by the suffix of ``path``).

    Args:
        graph: the cell, e.g. one of ``space.cell_graphs(arch)``.
        path: where to write; ``.png`` or ``.svg``.
        title: a line above the drawing (default: none).

    Returns:
        The path written.

    Example:
        >>> import os, tempfile
        >>> from archsearch.types import CellGraph
        >>> cell = CellGraph("cell", ("in", "1", "out"),
        ...                  ((0, 1, "nor_conv_3x3"), (1, 2, "skip_connect"), (0, 2, "avg_pool_3x3")))
        >>> path = draw_cell(cell, os.path.join(tempfile.mkdtemp(), "cell.svg"))
        >>> "avg_pool_3x3" in path.read_text()
        True
    """
    path = _check_suffix(path, "draw_cell")
    _figure([graph], title, path)
    return path


def draw_architecture(space: SearchSpace, arch: Architecture, path: str | Path, *,
                      title: str | None = None) -> Path:
    """Draw every cell of ``arch`` side by side in one PNG or SVG file.

    Args:
        space: a space whose :meth:`~archsearch.SearchSpace.cell_graphs` describes its cells.
        arch: an architecture of ``space``.
        path: where to write; ``.png`` or ``.svg``.
        title: a line above the drawing (default: the space and the architecture string).

    Returns:
        The path written.

    Example:
        >>> import archsearch, os, tempfile
        >>> space = archsearch.create_space("nb201")
        >>> arch = space.parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|")
        >>> draw_architecture(space, arch, os.path.join(tempfile.mkdtemp(), "a.png")).stat().st_size > 0
        True
    """
    path = _check_suffix(path, "draw_architecture")
    graphs = space.cell_graphs(arch)
    if not graphs:
        raise IncompatibleError(
            f"The {space.name!r} space has no cells to draw (its cell_graphs() is empty); "
            "draw_architecture needs a cell-based space such as 'nb201'.")
    if title is None:
        text = str(arch)
        title = f"{space.name}: {text if len(text) <= 110 else text[:107] + '...'}"
    _figure(graphs, title, path)
    return path
