"""Writing events: upsert with provenance, sequence bumps and removal marks."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from techcal.errors import UnknownSource
from techcal.event import SCHEDULE_FIELDS, Event
from techcal.normalise.clean import clean_record, clean_uid
from techcal.normalise.dedupe import Matcher, merged_values
from techcal.store.database import write_transaction
from techcal.store.normalise import Normaliser
from techcal.store.schema_names import FTS_COLUMNS, INDEX_PLACES_SINCE, INDEX_TOPICS_SINCE

if TYPE_CHECKING:
    import sqlite_utils

# Column order of the event values a record supplies (insert and update).
_EVENT_COLUMNS = (
    "title",
    "description",
    "url",
    "start",
    '"end"',
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

_COLUMN_NAMES = tuple(c.strip('"') for c in _EVENT_COLUMNS)
# The columns whose change bumps SEQUENCE (see techcal.event.SCHEDULE_FIELDS):
# the digest of a row's content and of its schedule are taken from the row
# itself, so each record is serialised once.
_SCHEDULE_INDEXES = tuple(_COLUMN_NAMES.index(name) for name in SCHEDULE_FIELDS)

_INSERT_EVENT = (
    "INSERT INTO events (uid, "
    + ", ".join(_EVENT_COLUMNS)
    + ", created_at, updated_at, changed_at) VALUES (?, "
    + ", ".join("?" for _ in _EVENT_COLUMNS)
    + ", ?, ?, ?) "
    # The uid of an entry is derived from its source and source uid, so an
    # entry that comes back (its source removed and added again) finds its
    # old event, keeps its uid, and calendar apps see an update.
    + "ON CONFLICT(uid) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _EVENT_COLUMNS)
    + ", sequence = events.sequence + 1, updated_at = excluded.updated_at,"
    " changed_at = excluded.changed_at, removed_at = NULL, merged_into = NULL"
)

_INSERT_PROVENANCE = (
    "INSERT INTO provenance (event_id, source_id, source_uid, content_hash, schedule_hash,"
    " first_seen, last_seen, record) VALUES ((SELECT id FROM events WHERE uid = ?),"
    " ?, ?, ?, ?, ?, ?, ?)"
)

_INDEX_NEW_EVENTS = (
    "INSERT INTO events_fts (rowid, "
    + ", ".join(FTS_COLUMNS)
    + ") SELECT id, "
    + ", ".join(FTS_COLUMNS)
    + " FROM events WHERE id > ?"
)

_UPDATE_EVENT = (
    "UPDATE events SET "
    + ", ".join(f"{c} = ?" for c in _EVENT_COLUMNS)
    + ", sequence = sequence + ?, updated_at = ?,"
    " changed_at = CASE WHEN ? THEN ? ELSE changed_at END, removed_at = NULL,"
    " merged_into = NULL WHERE id = ?"
)

_UPDATE_PROVENANCE = (
    "UPDATE provenance SET content_hash = ?, schedule_hash = ?, last_seen = ?,"
    " removed_at = NULL, record = ? WHERE id = ?"
)


@dataclass
class UpsertResult:
    """What one upsert of one source did."""

    source: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    #: updated entries whose time, place or status changed (their SEQUENCE grew)
    rescheduled: int = 0
    #: entries repeated within the batch under one source uid (the last was kept)
    duplicates: int = 0
    #: new entries that are another source's copy of a stored event (linked to it)
    merged: int = 0
    #: records refused, each as "source_uid: problem"; their stored versions are kept
    rejected: list[str] = field(default_factory=list)
    #: what cleaning changed before storing, each as "source_uid: change" (store/clean.py)
    cleaned: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Return the counts as a plain dict (for summaries and JSON)."""
        return {
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "merged": self.merged,
            "rejected": len(self.rejected),
        }


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


#: The most entries one write transaction stores. A source is stored in
#: batches so that no writer holds the lock for long: other processes (a
#: second import, a crawl, `notify`) wait at most one batch, never a whole
#: 20,000-event source (bench/writers.py prints what each size costs).
BATCH_ENTRIES = 1000
#: A batch is also cut short once it has held the write lock this long:
#: matching new entries against a busy city's stored events can cost several
#: milliseconds each, so a count alone does not bound the time.
BATCH_SECONDS = 0.5

