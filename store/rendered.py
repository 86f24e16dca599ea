"""Stored VEVENT blocks (``event_ics``): each event's iCalendar text, kept until it changes.

The store's triggers drop an event's block when anything it shows changes.
Blocks depend on the writer too: ``key`` names the writer and icalendar
version that rendered them, and blocks of another key are never read.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence

from techcal.event import StoredEvent
from techcal.store.meta import read_meta, write_meta
from techcal.store.stored import EVENT_COLS, stored_event

#: the meta key naming what rendered the stored blocks
RENDER_KEY = "ics_render"
#: the events from a start time (a timestamp) on that have no block
_UNRENDERED = (
    "FROM events e WHERE e.start_utc >= ?"
    " AND NOT EXISTS (SELECT 1 FROM event_ics b WHERE b.event_id = e.id)"
)


def blocks_current(conn: sqlite3.Connection, key: str) -> bool:
    """Say whether the stored blocks were rendered by ``key``."""
    return read_meta(conn, RENDER_KEY) == key


def stored_blocks(conn: sqlite3.Connection, ids: Sequence[int], key: str) -> dict[int, str]:
    """Return the stored blocks of these events (missing ones are absent)."""
    if not blocks_current(conn, key):
        return {}
    rows = conn.execute(
        "SELECT event_id, block FROM event_ics WHERE event_id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(ids)),),
    )
    return dict(rows.fetchall())


def any_unrendered(conn: sqlite3.Connection, since: int) -> bool:
    """Say whether an event starting at ``since`` (a timestamp) or later has no block."""
    return conn.execute(f"SELECT 1 {_UNRENDERED} LIMIT 1", (since,)).fetchone() is not None


def drop_blocks(conn: sqlite3.Connection, key: str) -> None:
    """Drop every stored block, the next ones to be rendered by ``key`` (in a transaction)."""
    conn.execute("DELETE FROM event_ics")
    write_meta(conn, RENDER_KEY, key)


def unrendered(conn: sqlite3.Connection, since: int, limit: int) -> list[StoredEvent]:
    """Return up to ``limit`` events from ``since`` (a timestamp) on without a block, by id."""
    rows = conn.execute(f"SELECT {EVENT_COLS} {_UNRENDERED} ORDER BY e.id LIMIT ?", (since, limit))
    return [stored_event(row) for row in rows]


def save_blocks(conn: sqlite3.Connection, blocks: Mapping[int, str]) -> None:
    """Store these blocks (event id -> block), replacing older ones (in a transaction)."""
    conn.executemany(
        "INSERT OR REPLACE INTO event_ics (event_id, block) VALUES (?, ?)", blocks.items()
    )
