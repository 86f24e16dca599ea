"""Matching: which subscriptions hear about which events, written to the outbox.

The store logs every change a subscriber may hear about (``event_changes``,
filled by triggers in commit order). :func:`match` reads the log past its
cursor and, for each changed event, finds the subscriptions it concerns:

- **new**: it matches, is upcoming and not cancelled, and the subscription
  was never told about it;
- **changed**: the subscription was told about it, and its time, place or
  status differs from what it was told ("moved from Tue 18:00 to Wed 18:30");
- **cancelled**: the subscription was told about it and it was cancelled or
  vanished from its sources.

Finding the subscriptions of an event uses plain Python sets, not SQL: an
index from topic, kind and a one-degree grid of places to subscription
ids, intersected per event, then the few exact checks (distance, text,
dates). Text is matched with SQLite's own FTS5, on a temporary index of
just the changed events, so a subscription's text means exactly what it
means to ``techcal search``.

Reminders and digests are due by the clock, not by changes: :func:`match`
also writes the reminders whose time has come and the digests whose period
has ended. Everything is written in one transaction with the cursor: a run
killed halfway leaves nothing, and the next run does it all.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from techcal.normalise.gazetteer import distance_km
from techcal.notifier.subscriptions import _COLUMNS, DIGESTS, Subscription
from techcal.store.search import EVENT_COLS, row_to_event

#: how far a subscription's radius may reach before it skips the grid
_GRID_MAX_KM = 1500.0
#: the flat-earth distance test is used only for radii up to this, below this latitude
_FLAT_MAX_KM = 200.0
_FLAT_MAX_LAT = 70.0
_KM_PER_DEGREE = 111.32


@dataclass
class MatchReport:
    """What one matching run wrote."""

    changes: int = 0
    messages: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    held: int = 0

    @property
    def total(self) -> int:
        return sum(self.messages.values())


def place_text(event: dict[str, Any]) -> str:
    """Return the place a subscriber is told about (what a move changes)."""
    parts = (event.get("venue"), event.get("address") or event.get("city"))
    text = ", ".join(p for p in parts if p)
    if not text and event.get("online"):
        return "online"
    return text


def told_status(event: dict[str, Any]) -> str:
    return "cancelled" if event["status"] == "cancelled" or event["removed_at"] else "on"


def _move_merged(conn: sqlite3.Connection, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Hand what subscribers were told about a merged-away copy to the event it joined.

    A copy merged into another event was not cancelled: nothing is sent for
    it, and a later change to the kept event is news to those who heard of
    the copy. Returns the other events.
    """
    removed = [e["id"] for e in events if e["removed_at"] is not None]
    if not removed:
        return events
    merged = dict(
        conn.execute(
            "SELECT id, merged_into FROM events WHERE id IN (SELECT value FROM json_each(?))"
            " AND merged_into IS NOT NULL",
            (json.dumps(removed),),
        ).fetchall()
    )
    for copy, kept in merged.items():
        conn.execute(
            'INSERT OR IGNORE INTO notified (subscription_id, event_id, start, "end", place,'
            ' status) SELECT subscription_id, ?, start, "end", place, status FROM notified'
            " WHERE event_id = ?",
            (kept, copy),
        )
        conn.execute("DELETE FROM notified WHERE event_id = ?", (copy,))
    return [e for e in events if e["id"] not in merged]


# -- the index -------------------------------------------------------------


@dataclass(slots=True)
class _Circle:
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


