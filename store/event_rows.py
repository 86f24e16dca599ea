"""An event as the store writes it: its columns, the statements that write them,
and the provenance record of what one source said."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import zlib
from collections.abc import Iterable, Mapping, Sequence
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

#: The record columns a provenance record may lean on: a record keeps only
#: those of its values that differ from its event's row, and is given the
#: rest back from the row on reading (see provenance_record). Every text and
#: integer column; not ``lat``/``lon``, whose floats SQLite's JSON functions
#: would round to 15 digits when a trigger writes them back. The triggers of
#: migration m012 keep records right when the row changes, for exactly these
#: columns (a test checks): a column added here needs a migration that adds
#: it to them.
LEAN_COLUMNS = tuple(c for c in RECORD_COLUMNS if c not in ("lat", "lon"))


def _col(alias: str, column: str) -> str:
    return f'{alias}."{column}"' if column == "end" else f"{alias}.{column}"


def lean_sql(record: str, alias: str = "e") -> str:
    """Return SQL for the record ``record`` (a JSON object) without the values event ``alias`` has.

    A column is left out only when the row holds the very same value, of the
    same type (``+`` strips the column's affinity: text "10" is not 10).
    Anything but a JSON object (an older record: a JSON list, or compressed)
    is kept as it is.
    """
    dropped = ", ".join(
        f"CASE WHEN json_extract({record}, '$.{c}') IS +{_col(alias, c)}"
        f" THEN '$.{c}' ELSE '$.\"~\"' END"
        for c in LEAN_COLUMNS
    )
    return (
        f"CASE WHEN typeof({record}) = 'text' AND substr({record}, 1, 1) = '{{'"
        f" AND json_valid({record}) THEN json_remove({record}, {dropped}) ELSE {record} END"
    )


#: (event uid, source id, source uid, content, schedule, first seen, last seen, record)
#: The record (provenance_record) is written without what the event's row,
#: as it is when this runs, says too: whatever the order of the statements
#: of a batch, the record leans only on values the row has at that moment,
#: and m012's triggers write them back into it before the row changes.
INSERT_PROVENANCE = (
    "INSERT INTO provenance (event_id, source_id, source_uid, content_hash, schedule_hash,"
    " first_seen, last_seen, record) VALUES ((SELECT id FROM events WHERE uid = ?1),"
    " ?2, ?3, ?4, ?5, ?6, ?7, coalesce((SELECT "
    + lean_sql("?8")
    + " FROM events e WHERE e.uid = ?1), ?8))"
)

#: (content, schedule, last seen, record, provenance id); the record leans as above
UPDATE_PROVENANCE = (
    "UPDATE provenance SET content_hash = ?1, schedule_hash = ?2, last_seen = ?3,"
    " removed_at = NULL, record = coalesce((SELECT "
    + lean_sql("?4")
    + " FROM events e WHERE e.id = provenance.event_id), ?4) WHERE id = ?5"
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
    """Return the short digest the store keeps of a record's content.

    128 bits in URL-safe base64 without padding: 22 characters where hex
    took 32 (migration m012 rewrote the hex digests stored before: see
    hex_digest_as_kept).

    >>> digest("PLUG")
    '4-1uVLTYerJFAbckkv4y-w'
    """
    packed = hashlib.blake2b(text.encode(), digest_size=16).digest()
    return base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


def hex_digest_as_kept(value: str) -> str:
    """Return a digest stored in hex by an earlier release as digest gives it now.

    >>> hex_digest_as_kept(hashlib.blake2b(b"PLUG", digest_size=16).hexdigest())
    '4-1uVLTYerJFAbckkv4y-w'

    Anything else is returned as it is (it will not match: the entry reads
    as changed, and is stored again).
    """
    try:
        packed = bytes.fromhex(value)
    except (ValueError, TypeError):
        return value
    if len(packed) != 16:
        return value
    return base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


#: self-contained records (see provenance_record) longer than this are kept compressed
COMPRESS_OVER = 256


def provenance_record(row: tuple[object, ...]) -> str | bytes:
    """Return what one source said (``row``, in RECORD_COLUMNS order) as provenance keeps it.

    A JSON object of every column. INSERT_PROVENANCE and UPDATE_PROVENANCE
    store it without the LEAN_COLUMNS values its event's row has too (for
    most events, with one source, the row is that source's record: ``{}``
    is kept), so each text is kept once; stored_record gives them back from
    the row. Migration m012's triggers write a value back into every record
    leaning on it before the row's value changes, the row is deleted, or the
    record moves to another event, so no source's statement is ever lost.

    A row that JSON cannot hold (NaN or infinite coordinates) is kept
    self-contained, as earlier releases kept every record: a JSON list,
    zlib-compressed (a BLOB) when longer than COMPRESS_OVER.
    """
    try:
        return json.dumps(
            dict(zip(RECORD_COLUMNS, row, strict=True)),
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
        )
    except ValueError:
        return _self_contained(row)


def _self_contained(row: tuple[object, ...]) -> str | bytes:
    text = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
    if len(text) <= COMPRESS_OVER:
        return text
    return zlib.compress(text.encode(), 6)


def leans(record: object) -> bool:
    """Say whether a stored provenance ``record`` may lean on its event's row (a JSON object)."""
    return isinstance(record, str) and record.startswith("{")


