"""What a search is doing, as log lines: loading data, building networks, training epochs.

The library logs to the ``archsearch`` logger and prints nothing by itself. The command
line's ``--verbose`` (or ``--debug``) calls :func:`enable`, which writes those lines to
standard error with the time and the process, and sets ``ARCHSEARCH_LOG`` so that worker
processes started afterwards (a process pool, Ray tasks on this machine) log the same way.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["logger", "enable", "enable_from_env", "ENV"]

logger = logging.getLogger("archsearch")
ENV = "ARCHSEARCH_LOG"
_LEVELS = {"info": logging.INFO, "debug": logging.DEBUG}
_FORMAT = "%(asctime)s.%(msecs)03d %(processName)s[%(process)d] %(message)s"


def enable(level: str = "info") -> None:
    """Send the library's log lines of ``level`` (``info`` or ``debug``) and above to stderr."""
    if level not in _LEVELS:
        raise ValueError(f"log level must be one of {sorted(_LEVELS)}; got {level!r}")
    os.environ[ENV] = level
    logger.setLevel(_LEVELS[level])
    if not any(getattr(h, "_archsearch", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
        handler._archsearch = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False


def enable_from_env() -> None:
    """In a worker process: log as the process that started it asked, if it did."""
    level = os.environ.get(ENV, "")
    if level in _LEVELS:
        enable(level)