# Each provenance row of a source that a batch needs (its entries' uids, as a
# JSON array): what was stored, the event's start, and how many other sources
# list the same event.
_EXISTING = (
    "SELECT p.source_uid, p.id, p.event_id, p.content_hash, p.schedule_hash,"
    " p.removed_at, e.start_utc, (SELECT count(*) FROM provenance q"
    " WHERE q.event_id = p.event_id AND q.id != p.id AND q.removed_at IS NULL)"
    " FROM provenance p JOIN events e ON e.id = p.event_id"
    " WHERE p.source_id = ? AND p.source_uid IN (SELECT value FROM json_each(?))"
)


@dataclass(frozen=True)
class _SourceContext:
    """What a source adds to its records' normalised values."""

    id: int
    city: str | None
    topics: tuple[str, ...]
    #: the part of an entry's content digest that comes from its source
    key: str


@dataclass
class _Entry:
    """One valid record, with the values worked out before taking the write lock."""

    source_uid: str
    record: Event
    raw: tuple[object, ...]
    content: str
    #: the normalised columns; None while the entry looked unchanged
    row: tuple[object, ...] | None = None

    @property
    def schedule(self) -> str:
        """The digest of what the source says of time, place and status."""
        # (the schedule is what the source says: coordinates looked up in
        # the gazetteer follow it, and a new gazetteer moves nothing)
        return _digest(repr([self.raw[i] for i in _SCHEDULE_INDEXES]))


def upsert_events(
    db: sqlite_utils.Database,
    source: str,
    records: Iterable[Event],
    *,
    now: datetime | None = None,
    complete: bool = True,
    keep: Iterable[str] = (),
    match: bool = True,
) -> UpsertResult:
    """Store what ``source`` currently says, in short transactions; return the counts.

    New entries are inserted; changed ones updated (the event's sequence grows
    only when time, place or status changed); unchanged ones only get
    ``last_seen``. With ``complete`` (the records are everything the source
    lists now), entries missing from ``records`` whose event has not started
    yet are marked removed, never deleted. Entries whose source uids are in
    ``keep`` are known unchanged (an incremental reader skipped them): they
    are left as they are and counted unchanged. With ``match`` (the
    default), a new entry that is another source's copy of a stored event is
    linked to that event instead of becoming a second one (see
    techcal.normalise.dedupe).

    The entries are written in batches (BATCH_ENTRIES, BATCH_SECONDS), each
    one write transaction, all of it or on any error none of it; the removal
    marks come last, once every entry is stored. Interrupted between
    batches, the store keeps the batches written and marks nothing removed;
    storing the same records again finishes the work (an entry seen again
    is an update, or unchanged). Topics, places and digests are worked out
    before each batch takes the lock.
    """
    now = now or datetime.now(UTC)
    stamp = utc_stamp(now)
    now_ts = int(now.timestamp())
    result = UpsertResult(source)

    batch: dict[str, Event] = {}
    seen_invalid: set[str] = set()
    for record in records:
        # what no output may carry, and sizes no calendar needs, stop here
        record, notes = clean_record(record)
        result.cleaned.extend(f"{record.source_uid or '(no uid)'}: {note}" for note in notes)
        problems = record.problems()
        if record.source != source:
            problems.append(f"record belongs to source {record.source!r}")
        if problems:
            result.rejected.append(f"{record.source_uid or '(no uid)'}: {'; '.join(problems)}")
            seen_invalid.add(record.source_uid)
            continue
        if record.source_uid in batch:
            result.duplicates += 1
        batch[record.source_uid] = record

    conn: sqlite3.Connection = db.conn
    context = _source_context(conn, source)
    # What is stored already, read without the write lock, only to decide
    # which entries to normalise beforehand; each batch reads its rows again
    # under the lock and decides on those.
    stored = {
        uid: (content, removed)
        for uid, content, removed in conn.execute(
            "SELECT source_uid, content_hash, removed_at IS NOT NULL FROM provenance"
            " WHERE source_id = ?",
            (context.id,),
        )
    }
    normaliser = Normaliser()
    # In order of time: a new entry is matched against the events around its
    # start, and the source's own events stored by earlier batches then lie
    # before it, not around it (matching scores each candidate before it
    # finds one is the source's own: in input order, storing a city's 20,000
    # new entries took ten times longer than in one transaction).
    waiting = sorted(batch.items(), key=lambda item: item[1].start.timestamp())
    prepared: list[_Entry] = []
    # events this source's entries were linked to: one source, one entry each
    claimed: set[int] = set()
    while waiting or prepared:
        # the next batch's values are worked out while other writers have the lock
        more = BATCH_ENTRIES - len(prepared)
        prepared += [
            _prepared(uid, record, context, normaliser, stored.get(uid))
            for uid, record in waiting[:more]
        ]
        del waiting[:more]
        with write_transaction(conn):
            now_context = _source_context(conn, source)
            if now_context != context:
                # the source's city or topics were edited meanwhile: they are
                # part of every entry's values
                context = now_context
                prepared = [
                    _prepared(e.source_uid, e.record, context, normaliser, None) for e in prepared
                ]
            done = _store_batch(
                conn, source, context, prepared, normaliser, stamp, result,
                claimed=claimed, match=match,
            )  # fmt: skip
        del prepared[:done]

    # uids the reader knows unchanged, as the store keeps them (cleaned like the records)
    kept = {clean_uid(uid) for uid in keep} - batch.keys()
    result.unchanged += sum(1 for uid in kept if uid in stored)
    if complete:
        result.rescheduled += _mark_removed(
            conn, context.id, batch.keys() | seen_invalid | kept, now_ts, stamp, result
        )
    return result


