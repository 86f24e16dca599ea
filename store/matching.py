"""Linking a new entry to the stored event it copies, and redoing shared events' values.

The scoring is techcal.normalise.dedupe's (pure); this module reads what it
scores: the stored events near a new entry, a user's split and merge
choices, and the records of every source an event has.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from techcal.event import SCHEDULE_FIELDS
from techcal.normalise.dedupe import (
    BUSY,
    CANDIDATE_COLUMNS,
    COMMON_SHARE,
    MAX_START_GAP,
    Lookup,
    box_cells,
    lookup_keys,
    match_form,
    ranked_matches,
    read_match_form,
)
from techcal.normalise.gazetteer import distance_km
from techcal.normalise.merge import merged_values
from techcal.store.event_rows import (
    RECORD_COLUMNS,
    RECORD_COLUMNS_SQL,
    UPDATE_EVENT,
    relean_records,
    stored_record,
)
from techcal.store.match_index import all_filed, file_stale, hour_of

# (the stored match form, read as the last two columns)
# (the stored match form, read as the last two columns)
_COLUMNS = ", ".join("e." + c for c in CANDIDATE_COLUMNS[:-2]) + ", f.form"
_FORMS = " LEFT JOIN match_forms f ON f.event_id = e.id"
#: the events filed under any of some keys (a JSON array) in a span of hours
_FILED = (
    "e.id IN (SELECT k.event_id FROM match_keys k"
    " WHERE k.key IN (SELECT value FROM json_each(?)) AND k.hour BETWEEN ? AND ?)"
)
#: near in place: with no coordinates, or inside the box (lat min, max, lon min, max)
_IN_BOX = "(e.lat IS NULL OR (e.lat BETWEEN ? AND ? AND e.lon BETWEEN ? AND ?))"
_ALL_DAY = 38 * 3600, 14 * 3600  # an all-day event's day holds starts up to 38 h after it


@dataclass
class Matcher:
    """Finds, for one source's new entries, the stored event each is another copy of.

    Made inside the write transaction of a batch: it first files the events
    written since the last match (techcal.store.match_index).
    """

    conn: sqlite3.Connection
    source_id: int

    def __post_init__(self) -> None:
        file_stale(self.conn)
        # (until every event is filed, the keys would miss some)
        self._filed = all_filed(self.conn)

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
        ``entry`` has its match form read (``form``, ``link``).
        """
        near = _Near.around(entry)
        if near.cells is None or not self._filed:
            # no place: the events around it are anywhere, not in a few
            # cells; or some events are not filed yet (a store just upgraded)
            rows = self._all_around(near)
            ranked = ranked_matches(entry, rows, avoid=avoid, taken=taken)
        else:
            lookup = lookup_keys(entry["form"], entry["link"], entry["organizer"], near.cells)
            common, organizer_key = self._common(near, lookup)
            rows = self._candidates(near, lookup, common, organizer_key)
            ranked = ranked_matches(entry, rows, avoid=avoid, taken=taken, common=common)
        # (whether this source lists a candidate already is checked on the
        # few that score, not in SQL for every row of a busy evening)
        for event_id, uid in ranked:
            mine = self.conn.execute(
                "SELECT 1 FROM provenance WHERE event_id = ? AND source_id = ?"
                " AND removed_at IS NULL",
                (event_id, self.source_id),
            ).fetchone()
            if mine is None:  # one source's entries are never merged
                return event_id, uid
        return None

    def _all_around(self, near: _Near) -> list[tuple[Any, ...]]:
        """Return every live event around an entry with no place (CANDIDATE_COLUMNS)."""
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM events e{_FORMS} WHERE {near.where} ORDER BY e.id", near.args
        ).fetchall()
        return _with_forms(rows)

    def _common(self, near: _Near, lookup: Lookup) -> tuple[set[str], list[int]]:
        """Return the entry's title words most events around it share, and its organizer's key.

        The words are dedupe.common_words's, counted in SQL, and only where
        they could be: a word filed for fewer events in those hours,
        anywhere, than a busy evening's share (BUSY // COMMON_SHARE) is
        not. The organizer's key is that of its least often filed word (any
        one finds the events whose organizer has all its words).
        """
        counted = [
            key for keys in (*lookup.words.values(), *lookup.organizer.values()) for key in keys
        ]
        per_key = dict(
            self.conn.execute(
                "SELECT key, count(*) FROM match_keys WHERE key IN (SELECT value FROM json_each(?))"
                " AND hour BETWEEN ? AND ? GROUP BY key",
                (json.dumps(counted), *near.hours),
            ).fetchall()
        )

        def filed(keys: list[int]) -> int:
            return sum(per_key.get(key, 0) for key in keys)

        rarest = min(lookup.organizer.values(), key=filed, default=[])
        # (a word of a busy evening's fifth is on more than BUSY // COMMON_SHARE events)
        maybe = [word for word, keys in lookup.words.items() if filed(keys) > BUSY // COMMON_SHARE]
        if not maybe:
            return set(), rarest
        total = near.count(self.conn)
        if total <= BUSY:
            return set(), rarest
        share = total // COMMON_SHARE
        common = set()
        for word in maybe:
            # counted only as far as it takes to know
            (around,) = self.conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM match_keys k JOIN events e"
                " ON e.id = k.event_id WHERE k.key IN (SELECT value FROM json_each(?))"
                f" AND k.hour BETWEEN ? AND ? AND {near.where} LIMIT ?)",
                (json.dumps(lookup.words[word]), *near.hours, *near.args, share + 1),
            ).fetchone()
            if around > share:
                common.add(word)
        return common, rarest

    def _candidates(
        self, near: _Near, lookup: Lookup, common: set[str], organizer: list[int]
    ) -> list[tuple[Any, ...]]:
        """Return the live events around an entry sharing a key with it (CANDIDATE_COLUMNS).

        Around: starting near it (within MAX_START_GAP; on its day for
        all-day ones) and near its place (or with no place). Sharing a key:
        filed under one of its lookup keys (its title words but the
        ``common`` ones, and ``organizer``): the others _Clues would let
        through none of.
        """
        keys = [key for word, found in lookup.words.items() if word not in common for key in found]
        keys += [*lookup.others, *organizer]
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM events e{_FORMS} WHERE {_FILED} AND {near.where}"
            " ORDER BY e.id",
            (json.dumps(keys), *near.hours, *near.args),
        ).fetchall()
        return _with_forms(rows)


