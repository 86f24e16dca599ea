"""The subscriptions index: which subscriptions an event concerns, found with sets.

Finding the subscriptions of an event uses plain Python sets, not SQL: an
index from topic, kind and a one-degree grid of places to subscription
ids, intersected per event, then the few exact checks (distance, text,
dates). Text is matched beforehand by the store's FTS5
(:func:`techcal.store.notified.text_hits`), and its hits passed in.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from techcal.event import StoredEvent
from techcal.normalise.gazetteer import distance_km
from techcal.notifier.subscriptions import Subscription
from techcal.store.subscriptions import (
    CheckedFilters,
    FilterKey,
    PlaceKey,
    SubscriptionRow,
    checked_filters,
    subscription_groups,
    subscription_rows,
)

#: how far a subscription's radius may reach before it skips the grid
_GRID_MAX_KM = 1500.0
#: the flat-earth distance test is used only for radii up to this, below this latitude
_FLAT_MAX_KM = 200.0
_FLAT_MAX_LAT = 70.0
_KM_PER_DEGREE = 111.32


@dataclass(slots=True)
class Circle:
    """A place and radius, and the subscriptions that share them."""

    lat: float
    lon: float
    cos: float
    #: squared radius in degrees of latitude, a little inside and outside
    inner: float
    outer: float
    km: float
    ids: set[int]
    exact: bool = False
    cells: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def around(cls, lat: float, lon: float, km: float) -> Circle:
        """Return the circle of radius ``km`` around (lat, lon), with no subscriptions yet."""
        degrees = km / _KM_PER_DEGREE
        return cls(
            lat,
            lon,
            math.cos(math.radians(lat)),
            (degrees * 0.97) ** 2,
            (degrees * 1.03) ** 2,
            km,
            set(),
            # the flat-earth test holds within 3% only for small circles
            # away from the poles; others always get haversine
            exact=km > _FLAT_MAX_KM or abs(lat) + degrees > _FLAT_MAX_LAT,
        )


class Checks(NamedTuple):
    """What is left to check, event by event, of a subscription's filters."""

    #: True: online events (and, with a place, those near it); False: none online
    online: bool | None
    placed: bool
    text: str | None
    start: datetime | None
    end: datetime | None
    #: a rolling window of so many days from now
    days: int | None

    @classmethod
    def of(cls, stored: CheckedFilters) -> Checks:
        """Return the checks of filters as stored (dates parsed once, not per event)."""
        return cls(
            None if stored.online is None else bool(stored.online),
            bool(stored.placed),
            stored.text,
            datetime.fromisoformat(stored.start) if stored.start else None,
            datetime.fromisoformat(stored.end) if stored.end else None,
            stored.days,
        )