def stored_record(
    record: str | bytes,
    event: Mapping[str, object] | Sequence[object] | None = None,
    columns: Sequence[str] = RECORD_COLUMNS,
) -> dict[str, object]:
    """Return a provenance ``record`` as a dict of its ``columns`` (by default, all).

    ``event`` is the row of the record's event (a mapping of its columns, or
    its RECORD_COLUMNS values in order): what a record leaves out, it said as
    the row says it (see provenance_record); a record that leaves out one of
    ``columns`` is unreadable without it (ValueError). Older records, kept
    whole (a JSON list, or zlib-compressed), need no row; those stored
    before a column existed lack it: it reads as None.
    """
    if isinstance(record, bytes):
        try:
            record = zlib.decompress(record)
        except zlib.error as exc:
            raise ValueError(f"a damaged provenance record ({exc})") from None
    values = json.loads(record)
    if not isinstance(values, dict):
        said = {
            name: values[i] if i < len(values) else None for i, name in enumerate(RECORD_COLUMNS)
        }
        return said if columns is RECORD_COLUMNS else {c: said[c] for c in columns}
    said = {c: values.get(c) for c in columns}
    missing = [c for c in columns if c not in values and c in _LEANS]
    if not missing:
        return said
    if event is None:
        raise ValueError("a provenance record that leans on its event's row, read without it")
    row = event if isinstance(event, Mapping) else dict(zip(RECORD_COLUMNS, event, strict=True))
    try:
        for c in missing:
            said[c] = row[c]
    except KeyError as exc:
        raise ValueError(f"a provenance record read without its event's {exc}") from None
    return said


_LEANS = frozenset(LEAN_COLUMNS)


def lean_record(said: Mapping[str, object], event: Mapping[str, object]) -> str | bytes:
    """Return what one source said (``said``, every column) as provenance keeps it beside ``event``.

    What lean_sql leaves out, worked out here (``event`` is the row as it
    is now, in the same transaction); when what remains is long (another
    source's description), the record kept whole and compressed is taken
    if it is shorter: it leans on nothing.
    """
    lean = {
        c: v
        for c, v in said.items()
        if c not in _LEANS or v != event[c] or type(v) is not type(event[c])
    }
    try:
        text = json.dumps(lean, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return _self_contained(tuple(said[c] for c in RECORD_COLUMNS))
    if len(text) <= COMPRESS_OVER:
        return text
    whole = _self_contained(tuple(said[c] for c in RECORD_COLUMNS))
    return whole if len(whole) < len(text.encode()) else text


def relean_records(conn: sqlite3.Connection, event_ids: Iterable[int]) -> None:
    """Write the records of these events' entries again, leaning on the rows as they are now.

    After a row was worked out again from its sources (remerge_events), or
    entries moved between events (split, merge by hand): a record written
    before leaned on the row as it was then (m012's triggers wrote back
    what changed), and this leaves out again what the row says now, so
    each text is kept once. Records that cannot be read are left as they are.
    """
    rows = conn.execute(
        f"SELECT p.id, p.record, {', '.join(_col('e', c) for c in RECORD_COLUMNS)}"
        " FROM provenance p JOIN events e ON e.id = p.event_id"
        " WHERE p.event_id IN (SELECT value FROM json_each(?)) ORDER BY p.id",
        (json.dumps(sorted(set(event_ids))),),
    ).fetchall()
    for prov_id, record, *values in rows:
        event = dict(zip(RECORD_COLUMNS, values, strict=True))
        try:
            said = stored_record(record, event)
        except (ValueError, TypeError):
            continue
        kept = lean_record(said, event)
        if kept != record:
            conn.execute("UPDATE provenance SET record = ? WHERE id = ?", (kept, prov_id))
