"""Writing events: upsert with provenance, sequence bumps and removal marks.

The steps: records are cleaned and checked (techcal.normalise.clean), their
values worked out before the write lock (techcal.store.entries), then
written in short transactions, each a batch (BatchWrites), with new entries
linked to other sources' copies (techcal.store.matching); removal marks
come last.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from techcal.event import Event
from techcal.normalise.clean import clean_uid
from techcal.store.entries import (
    EXISTING,
    BatchWrites,
    Entry,
    SourceContext,
    prepare_entry,
    source_context,
)
from techcal.store.event_rows import event_uid, stored_record, utc_stamp
from techcal.store.matching import remerge_events
from techcal.store.normalise import Normaliser
from techcal.store.prepared import Prepared, valid_records
from techcal.store.transactions import write_transaction

if TYPE_CHECKING:
    import sqlite_utils

# what other modules import from here (some defined in event_rows and matching)
__all__ = [
    "BATCH_ENTRIES",
    "BATCH_SECONDS",
    "UpsertResult",
    "event_uid",
    "remerge_events",
    "stored_record",
    "tidy_search_index",
    "upsert_events",
]


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
    #: what cleaning changed before storing, each as "source_uid: change" (normalise/clean.py)
    cleaned: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Return the counts as a plain dict (for summaries and JSON).

        >>> UpsertResult("plug", new=2, rejected=["42: the event has no title"]).counts()
        {'new': 2, 'updated': 0, 'unchanged': 0, 'removed': 0, 'merged': 0, 'rejected': 1}
        """
        return {
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "merged": self.merged,
            "rejected": len(self.rejected),
        }


#: The most entries one write transaction stores. A source is stored in
#: batches so that no writer holds the lock for long: other processes (a
#: second import, a crawl, `notify`) wait at most one batch, never a whole
#: 20,000-event source (bench/writers.py prints what each size costs).
BATCH_ENTRIES = 1000
#: A batch is also cut short once it has held the write lock this long:
#: matching new entries against a busy city's stored events can cost several
#: milliseconds each, so a count alone does not bound the time.
BATCH_SECONDS = 0.5


def upsert_events(
    db: sqlite_utils.Database,
    source: str,
    records: Iterable[Event],
    *,
    now: datetime | None = None,
    complete: bool = True,
    keep: Iterable[str] = (),
    match: bool = True,
    prepared: Prepared | None = None,
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
    techcal.normalise.dedupe). ``prepared`` is ``records`` already checked
    and worked out (by a reader worker: see techcal.store.prepared); its
    values are used when the source's city and topics are still those they
    were worked out with.

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
    result = UpsertResult(source)
    if prepared is None or prepared.source != source:
        checked, batch = valid_records(records, source)
        ready: dict[str, Entry] = {}
    else:
        checked, ready = prepared, prepared.entries
        batch = {uid: entry.record for uid, entry in ready.items()}
    result.cleaned, result.rejected = checked.cleaned, checked.rejected
    result.duplicates, invalid = checked.duplicates, checked.invalid
    conn: sqlite3.Connection = db.conn
    context = source_context(conn, source)
    if prepared is not None and prepared.context != context.key:
        ready = {}  # the source's city or topics changed since: work them out again
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
    _write_batches(conn, source, context, batch, stored, stamp, result, match=match, ready=ready)
    # uids the reader knows unchanged, as the store keeps them (cleaned like the records)
    kept = {clean_uid(uid) for uid in keep} - batch.keys()
    result.unchanged += sum(1 for uid in kept if uid in stored)
    if complete:
        listed = batch.keys() | invalid | kept
        result.rescheduled += _mark_removed(
            conn, context.id, listed, int(now.timestamp()), stamp, result
        )
    return result


def _write_batches(
    conn: sqlite3.Connection,
    source: str,
    context: SourceContext,
    records: dict[str, Event],
    stored: dict[str, tuple[str, bool]],
    stamp: str,
    result: UpsertResult,
    *,
    match: bool,
    ready: dict[str, Entry],
) -> None:
    """Store ``records`` in batches, one write transaction each, counting in ``result``.

    ``stored`` holds each stored entry's (content digest, removed), read
    beforehand: entries that look unchanged are not normalised. ``ready``
    holds entries already worked out (for this context), by source uid.
    """
    normaliser = Normaliser()
    # In order of time: a new entry is matched against the events around its
    # start, and the source's own events stored by earlier batches then lie
    # before it, not around it (matching scores each candidate before it
    # finds one is the source's own: in input order, storing a city's 20,000
    # new entries took ten times longer than in one transaction).
    waiting = sorted(records.items(), key=lambda item: item[1].start.timestamp())
    prepared: list[Entry] = []
    # events this source's entries were linked to: one source, one entry each
    claimed: set[int] = set()
    while waiting or prepared:
        # the next batch's values are worked out while other writers have the lock
        more = BATCH_ENTRIES - len(prepared)
        prepared += [
            ready.get(uid) or prepare_entry(uid, record, context, normaliser, stored.get(uid))
            for uid, record in waiting[:more]
        ]
        del waiting[:more]
        with write_transaction(conn):
            now_context = source_context(conn, source)
            if now_context != context:
                # the source's city or topics were edited meanwhile: they are
                # part of every entry's values
                context = now_context
                prepared = [
                    prepare_entry(e.source_uid, e.record, context, normaliser, None)
                    for e in prepared
                ]
            writes = BatchWrites(
                conn, source, context, normaliser, stamp, claimed=claimed, match=match
            )
            done = _store_batch(conn, prepared, writes)
            result.new += writes.new
            result.updated += writes.updated
            result.unchanged += writes.unchanged
            result.merged += writes.merged
            result.rescheduled += writes.rescheduled
        del prepared[:done]


def _store_batch(conn: sqlite3.Connection, entries: list[Entry], writes: BatchWrites) -> int:
    """Write the first of ``entries`` inside the caller's transaction; return how many.

    Stops after BATCH_SECONDS of deciding (matching is the slow part); the
    rest go in the next transaction.
    """
    deadline = time.monotonic() + BATCH_SECONDS
    entries = entries[:BATCH_ENTRIES]
    uids = json.dumps([e.source_uid for e in entries])
    existing = {r[0]: r[1:] for r in conn.execute(EXISTING, (writes.context.id, uids))}
    done = 0
    for entry in entries:
        if done and time.monotonic() > deadline:
            break
        done += 1
        writes.add(entry, existing.get(entry.source_uid))
    writes.write()
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


def tidy_search_index(conn: sqlite3.Connection, pages: int = 500) -> None:
    """Do a bounded amount of FTS5 segment merging (after a crawl or import).

    Each batch of new events adds segments to the full-text index; searches
    read every segment, and bench/search.py shows p95 halving once they are
    merged. 'merge' does at most ``pages`` pages of that work, so a crawl's
    end never stalls on it, and repeated crawls keep the index compact.
    """
    with write_transaction(conn):
        conn.execute("INSERT INTO events_fts (events_fts, rank) VALUES ('merge', ?)", (pages,))
