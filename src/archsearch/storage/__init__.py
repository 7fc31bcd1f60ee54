"""Stores: where experiments and their trials are recorded."""

from archsearch.storage.sqlite import SCHEMA_VERSION, SQLiteStore

__all__ = ["SQLiteStore", "SCHEMA_VERSION", "open_store"]


def open_store(store: "str | SQLiteStore") -> SQLiteStore:
    """A store from a path (``":memory:"`` for an in-memory one) or an open store."""
    return store if isinstance(store, SQLiteStore) else SQLiteStore(store)
