"""An event as the store writes it: its columns, the statements that write them,
and the provenance record of what one source said."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from techcal.event import SCHEDULE_FIELDS, Event
from techcal.store.schema_names import FTS_COLUMNS, INDEX_PLACES_SINCE, INDEX_TOPICS_SINCE

if TYPE_CHECKING:
    # (only its type: reading stored records needs no taxonomy or gazetteer)
    from techcal.store.normalise import Normaliser

#: The events columns a record supplies, in the order of every row of values
#: (insert, update, and the provenance record).
RECORD_COLUMNS = (
    "title",
    "description",
    "url",
    "start",
    "end",
    "start_utc",
    "end_utc",
    "timezone",
    "all_day",
    "status",
    "venue",
    "address",
    "city",
    "region",
    "country",
    "lat",
    "lon",
    "online",
    "online_url",
    "kind",
    "topics",
    "categories",
    "organizer",
    "cost",
    "geo_precision",
)
#: RECORD_COLUMNS as an SQL column list ("end" is a keyword)
RECORD_COLUMNS_SQL = ", ".join('"end"' if c == "end" else c for c in RECORD_COLUMNS)
_QUOTED = RECORD_COLUMNS_SQL.split(", ")

#: Insert a row (uid, RECORD_COLUMNS..., created_at, updated_at, changed_at).
INSERT_EVENT = (
    f"INSERT INTO events (uid, {RECORD_COLUMNS_SQL}, created_at, updated_at, changed_at)"
    " VALUES (?, "
    + ", ".join("?" for _ in RECORD_COLUMNS)
    + ", ?, ?, ?) "
    # The uid of an entry is derived from its source and source uid, so an
    # entry that comes back (its source removed and added again) finds its
    # old event, keeps its uid, and calendar apps see an update.
    + "ON CONFLICT(uid) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _QUOTED)
    + ", sequence = events.sequence + 1, updated_at = excluded.updated_at,"
    " changed_at = excluded.changed_at, removed_at = NULL, merged_into = NULL"
)

#: Index the events with ids above ? for full-text search (after a batch insert).
INDEX_NEW_EVENTS = (
    "INSERT INTO events_fts (rowid, "
    + ", ".join(FTS_COLUMNS)
    + ") SELECT id, "
    + ", ".join(FTS_COLUMNS)
    + " FROM events WHERE id > ?"
)

#: Update a row: (RECORD_COLUMNS..., sequence step, updated_at, changed?, changed_at, id).
UPDATE_EVENT = (
    "UPDATE events SET "
    + ", ".join(f"{c} = ?" for c in _QUOTED)
    + ", sequence = sequence + ?, updated_at = ?,"
    " changed_at = CASE WHEN ? THEN ? ELSE changed_at END, removed_at = NULL,"
    " merged_into = NULL WHERE id = ?"
)

#: (event uid, source id, source uid, content, schedule, first seen, last seen, record)
INSERT_PROVENANCE = (
    "INSERT INTO provenance (event_id, source_id, source_uid, content_hash, schedule_hash,"
    " first_seen, last_seen, record) VALUES ((SELECT id FROM events WHERE uid = ?),"
    " ?, ?, ?, ?, ?, ?, ?)"
)

#: (content, schedule, last seen, record, provenance id)
UPDATE_PROVENANCE = (
    "UPDATE provenance SET content_hash = ?, schedule_hash = ?, last_seen = ?,"
    " removed_at = NULL, record = ? WHERE id = ?"
)

# The columns whose change bumps SEQUENCE (see techcal.event.SCHEDULE_FIELDS):
# the digest of a row's content and of its schedule are taken from the row
# itself, so each record is serialised once.
_SCHEDULE_INDEXES = tuple(RECORD_COLUMNS.index(name) for name in SCHEDULE_FIELDS)
_TOPICS = RECORD_COLUMNS.index("topics")
_LAT = RECORD_COLUMNS.index("lat")
_LON = RECORD_COLUMNS.index("lon")
_PRECISION = RECORD_COLUMNS.index("geo_precision")


def event_uid(source: str, source_uid: str) -> str:
    """Return the published UID for a source entry seen for the first time.

    >>> event_uid("plug", "abc@meetup.com")
    'cdac61c878ddc346e3052fcd2ef21ae9@techcal'
    """
    digest = hashlib.blake2b(f"{source}\x00{source_uid}".encode(), digest_size=16)
    return f"{digest.hexdigest()}@techcal"


def utc_stamp(moment: datetime) -> str:
    """Return ``moment`` as the ISO 8601 UTC text the store keeps timestamps in."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def insert_events(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    """Insert new events (INSERT_EVENT rows) and index them for search, topics and places."""
    (last_id,) = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()
    conn.executemany(INSERT_EVENT, rows)
    # index the batch in one statement (rows revived through ON CONFLICT keep
    # their old id and were re-indexed by the trigger)
    conn.execute(INDEX_NEW_EVENTS, (last_id,))
    conn.execute(INDEX_TOPICS_SINCE, (last_id,))
    conn.execute(INDEX_PLACES_SINCE, (last_id,))


def record_values(record: Event) -> tuple[object, ...]:
    """Return the RECORD_COLUMNS as ``record`` has them (before normalising)."""
    end = record.end
    return (
        record.title.strip(),
        record.description,
        record.url,
        record.start.isoformat(),
        end.isoformat() if end is not None else None,
        int(record.start.timestamp()),
        int(end.timestamp()) if end is not None else None,
        record.timezone,
        int(record.all_day),
        record.status,
        record.venue,
        record.address,
        record.city,
        record.region,
        record.country,
        record.lat,
        record.lon,
        int(record.online),
        record.online_url,
        record.kind,
        json_list(record.topics),
        json_list(record.categories),
        record.organizer,
        record.cost,
        None,
    )


def normalised_values(
    raw: tuple[object, ...],
    record: Event,
    normaliser: Normaliser,
    source_city: str | None,
    source_topics: tuple[str, ...],
) -> tuple[object, ...]:
    """Return the record values ``raw`` with the topics and place worked out."""
    topics = normaliser.topics(
        record.title, record.description, record.categories, (*record.topics, *source_topics)
    )
    lat, lon, precision = normaliser.locate(
        lat=record.lat,
        lon=record.lon,
        venue=record.venue,
        address=record.address,
        city=record.city,
        region=record.region,
        country=record.country,
        online=record.online,
        source_city=source_city,
    )
    row = list(raw)
    row[_TOPICS] = json_list(topics)
    row[_LAT], row[_LON], row[_PRECISION] = lat, lon, precision
    return tuple(row)


def schedule_digest(raw: tuple[object, ...]) -> str:
    """Return the digest of what record values ``raw`` say of time, place and status."""
    return digest(repr([raw[i] for i in _SCHEDULE_INDEXES]))


def json_list(values: tuple[str, ...]) -> str:
    """Return ``values`` as the JSON array the store keeps lists in."""
    return json.dumps(list(values), ensure_ascii=False) if values else "[]"


def digest(text: str) -> str:
    """Return the short hex digest the store keeps of a record's content."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


#: records longer than this are kept compressed (most are: descriptions are long)
COMPRESS_OVER = 256


def provenance_record(row: tuple[object, ...]) -> str | bytes:
    """Return what one source said, as a JSON list in RECORD_COLUMNS order.

    A long record is kept zlib-compressed (a BLOB): the event's row holds
    the text that is searched and shown, this copy is only read to merge
    sources and to show what each said, so it need not be plain.
    """
    text = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
    if len(text) <= COMPRESS_OVER:
        return text
    return zlib.compress(text.encode(), 6)


def stored_record(record: str | bytes) -> dict[str, object]:
    """Return a provenance ``record`` (JSON text, or compressed) as a dict of event columns.

    Records stored before a column existed lack it: it reads as None.
    """
    if isinstance(record, bytes):
        try:
            record = zlib.decompress(record)
        except zlib.error as exc:
            raise ValueError(f"a damaged provenance record ({exc})") from None
    values = json.loads(record)
    return {name: values[i] if i < len(values) else None for i, name in enumerate(RECORD_COLUMNS)}
