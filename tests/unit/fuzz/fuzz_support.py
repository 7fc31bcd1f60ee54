"""Shared by the fuzz tests: run one input, demand a result or a clean one-line error, count it.

Every fuzz module records each input under a *kind* in :data:`COUNTS` and ends with a
summary test that prints the counts (visible with ``pytest -s``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings

from archsearch.errors import ArchSearchError
from archsearch.storage import SQLiteStore

T = TypeVar("T")

COUNTS: dict[str, Counter[str]] = {}

def fuzz(max_examples: int) -> settings:
    """Hypothesis settings of a fuzz test: ``max_examples`` inputs, no deadline.

    The inputs are derandomized (a fixed seed per test), so a run of the suite is
    reproducible and a rare input cannot stall one run but not the next; to explore new
    inputs, raise the counts or turn ``derandomize`` off locally.
    """
    return settings(max_examples=max_examples, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def record(kind: str, outcome: str) -> None:
    """Count one input of ``kind`` that ended in ``outcome`` ("error" or "ok")."""
    counter = COUNTS.setdefault(kind, Counter())
    counter["tried"] += 1
    counter[outcome] += 1


def one_line(err: BaseException) -> str:
    """The error's message, checked to be one non-empty line."""
    message = str(err)
    assert message.strip(), f"empty message from {type(err).__name__}"
    assert "\n" not in message and "\r" not in message, f"multi-line message: {message!r}"
    return message


def outcome(kind: str, call: Callable[[], T],
            errors: type[BaseException] | tuple[type[BaseException], ...] = ArchSearchError
            ) -> T | None:
    """``call()``'s result, or None after a one-line error of ``errors``; anything else escapes."""
    try:
        result = call()
    except errors as err:
        one_line(err)
        record(kind, "error")
        return None
    record(kind, "ok")
    return result


def must_fail(kind: str, call: Callable[[], Any],
              errors: type[BaseException] | tuple[type[BaseException], ...] = ArchSearchError
              ) -> str:
    """The one-line message of the error ``call()`` must raise."""
    try:
        call()
    except errors as err:
        record(kind, "error")
        return one_line(err)
    raise AssertionError(f"{kind}: no error raised")


def tree_hashes(root: Path) -> dict[str, str]:
    """Every file under ``root`` by relative path, with the SHA-256 of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def summary(prefix: str) -> list[str]:
    """Lines ``kind tried errors ok`` for the kinds starting with ``prefix``."""
    lines = []
    for kind in sorted(k for k in COUNTS if k.startswith(prefix)):
        c = COUNTS[kind]
        exits = "".join(f" exit{n}={c[f'exit-{n}']}" for n in (1, 2) if c[f"exit-{n}"])
        lines.append(f"{kind:<34} tried={c['tried']:5d} errors={c['error']:5d} ok={c['ok']:5d}{exits}")
    return lines


def print_summary(prefix: str) -> None:
    """Print the counts of ``prefix`` kinds; skip when none ran (a test picked alone)."""
    lines = summary(prefix)
    if not lines:
        pytest.skip(f"no {prefix} inputs were run in this session")
    print("\n" + "\n".join(lines))


def run_cli(argv: list[str]) -> tuple[int, str, str, list[type[BaseException]]]:
    """``archsearch ARGV`` in this process: exit code, stdout, stderr and the error types it reported."""
    import contextlib
    import io

    from archsearch.cli import main as cli_main

    reported: list[type[BaseException]] = []
    real = cli_main._one_line

    def spy(err: BaseException) -> str:
        reported.append(type(err))
        return real(err)

    opened: list[SQLiteStore] = []
    real_init = SQLiteStore.__init__

    def tracked_init(store: SQLiteStore, path: Any, **kwargs: Any) -> None:
        real_init(store, path, **kwargs)
        opened.append(store)

    out, err = io.StringIO(), io.StringIO()
    cli_main._one_line = spy  # type: ignore[assignment]
    SQLiteStore.__init__ = tracked_init  # type: ignore[method-assign]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli_main.main(argv)
            except SystemExit as exit_:  # argparse: --help, --version and usage errors
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    finally:
        cli_main._one_line = real  # type: ignore[assignment]
        SQLiteStore.__init__ = real_init  # type: ignore[method-assign]
        for store in opened:  # close what it left open, as the end of a process would
            store.close()
    return code, out.getvalue(), err.getvalue(), reported


def check_cli(kind: str, argv: list[str]) -> int:
    """Run ``argv``; demand exit 0, or 1/2 with exactly one error line of the project's errors."""
    code, _, err, reported = run_cli(argv)
    assert code in (0, 1, 2), f"{argv}: exit {code}\n{err}"
    if code == 0:
        record(kind, "ok")
        return code
    error_lines = [line for line in err.splitlines() if ": error: " in line or line.startswith("error:")]
    assert len(error_lines) == 1, f"{argv}: exit {code} with error lines {error_lines}\n{err}"
    if code == 1:
        assert error_lines[0].startswith("archsearch: error: "), err
        assert all(issubclass(t, ArchSearchError) for t in reported), \
            f"{argv}: {', '.join(t.__name__ for t in reported)} escaped: {error_lines[0]}"
    assert "Traceback" not in err, err
    record(kind, "error")
    COUNTS[kind][f"exit-{code}"] += 1
    return code