@dataclass
class _Near:
    """Where and when a new entry's candidates are: an SQL condition on events ``e``."""

    where: str
    args: tuple[Any, ...]
    #: the hours (match_index.hour_of) its candidates' keys are filed under
    hours: tuple[int, int]
    #: the place cells they are filed in (dedupe.box_cells); None: anywhere
    cells: list[str] | None
    #: how many live events are around it: per part, statements and their arguments
    counts: list[tuple[str, tuple[Any, ...]]]

    @classmethod
    def around(cls, entry: dict[str, Any]) -> _Near:
        """Return the events around ``entry``: near in time, and in place when it has one.

        Near in place: inside a box of its coordinates (nothing 30 km away
        can be the same event), or with no coordinates (judged by city,
        wherever they are). A timed entry's candidates are timed events
        within MAX_START_GAP and all-day events of its day; an all-day
        entry's are any event of its day.
        """
        start = entry["start_utc"]
        box = _box(entry)
        place = (
            "1"
            if box is None
            else "(e.lat IS NULL OR (e.lat BETWEEN ? AND ? AND e.lon BETWEEN ? AND ?))"
        )
        place_args: tuple[Any, ...] = () if box is None else box
        live = "e.removed_at IS NULL"
        if entry["all_day"]:
            window = (start - _ALL_DAY[1], start + _ALL_DAY[0])
            where = f"{live} AND e.start_utc BETWEEN ? AND ? AND {place}"
            args: tuple[Any, ...] = (*window, *place_args)
            first, last = window
        else:
            window = (start - MAX_START_GAP, start + MAX_START_GAP)
            day = (start - _ALL_DAY[0], start + _ALL_DAY[1])
            where = (
                f"{live} AND ((e.all_day = 0 AND e.start_utc BETWEEN ? AND ?)"
                f" OR (e.all_day = 1 AND e.start_utc BETWEEN ? AND ?)) AND {place}"
            )
            args = (*window, *day, *place_args)
            # (all-day events starting up to 14 h after it too: their keys
            # are filed under those hours)
            first, last = day[0], max(window[1], day[1])
        hours = (hour_of(first), hour_of(last))
        cells = None if box is None else box_cells(box)
        return cls(where, args, hours, cells, _counts(entry["all_day"], window, box))

    def count(self, conn: sqlite3.Connection) -> int:
        """Return how many live events are around the entry (each part from its index)."""
        sql = "SELECT " + " + ".join(f"({part})" for part, _ in self.counts)
        (total,) = conn.execute(sql, [arg for _, args in self.counts for arg in args]).fetchone()
        return int(total)


