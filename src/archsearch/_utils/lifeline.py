"""Worker processes that never outlive the process that started them."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

__all__ = ["die_with_parent"]


def die_with_parent(parent: int, poll_s: float = 0.5) -> None:
    """Exit this process as soon as ``parent`` (its parent's pid) is gone, whatever it is doing.

    On Linux the kernel kills it with its parent (``PR_SET_PDEATHSIG``), also inside a long
    native call; everywhere, a daemon thread checks the parent every ``poll_s`` seconds.
    """
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # gone before the request above took effect
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(poll_s)
        os._exit(0)

    threading.Thread(target=watch, name="archsearch-lifeline", daemon=True).start()
