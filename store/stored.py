"""Stored events as :class:`StoredEvent`: their columns, their sources, one by id or uid.

Every read of the events table that hands events on (search, show, feeds,
the notifier) builds them here, with :func:`stored_event`, so a writer only
ever sees the typed record.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from techcal.event import Listing, StoredEvent
from techcal.store.database import open_reader
from techcal.store.event_rows import RECORD_COLUMNS, stored_record

EVENT_COLUMNS = (
    "id", "uid", "sequence", "title", "description", "url", "start", "end", "start_utc",
    "end_utc", "timezone", "all_day", "status", "venue", "address", "city", "region",
    "country", "lat", "lon", "geo_precision", "online", "online_url", "kind", "topics",
    "categories", "organizer", "cost", "changed_at", "removed_at", "created_at", "updated_at",
)  # fmt: skip
EVENT_COLS = ", ".join(f'e."{c}"' for c in EVENT_COLUMNS)
#: the event's RECORD_COLUMNS, what its provenance records lean on
EVENT_RECORD_COLS = ", ".join(f'e."{c}"' for c in RECORD_COLUMNS)
#: where ``start_utc`` and ``id`` are in a row of ``EVENT_COLUMNS`` (for ordering rows)
START_UTC, ID = EVENT_COLUMNS.index("start_utc"), EVENT_COLUMNS.index("id")
_ALL_DAY, _ONLINE = EVENT_COLUMNS.index("all_day"), EVENT_COLUMNS.index("online")
_TOPICS, _CATEGORIES = EVENT_COLUMNS.index("topics"), EVENT_COLUMNS.index("categories")


def stored_event(
    row: Sequence[Any],
    sources: tuple[Listing, ...] = (),
    *,
    distance_km: float | None = None,
    score: float | None = None,
) -> StoredEvent:
    """Return an events row (in ``EVENT_COLUMNS`` order) as a :class:`StoredEvent`."""
    values = list(row)
    values[_ALL_DAY] = bool(values[_ALL_DAY])
    values[_ONLINE] = bool(values[_ONLINE])
    values[_TOPICS] = _strings(values[_TOPICS])
    values[_CATEGORIES] = _strings(values[_CATEGORIES])
    return StoredEvent.from_values((*values, sources, distance_km, score, None))


def _strings(text: str | None) -> tuple[str, ...]:
    # most events have no categories: skip the JSON parser for them
    return tuple(json.loads(text)) if text and text != "[]" else ()


def listings(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, tuple[Listing, ...]]:
    """Return, per event, every source entry that lists it (in the order first seen)."""

    # (a record leaves out what its event's row says too: see provenance_record)
    rows = _entries(
        conn,
        "s.name, s.kind, s.url, p.source_uid, p.record, p.first_seen, p.last_seen, p.removed_at,"
        " e.title, e.start, e.url",
        ids,
        with_event=True,
    )
    found: dict[int, list[Listing]] = {}
    for event_id, name, kind, url, source_uid, record, first, last, removed, *event in rows:
        try:
            said = stored_record(record, dict(zip(_LISTED, event, strict=True)), _LISTED)
        except (ValueError, TypeError):
            said = {}
        found.setdefault(event_id, []).append(
            Listing(
                name=name,
                kind=kind,
                source_url=url,
                source_uid=source_uid,
                title=_text(said.get("title")),
                start=_text(said.get("start")),
                url=_text(said.get("url")),
                first_seen=first,
                last_seen=last,
                removed=removed is not None,
            )
        )
    return {event_id: tuple(entries) for event_id, entries in found.items()}


def _text(value: object) -> str | None:
    return None if value is None else str(value)


#: what a Listing shows of its record
_LISTED = ("title", "start", "url")


def _entries(
    conn: sqlite3.Connection, columns: str, ids: Iterable[int], *, with_event: bool = False
) -> sqlite3.Cursor:
    """Return event id and ``columns`` of each source entry of these events, oldest first.

    ``columns`` may name the event's (``e``) when ``with_event``.
    """
    event = " JOIN events e ON e.id = p.event_id" if with_event else ""
    return conn.execute(
        f"SELECT p.event_id, {columns} FROM provenance p JOIN sources s ON s.id = p.source_id"
        f"{event} WHERE p.event_id IN (SELECT value FROM json_each(?)) ORDER BY p.event_id, p.id",
        (json.dumps(list(ids)),),
    )


def source_names(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, list[str]]:
    """Return, per event, the names of the sources listing it (or that listed it)."""
    rows = _entries(conn, "s.name, p.removed_at IS NULL", ids)
    active: dict[int, list[str]] = {}
    every: dict[int, list[str]] = {}
    for event_id, name, listed in rows:
        if name not in every.setdefault(event_id, []):
            every[event_id].append(name)
        if listed and name not in active.setdefault(event_id, []):
            active[event_id].append(name)
    return {event_id: active.get(event_id) or names for event_id, names in every.items()}


def get_event(conn: sqlite3.Connection, ref: str) -> StoredEvent | None:
    """Return the event whose id or uid is ``ref``, with its sources, or None."""
    ref = ref.strip()
    if ref.isascii() and ref.isdigit():
        if int(ref) >= 2**63:
            return None
        sql = f"SELECT {EVENT_COLS} FROM events e WHERE e.id = ?"
        row = conn.execute(sql, (int(ref),)).fetchone()
    else:
        row = conn.execute(f"SELECT {EVENT_COLS} FROM events e WHERE e.uid = ?", (ref,)).fetchone()
    if row is None:
        return None
    event = stored_event(row, listings(conn, [row[ID]]).get(row[ID], ()))
    if has_series(conn):
        from datetime import UTC, datetime

        from techcal.store.series import with_rhythms

        event = with_rhythms(conn, [event], now=datetime.now(UTC))[0]
    return event


def has_series(conn: sqlite3.Connection) -> bool:
    """Say whether the store keeps any series (an older store's reader may not have the table)."""
    try:
        return conn.execute("SELECT 1 FROM series LIMIT 1").fetchone() is not None
    except sqlite3.OperationalError:
        return False


def merged_ids(conn: sqlite3.Connection, ids: Iterable[int]) -> set[int]:
    """Return which of these events were merged into another (copies, not cancellations)."""
    rows = conn.execute(
        "SELECT id FROM events WHERE id IN (SELECT value FROM json_each(?))"
        " AND merged_into IS NOT NULL",
        (json.dumps(list(ids)),),
    )
    return {row[0] for row in rows}


def has_events(conn: sqlite3.Connection) -> bool:
    """Say whether the store holds any event at all."""
    return conn.execute("SELECT 1 FROM events LIMIT 1").fetchone() is not None


@contextmanager
def snapshot(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Yield a fresh read-only connection inside one read transaction: one consistent view."""
    conn = open_reader(db_path)
    try:
        conn.execute("BEGIN")
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


def source_records(
    conn: sqlite3.Connection, ids: Iterable[int] | None = None
) -> dict[int, dict[str, object]]:
    """Return what each source entry said (of these events, or all), whole, by provenance id.

    Each record leaves out what its event's row says too (see
    techcal.store.event_rows.provenance_record): it is given back here. A
    record that cannot be read is left out.
    """
    where = "" if ids is None else " WHERE p.event_id IN (SELECT value FROM json_each(?))"
    params = () if ids is None else (json.dumps(list(ids)),)
    said = {}
    for prov_id, record, *event in conn.execute(
        f"SELECT p.id, p.record, {EVENT_RECORD_COLS} FROM provenance p"
        f" JOIN events e ON e.id = p.event_id{where} ORDER BY p.id",
        params,
    ):
        try:
            said[prov_id] = stored_record(record, event)
        except (ValueError, TypeError):
            continue
    return said
