"""A Ray cluster of several nodes on this machine, as ``ray start`` makes them on many.

Each node gets its own loopback address (127.0.0.2, 127.0.0.3, ...), so nothing listens on
the machine's network. Nodes are stopped by the pids of the processes they started (never
``ray stop``, which would stop every Ray process of the machine).

Example (needs ray)::

    with LocalRayCluster(nodes=2) as cluster:
        run(["archsearch", "search", "--backend", "ray", "--ray-address", cluster.address])
        cluster.kill_node(1)  # a worker node leaves mid-search
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

__all__ = ["LocalRayCluster"]


def _ray_processes() -> dict[int, str]:
    """pid -> command line of this user's processes that mention ray."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if entry.stat().st_uid == os.getuid() and "ray" in args:
                found[int(entry.name)] = args
        except OSError:
            continue
    return found


def _children(pids: set[int]) -> set[int]:
    """``pids`` and all their descendants."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, grew = set(pids), True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found


class LocalRayCluster:
    """A head node and ``nodes - 1`` worker nodes, ``cpus`` CPUs each, on loopback.

    Args:
        nodes: how many nodes (the first is the head).
        cpus: CPUs each node offers.
        port: the head's port.
    """

    def __init__(self, nodes: int = 2, cpus: int = 1, port: int = 6391) -> None:
        self.nodes, self.cpus, self.port = nodes, cpus, port
        self.address = f"127.0.0.2:{port}"
        self.node_pids: list[set[int]] = []
        self._env = {**os.environ, "RAY_AUTH_MODE": "token"}  # joiners send the token
        self._ray = shutil.which("ray", path=os.path.dirname(sys.executable)) or "ray"

    def __enter__(self) -> LocalRayCluster:
        try:
            for i in range(self.nodes):
                ip = f"127.0.0.{2 + i}"
                where = (["--head", f"--port={self.port}", "--include-dashboard=false"] if i == 0
                         else [f"--address={self.address}"])
                before = set(_ray_processes())
                env = self._env if i else {k: v for k, v in self._env.items()
                                           if k != "RAY_AUTH_MODE"}
                subprocess.run([self._ray, "start", *where, f"--node-ip-address={ip}",
                                f"--num-cpus={self.cpus}", "--disable-usage-stats"],
                               check=True, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=120)
                self.node_pids.append(set(_ray_processes()) - before)
            self._wait_for_nodes()
        except BaseException:
            self.close()
            raise
        return self

    def _wait_for_nodes(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = subprocess.run([self._ray, "status", f"--address={self.address}"],
                                    env=self._env, capture_output=True, text=True, timeout=60)
            total = f"0.0/{float(self.nodes * self.cpus)} CPU"
            if total in status.stdout:
                return
            time.sleep(1.0)
        raise TimeoutError(f"the Ray cluster did not reach {self.nodes} nodes")

    def kill_node(self, index: int) -> None:
        """SIGKILL node ``index`` and every process it started (its workers too)."""
        for pid in _children(self.node_pids[index]):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.node_pids[index] = set()

    def close(self) -> None:
        for index in reversed(range(len(self.node_pids))):
            self.kill_node(index)

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
