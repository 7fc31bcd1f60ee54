"""Stores: where experiments and their trials are recorded."""

from __future__ import annotations

from pathlib import Path

from archsearch.storage.base import Store
from archsearch.storage.memory import MemoryStore
from archsearch.storage.sqlite import SCHEMA_VERSION, SQLiteStore

__all__ = ["Store", "MemoryStore", "SQLiteStore", "SCHEMA_VERSION", "open_store"]


def open_store(store: str | Path | Store) -> Store:
    """A store from a path to an SQLite file, ``":memory:"`` for an in-memory one, or a store."""
    if isinstance(store, (str, Path)):
        return MemoryStore() if str(store) == ":memory:" else SQLiteStore(store)
    return store
