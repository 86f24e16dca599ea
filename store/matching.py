"""Linking a new entry to the stored event it copies, and redoing shared events' values.

The scoring is techcal.normalise.dedupe's (pure); this module reads what it
scores: the stored events near a new entry, a user's split and merge
choices, and the records of every source an event has.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from techcal.event import SCHEDULE_FIELDS
from techcal.normalise.dedupe import CANDIDATE_COLUMNS, MAX_START_GAP, ranked_matches
from techcal.normalise.gazetteer import distance_km
from techcal.normalise.merge import merged_values
from techcal.store.event_rows import (
    RECORD_COLUMNS,
    RECORD_COLUMNS_SQL,
    UPDATE_EVENT,
    stored_record,
)

_COLUMNS = ", ".join("e." + c for c in CANDIDATE_COLUMNS)


@dataclass
class Matcher:
    """Finds, for one source's new entries, the stored event each is another copy of."""

    conn: sqlite3.Connection
    source_id: int

    def find(
        self,
        entry: dict[str, Any],
        *,
        avoid: Iterable[str] = (),
        taken: set[int] | frozenset[int] = frozenset(),
    ) -> tuple[int, str] | None:
        """Return (event id, uid) of the best match for ``entry``, or None.

        ``avoid`` holds event uids this entry must not join (a user's split);
        ``taken`` the events another entry of the same source just joined.
        """
        rows = self._candidates(entry)
        # (whether this source lists a candidate already is checked on the
        # few that score, not in SQL for every row of a busy evening)
        for event_id, uid in ranked_matches(entry, rows, avoid=avoid, taken=taken):
            mine = self.conn.execute(
                "SELECT 1 FROM provenance WHERE event_id = ? AND source_id = ?"
                " AND removed_at IS NULL",
                (event_id, self.source_id),
            ).fetchone()
            if mine is None:  # one source's entries are never merged
                return event_id, uid
        return None

    def _candidates(self, entry: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Return the live events starting near ``entry``, in CANDIDATE_COLUMNS order.

        Near in place too when the entry has coordinates: those come from the
        events' R*Tree of time and place, so the cost follows the events
        around the entry, not how many the store holds; events with no
        coordinates are judged by city, wherever they are.
        """
        start = entry["start_utc"]
        if entry["all_day"]:
            # anything starting on that day, wherever it is (offsets up to 14 h)
            window = (start - 14 * 3600, start + 38 * 3600)
        else:
            window = (start - MAX_START_GAP, start + MAX_START_GAP)
        box = _box(entry)
        if box is None:
            rows = self.conn.execute(
                f"SELECT {_COLUMNS} FROM events e WHERE e.start_utc BETWEEN ? AND ?"
                f" AND e.removed_at IS NULL{'' if entry['all_day'] else ' AND e.all_day = 0'}",
                window,
            ).fetchall()
        else:
            rows = self._near(window, box, timed_only=not entry["all_day"])
        if not entry["all_day"]:
            # all-day entries of the same day (a small partial index)
            rows += self.conn.execute(
                f"SELECT {_COLUMNS} FROM events e INDEXED BY events_all_day_start"
                " WHERE e.all_day = 1 AND e.start_utc BETWEEN ? AND ? AND e.removed_at IS NULL"
                " AND (e.lat IS NULL OR (e.lat BETWEEN ? AND ? AND e.lon BETWEEN ? AND ?))",
                (start - 38 * 3600, start + 14 * 3600, *(box or _EARTH)),
            ).fetchall()
        return rows

    def _near(
        self, window: tuple[int, int], box: tuple[float, float, float, float], *, timed_only: bool
    ) -> list[tuple[Any, ...]]:
        """Return the live events in ``window`` inside ``box``, and those with no place."""
        timed = " AND e.all_day = 0" if timed_only else ""
        # the R*Tree keeps times as 32-bit floats, rounded outwards: the
        # events' own start_utc decides
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM events_rtree r JOIN events e ON e.id = r.id"
            " WHERE r.t0 <= ? AND r.t1 >= ? AND r.lat0 <= ? AND r.lat1 >= ?"
            " AND r.lon0 <= ? AND r.lon1 >= ?"
            f" AND e.start_utc BETWEEN ? AND ? AND e.removed_at IS NULL{timed}",
            (window[1], window[0], box[1], box[0], box[3], box[2], *window),
        ).fetchall()
        rows += self.conn.execute(
            # (events_placeless_start, a partial index, where the store has it)
            f"SELECT {_COLUMNS} FROM events e"
            f" WHERE e.lat IS NULL AND e.start_utc BETWEEN ? AND ? AND e.removed_at IS NULL{timed}",
            window,
        ).fetchall()
        return rows


#: the box of an entry with no place: anywhere
_EARTH = (-90.0, 90.0, -180.0, 180.0)


def _box(entry: dict[str, Any]) -> tuple[float, float, float, float] | None:
    """Return (lat min, lat max, lon min, lon max) around ``entry``, None when it has no place.

    Nothing more than 30 km away can be the same event (match_score's
    widest radius). None too where the box would cross the antimeridian.
    """
    if entry["lat"] is None or entry["lon"] is None:
        return None
    dlat = 0.28
    dlon = min(180.0, 0.28 / max(0.05, math.cos(math.radians(entry["lat"]))))
    lat, lon = entry["lat"], entry["lon"]
    if not (-180 < lon - dlon and lon + dlon < 180):
        return None
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def user_choices(conn: sqlite3.Connection, source: str) -> dict[str, dict[str, bool]]:
    """Return, per source uid, the events a user said it is (True) or is not (False)."""
    choices: dict[str, dict[str, bool]] = {}
    for source_uid, uid, together in conn.execute(
        "SELECT source_uid, event_uid, together FROM dedupe_choices WHERE source = ?",
        (source,),
    ):
        choices.setdefault(source_uid, {})[uid] = bool(together)
    return choices


def find_match(
    conn: sqlite3.Connection,
    matcher: Matcher,
    row: tuple[object, ...],
    choices: dict[str, bool],
    claimed: set[int],
) -> tuple[int, str] | None:
    """Return the stored event a new entry (its event columns ``row``) is another copy of.

    A user's forced merge (``choices``, from user_choices) comes first; an
    event in ``claimed`` (another entry of the source joined it) is never
    returned.
    """
    for uid, together in choices.items():
        if together:
            found = conn.execute(
                "SELECT id FROM events WHERE uid = ? AND removed_at IS NULL", (uid,)
            ).fetchone()
            if found is not None and found[0] not in claimed:
                return found[0], uid
    entry = dict(zip(RECORD_COLUMNS, row, strict=True))
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
    moved = 0
    for event_id in sorted(event_ids):
        rows = conn.execute(
            "SELECT p.record, s.kind, s.url, p.first_seen FROM provenance p"
            " JOIN sources s ON s.id = p.source_id"
            " WHERE p.event_id = ? AND p.removed_at IS NULL ORDER BY p.id",
            (event_id,),
        ).fetchall()
        current = conn.execute(
            f"SELECT {RECORD_COLUMNS_SQL} FROM events WHERE id = ?", (event_id,)
        ).fetchone()
        if not rows or current is None:
            continue
        merged = merged_values(
            [(stored_record(r), kind, url, first) for r, kind, url, first in rows]
        )
        new_row = tuple(merged.get(c) for c in RECORD_COLUMNS)
        if new_row == tuple(current):
            continue
        bump = _moved(dict(zip(RECORD_COLUMNS, current, strict=True)), merged)
        moved += int(bump)
        conn.execute(UPDATE_EVENT, (*new_row, int(bump), stamp, int(bump), stamp, event_id))
    return moved


def _moved(old: dict[str, Any], merged: dict[str, Any]) -> bool:
    """Return True when an event's new values move it (time, status, place), not refine it."""
    # a place detail filled in where there was none is a refinement
    bump = any(
        old[c] != merged.get(c) and not (c in _PLACE_TEXT and old[c] in (None, ""))
        for c in _SIGNIFICANT
    )
    exact = old["geo_precision"] == merged.get("geo_precision") == "exact"
    if not bump and exact:
        # a city's coordinates becoming a venue's is a refinement, not a move
        bump = distance_km(old["lat"], old["lon"], merged["lat"], merged["lon"]) > 1.0
    return bump
