"""Write transactions that take turns: no writer keeps the lock from the others.

Every write to the store runs in :func:`write_transaction`. Several
processes write to one database (a crawl, an import, ``techcal notify``):
each keeps its transactions short, and one that has held the lock for a
while lets the waiting ones in before taking it again.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: SQLite's busy handler (sqliteDefaultBusyCallback) tries again to take the
#: lock for a waiting writer at least every 100 ms. A connection that has
#: held the write lock for WRITE_TURN_SECONDS, in transactions with no such
#: pause between them, leaves it free this long before taking it again, so
#: that every waiting writer gets its turn instead of polling into a lock
#: that is only ever free for microseconds (a loop of batches would
#: otherwise keep it for as long as the loop runs).
LET_IN_SECONDS = 0.15
#: how long a connection may hold the write lock before it lets others in
WRITE_TURN_SECONDS = 1.0


@dataclass
class _Turn:
    """How long one connection has held the write lock since it last let others in."""

    held: float = 0.0
    released: float = float("-inf")
    #: when it may take the lock again
    free_until: float = float("-inf")


# Per thread (each thread has its own connections), by connection.
# sqlite3.Connection cannot be weakly referenced; a reused id only costs
# one pause.
_turns = threading.local()


def _turn(conn: sqlite3.Connection) -> _Turn:
    turns: dict[int, _Turn] = _turns.__dict__.setdefault("by_connection", {})
    turn = turns.get(id(conn))
    if turn is None:
        if len(turns) > 64:
            turns.clear()
        turn = turns[id(conn)] = _Turn()
    return turn


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in one BEGIN IMMEDIATE transaction: all of it, or on any error none.

    IMMEDIATE takes the write lock at the start (waiting up to the busy
    timeout), so the block never fails halfway for want of it. A connection
    that has just held the lock for a while first lets waiting writers in
    (LET_IN_SECONDS): with every transaction short, no writer waits longer
    than a few of them.
    """
    turn = _turn(conn)
    pause = turn.free_until - time.monotonic()
    if pause > 0:
        time.sleep(pause)
    conn.execute("BEGIN IMMEDIATE")
    taken = time.monotonic()
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        released = time.monotonic()
        if taken - turn.released >= LET_IN_SECONDS:
            turn.held = 0.0  # others had their chance before this one
        turn.held += released - taken
        turn.released = released
        if turn.held >= WRITE_TURN_SECONDS:
            turn.free_until = released + LET_IN_SECONDS
            turn.held = 0.0
