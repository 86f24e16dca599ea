"""The matcher's index: each stored event filed under the keys it can be matched by.

A new entry is compared only with the stored events around it that share
a key with it (a title word, an acronym and the initials it stands for,
an organizer's word, a link: techcal.normalise.dedupe's ``clue_keys`` and
``lookup_keys``), so its cost follows the events it could be a copy of,
not how busy the evening is. ``match_forms`` keeps what the matcher
compares of each event, worked out once (the reader worker works it out
for new entries); ``match_keys`` holds (key, start hour, event id).

The triggers of m011 list every new event, and every event whose title,
link, organizer or start changed, in ``match_stale``; :func:`file_stale`
files them again before the next match, whoever wrote them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from techcal.normalise.dedupe import clue_keys, match_form

#: what is read of a listed event to file it: its id, uid, what the form is
#: worked out from, and the form and hour it was filed under before
_STALE = (
    "SELECT e.id, e.uid, e.title, e.url, e.organizer, e.start_utc, f.hour, f.form"
    " FROM match_stale s JOIN events e ON e.id = s.event_id"
    " LEFT JOIN match_forms f ON f.event_id = e.id"
)


def hour_of(start_utc: int) -> int:
    """Return the hour a start (Unix seconds) is filed under."""
    return start_utc // 3600


def file_stale(
    conn: sqlite3.Connection,
    forms: Mapping[str, tuple[str, tuple[int, ...] | None]] | None = None,
) -> int:
    """File every listed event under its keys again; return how many.

    ``forms`` holds match forms (and their keys, when known) already worked
    out, by event uid (the new events a batch just wrote, worked out by the
    reader worker): the others are worked out here. Runs inside the
    caller's write transaction.
    """
    forms = forms or {}
    rows = conn.execute(_STALE).fetchall()
    if not rows:
        return 0
    gone: list[tuple[int, int, int]] = []
    filed: list[tuple[int, int, int]] = []
    kept: list[tuple[int, int, str]] = []
    for event_id, uid, title, url, organizer, start_utc, old_hour, old_form in rows:
        if old_form is not None:
            try:
                gone += [(key, old_hour, event_id) for key in clue_keys(old_form)]
            except ValueError:
                pass  # a damaged form: its keys find nothing worse than a look
        form, keys = forms.get(uid) or (match_form(title, url, organizer), None)
        hour = hour_of(start_utc)
        filed += [(key, hour, event_id) for key in (keys or clue_keys(form))]
        kept.append((event_id, hour, form))
    conn.executemany("DELETE FROM match_keys WHERE key = ? AND hour = ? AND event_id = ?", gone)
    conn.executemany(
        "INSERT OR IGNORE INTO match_keys (key, hour, event_id) VALUES (?, ?, ?)", filed
    )
    conn.executemany(
        "INSERT OR REPLACE INTO match_forms (event_id, hour, form) VALUES (?, ?, ?)", kept
    )
    conn.execute("DELETE FROM match_stale")
    return len(rows)