class Index:
    """Subscriptions by what they filter on, for matching many events at once.

    The sets answer topic, kind and a rough place (one-degree cells) for
    every subscription at once; what is left per pair is the exact
    distance (a flat-earth test, and haversine only near the edge of the
    radius) and the rarer text, date and online filters.
    """

    def __init__(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Index subscriptions rows (``SELECT {_COLUMNS} FROM subscriptions``).

        Rows, not Subscription objects: building 10,000 objects costs more
        than the whole index; one is made only for a subscription that gets
        a message (:meth:`sub`).
        """
        self.rows = {row[0]: row for row in rows}
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
        groups: dict[tuple[float, float, float], _Circle] = {}
        self.cell_circles: dict[tuple[int, int], list[_Circle]] = defaultdict(list)
        self.wide_circles: list[_Circle] = []
        #: subscriptions with a text, date or online filter
        self.other: dict[int, Subscription] = {}
        self.texts: dict[str, set[int]] = defaultdict(set)
        self.digest_ids: set[int] = set()
        self.remind_ids: set[int] = set()
        #: subscriptions with a rolling window (--days): events walk into it
        self.days_ids: set[int] = set()
        by_topic, by_kind, by_cell = self.by_topic, self.by_kind, self.by_cell
        for row in rows:
            sid = row[0]
            text, topics, kinds, lat, lon, within_km = (
                row[2],
                row[3],
                row[4],
                row[6],
                row[7],
                row[8],
            )
            if topics:
                for topic in topics.split():
                    by_topic[topic].add(sid)
            else:
                self.any_topic.add(sid)
            if kinds:
                for kind in kinds.split():
                    by_kind[kind].add(sid)
            else:
                self.any_kind.add(sid)
            if row[16]:
                self.digest_ids.add(sid)
            if row[11]:
                self.days_ids.add(sid)
            if row[15] != "[]":
                self.remind_ids.add(sid)
            if lat is None:
                self.anywhere.add(sid)
            else:
                if row[12]:
                    self.online_too.add(sid)
                # subscriptions near the same place (the gazetteer gives one
                # point per city) share one distance test per event
                key = (lat, lon, within_km)
                group = groups.get(key)
                if group is None:
                    degrees = within_km / _KM_PER_DEGREE
                    group = groups[key] = _Circle(
                        lat,
                        lon,
                        math.cos(math.radians(lat)),
                        (degrees * 0.97) ** 2,
                        (degrees * 1.03) ** 2,
                        within_km,
                        set(),
                        # the flat-earth test holds within 3% only for small
                        # circles away from the poles; others always get haversine
                        exact=within_km > _FLAT_MAX_KM or abs(lat) + degrees > _FLAT_MAX_LAT,
                    )
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
                        by_cell[cell].add(sid)
            if text or row[12] is not None or row[9] or row[10] or row[11]:
                sub = self.sub(sid)
                if sub.text:
                    self.texts[sub.text].add(sid)
                self.other[sid] = sub
        self.other_ids = set(self.other)
        self.kind_limited = set(self.rows) - self.any_kind
        self.everywhere = self.anywhere | self.wide
        self.online_base = self.anywhere | self.online_too
        self._cell_base: dict[Any, set[int]] = {}
        self._parts: dict[tuple[Any, str | None], frozenset[int]] = {}

    def candidates(self, event: dict[str, Any]) -> set[int]:
        """Return the subscriptions whose topic, kind and rough place admit ``event``.

        It starts from the place (the most selective, usually) and narrows
        with C-level set intersections, so no set of thousands is copied.
        """
        lat = event["lat"]
        where: Any
        if lat is None:
            where = "online" if event["online"] else "nowhere"
        else:
            where = _cell(lat, event["lon"])
        # (place, topic) -> subscriptions: events come in few places and
        # topics, so these small sets are computed once per run
        parts = self._parts
        found = set(parts.get((where, None)) or self._part(where, None))
        for topic in event["topics"]:
            part = parts.get((where, topic))
            if part is None:
                part = self._part(where, topic)
            if part:
                found |= part
        if found and self.kind_limited:
            limited = found & self.kind_limited
            if limited:
                allowed = self.by_kind.get(event["kind"])
                found -= (limited - allowed) if allowed else limited
        return found

    @classmethod
    def of(cls, subscriptions: Iterable[Subscription]) -> Index:
        """Return the index of Subscription objects (tests, reminders)."""
        index = cls([(s.id, *s.row()) for s in subscriptions if s.id is not None])
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
        self, event: dict[str, Any], now: datetime, text_hits: dict[str, set[int]]
    ) -> set[int]:
        """Return the ids of the subscriptions ``event`` matches."""
        found = self.candidates(event)
        if not found:
            return found
        lat = event["lat"]
        if lat is not None:
            lon = event["lon"]
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
        checks = found & self.other_ids
        if checks:
            start = datetime.fromisoformat(event["start"])
            online_only = bool(event["online"]) and lat is None
            for sid in checks:
                sub = self.other[sid]
                if (
                    (sub.online is True and sub.near is None and not event["online"])
                    or (sub.online is False and online_only)
                    or (sub.text and event["id"] not in text_hits.get(sub.text, ()))
                    or (sub.start and start < sub.start)
                    or (sub.end and start >= sub.end)
                    or (sub.days and start >= now + timedelta(days=sub.days))
                ):
                    found.discard(sid)
        return found

    def matches(
        self,
        event: dict[str, Any],
        now: datetime,
        text_hits: dict[str, set[int]],
    ) -> Iterator[tuple[Subscription, float | None]]:
        """Yield the subscriptions ``event`` matches, with its distance from their place."""
        for sid in self.match_ids(event, now, text_hits):
            sub = self.sub(sid)
            distance = None
            if sub.near is not None and event["lat"] is not None:
                distance = distance_km(sub.near.lat, sub.near.lon, event["lat"], event["lon"])
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


def text_hits(
    conn: sqlite3.Connection, events: Sequence[dict[str, Any]], texts: Iterable[str]
) -> dict[str, set[int]]:
    """Return, per subscription text, which of ``events`` it matches (FTS5, as search does)."""
    from techcal.store.schema_names import FTS_COLUMNS
    from techcal.store.search import literal_words

    texts = list(texts)
    if not texts or not events:
        return {}
    columns = ", ".join(FTS_COLUMNS)
    conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS notify_fts_rows (id INTEGER PRIMARY KEY, {columns})"
    )
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.notify_fts USING fts5({columns},"
        " content='notify_fts_rows', content_rowid='id',"
        " tokenize='porter unicode61 remove_diacritics 2')"
    )
    conn.execute("DELETE FROM notify_fts_rows")
    conn.execute("INSERT INTO notify_fts(notify_fts) VALUES ('delete-all')")
    marks = ", ".join("?" for _ in FTS_COLUMNS)
    rows = [(e["id"], *(e[c] for c in FTS_COLUMNS)) for e in events]
    conn.executemany(f"INSERT INTO notify_fts_rows (id, {columns}) VALUES (?, {marks})", rows)
    conn.execute("INSERT INTO notify_fts(notify_fts) VALUES ('rebuild')")
    hits: dict[str, set[int]] = {}
    for text in texts:
        found: set[int] = set()
        for expr in dict.fromkeys((text, literal_words(text))):
            if not expr:
                continue
            try:
                found = {
                    r[0]
                    for r in conn.execute(
                        "SELECT rowid FROM notify_fts WHERE notify_fts MATCH ?", (expr,)
                    )
                }
                break
            except sqlite3.OperationalError:
                continue
        hits[text] = found
    return hits


# -- writing the outbox ----------------------------------------------------


class Outbox:
    """Writes messages for one matching run (inside the caller's transaction)."""

    def __init__(self, conn: sqlite3.Connection, now: datetime, report: MatchReport) -> None:
        self.conn = conn
        self.now = now
        self.stamp = now.isoformat()
        self.report = report

    def put(
        self,
        sub: Subscription,
        event_id: int,
        kind: str,
        key: str,
        detail: dict[str, Any] | None = None,
        *,
        hold: bool = False,
    ) -> int | None:
        """Add a message unless that exact one exists; return its id when added."""
        cursor = self.conn.execute(
            "INSERT OR IGNORE INTO outbox (subscription_id, event_id, kind, key, detail,"
            " created_at, held) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                sub.id,
                event_id,
                kind,
                key,
                json.dumps(detail or {}, sort_keys=True),
                self.stamp,
                int(hold),
            ),
        )
        if not cursor.rowcount:
            return None
        outbox_id = int(cursor.lastrowid or 0)
        if hold:
            self.report.held += 1
        else:
            self.deliver(outbox_id, sub)
            self.report.messages[kind] += 1
        return outbox_id

    def deliver(self, outbox_id: int, sub: Subscription) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO deliveries (outbox_id, target, next_at) VALUES (?, ?, ?)",
            [(outbox_id, target, self.stamp) for target in sub.targets],
        )


def _told(conn: sqlite3.Connection, event_ids: Sequence[int]) -> dict[tuple[int, int], tuple]:
    rows = conn.execute(
        'SELECT subscription_id, event_id, start, "end", place, status FROM notified'
        " WHERE event_id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(event_ids)),),
    )
    return {(r[0], r[1]): r[2:] for r in rows}


def _remember(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    conn.executemany(
        'INSERT OR REPLACE INTO notified (subscription_id, event_id, start, "end", place, status)'
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )


def _load_events(conn: sqlite3.Connection, ids: Sequence[int]) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT {EVENT_COLS} FROM events e WHERE e.id IN (SELECT value FROM json_each(?))"
        " ORDER BY e.start_utc, e.id",
        (json.dumps(list(ids)),),
    )
    return [row_to_event(r) for r in rows]


def baseline(conn: sqlite3.Connection, sub: Subscription, *, now: datetime) -> int:
    """Record what a new subscription already matches, with one summary message."""
    from techcal.store.search import search

    hits = search(conn, sub.query(now), now=now, with_sources=False)
    hits.sort(key=lambda h: (h.event["start_utc"], h.id))
    _remember(
        conn,
        [
            (
                sub.id,
                h.id,
                h.event["start"],
                h.event["end"],
                place_text(h.event),
                told_status(h.event),
            )
            for h in hits
        ],
    )
    report = MatchReport()
    Outbox(conn, now, report).put(
        sub,
        0,
        "summary",
        now.isoformat(),
        {"count": len(hits), "next": [h.id for h in hits[:5]]},
    )
    return len(hits)


