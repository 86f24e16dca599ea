"""The outbox and its deliveries: messages written by matching, sent target by target.

An ``outbox`` row is one message for one subscription (unique by
subscription, event, kind and key, so writing it twice writes it once); a
``deliveries`` row is that message for one target, with its state
(``pending``, ``sending``, ``sent``), attempts and the claim of the process
sending it. The functions that change a delivery's state commit at once:
each step of a delivery must outlive a crash of the next.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple


class DueDelivery(NamedTuple):
    """A delivery not yet sent, with its message's outbox row."""

    outbox_id: int
    target: str
    state: str
    attempts: int
    subscription_id: int
    event_id: int
    kind: str
    #: the message's details, JSON
    detail: str
    owner: str | None
    #: JSON list of the digests of the URLs under a tag: target that have it
    done: str | None
    claimed_at: str | None


class DeliveryState(NamedTuple):
    """What one subscription's deliveries come to (``subscribe list``)."""

    sent: int
    last_sent: str | None
    pending: int
    #: messages kept for the next digest
    held: int
    #: (target, attempts, last error) of targets failing at least ``failing_after`` times
    failing: list[tuple[str, int, str | None]]


@contextmanager
def rolled_back(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in a write transaction that is always rolled back (a dry run)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")


# -- writing messages (inside the caller's transaction) ----------------------


def add_message(
    conn: sqlite3.Connection,
    message: tuple[int | None, int, str, str],
    detail: dict[str, Any],
    *,
    stamp: str,
    targets: Iterable[str] | None,
) -> int | None:
    """Add a message (subscription id, event id, kind, key) unless that one exists.

    It gets a delivery to each of ``targets``, due now; ``targets`` None
    holds it for the subscription's digest. Returns the new outbox id, None
    when that exact message was there.
    """
    sub_id, event_id, kind, key = message
    cursor = conn.execute(
        "INSERT OR IGNORE INTO outbox (subscription_id, event_id, kind, key, detail,"
        " created_at, held) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            sub_id,
            event_id,
            kind,
            key,
            json.dumps(detail, sort_keys=True),
            stamp,
            int(targets is None),
        ),
    )
    if not cursor.rowcount:
        return None
    outbox_id = int(cursor.lastrowid or 0)
    if targets is not None:
        add_deliveries(conn, outbox_id, targets, stamp)
    return outbox_id


class NewMessages(NamedTuple):
    """The 'new' messages of one event, written with one statement."""

    event_id: int
    key: str
    #: JSON list of the subscriptions told, in the order their messages are written
    subscriptions: str
    #: JSON list of those of them whose message waits for their digest
    held: str


def add_new_messages(conn: sqlite3.Connection, stamp: str, events: Iterable[NewMessages]) -> int:
    """Add the 'new' messages of many events, created at ``stamp``; return how many were added.

    One statement per event expands its JSON list of subscriptions inside
    SQLite: a crawl may bring a million messages, and binding each row from
    Python would cost three times the writing.
    """
    cursor = conn.executemany(
        "INSERT OR IGNORE INTO outbox (subscription_id, event_id, kind, key, detail,"
        " created_at, held) SELECT s.value, ?1, 'new', ?2, '{}', ?3,"
        # most events have nobody waiting for a digest: no look-up then
        " CASE WHEN ?5 = '[]' THEN 0 ELSE s.value IN (SELECT value FROM json_each(?5)) END"
        " FROM json_each(?4) s",
        ((m.event_id, m.key, stamp, m.subscriptions, m.held) for m in events),
    )
    # each statement's own rows: total_changes would also count what FTS5
    # flushes of the temporary text index (text_hits) during the first one
    return max(cursor.rowcount, 0)


def add_deliveries(
    conn: sqlite3.Connection, outbox_id: int, targets: Iterable[str], stamp: str
) -> None:
    """Add a delivery of a message to each of ``targets``, due at ``stamp``."""
    conn.executemany(
        "INSERT OR IGNORE INTO deliveries (outbox_id, target, next_at) VALUES (?, ?, ?)",
        [(outbox_id, target, stamp) for target in targets],
    )


