"""The subscriptions index: which subscriptions an event concerns, found with sets.

Finding the subscriptions of an event uses plain Python sets, not SQL: an
index from topic, kind and a one-degree grid of places to subscription
ids, intersected per event, then the few exact checks (distance, text,
dates). Text is matched beforehand by the store's FTS5
(:func:`techcal.store.notified.text_hits`), and its hits passed in.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from techcal.event import StoredEvent
from techcal.normalise.gazetteer import distance_km
from techcal.notifier.subscriptions import Subscription
from techcal.store.subscriptions import SubscriptionRow

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


class Index:
    """Subscriptions by what they filter on, for matching many events at once.

    The sets answer topic, kind and a rough place (one-degree cells) for
    every subscription at once; what is left per pair is the exact
    distance (a flat-earth test, and haversine only near the edge of the
    radius) and the rarer text, date and online filters.
    """

    def __init__(self, rows: Sequence[SubscriptionRow]) -> None:
        """Index subscriptions rows.

        Rows, not Subscription objects: building 10,000 objects costs more
        than the whole index; one is made only for a subscription that gets
        a message (:meth:`sub`).
        """
        self.rows = {row.id: row for row in rows if row.id is not None}
        self._subs: dict[int, Subscription] = {}
        self.by_topic: dict[str, set[int]] = defaultdict(set)
        self.any_topic: set[int] = set()
        self.by_kind: dict[str, set[int]] = defaultdict(set)
        self.any_kind: set[int] = set()
        self.by_cell: dict[tuple[int, int], set[int]] = defaultdict(set)
        #: no place filter: any event, wherever it is
        self.anywhere: set[int] = set()
        #: a place, but a radius too wide for the grid
        self.wide: set[int] = set()
        #: a place, and online events as well
        self.online_too: set[int] = set()
        #: places with a radius, and the subscriptions that share each
        groups: dict[tuple[float, float, float], Circle] = {}
        self.cell_circles: dict[tuple[int, int], list[Circle]] = defaultdict(list)
        self.wide_circles: list[Circle] = []
        #: subscriptions with a text, date or online filter
        self.other: dict[int, Subscription] = {}
        self.texts: dict[str, set[int]] = defaultdict(set)
        self.digest_ids: set[int] = set()
        self.remind_ids: set[int] = set()
        #: subscriptions with a rolling window (--days): events walk into it
        self.days_ids: set[int] = set()
        for row in self.rows.values():
            self._add(row, groups)
        self.other_ids = set(self.other)
        self.kind_limited = set(self.rows) - self.any_kind
        self.everywhere = self.anywhere | self.wide
        self.online_base = self.anywhere | self.online_too
        self._cell_base: dict[Any, set[int]] = {}
        self._parts: dict[tuple[Any, str | None], frozenset[int]] = {}

    def _add(self, row: SubscriptionRow, groups: dict[tuple[float, float, float], Circle]) -> None:
        sid = row.id
        assert sid is not None
        if row.topics:
            for topic in row.topics.split():
                self.by_topic[topic].add(sid)
        else:
            self.any_topic.add(sid)
        if row.kinds:
            for kind in row.kinds.split():
                self.by_kind[kind].add(sid)
        else:
            self.any_kind.add(sid)
        if row.digest:
            self.digest_ids.add(sid)
        if row.days:
            self.days_ids.add(sid)
        if row.remind != "[]":
            self.remind_ids.add(sid)
        if row.lat is None or row.lon is None:
            self.anywhere.add(sid)
        else:
            if row.online:
                self.online_too.add(sid)
            self._add_place(sid, (row.lat, row.lon, row.within_km), groups)
        if row.text or row.online is not None or row.start or row.end or row.days:
            sub = self.sub(sid)
            if sub.filters.text:
                self.texts[sub.filters.text].add(sid)
            self.other[sid] = sub

    def _add_place(
        self,
        sid: int,
        key: tuple[float, float, float],
        groups: dict[tuple[float, float, float], Circle],
    ) -> None:
        """Index a subscription by its place: its circle, and the cells the circle touches."""
        lat, lon, within_km = key
        # subscriptions near the same place (the gazetteer gives one point
        # per city) share one distance test per event
        group = groups.get(key)
        if group is None:
            group = groups[key] = Circle.around(lat, lon, within_km)
            if within_km > _GRID_MAX_KM:
                self.wide_circles.append(group)
            else:
                group.cells = list(_cells(lat, lon, within_km))
                for cell in group.cells:
                    self.cell_circles[cell].append(group)
        group.ids.add(sid)
        if within_km > _GRID_MAX_KM:
            self.wide.add(sid)
        else:
            for cell in group.cells:
                self.by_cell[cell].add(sid)

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
            sub = self._subs[sid] = Subscription.from_row(self.rows[sid])
        return sub

    def _part(self, where: Any, topic: str | None) -> frozenset[int]:
        base = self._cell_base.get(where)
        if base is None:
            if where == "online":
                base = self.online_base
            elif where == "nowhere":
                base = self.anywhere
            else:
                found_cell = self.by_cell.get(where)
                base = (found_cell | self.everywhere) if found_cell else self.everywhere
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
                sub = self.other[sid]
                q = sub.filters
                if (
                    (q.online is True and q.near is None and not event.online)
                    or (q.online is False and online_only)
                    or (q.text and event.id not in text_hits.get(q.text, ()))
                    or (q.start and start < q.start)
                    or (q.end and start >= q.end)
                    or (sub.days and start >= now + timedelta(days=sub.days))
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
