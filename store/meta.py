"""The store's ``meta`` table: small named values (versions, marks) kept with the data."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def read_meta(conn: sqlite3.Connection, key: str) -> str | None:
    """Return the value kept under ``key``, or None."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def write_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Keep ``value`` under ``key`` (in the caller's transaction)."""
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def read_meta_file(path: Path, key: str) -> str | None:
    """Return the value under ``key`` in the database file at ``path``, opened read-only.

    None when the file is not an SQLite database, has no ``meta`` table or no such key.
    """
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return read_meta(conn, key)
        finally:
            conn.close()
    except sqlite3.Error:
        return None