def _source_context(conn: sqlite3.Connection, source: str) -> _SourceContext:
    row = conn.execute("SELECT id, city, topics FROM sources WHERE name = ?", (source,)).fetchone()
    if row is None:
        raise UnknownSource(source)
    topics = tuple(json.loads(row[2] or "[]"))
    return _SourceContext(row[0], row[1], topics, repr((row[1], topics)))


def _prepared(
    source_uid: str,
    record: Event,
    context: _SourceContext,
    normaliser: Normaliser,
    stored: tuple[str, bool] | None,
) -> _Entry:
    """Return ``record``'s values, normalised unless the store already has them unchanged."""
    raw = _event_values(record)
    # What the normalised values also depend on: an entry whose own values
    # and context are unchanged is unchanged, and is not tagged or placed
    # again. (A taxonomy change re-tags stored events in place, before a
    # crawl: see ensure_tags_current.)
    content = _digest(repr(raw) + context.key)
    entry = _Entry(source_uid, record, raw, content)
    if stored is None or stored != (content, False):
        entry.row = _normalised(raw, record, normaliser, context.city, context.topics)
    return entry


def _store_batch(
    conn: sqlite3.Connection,
    source: str,
    context: _SourceContext,
    entries: list[_Entry],
    normaliser: Normaliser,
    stamp: str,
    result: UpsertResult,
    *,
    claimed: set[int],
    match: bool,
) -> int:
    """Write the first of ``entries`` inside the caller's transaction; return how many.

    Stops after BATCH_SECONDS of deciding (matching is the slow part); the
    rest go in the next transaction.
    """
    deadline = time.monotonic() + BATCH_SECONDS
    source_id = context.id
    uids = json.dumps([e.source_uid for e in entries[:BATCH_ENTRIES]])
    existing = {r[0]: r[1:] for r in conn.execute(_EXISTING, (source_id, uids))}
    matcher = Matcher(conn, source_id)
    choices = user_choices(conn, source) if match else {}
    # events with several sources whose values must be worked out again
    remerge: set[int] = set()

    new_events, new_provenance, linked_provenance = [], [], []
    changed_events, changed_provenance = [], []
    unchanged = []
    updated_shared = 0
    done = 0
    for entry in entries[:BATCH_ENTRIES]:
        if done and time.monotonic() > deadline:
            break
        done += 1
        source_uid, content = entry.source_uid, entry.content
        known = existing.get(source_uid)
        if known is not None and content == known[2] and known[4] is None:
            unchanged.append((stamp, known[0]))
            continue
        schedule = entry.schedule
        row = entry.row
        if row is None:
            # stored meanwhile, by another writer of this source
            row = _normalised(entry.raw, entry.record, normaliser, context.city, context.topics)
        if known is None:
            link = (
                _find_match(conn, matcher, row, choices.get(source_uid, {}), claimed)
                if match
                else None
            )
            if link is not None:
                event_id, uid = link
                claimed.add(event_id)
                remerge.add(event_id)
                result.merged += 1
                linked_provenance.append(
                    (uid, source_id, source_uid, content, schedule, stamp, stamp, _record(row))
                )
                continue
            uid = event_uid(source, source_uid)
            new_events.append((uid, *row, stamp, stamp, stamp))
            new_provenance.append(
                (uid, source_id, source_uid, content, schedule, stamp, stamp, _record(row))
            )
            continue
        prov_id, event_id, old_content, old_schedule, removed_at, _, others = known
        # a removed entry that is back is a change of status, like a move
        bump = 1 if (schedule != old_schedule or removed_at is not None) else 0
        changed_provenance.append((content, schedule, stamp, _record(row), prov_id))
        if others:
            # other sources list it too: its values come from all of them
            remerge.add(event_id)
            updated_shared += 1
            continue
        result.rescheduled += bump
        changed_events.append((*row, bump, stamp, bump, stamp, event_id))

    if new_events:
        (last_id,) = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()
        conn.executemany(_INSERT_EVENT, new_events)
        # index the batch in one statement (rows revived through ON
        # CONFLICT keep their old id and were re-indexed by the trigger)
        conn.execute(_INDEX_NEW_EVENTS, (last_id,))
        conn.execute(INDEX_TOPICS_SINCE, (last_id,))
        conn.execute(INDEX_PLACES_SINCE, (last_id,))
        conn.executemany(_INSERT_PROVENANCE, new_provenance)
    if linked_provenance:
        conn.executemany(_INSERT_PROVENANCE, linked_provenance)
    if changed_events:
        conn.executemany(_UPDATE_EVENT, changed_events)
    if changed_provenance:
        conn.executemany(_UPDATE_PROVENANCE, changed_provenance)
    if unchanged:
        conn.executemany("UPDATE provenance SET last_seen = ? WHERE id = ?", unchanged)
    result.new += len(new_events) + len(linked_provenance)
    result.updated += len(changed_events) + updated_shared
    result.unchanged += len(unchanged)
    if remerge:
        result.rescheduled += remerge_events(conn, remerge, stamp)
    return done


