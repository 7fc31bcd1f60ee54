"""Genotypes of the NASNet/DARTS cell space: the published cells, strings and their parser.

A genotype holds two cells, *normal* and *reduce*, each as (operation, input) pairs, two
per intermediate node, with the list of nodes the cell output concatenates. Genotypes
print as the reference code's ``cnn/genotypes.py`` writes them, and
:func:`parse_genotype` reads such strings back without evaluating them.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Sequence
from typing import NamedTuple

from archsearch.errors import InvalidArchitectureError
from archsearch.spaces.base import malformed

__all__ = ["GENOTYPES", "Genotype", "format_genotype", "parse_genotype", "unused_nodes"]

_MAX_CHARS = 4096


class Genotype(NamedTuple):
    """Two cells as the reference writes them: (op, input) pairs, two per node, in order.

    Example:
        >>> g = GENOTYPES["DARTS_V2"]
        >>> g.normal[7], g.normal_concat
        (('dil_conv_3x3', 2), [2, 3, 4, 5])
    """

    normal: list[tuple[str, int]]
    normal_concat: list[int]
    reduce: list[tuple[str, int]]
    reduce_concat: list[int]


GENOTYPES: dict[str, Genotype] = {
    "NASNet": Genotype(
        normal=[("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 0),
                ("sep_conv_3x3", 0), ("avg_pool_3x3", 1), ("skip_connect", 0),
                ("avg_pool_3x3", 0), ("avg_pool_3x3", 0), ("sep_conv_3x3", 1),
                ("skip_connect", 1)],
        normal_concat=[2, 3, 4, 5, 6],
        reduce=[("sep_conv_5x5", 1), ("sep_conv_7x7", 0), ("max_pool_3x3", 1),
                ("sep_conv_7x7", 0), ("avg_pool_3x3", 1), ("sep_conv_5x5", 0),
                ("skip_connect", 3), ("avg_pool_3x3", 2), ("sep_conv_3x3", 2),
                ("max_pool_3x3", 1)],
        reduce_concat=[4, 5, 6],
    ),
    "AmoebaNet": Genotype(
        normal=[("avg_pool_3x3", 0), ("max_pool_3x3", 1), ("sep_conv_3x3", 0),
                ("sep_conv_5x5", 2), ("sep_conv_3x3", 0), ("avg_pool_3x3", 3),
                ("sep_conv_3x3", 1), ("skip_connect", 1), ("skip_connect", 0),
                ("avg_pool_3x3", 1)],
        normal_concat=[4, 5, 6],
        reduce=[("avg_pool_3x3", 0), ("sep_conv_3x3", 1), ("max_pool_3x3", 0),
                ("sep_conv_7x7", 2), ("sep_conv_7x7", 0), ("avg_pool_3x3", 1),
                ("max_pool_3x3", 0), ("max_pool_3x3", 1), ("conv_7x1_1x7", 0),
                ("sep_conv_3x3", 5)],
        reduce_concat=[3, 4, 6],
    ),
    "DARTS_V1": Genotype(
        normal=[("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0),
                ("sep_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 1),
                ("sep_conv_3x3", 0), ("skip_connect", 2)],
        normal_concat=[2, 3, 4, 5],
        reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2),
                ("max_pool_3x3", 0), ("max_pool_3x3", 0), ("skip_connect", 2),
                ("skip_connect", 2), ("avg_pool_3x3", 0)],
        reduce_concat=[2, 3, 4, 5],
    ),
    "DARTS_V2": Genotype(
        normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0),
                ("sep_conv_3x3", 1), ("sep_conv_3x3", 1), ("skip_connect", 0),
                ("skip_connect", 0), ("dil_conv_3x3", 2)],
        normal_concat=[2, 3, 4, 5],
        reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2),
                ("max_pool_3x3", 1), ("max_pool_3x3", 0), ("skip_connect", 2),
                ("skip_connect", 2), ("max_pool_3x3", 1)],
        reduce_concat=[2, 3, 4, 5],
    ),
}
"""The published cells of the reference ``cnn/genotypes.py``, by its names."""


# --- genotype strings ---------------------------------------------------------------
def format_genotype(genotype: Genotype) -> str:
    """The genotype as the reference prints it, e.g. ``Genotype(normal=[('sep_conv_3x3', 0), ...``."""
    return (
        f"Genotype(normal={[(op, i) for op, i in genotype.normal]!r}, "
        f"normal_concat={list(genotype.normal_concat)!r}, "
        f"reduce={[(op, i) for op, i in genotype.reduce]!r}, "
        f"reduce_concat={list(genotype.reduce_concat)!r})"
    )


def parse_genotype(text: str) -> Genotype:
    """Read a genotype string without evaluating it; only its shape is checked here.

    Quotes may be single or double, fields may be given by keyword or position, and a
    concat may read ``range(2, 6)`` as the reference's search prints it.

    Raises:
        InvalidArchitectureError: naming what is malformed.

    Example:
        >>> parse_genotype(str(GENOTYPES["DARTS_V1"])) == GENOTYPES["DARTS_V1"]
        True
    """
    if not isinstance(text, str):
        raise InvalidArchitectureError(
            f"A DARTS genotype must be a str. Got {type(text).__name__} instead."
        )
    text = text.strip()
    if len(text) > _MAX_CHARS:
        raise _malformed(text, f"longer than {_MAX_CHARS} characters.")
    fields = _fields(text, _call(text))
    return Genotype(
        normal=_pairs(text, "normal", fields["normal"]),
        normal_concat=_concat(text, "normal_concat", fields["normal_concat"]),
        reduce=_pairs(text, "reduce", fields["reduce"]),
        reduce_concat=_concat(text, "reduce_concat", fields["reduce_concat"]),
    )




def _call(text: str) -> ast.Call:
    """The ``Genotype(...)`` call of ``text``, parsed (never run)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            body = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise _malformed(text, "not a Genotype(...) expression.") from None
    if not (isinstance(body, ast.Call) and isinstance(body.func, ast.Name)
            and body.func.id == "Genotype"):
        raise _malformed(text, "expected Genotype(normal=[...], normal_concat=[...], "
                               "reduce=[...], reduce_concat=[...]).")
    return body


def _fields(text: str, call: ast.Call) -> dict[str, ast.expr]:
    names = Genotype._fields
    unpacked = any(isinstance(a, ast.Starred) for a in call.args)
    if len(call.args) > len(names) or unpacked or any(k.arg is None for k in call.keywords):
        raise _malformed(text, f"Genotype takes the 4 fields {list(names)}.")
    fields = dict(zip(names, call.args))
    for keyword in call.keywords:
        if keyword.arg not in names:
            raise _malformed(text, f"unknown field {keyword.arg!r}; fields are {list(names)}.")
        if keyword.arg in fields:
            raise _malformed(text, f"field {keyword.arg!r} is given twice.")
        fields[keyword.arg] = keyword.value
    missing = [name for name in names if name not in fields]
    if missing:
        raise _malformed(text, f"field {missing[0]!r} is missing.")
    return fields


def _int(node: ast.expr) -> int | None:
    """The value of an int literal such as ``3`` or ``-1``; None for anything else."""
    negative = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
    literal = node.operand if isinstance(node, ast.UnaryOp) and negative else node
    if isinstance(literal, ast.Constant) and type(literal.value) is int:
        return -literal.value if negative else literal.value
    return None


def _pairs(text: str, field: str, node: ast.expr) -> list[tuple[str, int]]:
    if not isinstance(node, (ast.List, ast.Tuple)):
        raise _malformed(text, f"field {field!r} must be a list of (op, input) pairs.", field)
    pairs = []
    for k, item in enumerate(node.elts):
        op = item.elts[0] if isinstance(item, ast.Tuple) and len(item.elts) == 2 else None
        index = _int(item.elts[1]) if isinstance(item, ast.Tuple) and len(item.elts) == 2 else None
        if not (isinstance(op, ast.Constant) and isinstance(op.value, str)) or index is None:
            raise _malformed(text, f"field {field!r} item {k} must be an (op, input) pair "
                                   "such as ('sep_conv_3x3', 0).", field)
        pairs.append((op.value, index))
    return pairs


def _concat(text: str, field: str, node: ast.expr) -> list[int]:
    why = f"field {field!r} must be a list of node indices such as [2, 3, 4, 5] or range(2, 6)."
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [_int(item) for item in node.elts]
        if any(v is None for v in values):
            raise _malformed(text, why, field)
        return [v for v in values if v is not None]
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "range" and not node.keywords and 1 <= len(node.args) <= 3):
        raise _malformed(text, why, field)
    args = [_int(arg) for arg in node.args]
    if None in args:  # an argument that is not an int literal, e.g. range(10**30)
        raise _malformed(text, why, field)
    try:
        span = range(*[a for a in args if a is not None])
        too_long = len(span) > 64
    except (ValueError, OverflowError):
        too_long = True
    if None in args or too_long:
        raise _malformed(text, why, field)
    return list(span)


def unused_nodes(pairs: Sequence[tuple[str, int]]) -> list[int]:
    """The intermediate nodes (as inputs ``2 + i``) that no node of the cell reads."""
    read = {index for _, index in pairs}
    return [s for s in range(2, 2 + len(pairs) // 2) if s not in read]


def _malformed(text: str, why: str, path: str | None = None) -> InvalidArchitectureError:
    return malformed("DARTS genotype", text, why, path, limit=80)
