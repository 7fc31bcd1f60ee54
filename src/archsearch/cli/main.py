"""The ``archsearch`` command: one line of error and a hint, tracebacks only with --debug."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from archsearch import __version__
from archsearch._utils import log
from archsearch.cli import bench, describe, export, latency_table, listing, report, search, show, train
from archsearch.errors import ArchSearchError

__all__ = ["main", "build_parser"]

_COMMANDS = (search, show, report, train, export, describe, bench, listing, latency_table)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="archsearch", description="Neural architecture search on PyTorch.")
    parser.add_argument("--version", action="version", version=f"archsearch {__version__}")
    _add_global_flags(parser, default=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _COMMANDS:
        module.add_parser(commands)
    for sub in commands.choices.values():  # after the command too: `archsearch search ... -v`
        _add_global_flags(sub, default=argparse.SUPPRESS)
    return parser


def _add_global_flags(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show tracebacks of errors, and log as --verbose does with more detail")
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="log what the run is doing to stderr: loading data, building and "
                             "training each network epoch by epoch, worker processes starting")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 error, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.debug or args.verbose:
        log.enable("debug" if args.debug else "info")
    try:
        return int(args.handler(args) or 0)
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("archsearch: interrupted; finished trials are saved (resume with --resume).",
              file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - the CLI turns every error into one line
        if args.debug:
            traceback.print_exc()
        print(f"archsearch: error: {_one_line(err)}", file=sys.stderr)
        if not args.debug:
            print("hint: run with --debug for the full traceback.", file=sys.stderr)
        return 1


def _one_line(err: BaseException) -> str:
    text = str(err) if isinstance(err, ArchSearchError) else f"{type(err).__name__}: {err}"
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