def _mark_removed(
    conn: sqlite3.Connection,
    source_id: int,
    listed: set[str],
    now_ts: int,
    stamp: str,
    result: UpsertResult,
) -> int:
    """Mark the source's upcoming entries not in ``listed`` removed; return how many events moved.

    Run once every entry is stored, in batches of its own: each batch finds
    what is still unmarked, so an interrupted run leaves only real removals
    behind and the next one marks the rest.
    """

    def vanished() -> list[tuple[int, int]]:
        return [
            (prov_id, event_id)
            for source_uid, prov_id, event_id in conn.execute(
                "SELECT p.source_uid, p.id, p.event_id FROM provenance p"
                " JOIN events e ON e.id = p.event_id WHERE p.source_id = ?"
                " AND p.removed_at IS NULL AND e.start_utc > ?",  # not started: vanished
                (source_id, now_ts),
            )
            if source_uid not in listed
        ]

    moved = 0
    # most runs have nothing to mark: then the write lock is not taken at all
    while vanished():
        with write_transaction(conn):
            gone = vanished()[:BATCH_ENTRIES]  # again, under the lock
            conn.executemany(
                "UPDATE provenance SET removed_at = ? WHERE id = ?",
                [(stamp, prov_id) for prov_id, _ in gone],
            )
            # the event itself is removed once no source lists it any more
            conn.executemany(
                "UPDATE events SET removed_at = ?, sequence = sequence + 1, changed_at = ?,"
                " updated_at = ? WHERE id = ? AND removed_at IS NULL AND NOT EXISTS"
                " (SELECT 1 FROM provenance p WHERE p.event_id = events.id"
                " AND p.removed_at IS NULL)",
                [(stamp, stamp, stamp, event_id) for _, event_id in gone],
            )
            result.removed += len(gone)
            moved += remerge_events(conn, {event_id for _, event_id in gone}, stamp)
    return moved


_TOPICS = _COLUMN_NAMES.index("topics")
_LAT = _COLUMN_NAMES.index("lat")
_LON = _COLUMN_NAMES.index("lon")
_PRECISION = _COLUMN_NAMES.index("geo_precision")


def _normalised(
    raw: tuple[object, ...],
    record: Event,
    normaliser: Normaliser,
    source_city: str | None,
    source_topics: tuple[str, ...],
) -> tuple[object, ...]:
    """Return the event columns ``raw`` with the topics and place worked out."""
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
    row[_TOPICS] = _json_list(topics)
    row[_LAT], row[_LON], row[_PRECISION] = lat, lon, precision
    return tuple(row)


def _event_values(record: Event) -> tuple[object, ...]:
    """Return the event columns as ``record`` has them (before normalising)."""
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
        _json_list(record.topics),
        _json_list(record.categories),
        record.organizer,
        record.cost,
        None,
    )


