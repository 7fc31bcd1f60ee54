"""Shared fixtures: a tiny nb201 space and the NB201 table location."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))

REPO = Path(__file__).resolve().parents[1]
NB201_TABLE = Path(os.environ.get("ARCHSEARCH_NB201_TABLE",
                                  REPO.parent / "shared" / "data" / "nb201" / "nb201.csv"))


@pytest.fixture
def tiny_space():
    import archsearch
    return archsearch.create_space("nb201", channels=4, cells_per_stage=1)


@pytest.fixture
def nb201_table() -> Path:
    if not NB201_TABLE.is_file():
        pytest.skip(f"NAS-Bench-201 table not found at {NB201_TABLE}")
    return NB201_TABLE


@pytest.fixture
def ctrl_c():
    """Python's own Ctrl-C handler for the test: a process started in the background by a
    shell without job control inherits SIGINT ignored, and then a SIGINT sent in a test
    would do nothing and the test would wait for it for ever."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def cli(*args, check=True):
    """Run ``archsearch ARGS`` in a subprocess; raise with its output if it fails and ``check``."""
    proc = subprocess.run([sys.executable, "-m", "archsearch", *args], capture_output=True,
                          text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc
