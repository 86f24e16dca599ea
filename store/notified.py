"""What subscribers were told, what changed since, and the events matching reads.

``notified`` keeps, per subscription and event, the time, place and status
a subscriber was last told; ``event_changes`` is the log of changed events
(filled by triggers in commit order) that matching reads past and deletes.
Events come back as :class:`StoredEvent`, in start order.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any

from techcal.event import StoredEvent
from techcal.store.schema_names import FTS_COLUMNS
from techcal.store.search import EVENT_COLS, literal_words, stored_event

#: what a subscriber was told of an event: start, end, place, status
Told = tuple[str, str | None, str, str]

_FTS_VALUES = attrgetter("id", *FTS_COLUMNS)


# -- events ----------------------------------------------------------------------


def events_by_id(conn: sqlite3.Connection, ids: Iterable[int]) -> list[StoredEvent]:
    """Return these events (without their sources), in start order."""
    rows = conn.execute(
        f"SELECT {EVENT_COLS} FROM events e WHERE e.id IN (SELECT value FROM json_each(?))"
        " ORDER BY e.start_utc, e.id",
        (json.dumps(list(ids)),),
    )
    return [stored_event(row) for row in rows]


def events_starting(conn: sqlite3.Connection, after: int, until: int) -> list[StoredEvent]:
    """Return the events on (not cancelled, still listed) starting in (after, until]."""
    rows = conn.execute(
        f"SELECT {EVENT_COLS} FROM events e WHERE e.start_utc > ? AND e.start_utc <= ?"
        " AND e.removed_at IS NULL AND e.status != 'cancelled' ORDER BY e.start_utc, e.id",
        (after, until),
    )
    return [stored_event(row) for row in rows]


def text_hits(
    conn: sqlite3.Connection, events: Sequence[StoredEvent], texts: Iterable[str]
) -> dict[str, set[int]]:
    """Return, per text, which of ``events`` it matches (FTS5, as search does).

    The events are put in a temporary full-text index of their own, so a
    text means exactly what it means to ``techcal search``.
    """
    texts = list(texts)
    if not texts or not events:
        return {}
    columns = ", ".join(FTS_COLUMNS)
    conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS notify_fts_rows (id INTEGER PRIMARY KEY, {columns})"
    )
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.notify_fts USING fts5({columns},"
        " content='notify_fts_rows', content_rowid='id',"
        " tokenize='porter unicode61 remove_diacritics 2')"
    )
    conn.execute("DELETE FROM notify_fts_rows")
    conn.execute("INSERT INTO notify_fts(notify_fts) VALUES ('delete-all')")
    marks = ", ".join("?" for _ in FTS_COLUMNS)
    conn.executemany(
        f"INSERT INTO notify_fts_rows (id, {columns}) VALUES (?, {marks})",
        [_FTS_VALUES(event) for event in events],
    )
    conn.execute("INSERT INTO notify_fts(notify_fts) VALUES ('rebuild')")
    return {text: _fts_hits(conn, text) for text in texts}


def _fts_hits(conn: sqlite3.Connection, text: str) -> set[int]:
    """Return the ids ``text`` finds in the temporary index (word by word if it is no query)."""
    for expr in dict.fromkeys((text, literal_words(text))):
        if not expr:
            continue
        try:
            rows = conn.execute("SELECT rowid FROM notify_fts WHERE notify_fts MATCH ?", (expr,))
            return {row[0] for row in rows}
        except sqlite3.OperationalError:
            continue
    return set()


# -- the change log ----------------------------------------------------------------


def changes(conn: sqlite3.Connection, batch: int) -> list[tuple[int, int]]:
    """Return the oldest ``batch`` entries of the change log: (seq, event id)."""
    return conn.execute(
        "SELECT seq, event_id FROM event_changes ORDER BY seq LIMIT ?", (batch,)
    ).fetchall()


def drop_changes(conn: sqlite3.Connection, upto: int | None = None) -> None:
    """Delete the change log up to ``seq`` ``upto`` (all of it when None)."""
    if upto is None:
        conn.execute("DELETE FROM event_changes")
    else:
        conn.execute("DELETE FROM event_changes WHERE seq <= ?", (upto,))


# -- what was told -------------------------------------------------------------------


def told(conn: sqlite3.Connection, event_ids: Sequence[int]) -> dict[tuple[int, int], Told]:
    """Return what each subscription was told of these events, by (subscription, event)."""
    rows = conn.execute(
        'SELECT subscription_id, event_id, start, "end", place, status FROM notified'
        " WHERE event_id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(event_ids)),),
    )
    return {(r[0], r[1]): r[2:] for r in rows}


def told_ids(conn: sqlite3.Connection, sub_id: int, event_ids: Sequence[int]) -> set[int]:
    """Return which of these events subscription ``sub_id`` was told about."""
    rows = conn.execute(
        "SELECT event_id FROM notified WHERE subscription_id = ?"
        " AND event_id IN (SELECT value FROM json_each(?))",
        (sub_id, json.dumps(list(event_ids))),
    )
    return {row[0] for row in rows}


def remember(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Record what subscriptions are told: (subscription, event, start, end, place, status)."""
    conn.executemany(
        'INSERT OR REPLACE INTO notified (subscription_id, event_id, start, "end", place, status)'
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )


def remember_events(conn: sqlite3.Connection, events: Iterable[tuple[Any, ...]]) -> None:
    """Record what many subscriptions are told of each event, one statement per event.

    Each item: (event, start, end, place, status, JSON list of subscriptions).
    """
    conn.executemany(
        'INSERT OR REPLACE INTO notified (subscription_id, event_id, start, "end", place, status)'
        " SELECT s.value, ?1, ?2, ?3, ?4, ?5 FROM json_each(?6) s",
        events,
    )


def hand_over_merged(conn: sqlite3.Connection, removed: Sequence[int]) -> set[int]:
    """Give what was told of merged-away copies among ``removed`` to the events they joined.

    Returns the ids of those copies.
    """
    if not removed:
        return set()
    merged = dict(
        conn.execute(
            "SELECT id, merged_into FROM events WHERE id IN (SELECT value FROM json_each(?))"
            " AND merged_into IS NOT NULL",
            (json.dumps(list(removed)),),
        ).fetchall()
    )
    for copy, kept in merged.items():
        conn.execute(
            'INSERT OR IGNORE INTO notified (subscription_id, event_id, start, "end", place,'
            ' status) SELECT subscription_id, ?, start, "end", place, status FROM notified'
            " WHERE event_id = ?",
            (kept, copy),
        )
        conn.execute("DELETE FROM notified WHERE event_id = ?", (copy,))
    return set(merged)
