"""The matcher's index: each stored event filed under the keys it can be matched by.

A new entry is compared only with the stored events around it that share
a key with it (a title word, an acronym and the initials it stands for,
an organizer's word, each in a whole-degree cell of its place; a link:
techcal.normalise.dedupe's ``clue_keys`` and ``lookup_keys``), so its cost
follows the events it could be a copy of, not how busy the evening is,
nor how many events the store holds elsewhere. ``match_forms`` keeps what
the matcher compares of each event, worked out once (the reader worker
works it out for new entries), and where it was filed; ``match_keys``
holds (key, start hour, event id).

The triggers of m011 list every new event, every event whose title, link,
organizer, start or place changed, and every deleted one in
``match_stale``; :func:`file_stale` files them again before the next match,
whoever wrote them. Until all are filed (a store just upgraded files its
events a few thousand at a time), the matcher reads every event around an
entry, as it did before the index.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from techcal.normalise.dedupe import FORM_VERSION, clue_keys, match_form, place_cell
from techcal.store.meta import read_meta, write_meta

#: what is read of a listed event to file it: its id, uid, what the form is
#: worked out from, its start and place, and the form, hour and cell it was
#: filed under before (the event's columns are NULL when it was deleted)
_STALE = (
    "SELECT s.event_id, e.uid, e.title, e.url, e.organizer, e.start_utc, e.lat, e.lon,"
    " f.hour, f.cell, f.form FROM match_stale s"
    " LEFT JOIN events e ON e.id = s.event_id LEFT JOIN match_forms f ON f.event_id = s.event_id"
    " ORDER BY s.event_id LIMIT ?"
)
#: the events filed in one go (a store upgraded to m011 files all of its
#: events: a few thousand per batch, so no transaction holds the lock long)
FILE_AT_ONCE = 2000
#: the meta key of the version of the match forms and keys the store holds
_VERSION_KEY = "match_forms"


def hour_of(start_utc: int) -> int:
    """Return the hour a start (Unix seconds) is filed under."""
    return start_utc // 3600


def file_stale(
    conn: sqlite3.Connection,
    forms: Mapping[str, tuple[str, tuple[int, ...] | None]] | None = None,
) -> int:
    """File the listed events under their keys again; return how many.

    At most FILE_AT_ONCE of them (call again for the rest).

    ``forms`` holds match forms (and their keys, when known: they depend on
    the event's place) already worked out, by event uid (the new events a
    batch just wrote, worked out by the reader worker): the others are
    worked out here. A listed event that was deleted loses its keys. When
    the store's forms were worked out by another version of the matcher
    (FORM_VERSION), every event is listed first. Runs inside the caller's
    write transaction.
    """
    if read_meta(conn, _VERSION_KEY) != FORM_VERSION:
        conn.execute("INSERT OR IGNORE INTO match_stale (event_id) SELECT id FROM events")
        write_meta(conn, _VERSION_KEY, FORM_VERSION)
    forms = forms or {}
    rows = conn.execute(_STALE, (FILE_AT_ONCE,)).fetchall()
    if not rows:
        return 0
    gone: list[tuple[int, int, int]] = []
    filed: list[tuple[int, int, int]] = []
    kept: list[tuple[int, int, str, str]] = []
    dropped: list[tuple[int]] = []
    for row in rows:
        event_id, uid, title, url, organizer, start_utc, lat, lon = row[:8]
        old_hour, old_cell, old_form = row[8:]
        if old_form is not None:
            try:
                gone += [(key, old_hour, event_id) for key in clue_keys(old_form, old_cell)]
            except ValueError:
                pass  # a damaged form: its keys find nothing worse than a look
        if uid is None:
            dropped.append((event_id,))  # deleted
            continue
        hour, cell = hour_of(start_utc), place_cell(lat, lon)
        form, keys = forms.get(uid) or (match_form(title, url, organizer), None)
        filed += [(key, hour, event_id) for key in (keys or clue_keys(form, cell))]
        kept.append((event_id, hour, cell, form))
    conn.executemany("DELETE FROM match_keys WHERE key = ? AND hour = ? AND event_id = ?", gone)
    conn.executemany(
        "INSERT OR IGNORE INTO match_keys (key, hour, event_id) VALUES (?, ?, ?)", filed
    )
    conn.executemany(
        "INSERT OR REPLACE INTO match_forms (event_id, hour, cell, form) VALUES (?, ?, ?, ?)",
        kept,
    )
    conn.executemany("DELETE FROM match_forms WHERE event_id = ?", dropped)
    conn.executemany("DELETE FROM match_stale WHERE event_id = ?", [(row[0],) for row in rows])
    return len(rows)


def all_filed(conn: sqlite3.Connection) -> bool:
    """Return True when no event waits to be filed (match_stale is empty)."""
    return conn.execute("SELECT 1 FROM match_stale LIMIT 1").fetchone() is None