def _json_list(values: tuple[str, ...]) -> str:
    return json.dumps(list(values), ensure_ascii=False) if values else "[]"


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _record(row: tuple[object, ...]) -> str:
    """Return what one source said, as a JSON list in _EVENT_COLUMNS order."""
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def stored_record(text: str) -> dict[str, object]:
    """Return a provenance ``record`` as a dict of event columns.

    Records stored before a column existed lack it: it reads as None.
    """
    values = json.loads(text)
    return {name: values[i] if i < len(values) else None for i, name in enumerate(_COLUMN_NAMES)}


def user_choices(conn: sqlite3.Connection, source: str) -> dict[str, dict[str, bool]]:
    """Return, per source uid, the events a user said it is (True) or is not (False)."""
    choices: dict[str, dict[str, bool]] = {}
    for source_uid, uid, together in conn.execute(
        "SELECT source_uid, event_uid, together FROM dedupe_choices WHERE source = ?",
        (source,),
    ):
        choices.setdefault(source_uid, {})[uid] = bool(together)
    return choices


def _find_match(
    conn: sqlite3.Connection,
    matcher: Matcher,
    row: tuple[object, ...],
    choices: dict[str, bool],
    claimed: set[int],
) -> tuple[int, str] | None:
    """Return the stored event a new entry is another copy of, if any."""
    for uid, together in choices.items():
        if together:
            found = conn.execute(
                "SELECT id FROM events WHERE uid = ? AND removed_at IS NULL", (uid,)
            ).fetchone()
            if found is not None and found[0] not in claimed:
                return found[0], uid
    entry = dict(zip(_COLUMN_NAMES, row, strict=True))
    apart = [uid for uid, together in choices.items() if not together]
    return matcher.find(entry, avoid=apart, taken=claimed)


_SIGNIFICANT = tuple(f for f in SCHEDULE_FIELDS if f not in ("lat", "lon"))
_PLACE_TEXT = ("venue", "address", "city", "online_url")


def remerge_events(conn: sqlite3.Connection, event_ids: Iterable[int], stamp: str) -> int:
    """Work out the values of events several sources list; return how many moved.

    Each event's columns come from merged_values over its live provenance
    records. SEQUENCE grows only when time, status, being online or the
    place (by more than a kilometre) changed: a second source refining the
    venue's coordinates or title is an update, not a move.
    """
    from techcal.normalise.gazetteer import distance_km

    moved = 0
    columns = ", ".join(_EVENT_COLUMNS)
    for event_id in sorted(event_ids):
        rows = conn.execute(
            "SELECT p.record, s.kind, s.url, p.first_seen FROM provenance p"
            " JOIN sources s ON s.id = p.source_id"
            " WHERE p.event_id = ? AND p.removed_at IS NULL ORDER BY p.id",
            (event_id,),
        ).fetchall()
        current = conn.execute(f"SELECT {columns} FROM events WHERE id = ?", (event_id,)).fetchone()
        if not rows or current is None:
            continue
        merged = merged_values(
            [(stored_record(r), kind, url, first) for r, kind, url, first in rows]
        )
        new_row = tuple(merged.get(c) for c in _COLUMN_NAMES)
        if new_row == tuple(current):
            continue
        old = dict(zip(_COLUMN_NAMES, current, strict=True))
        # a place detail filled in where there was none is a refinement
        bump = any(
            old[c] != merged.get(c) and not (c in _PLACE_TEXT and old[c] in (None, ""))
            for c in _SIGNIFICANT
        )
        exact = old["geo_precision"] == merged.get("geo_precision") == "exact"
        if not bump and exact:
            # a city's coordinates becoming a venue's is a refinement, not a move
            bump = distance_km(old["lat"], old["lon"], merged["lat"], merged["lon"]) > 1.0
        moved += int(bump)
        conn.execute(_UPDATE_EVENT, (*new_row, int(bump), stamp, int(bump), stamp, event_id))
    return moved


def tidy_search_index(conn: sqlite3.Connection, pages: int = 500) -> None:
    """Do a bounded amount of FTS5 segment merging (after a crawl or import).

    Each batch of new events adds segments to the full-text index; searches
    read every segment, and bench/search.py shows p95 halving once they are
    merged. 'merge' does at most ``pages`` pages of that work, so a crawl's
    end never stalls on it, and repeated crawls keep the index compact.
    """
    with write_transaction(conn):
        conn.execute("INSERT INTO events_fts (events_fts, rank) VALUES ('merge', ?)", (pages,))
