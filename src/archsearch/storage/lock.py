"""One writer per store: an advisory lock held on a file beside it for the process's life.

A search takes the lock exclusively, so a second search on the same store is refused
instead of marking the first one's running trials interrupted and evaluating them again.
Readers that must not run under a search (training the best of a run) take it shared: they
may run together, but not beside a search. The operating system releases the lock when its
process ends, however it ends (SIGKILL included), so a lock never outlives its holder.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from archsearch.errors import StoreError

__all__ = ["StoreLock", "lock_path"]

_HELD: dict[str, list[int]] = {}  # lock file this process holds -> [descriptor, holders]


def lock_path(store_path: str | Path) -> Path:
    """The lock file of a store file: ``store.db`` is locked through ``store.db.lock``."""
    path = Path(store_path)
    return path.with_name(path.name + ".lock")


class StoreLock:
    """An exclusive (``shared=False``) or shared lock on the store at ``store_path``.

    Raises StoreError, naming the store and the holder's process id, if another process
    holds it in a conflicting way. Released by :meth:`release` or when the process ends.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "store.db")
        >>> lock = StoreLock(path, what="search")
        >>> lock.release()
    """

    def __init__(self, store_path: str | Path, *, shared: bool = False,
                 what: str = "search") -> None:
        self.path = lock_path(store_path)
        self._fd: int | None = None
        key = os.path.realpath(self.path)
        self._key: str | None = None
        if shared and key in _HELD:  # this process holds it (a search's own final training)
            _HELD[key][1] += 1
            self._key = key
            return
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise StoreError(f"Cannot use {Path(store_path).parent}: cannot open its lock file "
                             f"{self.path.name} ({err.strerror or err}).") from None
        try:
            fcntl.flock(self._fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError:
            holder = self._holder()
            os.close(self._fd)
            self._fd = None
            where = Path(store_path).parent
            raise StoreError(
                f"{where} is in use by another archsearch process ({holder}); wait for it to "
                f"end, or use another run directory. A {what} cannot run beside a search of "
                "the same run.") from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()} {what}\n".encode(), 0)
        self._key = key
        _HELD[key] = [self._fd, 1]

    def _holder(self) -> str:
        """Who holds the lock, as written in its file (the latest holder)."""
        if self._fd is None:
            return "pid unknown"
        try:
            pid, _, what = os.pread(self._fd, 200, 0).decode(errors="replace").strip().partition(" ")
        except OSError:
            return "pid unknown"
        return f"{what or 'process'} pid {pid}" if pid.isdigit() else "pid unknown"

    def release(self) -> None:
        """Release the lock (a no-op if released already)."""
        if self._key is None:
            return
        held = _HELD[self._key]
        held[1] -= 1
        if not held[1]:  # the last holder in this process
            del _HELD[self._key]
            os.close(held[0])  # closing the descriptor drops its flock
        self._fd = self._key = None

    def __enter__(self) -> StoreLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