def match(
    conn: sqlite3.Connection,
    *,
    now: datetime | None = None,
    batch: int = 20_000,
) -> MatchReport:
    """Write the messages that changes, reminders and digests call for; return counts.

    Must run inside a write transaction (the caller's): the cursor moves
    with the messages, all or nothing.
    """
    now = now or datetime.now(UTC)
    report = MatchReport()
    rows = conn.execute(f"SELECT {_COLUMNS} FROM subscriptions").fetchall()
    if not rows:
        conn.execute("DELETE FROM event_changes")
        return report
    index = Index(rows)
    outbox = Outbox(conn, now, report)
    first_new = conn.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]
    while True:
        rows = conn.execute(
            "SELECT seq, event_id FROM event_changes ORDER BY seq LIMIT ?", (batch,)
        ).fetchall()
        if not rows:
            break
        ids = list(dict.fromkeys(r[1] for r in rows))
        report.changes += len(ids)
        _match_events(conn, index, _load_events(conn, ids), outbox, now)
        conn.execute("DELETE FROM event_changes WHERE seq <= ?", (rows[-1][0],))
        if len(rows) < batch:
            break
    # one delivery per target of every message written above (put() wrote
    # its own already; OR IGNORE keeps them single)
    conn.execute(
        "INSERT OR IGNORE INTO deliveries (outbox_id, target, next_at)"
        " SELECT o.id, t.value, ? FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id,"
        " json_each(s.targets) t WHERE o.id > ? AND o.held = 0",
        (outbox.stamp, first_new),
    )
    _rolling_windows(conn, index, outbox, now)
    _reminders(conn, index, outbox, now)
    _digests(conn, [index.sub(sid) for sid in sorted(index.digest_ids)], outbox, now)
    return report


def _match_events(
    conn: sqlite3.Connection,
    index: Index,
    events: list[dict[str, Any]],
    outbox: Outbox,
    now: datetime,
) -> None:
    events = _move_merged(conn, events)
    told = _told(conn, [e["id"] for e in events])
    told_by_event: dict[int, set[int]] = defaultdict(set)
    for sid, eid in told:
        told_by_event[eid].add(sid)
    hits = text_hits(conn, events, index.texts)
    now_ts = now.timestamp()
    stamp = outbox.stamp
    digest_ids = index.digest_ids
    remember: list[tuple[Any, ...]] = []
    fresh: list[tuple[Any, ...]] = []
    for event in events:
        eid = event["id"]
        status = told_status(event)
        place = place_text(event)
        upcoming = event["start_utc"] > now_ts
        told_here = told_by_event.get(eid)
        # what they were told about changed
        for sid in told_here or ():
            if sid not in index.rows:
                continue
            sub = index.sub(sid)
            old_start, old_end, old_place, old_status = told[(sid, eid)]
            if (old_start, old_end, old_place, old_status) == (
                event["start"],
                event["end"],
                place,
                status,
            ):
                continue
            remember.append((sid, eid, event["start"], event["end"], place, status))
            if not sub.changes or not upcoming:
                continue  # what happens to a past event is news to nobody
            detail: dict[str, Any]
            if status == "cancelled" and old_status != "cancelled":
                kind, detail = "cancelled", {"removed": event["removed_at"] is not None}
            else:
                kind = "changed"
                detail = {
                    "start": old_start if old_start != event["start"] else None,
                    "end": old_end if old_end != event["end"] else None,
                    "place": old_place if old_place != place else None,
                    "status": old_status if old_status != status else None,
                }
            # keyed by what they are told now: two changes without a
            # SEQUENCE bump (a place refined) are two messages, not one
            state = f"{event['start']}|{event['end']}|{place}|{status}"
            key = f"{event['sequence']}:{hashlib.sha1(state.encode()).hexdigest()[:12]}"
            outbox.put(sub, eid, kind, key, detail, hold=bool(sub.digest))
        if not upcoming or status != "on":
            continue
        # new to them: written in bulk, a crawl may bring thousands
        matched = index.match_ids(event, now, hits)
        if told_here:
            matched -= told_here
        if not matched:
            continue
        key = str(event["sequence"])
        start, end = event["start"], event["end"]
        for sid in matched:
            fresh.append((sid, eid, key, stamp, 1 if sid in digest_ids else 0))
            remember.append((sid, eid, start, end, place, status))
    if fresh:
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO outbox (subscription_id, event_id, kind, key, detail,"
            " created_at, held) VALUES (?, ?, 'new', ?, '{}', ?, ?)",
            fresh,
        )
        added = conn.total_changes - before
        held = sum(row[4] for row in fresh)
        outbox.report.held += min(held, added)
        outbox.report.messages["new"] += max(added - held, 0)
    _remember(conn, remember)


