"""Write transactions that take turns: no writer keeps the lock from the others.

Every write to the store runs in :func:`write_transaction`. Several
processes write to one database (a crawl, an import, ``techcal notify``):
each keeps its transactions short, and one that has held the lock for a
while lets the waiting ones in before taking it again.

SQLite does not tell a writer that another one waits, so a waiting writer
says so: it touches a file beside the database (``<db>-writer-waiting``)
each time it has waited WAIT_SIGNAL_SECONDS, and a writer at the end of its
turn pauses only if that file was touched during its turn. Alone, a big
import never pauses.
"""

from __future__ import annotations

import os
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
#: how often a writer waiting for the lock says so again
WAIT_SIGNAL_SECONDS = 0.2
#: the file a waiting writer touches, beside the database
WAIT_SIGNAL_SUFFIX = "-writer-waiting"


@dataclass
class _Turn:
    """How long one connection has held the write lock since it last let others in."""

    held: float = 0.0
    released: float = float("-inf")
    #: when it may take the lock again
    free_until: float = float("-inf")
    #: when (wall clock) its turn began: a wait said after that is for this turn
    began: float = 0.0
    #: the file waiting writers touch (None: they cannot, so always let them in)
    signal: str | None = None
    #: the connection's busy timeout, in milliseconds
    busy_ms: int = 0


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
        turn.busy_ms = conn.execute("PRAGMA busy_timeout").fetchone()[0]
        turn.signal = _signal_path(conn)
    return turn


def _signal_path(conn: sqlite3.Connection) -> str | None:
    """Return the wait-signal file of ``conn``'s database, None if it cannot have one."""
    for _seq, name, path in conn.execute("PRAGMA database_list"):
        if name == "main" and path:
            signal = path + WAIT_SIGNAL_SUFFIX
            folder = os.path.dirname(signal) or "."
            if os.access(signal, os.W_OK) or (
                not os.path.exists(signal) and os.access(folder, os.W_OK)
            ):
                return signal
    return None


def _others_waiting(turn: _Turn) -> bool:
    """Return True if a writer said it waits since ``turn`` began (or nobody can say)."""
    if turn.signal is None:
        return True
    try:
        return os.stat(turn.signal).st_mtime >= turn.began
    except OSError:
        return False  # never touched: nobody has waited yet


def _say_waiting(turn: _Turn) -> None:
    if turn.signal is None:
        return
    try:
        with open(turn.signal, "a"):
            pass
        os.utime(turn.signal)
    except OSError:
        turn.signal = None  # cannot say it: the others pause as before


def _begin(conn: sqlite3.Connection, turn: _Turn) -> None:
    """BEGIN IMMEDIATE, waiting up to the busy timeout, saying so while it waits."""
    if turn.signal is None:
        conn.execute("BEGIN IMMEDIATE")
        return
    deadline = time.monotonic() + turn.busy_ms / 1000
    step = min(turn.busy_ms, int(WAIT_SIGNAL_SECONDS * 1000))
    conn.execute(f"PRAGMA busy_timeout = {step}")
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                _say_waiting(turn)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {turn.busy_ms}")


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
    if turn.free_until > float("-inf"):
        # its last turn is over: let in whoever said they wait meanwhile
        pause = turn.free_until - time.monotonic()
        if pause > 0 and _others_waiting(turn):
            time.sleep(pause)
        turn.free_until = float("-inf")
        turn.began = time.time()
    _begin(conn, turn)
    taken, taken_at = time.monotonic(), time.time()
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        released = time.monotonic()
        if taken - turn.released >= LET_IN_SECONDS or not turn.began:
            # others had their chance before this one: a new turn
            turn.held, turn.began = 0.0, taken_at
        turn.held += released - taken
        turn.released = released
        if turn.held >= WRITE_TURN_SECONDS:
            turn.free_until = released + LET_IN_SECONDS
            turn.held = 0.0
