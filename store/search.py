"""Searching the store by text, topic, kind, place and time.

Every search is planned from its most selective filter, so none of them
reads every row:

* **text with few hits** (at most ``TEXT_CAP`` events contain it): the FTS5
  index gives the hits, the other filters are checked on them, and results
  are ranked by bm25 (title weighs most).
* **near a place**: the R*Tree over (start time, latitude, longitude) gives
  the events inside the place's box and the date window; exact distances
  and the other filters are checked on those candidates only.
* **otherwise** (a topic, a kind, or just dates): the events are walked in
  start order through the topic index, the kind index or the start-time
  index, checking the other filters, and the walk stops at ``--limit``.

A common word (more than ``TEXT_CAP`` hits) is not ranked over all its
hits, which would read hundreds of thousands of rows: it filters the
candidates of the other plans, and results come soonest first.
"""

from __future__ import annotations

import heapq
import math
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

from techcal.event import StoredEvent
from techcal.normalise.gazetteer import EARTH_RADIUS_KM, distance_km
from techcal.store.query import Query
from techcal.store.stored import (
    EVENT_COLS,
    EVENT_COLUMNS,
    ID,
    START_UTC,
    get_event,
    has_series,
    listings,
    stored_event,
)

# the names the notifier and the commands read from here
__all__ = [
    "EVENT_COLS",
    "EVENT_COLUMNS",
    "get_event",
    "literal_words",
    "match_expression",
    "search",
    "stored_event",
]

#: texts with more hits than this are filters, not rankings
TEXT_CAP = 1000
#: beyond this radius, a box covers so much that walking in start order is cheaper
RTREE_MAX_KM = 500.0
#: the end of time, for open windows (R*Tree keeps 32-bit floats: well within)
_FOREVER = 2**40
#: bm25 weights of the FTS columns (title, description, venue, city)
_BM25 = "bm25(events_fts, 10.0, 1.0, 2.0, 2.0)"


class Found(NamedTuple):
    """An events row a plan found, with how it found it."""

    row: tuple[Any, ...]
    distance_km: float | None = None
    score: float | None = None


def search(
    conn: sqlite3.Connection,
    query: Query,
    *,
    now: datetime | None = None,
    with_sources: bool = True,
) -> list[StoredEvent]:
    """Return the events matching ``query``, best first, with their sources.

    ``with_sources=False`` leaves ``sources`` empty (for callers that need
    only the events, or read source names their own way, as feeds do).
    """
    now = now or datetime.now(UTC)
    start_ts = int((query.start or now).timestamp())
    end_ts = int(query.end.timestamp()) if query.end is not None else _FOREVER
    found = _Plan(conn, query, start_ts, end_ts).run()
    sources = listings(conn, [f.row[ID] for f in found]) if with_sources and found else {}
    events = [
        stored_event(f.row, sources.get(f.row[ID], ()), distance_km=f.distance_km, score=f.score)
        for f in found
    ]
    if with_sources and events and has_series(conn):
        from techcal.store.series import with_rhythms

        events = with_rhythms(conn, events, now=now)
    return events


class _Plan:
    def __init__(self, conn: sqlite3.Connection, query: Query, start_ts: int, end_ts: int) -> None:
        self.conn = conn
        self.q = query
        self.start_ts = start_ts
        self.end_ts = end_ts
        self.limit = query.limit
        self.boxes = _boxes(query.near.lat, query.near.lon, query.within_km) if query.near else []

    def run(self) -> list[Found]:
        expr = None
        if self.q.text:
            expr, hits = match_expression(self.conn, self.q.text)
            if expr is None:
                return []
            if hits <= TEXT_CAP:
                return self._by_text(expr)
        if self.q.near is not None and self.q.within_km <= RTREE_MAX_KM:
            return self._by_place(expr)
        return self._in_start_order(expr, place=self.q.near is not None)

    # -- the plans ---------------------------------------------------------

    def _by_text(self, expr: str) -> list[Found]:
        where, params = self._where(expr=None, place=self.q.near is not None)
        sql = (
            f"SELECT {EVENT_COLS}, {_BM25} AS score FROM events_fts"
            " CROSS JOIN events e ON e.id = events_fts.rowid"
            f" WHERE events_fts MATCH ? AND {' AND '.join(where)}"
            " ORDER BY score, e.start_utc, e.id"
        )
        hits = []
        for row in self.conn.execute(sql, (expr, *params)):
            hit = self._found(row[:-1], score=row[-1])
            if hit is None:
                continue
            hits.append(hit)
            if self.limit is not None and len(hits) >= self.limit:
                break
        return hits

    def _by_place(self, expr: str | None) -> list[Found]:
        """Read the R*Tree box slice by slice in time, stopping once ``limit`` are found.

        Every upcoming event in a city's box can be thousands of rows; the
        first 20 of them are in the first days or weeks of the window.
        """
        where, params = self._where(expr=expr, place=False)
        seen: set[int] = set()
        hits: list[Found] = []
        for low, high in self._slices():
            found = []
            for south, north, west, east in self.boxes:
                sql = (
                    f"SELECT {EVENT_COLS} FROM events_rtree r CROSS JOIN events e ON e.id = r.id"
                    " WHERE r.t0 <= ? AND r.t1 >= ? AND r.lat0 <= ? AND r.lat1 >= ?"
                    f" AND r.lon0 <= ? AND r.lon1 >= ? AND {' AND '.join(where)}"
                    " AND e.start_utc >= ? AND e.start_utc < ?"
                )
                box = (high, low, north, south, east, west)
                for row in self.conn.execute(sql, (*box, *params, low, high)):
                    if row[0] in seen:
                        continue
                    seen.add(row[0])
                    hit = self._found(row)
                    if hit is not None:
                        found.append(hit)
            found.sort(key=_order)
            hits.extend(found)
            if self.limit is not None and len(hits) >= self.limit:
                break
        if self.q.online:
            # online-only events are nowhere, so no box finds them: walk them too
            online = self._walk(expr, extra=["e.online = 1", "e.lat IS NULL"])
            hits.extend(_take(online, self.limit))
            hits.sort(key=_order)
        return hits[: self.limit] if self.limit is not None else hits

    def _slices(self) -> Iterator[tuple[int, int]]:
        """Yield consecutive [low, high) parts of the window, growing: a day, a week, ..."""
        if self.limit is None:
            yield self.start_ts, self.end_ts
            return
        low = self.start_ts
        for days in (2, 8, 32, 128, 512):
            high = min(self.start_ts + days * 86400, self.end_ts)
            if high > low:
                yield low, high
            low = high
            if low >= self.end_ts:
                return
        yield low, self.end_ts

    def _in_start_order(self, expr: str | None, *, place: bool) -> list[Found]:
        return _take(self._walk(expr, place=place), self.limit)

    def _walk(
        self, expr: str | None, *, place: bool = False, extra: list[str] | None = None
    ) -> Iterator[Found]:
        """Yield matching events in start order from the most selective ordered index."""
        where, params = self._where(expr=expr, place=place, topics=False, kinds=False)
        where += extra or []
        streams: list[Iterator[tuple[Any, ...]]] = []
        if self.q.topics:
            kinds, kind_params = self._kinds()
            for topic in self.q.topics:
                sql = (
                    f"SELECT {EVENT_COLS} FROM event_topics t"
                    " CROSS JOIN events e ON e.id = t.event_id"
                    " WHERE t.topic = ? AND t.start_utc >= ? AND t.start_utc < ?"
                    f" AND {' AND '.join(where + kinds)} ORDER BY t.start_utc, t.event_id"
                )
                streams.append(
                    self.conn.execute(
                        sql, (topic, self.start_ts, self.end_ts, *params, *kind_params)
                    )
                )
        elif self.q.kinds:
            for kind in self.q.kinds:
                sql = (
                    f"SELECT {EVENT_COLS} FROM events e INDEXED BY events_kind_start"
                    " WHERE e.kind = ? AND e.start_utc >= ? AND e.start_utc < ?"
                    f" AND {' AND '.join(where)} ORDER BY e.start_utc, e.id"
                )
                streams.append(self.conn.execute(sql, (kind, self.start_ts, self.end_ts, *params)))
        else:
            sql = (
                f"SELECT {EVENT_COLS} FROM events e INDEXED BY events_start_utc"
                " WHERE e.start_utc >= ? AND e.start_utc < ?"
                f" AND {' AND '.join(where)} ORDER BY e.start_utc, e.id"
            )
            streams.append(self.conn.execute(sql, (self.start_ts, self.end_ts, *params)))
        rows = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=_start_key)
        last = None
        for row in rows:
            if row[0] == last:
                continue  # an event in two of the asked topics
            last = row[0]
            hit = self._found(row)
            if hit is not None:
                yield hit

    # -- filters -----------------------------------------------------------

    def _kinds(self) -> tuple[list[str], list[Any]]:
        if not self.q.kinds:
            return [], []
        marks = ", ".join("?" for _ in self.q.kinds)
        return [f"e.kind IN ({marks})"], list(self.q.kinds)

    def _where(
        self, *, expr: str | None, place: bool, topics: bool = True, kinds: bool = True
    ) -> tuple[list[str], list[Any]]:
        q = self.q
        where = ["e.start_utc >= ?", "e.start_utc < ?"]
        params: list[Any] = [self.start_ts, self.end_ts]
        if not q.include_removed:
            where.append("e.removed_at IS NULL")
        if not q.include_cancelled:
            where.append("e.status != 'cancelled'")
        if kinds and q.kinds:
            sql, values = self._kinds()
            where += sql
            params += values
        if topics and q.topics:
            marks = ", ".join("?" for _ in q.topics)
            where.append(f"EXISTS (SELECT 1 FROM json_each(e.topics) WHERE value IN ({marks}))")
            params += q.topics
        if q.online is False:
            where.append("NOT (e.online = 1 AND e.lat IS NULL)")
        elif q.online is True and q.near is None:
            where.append("e.online = 1")
        if place and self.boxes:
            ranges = []
            for south, north, west, east in self.boxes:
                ranges.append("(e.lat BETWEEN ? AND ? AND e.lon BETWEEN ? AND ?)")
                params += [south, north, west, east]
            clause = " OR ".join(ranges)
            if q.online:
                clause += " OR (e.online = 1 AND e.lat IS NULL)"
            where.append(f"({clause})")
        if expr is not None:
            where.append(
                "EXISTS (SELECT 1 FROM events_fts f WHERE f.events_fts MATCH ? AND f.rowid = e.id)"
            )
            params.append(expr)
        return where, params

    def _found(self, row: tuple[Any, ...], score: float | None = None) -> Found | None:
        """Return what was found in a row, or None when it is outside the radius."""
        near = self.q.near
        if near is None or row[_LAT] is None:
            return Found(row, None, score)
        distance = distance_km(near.lat, near.lon, row[_LAT], row[_LON])
        if distance > self.q.within_km:
            return None
        return Found(row, distance, score)