def _rolling_windows(conn: sqlite3.Connection, index: Index, outbox: Outbox, now: datetime) -> None:
    """Announce what walked into a ``--days`` window since it was last looked at.

    An event announced weeks ahead does not change when it comes within the
    next N days, so the change log never brings it: each run looks again.
    """
    from techcal.store.search import search

    for sid in sorted(index.days_ids):
        sub = index.sub(sid)
        hits = search(conn, sub.query(now), now=now, with_sources=False)
        if not hits:
            continue
        told = {
            r[0]
            for r in conn.execute(
                "SELECT event_id FROM notified WHERE subscription_id = ?"
                " AND event_id IN (SELECT value FROM json_each(?))",
                (sid, json.dumps([h.id for h in hits])),
            )
        }
        fresh = [h for h in hits if h.id not in told]
        for hit in fresh:
            event = hit.event
            outbox.put(sub, hit.id, "new", str(event["sequence"]), hold=bool(sub.digest))
        _remember(
            conn,
            [
                (sid, h.id, h.event["start"], h.event["end"], place_text(h.event), "on")
                for h in fresh
            ],
        )


def _reminders(conn: sqlite3.Connection, index: Index, outbox: Outbox, now: datetime) -> None:
    reminding = [index.sub(sid) for sid in sorted(index.remind_ids)]
    if not reminding:
        return
    furthest = max(max(s.remind) for s in reminding)
    now_ts = int(now.timestamp())
    rows = conn.execute(
        f"SELECT {EVENT_COLS} FROM events e WHERE e.start_utc > ? AND e.start_utc <= ?"
        " AND e.removed_at IS NULL AND e.status != 'cancelled' ORDER BY e.start_utc, e.id",
        (now_ts, now_ts + furthest),
    )
    events = [row_to_event(r) for r in rows]
    if not events:
        return
    sub_index = Index.of(reminding)
    hits = text_hits(conn, events, sub_index.texts)
    for event in events:
        left = event["start_utc"] - now_ts
        for sub, distance in sub_index.matches(event, now, hits):
            due = [r for r in sub.remind if r >= left]
            if not due:
                continue
            offset = min(due)
            if left < offset / 2 and any(r < left for r in sub.remind):
                continue  # this one is late, and a shorter one is still to come
            detail = {"before": offset, "left": left}
            if distance is not None:
                detail["distance_km"] = round(distance, 1)
            outbox.put(sub, event["id"], "reminder", f"{offset}@{event['start_utc']}", detail)


def _digests(
    conn: sqlite3.Connection, subs: Sequence[Subscription], outbox: Outbox, now: datetime
) -> None:
    for sub in subs:
        if not sub.digest:
            continue
        period = DIGESTS[sub.digest]
        since = sub.digest_at or sub.created_at or now
        if now < since + period:
            continue
        held = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM outbox WHERE subscription_id = ? AND held = 1"
                " AND digest_id IS NULL ORDER BY id",
                (sub.id,),
            )
        ]
        conn.execute(
            "UPDATE subscriptions SET digest_at = ? WHERE id = ?", (now.isoformat(), sub.id)
        )
        if not held:
            continue
        digest_id = outbox.put(
            sub, 0, "digest", now.isoformat(), {"items": held, "since": since.isoformat()}
        )
        if digest_id is not None:
            conn.execute(
                "UPDATE outbox SET digest_id = ? WHERE id IN (SELECT value FROM json_each(?))",
                (digest_id, json.dumps(held)),
            )
