"""What the last read of each source left behind, so an unchanged body costs no parse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlite_utils

from techcal.errors import UnknownSource
from techcal.store.transactions import write_transaction


@dataclass
class ReaderState:
    """The digest of a source's last stored body and what its reader kept."""

    digest: str
    window_key: str
    recurring: bool
    snapshot: bytes | None


def get_reader_state(db: sqlite_utils.Database, source: str) -> ReaderState | None:
    """Return the reader state of ``source``, or None before its first stored read."""
    row = db.conn.execute(
        "SELECT r.digest, r.window_key, r.recurring, r.snapshot FROM reader_state r"
        " JOIN sources s ON s.id = r.source_id WHERE s.name = ?",
        (source,),
    ).fetchone()
    if row is None:
        return None
    return ReaderState(row[0], row[1], bool(row[2]), row[3])


def save_reader_state(
    db: sqlite_utils.Database, source: str, state: ReaderState, *, now: datetime | None = None
) -> None:
    """Keep ``state`` for ``source``; call it only once the read's events are stored.

    Saved after the events, a crash in between costs one more parse next
    time, never a skipped body whose events were not stored.
    """
    stamp = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    with write_transaction(db.conn):
        row = db.conn.execute("SELECT id FROM sources WHERE name = ?", (source,)).fetchone()
        if row is None:
            raise UnknownSource(source)
        db.conn.execute(
            "INSERT INTO reader_state"
            " (source_id, digest, window_key, recurring, snapshot, saved_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(source_id) DO UPDATE SET"
            " digest = excluded.digest, window_key = excluded.window_key,"
            " recurring = excluded.recurring, snapshot = excluded.snapshot,"
            " saved_at = excluded.saved_at",
            (row[0], state.digest, state.window_key, int(state.recurring), state.snapshot, stamp),
        )


def forget_reader_state(db: sqlite_utils.Database, source: str) -> None:
    """Drop what the last read of ``source`` left, so its next body is read in full.

    For writes that do not show the source's whole content (several files
    imported into one source), and while a body is being stored: the kept
    state would not match the store.
    """
    kept = db.conn.execute(
        "SELECT 1 FROM reader_state r JOIN sources s ON s.id = r.source_id WHERE s.name = ?",
        (source,),
    ).fetchone()
    if kept is None:
        return  # nothing to forget: no need to wait for the write lock
    with write_transaction(db.conn):
        db.conn.execute(
            "DELETE FROM reader_state WHERE source_id = (SELECT id FROM sources WHERE name = ?)",
            (source,),
        )