def last_message_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0])


def add_deliveries_since(conn: sqlite3.Connection, after_id: int, stamp: str) -> None:
    """Add a delivery to each target of every message not held past outbox id ``after_id``."""
    # each subscription's targets decoded once, not once per message, and
    # only those of subscriptions with new messages (MATERIALIZED: SQLite 3.35)
    conn.execute(
        "WITH t(sid, target) AS MATERIALIZED (SELECT s.id, j.value FROM subscriptions s,"
        " json_each(s.targets) j WHERE s.id IN (SELECT subscription_id FROM outbox"
        " WHERE id > ? AND held = 0)) INSERT OR IGNORE INTO deliveries (outbox_id, target,"
        " next_at) SELECT o.id, t.target, ? FROM outbox o JOIN t ON t.sid = o.subscription_id"
        " WHERE o.id > ? AND o.held = 0",
        (after_id, stamp, after_id),
    )


def held_messages(conn: sqlite3.Connection, sub_id: int | None) -> list[int]:
    """Return the ids of a subscription's messages waiting for its digest."""
    rows = conn.execute(
        "SELECT id FROM outbox WHERE subscription_id = ? AND held = 1"
        " AND digest_id IS NULL ORDER BY id",
        (sub_id,),
    )
    return [row[0] for row in rows]


def attach_to_digest(conn: sqlite3.Connection, digest_id: int, ids: Sequence[int]) -> None:
    conn.execute(
        "UPDATE outbox SET digest_id = ? WHERE id IN (SELECT value FROM json_each(?))",
        (digest_id, json.dumps(list(ids))),
    )


# -- reading messages ----------------------------------------------------------


def summary_count(conn: sqlite3.Connection, sub_id: int | None) -> int:
    """Return how many events a subscription's first summary counted."""
    row = conn.execute(
        "SELECT json_extract(detail, '$.count') FROM outbox WHERE subscription_id = ?"
        " AND kind = 'summary'",
        (sub_id,),
    ).fetchone()
    return row[0] if row else 0


def outbox_messages(
    conn: sqlite3.Connection, ids: Sequence[int]
) -> list[tuple[int, int, str, str]]:
    """Return (id, event id, kind, detail) of these outbox rows, oldest first."""
    if not ids:
        return []
    return conn.execute(
        "SELECT id, event_id, kind, detail FROM outbox WHERE id IN"
        " (SELECT value FROM json_each(?)) ORDER BY id",
        (json.dumps(list(ids)),),
    ).fetchall()


# -- deliveries ------------------------------------------------------------------


def due_deliveries(conn: sqlite3.Connection, now: str | None) -> list[DueDelivery]:
    """Return the deliveries not sent whose time has come at ``now`` (None: all of them)."""
    where = "d.state != 'sent'" + ("" if now is None else " AND d.next_at <= ?")
    rows = conn.execute(
        "SELECT d.outbox_id, d.target, d.state, d.attempts, o.subscription_id, o.event_id,"
        " o.kind, o.detail, d.owner, d.done, d.claimed_at FROM deliveries d"
        f" JOIN outbox o ON o.id = d.outbox_id WHERE {where} ORDER BY o.id, d.target",
        () if now is None else (now,),
    )
    return list(map(DueDelivery._make, rows))


def claim_delivery(
    conn: sqlite3.Connection,
    key: tuple[int, str],
    *,
    owner: str,
    stamp: str,
    state: str,
    was_owner: str | None,
) -> bool:
    """Mark a delivery ``sending`` by ``owner`` and commit; False when another took it first.

    Only a delivery still in ``state`` with ``was_owner`` is taken, so of two
    processes that saw it, one gets it.
    """
    outbox_id, target = key
    claimed = conn.execute(
        "UPDATE deliveries SET state = 'sending', owner = ?, claimed_at = ?"
        " WHERE outbox_id = ? AND target = ? AND state = ? AND owner IS ?",
        (owner, stamp, outbox_id, target, state, was_owner),
    ).rowcount
    if conn.in_transaction:
        conn.commit()
    return claimed == 1