_LAT, _LON = EVENT_COLUMNS.index("lat"), EVENT_COLUMNS.index("lon")


def _start_key(row: tuple[Any, ...]) -> tuple[int, int]:
    return row[START_UTC], row[ID]


def _order(found: Found) -> tuple[int, int]:
    return _start_key(found.row)


def _take(hits: Iterator[Found], limit: int | None) -> list[Found]:
    taken = []
    for hit in hits:
        taken.append(hit)
        if limit is not None and len(taken) >= limit:
            break
    return taken


def _boxes(lat: float, lon: float, km: float) -> list[tuple[float, float, float, float]]:
    """Return the (south, north, west, east) boxes that hold every point within ``km``.

    The tight box of a spherical cap (J. P. Matuschek, "Finding points within
    a distance of a latitude/longitude"); split in two where it crosses the
    antimeridian; all longitudes where it reaches over a pole.
    """
    angle = km / EARTH_RADIUS_KM
    dlat = math.degrees(angle)
    south, north = lat - dlat, lat + dlat
    if north >= 90 or south <= -90:
        return [(max(south, -90.0), min(north, 90.0), -180.0, 180.0)]
    dlon = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(lat)))))
    west, east = lon - dlon, lon + dlon
    if dlon >= 180:
        return [(south, north, -180.0, 180.0)]
    if west < -180:
        return [(south, north, west + 360, 180.0), (south, north, -180.0, east)]
    if east > 180:
        return [(south, north, west, 180.0), (south, north, -180.0, east - 360)]
    return [(south, north, west, east)]


def match_expression(conn: sqlite3.Connection, text: str) -> tuple[str | None, int]:
    """Return the FTS5 query for ``text`` and its hit count (counted up to TEXT_CAP + 1).

    The text is used as FTS5 syntax when it is valid (phrases in quotes,
    ``kube*``, OR, NOT); otherwise each word is searched for literally, so
    user text never fails with an FTS syntax error. None: nothing searchable.
    """
    for expr in dict.fromkeys((text, literal_words(text))):
        if not expr:
            continue
        try:
            (count,) = conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM events_fts WHERE events_fts MATCH ? LIMIT ?)",
                (expr, TEXT_CAP + 1),
            ).fetchone()
        except sqlite3.OperationalError:
            continue
        return expr, count
    return None, 0


def literal_words(text: str) -> str:
    """Return ``text`` as FTS5 phrases, one per word (``kube*`` stays a prefix).

    >>> literal_words('C++ "node.js" kube*')
    '"C++" "node.js" "kube"*'
    """
    phrases = []
    for word in text.split():
        prefix = word.endswith("*")
        word = word.strip('*"')
        if not re.search(r"\w", word):
            continue
        phrases.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(phrases)