class Index:
    """Subscriptions by what they filter on, for matching many events at once.

    The sets answer topic, kind and a rough place (one-degree cells) for
    every subscription at once; what is left per pair is the exact
    distance (a flat-earth test, and haversine only near the edge of the
    radius) and the rarer text, date and online filters.
    """

    def __init__(self, rows: Sequence[SubscriptionRow]) -> None:
        """Index subscriptions rows (:meth:`read` indexes a store's, faster).

        Rows, not Subscription objects: building 10,000 objects costs more
        than the whole index; one is made only for a subscription that gets
        a message (:meth:`sub`).
        """
        self.rows: dict[int, SubscriptionRow] = {r.id: r for r in rows if r.id is not None}
        self._conn: sqlite3.Connection | None = None
        filters: dict[FilterKey, set[int]] = defaultdict(set)
        places: dict[PlaceKey, set[int]] = defaultdict(set)
        for sid, row in self.rows.items():
            filters[row.topics, row.kinds, row.digest, row.days, row.remind].add(sid)
            places[row.lat, row.lon, row.within_km, row.online].add(sid)
        checked = [
            CheckedFilters(sid, r.text, r.online, r.lat is not None and r.lon is not None,
                           r.start, r.end, r.days)
            for sid, r in self.rows.items()
        ]  # fmt: skip
        self._build(filters, places, checked)

    @classmethod
    def read(cls, conn: sqlite3.Connection) -> Index:
        """Return the index of every subscription in the store.

        SQLite groups the subscriptions that share filters or a place, so
        the index is built from groups, not from 10,000 rows; the rows
        themselves are read when :meth:`sub` needs them.
        """
        index = cls.__new__(cls)
        index.rows = {}
        index._conn = conn  # to read rows when needed
        filters, places = subscription_groups(conn)
        index._build(filters, places, checked_filters(conn))
        return index

    def _build(
        self,
        filters: Mapping[FilterKey, set[int]],
        places: Mapping[PlaceKey, set[int]],
        checked: Iterable[CheckedFilters],
    ) -> None:
        """Index the groups of subscriptions that share filters and places."""
        self._subs: dict[int, Subscription] = {}
        self.ids: set[int] = set().union(*filters.values())
        self.by_topic: dict[str, set[int]] = defaultdict(set)
        self.any_topic: set[int] = set()
        self.by_kind: dict[str, set[int]] = defaultdict(set)
        self.any_kind: set[int] = set()
        #: no place filter: any event, wherever it is
        self.anywhere: set[int] = set()
        #: a place, but a radius too wide for the grid
        self.wide: set[int] = set()
        #: a place, and online events as well
        self.online_too: set[int] = set()
        self.cell_circles: dict[tuple[int, int], list[Circle]] = defaultdict(list)
        self.wide_circles: list[Circle] = []
        #: subscriptions with a text, date or online filter
        self.other: dict[int, Checks] = {}
        self.texts: dict[str, set[int]] = defaultdict(set)
        self.digest_ids: set[int] = set()
        self.remind_ids: set[int] = set()
        #: subscriptions with a rolling window (--days): events walk into it
        self.days_ids: set[int] = set()
        for key, sids in filters.items():
            self._add_filters(key, sids)
        #: places with a radius, and the subscriptions that share each
        circles: dict[tuple[float, float, float], Circle] = {}
        for place, sids in places.items():
            self._add_place(place, sids, circles)
        for filters_of_one in checked:
            self._add_checks(filters_of_one)
        self.other_ids = set(self.other)
        self.kind_limited = self.ids - self.any_kind
        self.everywhere = self.anywhere | self.wide
        self.online_base = self.anywhere | self.online_too
        self._cell_base: dict[Any, set[int]] = {}
        self._parts: dict[tuple[Any, str | None], frozenset[int]] = {}

    def _add_filters(self, key: FilterKey, sids: set[int]) -> None:
        """Index subscriptions ``sids`` that share topics, kinds, digest, days and reminders."""
        topics, kinds, digest, days, remind = key
        if topics:
            for topic in topics.split():
                self.by_topic[topic] |= sids
        else:
            self.any_topic |= sids
        if kinds:
            for kind in kinds.split():
                self.by_kind[kind] |= sids
        else:
            self.any_kind |= sids
        if digest:
            self.digest_ids |= sids
        if days:
            self.days_ids |= sids
        if remind != "[]":
            self.remind_ids |= sids

    def _add_place(
        self,
        place: PlaceKey,
        sids: set[int],
        circles: dict[tuple[float, float, float], Circle],
    ) -> None:
        """Index subscriptions ``sids`` by their place: its circle, and the cells it touches."""
        lat, lon, within_km, online = place
        if lat is None or lon is None:
            self.anywhere |= sids
            return
        if online:
            self.online_too |= sids
        # subscriptions near the same place (the gazetteer gives one point
        # per city) share one distance test per event
        key = (lat, lon, within_km)
        circle = circles.get(key)
        if circle is None:
            circle = circles[key] = Circle.around(lat, lon, within_km)
            if within_km > _GRID_MAX_KM:
                self.wide_circles.append(circle)
            else:
                circle.cells = list(_cells(lat, lon, within_km))
                for cell in circle.cells:
                    self.cell_circles[cell].append(circle)
        circle.ids |= sids
        if within_km > _GRID_MAX_KM:
            self.wide |= sids

    def _add_checks(self, stored: CheckedFilters) -> None:
        """Keep a subscription with a text, date or online filter for the per-event checks."""
        if stored.text or stored.online is not None or stored.start or stored.end or stored.days:
            checks = Checks.of(stored)
            if checks.text:
                self.texts[checks.text].add(stored.id)
            self.other[stored.id] = checks

    def candidates(self, event: StoredEvent) -> set[int]:
        """Return the subscriptions whose topic, kind and rough place admit ``event``.

        It starts from the place (the most selective, usually) and narrows
        with C-level set intersections, so no set of thousands is copied.
        """
        lat, lon = event.lat, event.lon
        where: Any
        if lat is None or lon is None:
            where = "online" if event.online else "nowhere"
        else:
            where = _cell(lat, lon)
        # (place, topic) -> subscriptions: events come in few places and
        # topics, so these small sets are computed once per run
        parts = self._parts
        found = set(parts.get((where, None)) or self._part(where, None))
        for topic in event.topics:
            part = parts.get((where, topic))
            if part is None:
                part = self._part(where, topic)
            if part:
                found |= part
        if found and self.kind_limited:
            limited = found & self.kind_limited
            if limited:
                allowed = self.by_kind.get(event.kind)
                found -= (limited - allowed) if allowed else limited
        return found

    @classmethod
    def of(cls, subscriptions: Iterable[Subscription]) -> Index:
        """Return the index of Subscription objects (tests, reminders)."""
        subscriptions = list(subscriptions)
        index = cls([s.row() for s in subscriptions if s.id is not None])
        index._subs.update({s.id: s for s in subscriptions if s.id is not None})
        return index

    def sub(self, sid: int) -> Subscription:
        """Return subscription ``sid`` (made on first use)."""
        sub = self._subs.get(sid)
        if sub is None:
            if sid not in self.rows:
                self.load([sid])
            sub = self._subs[sid] = Subscription.from_row(self.rows[sid])
        return sub

    def load(self, sids: Iterable[int]) -> None:
        """Read the rows of these subscriptions, if not yet read (one query for them all)."""
        missing = [sid for sid in sids if sid not in self.rows]
        if missing and self._conn is not None:
            rows = subscription_rows(self._conn, missing, by_name=False)
            self.rows.update({row.id: row for row in rows if row.id is not None})

    def _part(self, where: Any, topic: str | None) -> frozenset[int]:
        base = self._cell_base.get(where)
        if base is None:
            if where == "online":
                base = self.online_base
            elif where == "nowhere":
                base = self.anywhere
            else:
                # a cell's subscriptions are those of the circles touching it,
                # put together for the few cells events are in
                circles = self.cell_circles.get(where, ())
                base = self.everywhere.union(*(circle.ids for circle in circles))
            self._cell_base[where] = base
        wanted = self.any_topic if topic is None else self.by_topic.get(topic, set())
        part = frozenset(base & wanted)
        if len(self._parts) > 200_000:
            self._parts.clear()
        self._parts[(where, topic)] = part
        return part

    def match_ids(
        self, event: StoredEvent, now: datetime, text_hits: dict[str, set[int]]
    ) -> set[int]:
        """Return the ids of the subscriptions ``event`` matches."""
        found = self.candidates(event)
        if not found:
            return found
        lat, lon = event.lat, event.lon
        if lat is not None and lon is not None:
            self._drop_outside(found, lat, lon)
        checks = found & self.other_ids
        if checks:
            start = datetime.fromisoformat(event.start)
            online_only = event.online and lat is None
            for sid in checks:
                q = self.other[sid]
                if (
                    (q.online is True and not q.placed and not event.online)
                    or (q.online is False and online_only)
                    or (q.text and event.id not in text_hits.get(q.text, ()))
                    or (q.start and start < q.start)
                    or (q.end and start >= q.end)
                    or (q.days and start >= now + timedelta(days=q.days))
                ):
                    found.discard(sid)
        return found

    def _drop_outside(self, found: set[int], lat: float, lon: float) -> None:
        """Remove from ``found`` the subscriptions whose circle leaves out (lat, lon)."""
        circles = self.cell_circles.get(_cell(lat, lon), ())
        for circle in (*circles, *self.wide_circles):
            if circle.exact:
                if distance_km(circle.lat, circle.lon, lat, lon) > circle.km:
                    found -= circle.ids
                continue
            dy = lat - circle.lat
            dlon = lon - circle.lon
            if dlon > 180:
                dlon -= 360
            elif dlon < -180:
                dlon += 360
            dx = dlon * circle.cos
            d2 = dy * dy + dx * dx
            if d2 <= circle.inner:
                continue
            if d2 > circle.outer or distance_km(circle.lat, circle.lon, lat, lon) > circle.km:
                found -= circle.ids

    def matches(
        self,
        event: StoredEvent,
        now: datetime,
        text_hits: dict[str, set[int]],
    ) -> Iterator[tuple[Subscription, float | None]]:
        """Yield the subscriptions ``event`` matches, with its distance from their place."""
        for sid in self.match_ids(event, now, text_hits):
            sub = self.sub(sid)
            near = sub.filters.near
            distance = None
            if near is not None and event.lat is not None and event.lon is not None:
                distance = distance_km(near.lat, near.lon, event.lat, event.lon)
            yield sub, distance


def _cell(lat: float, lon: float) -> tuple[int, int]:
    """Return the one-degree cell of a point (longitude 180 is -180)."""
    return math.floor(min(lat, 89.999)), ((math.floor(lon) + 180) % 360) - 180


def _cells(lat: float, lon: float, km: float) -> Iterator[tuple[int, int]]:
    """Yield the one-degree cells a circle touches."""
    dlat = km / _KM_PER_DEGREE
    south, north = max(-90.0, lat - dlat), min(89.999, lat + dlat)
    widest = max(abs(south), abs(north))
    cos = math.cos(math.radians(min(widest, 89.9)))
    dlon = km / (_KM_PER_DEGREE * cos)
    if dlon >= 180 or widest >= 89.0:
        lons: Iterable[int] = range(-180, 180)
    else:
        west, east = lon - dlon, lon + dlon
        lons = [((x + 180) % 360) - 180 for x in range(math.floor(west), math.floor(east) + 1)]
    for y in range(math.floor(south), math.floor(north) + 1):
        for x in lons:
            yield (y, x)
