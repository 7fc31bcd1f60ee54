"""``archsearch report RUN_DIR``: an HTML page about a search run, with its figures."""

from __future__ import annotations

import argparse
from typing import Any

from archsearch.errors import InvalidParameterError


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "report", help="write an HTML report of a run",
        description="Write a self-contained HTML page about a search run: its settings, "
        "progress, the spread of scores, the Pareto front of a multi-objective search, the "
        "best architecture's cells, the final training's curves and the top trials. The "
        "figures are embedded in the page and also saved beside it as PNG files (needs "
        "pip install 'archsearch[plot]').")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory made by 'archsearch search'")
    p.add_argument("--out", metavar="DIR", help="folder to write index.html and the PNG files "
                   "into (default: RUN_DIR/report)")
    p.add_argument("--top", type=int, default=10, metavar="N",
                   help="how many of the best trials the table lists (default: 10)")
    p.add_argument("--name", help="experiment name (default: the first in the store)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from archsearch.reports.html import write_report

    if args.top < 1:
        raise InvalidParameterError(f"--top must be an int >= 1. Got {args.top}.")
    print(write_report(args.run_dir, args.out, top=args.top, name=args.name))
    return 0