def _counts(
    all_day: bool, window: tuple[int, int], box: tuple[float, float, float, float] | None
) -> list[tuple[str, tuple[Any, ...]]]:
    """Return the statements that count the live events around an entry, as _Near.where has them.

    Events with coordinates come from the events' R*Tree of time and place,
    so the cost follows the events around the entry, not how many the store
    holds; those with none from a partial index (m010), all-day ones from
    another.
    """
    live = "e.removed_at IS NULL"
    timed = "" if all_day else " AND e.all_day = 0"
    parts: list[tuple[str, tuple[Any, ...]]] = []
    if box is None:
        parts.append(
            (
                "SELECT count(*) FROM events e"
                f" WHERE e.start_utc BETWEEN ? AND ? AND {live}{timed}",
                window,
            )
        )
    else:
        # the R*Tree keeps times as 32-bit floats, rounded outwards: the
        # events' own start_utc decides
        parts.append(
            (
                "SELECT count(*) FROM events_rtree r JOIN events e ON e.id = r.id"
                " WHERE r.t0 <= ? AND r.t1 >= ? AND r.lat0 <= ? AND r.lat1 >= ?"
                " AND r.lon0 <= ? AND r.lon1 >= ?"
                f" AND e.start_utc BETWEEN ? AND ? AND {live}{timed}",
                (window[1], window[0], box[1], box[0], box[3], box[2], *window),
            )
        )
        parts.append(
            (
                "SELECT count(*) FROM events e"
                f" WHERE e.lat IS NULL AND e.start_utc BETWEEN ? AND ? AND {live}{timed}",
                window,
            )
        )
    if not all_day:
        start = window[0] + MAX_START_GAP
        parts.append(
            (
                "SELECT count(*) FROM events e INDEXED BY events_all_day_start"
                f" WHERE e.all_day = 1 AND e.start_utc BETWEEN ? AND ? AND {live}"
                " AND (e.lat IS NULL OR (e.lat BETWEEN ? AND ? AND e.lon BETWEEN ? AND ?))",
                (start - _ALL_DAY[0], start + _ALL_DAY[1], *(box or _EARTH)),
            )
        )
    return parts


def _with_forms(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Return ``rows`` with their match forms read (worked out where missing or damaged)."""
    found: list[tuple[Any, ...]] = []
    for row in rows:
        text = row[-1]
        if text is not None:
            try:
                found.append((*row[:-1], *read_match_form(text)))
                continue
            except ValueError:
                pass
        found.append((*row[:-1], *read_match_form(match_form(row[2], row[3], row[14]))))
    return found


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
    form: str,
) -> tuple[int, str] | None:
    """Return the stored event a new entry (its event columns ``row``) is another copy of.

    A user's forced merge (``choices``, from user_choices) comes first; an
    event in ``claimed`` (another entry of the source joined it) is never
    returned. ``form`` is the entry's match form (dedupe.match_form).
    """
    for uid, together in choices.items():
        if together:
            found = conn.execute(
                "SELECT id FROM events WHERE uid = ? AND removed_at IS NULL", (uid,)
            ).fetchone()
            if found is not None and found[0] not in claimed:
                return found[0], uid
    entry = dict(zip(RECORD_COLUMNS, row, strict=True))
    entry["form"], entry["link"] = read_match_form(form)
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
            [(stored_record(r, current), kind, url, first) for r, kind, url, first in rows]
        )
        new_row = tuple(merged.get(c) for c in RECORD_COLUMNS)
        if new_row == tuple(current):
            continue
        bump = _moved(dict(zip(RECORD_COLUMNS, current, strict=True)), merged)
        moved += int(bump)
        conn.execute(UPDATE_EVENT, (*new_row, int(bump), stamp, int(bump), stamp, event_id))
    relean_records(conn, event_ids)  # each text kept once: see provenance_record
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