def delivery_sent(
    conn: sqlite3.Connection, key: tuple[int, str], *, stamp: str, done: Iterable[str]
) -> None:
    """Mark a delivery sent and commit."""
    outbox_id, target = key
    conn.execute(
        "UPDATE deliveries SET state = 'sent', sent_at = ?, last_error = NULL, done = ?"
        " WHERE outbox_id = ? AND target = ?",
        (stamp, json.dumps(sorted(done)), outbox_id, target),
    )
    if conn.in_transaction:
        conn.commit()


def delivery_failed(
    conn: sqlite3.Connection,
    key: tuple[int, str],
    *,
    attempts: int,
    next_at: str,
    error: str | None,
    done: Iterable[str],
) -> None:
    """Put a failed delivery back, due again at ``next_at``, and commit."""
    outbox_id, target = key
    conn.execute(
        "UPDATE deliveries SET state = 'pending', attempts = ?, next_at = ?,"
        " last_error = ?, done = ?, owner = NULL WHERE outbox_id = ? AND target = ?",
        (attempts, next_at, error, json.dumps(sorted(done)), outbox_id, target),
    )
    if conn.in_transaction:
        conn.commit()


def undelivered(conn: sqlite3.Connection, sub_id: int | None) -> int:
    """Return how many deliveries of a subscription's messages are not sent yet."""
    return int(
        conn.execute(
            "SELECT count(*) FROM deliveries d JOIN outbox o ON o.id = d.outbox_id"
            " WHERE o.subscription_id = ? AND d.state != 'sent'",
            (sub_id,),
        ).fetchone()[0]
    )


def delivery_state(
    conn: sqlite3.Connection, sub_id: int | None, failing_after: int
) -> DeliveryState:
    """Return what a subscription's deliveries come to."""
    sent = conn.execute(
        "SELECT count(*), max(d.sent_at) FROM deliveries d JOIN outbox o ON o.id = d.outbox_id"
        " WHERE o.subscription_id = ? AND d.state = 'sent'",
        (sub_id,),
    ).fetchone()
    pending = undelivered(conn, sub_id)
    held = conn.execute(
        "SELECT count(*) FROM outbox WHERE subscription_id = ? AND held = 1 AND digest_id IS NULL",
        (sub_id,),
    ).fetchone()[0]
    failing = conn.execute(
        "SELECT d.target, max(d.attempts), d.last_error FROM deliveries d"
        " JOIN outbox o ON o.id = d.outbox_id WHERE o.subscription_id = ? AND d.state != 'sent'"
        " AND d.attempts >= ? GROUP BY d.target",
        (sub_id, failing_after),
    ).fetchall()
    return DeliveryState(sent[0], sent[1], pending, held, failing)


def summary_series(conn: sqlite3.Connection, sub_id: int | None) -> int:
    """Return how many series a health subscription's first summary counted."""
    row = conn.execute(
        "SELECT json_extract(detail, '$.series') FROM outbox WHERE subscription_id = ?"
        " AND kind = 'watching'",
        (sub_id,),
    ).fetchone()
    return row[0] if row else 0


def was_told(conn: sqlite3.Connection, sub_id: int | None, kind: str, keys: list[str]) -> bool:
    """Say whether a message of ``kind`` under any of ``keys`` was written for the subscription."""
    row = conn.execute(
        "SELECT 1 FROM outbox WHERE subscription_id = ? AND kind = ? AND event_id = 0"
        " AND key IN (SELECT value FROM json_each(?)) LIMIT 1",
        (sub_id, kind, json.dumps(keys)),
    ).fetchone()
    return row is not None
