"""Undoing and forcing merges: `techcal events split` and `techcal events merge`.

Both are remembered in ``dedupe_choices``, so later crawls keep them: a split
entry never joins that event again, and a forced merge is redone if the
entry comes back after its source was removed and added again.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from techcal.errors import MergeError
from techcal.store.event_rows import (
    RECORD_COLUMNS,
    RECORD_COLUMNS_SQL,
    event_uid,
    insert_events,
    relean_records,
    stored_record,
    utc_stamp,
)
from techcal.store.matching import remerge_events
from techcal.store.transactions import write_transaction


@dataclass
class Moved:
    """What a split or merge did."""

    event_id: int
    event_uid: str
    entries: list[str]
    other_id: int | None = None


def _event(conn: sqlite3.Connection, ref: str) -> tuple[int, str]:
    ref = ref.strip()
    if ref.isascii() and ref.isdigit() and int(ref) < 2**63:
        row = conn.execute(
            "SELECT id, uid, removed_at FROM events WHERE id = ?", (int(ref),)
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT id, uid, removed_at FROM events WHERE uid = ?", (ref,)
        ).fetchone()
    if row is None:
        raise MergeError(f"no event {ref!r} (ids are in `techcal search` output)")
    if row[2] is not None:
        raise MergeError(f"event {ref} is removed (no source lists it, or it was merged away)")
    return row[0], row[1]


def _choose(
    conn: sqlite3.Connection, source_id: int, source_uid: str, uid: str, together: bool, stamp: str
) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO dedupe_choices (source, source_uid, event_uid, together,"
        " decided_at) VALUES ((SELECT name FROM sources WHERE id = ?), ?, ?, ?, ?)",
        (source_id, source_uid, uid, int(together), stamp),
    )


def split_entry(
    conn: sqlite3.Connection, ref: str, source: str, *, now: datetime | None = None
) -> Moved:
    """Give ``source``'s entries of event ``ref`` an event of their own, for good."""
    stamp = utc_stamp(now or datetime.now(UTC))
    with write_transaction(conn):
        event_id, uid = _event(conn, ref)
        rows = conn.execute(
            "SELECT p.id, p.source_id, p.source_uid, p.record FROM provenance p"
            " JOIN sources s ON s.id = p.source_id WHERE p.event_id = ? AND s.name = ?"
            " AND p.removed_at IS NULL",
            (event_id, source),
        ).fetchall()
        # what the records leave out, they say as the event's row does (provenance_record)
        row = conn.execute(
            f"SELECT {RECORD_COLUMNS_SQL} FROM events WHERE id = ?", (event_id,)
        ).fetchone()
        if not rows:
            if not conn.execute("SELECT 1 FROM sources WHERE name = ?", (source,)).fetchone():
                raise MergeError(f"no source {source!r} (see `techcal sources list`)")
            raise MergeError(
                f"event {ref}: source {source!r} does not list it (see `techcal show`)"
            )
        (others,) = conn.execute(
            "SELECT count(*) FROM provenance p JOIN sources s ON s.id = p.source_id"
            " WHERE p.event_id = ? AND s.name != ? AND p.removed_at IS NULL",
            (event_id, source),
        ).fetchone()
        if not others:
            raise MergeError(f"event {ref}: {source} is its only source, nothing to split")
        moved = []
        new_id = None
        new_ids: list[int] = []
        for prov_id, source_id, source_uid, record in rows:
            values = stored_record(record, row)
            new_uid = event_uid(source, source_uid)
            if (
                new_uid == uid
                or conn.execute("SELECT 1 FROM events WHERE uid = ?", (new_uid,)).fetchone()
            ):
                # the entry made this event: its own copy needs another uid
                new_uid = event_uid(source, source_uid + "#split")
            insert_events(
                conn, [(new_uid, *(values[c] for c in RECORD_COLUMNS), stamp, stamp, stamp)]
            )
            new_id = conn.execute("SELECT id FROM events WHERE uid = ?", (new_uid,)).fetchone()[0]
            conn.execute("UPDATE provenance SET event_id = ? WHERE id = ?", (new_id, prov_id))
            _choose(conn, source_id, source_uid, uid, False, stamp)
            moved.append(source_uid)
            new_ids.append(new_id)
        remerge_events(conn, [event_id], stamp)
        # (moving an entry wrote back into its record what it had left out)
        relean_records(conn, [event_id, *new_ids])
    return Moved(event_id=event_id, event_uid=uid, entries=moved, other_id=new_id)


def merge_events(
    conn: sqlite3.Connection, keep_ref: str, other_ref: str, *, now: datetime | None = None
) -> Moved:
    """Make event ``other_ref`` part of ``keep_ref``, for good; the other is marked removed."""
    stamp = utc_stamp(now or datetime.now(UTC))
    with write_transaction(conn):
        keep_id, keep_uid = _event(conn, keep_ref)
        other_id, _ = _event(conn, other_ref)
        if keep_id == other_id:
            raise MergeError(f"event {keep_ref} and {other_ref} are the same event")
        rows = conn.execute(
            "SELECT id, source_id, source_uid FROM provenance WHERE event_id = ?", (other_id,)
        ).fetchall()
        shared = conn.execute(
            "SELECT s.name FROM provenance a JOIN provenance b ON a.source_id = b.source_id"
            " JOIN sources s ON s.id = a.source_id WHERE a.event_id = ? AND b.event_id = ?"
            " AND a.removed_at IS NULL AND b.removed_at IS NULL",
            (keep_id, other_id),
        ).fetchone()
        if shared:
            raise MergeError(
                f"events {keep_ref} and {other_ref} are both listed by {shared[0]}, as two"
                " entries: one source's entries stay separate events"
            )
        for prov_id, source_id, source_uid in rows:
            conn.execute("UPDATE provenance SET event_id = ? WHERE id = ?", (keep_id, prov_id))
            _choose(conn, source_id, source_uid, keep_uid, True, stamp)
        # calendar apps drop the other copy: its uid is gone for good
        conn.execute(
            "UPDATE events SET removed_at = ?, sequence = sequence + 1, changed_at = ?,"
            " updated_at = ?, merged_into = ? WHERE id = ?",
            (stamp, stamp, stamp, keep_id, other_id),
        )
        remerge_events(conn, [keep_id], stamp)
        # (moving an entry wrote back into its record what it had left out)
        relean_records(conn, [keep_id])
    return Moved(
        event_id=keep_id, event_uid=keep_uid, entries=[r[2] for r in rows], other_id=other_id
    )
