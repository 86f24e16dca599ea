"""Series: each source's rhythm, found in its events, kept, and read back merged.

After a source's events change, :func:`refresh_series` reads every event
it lists (history included: past meetings stay in the store after a feed
drops them), finds its series with :func:`techcal.normalise.series.detect`
and keeps them (``series``, ``series_events``), one row per (source, key),
so a series keeps its id as occurrences come and go.

One real series is often announced by several sources (the group's Meetup
feed and a community calendar). Their events are merged into one row each
(see dedupe), so their series share events: :func:`series_records` joins
series that share an event into one, with every source named and the
members of all of them. Its health is judged on every listing of it,
including another source's single listing of the next meeting (a title
that names the group, at about its time).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from techcal.event import Rhythm, StoredEvent
from techcal.normalise.health import MOVE_DAYS, OVER_AFTER, SeriesHealth, series_health
from techcal.normalise.series import (
    TIME_TOLERANCE,
    Occurrence,
    Rule,
    Series,
    detect,
    title_matches,
)
from techcal.store.transactions import write_transaction

#: another source's listing counts for a series when it starts this near its time
NEAR_TIME = timedelta(hours=3)
#: events longer than this are not meetings of a group (conferences, festivals)
LONGEST = 24 * 3600


@dataclass(frozen=True)
class SeriesRecord:
    """One series as people see it: the series of one or more sources joined."""

    id: int
    #: the ids of the stored series rows it joins (one per source)
    ids: tuple[int, ...]
    key: str
    #: the keys of every series it joins (the first is ``key``)
    keys: tuple[str, ...]
    sources: tuple[str, ...]
    urls: tuple[str, ...]
    rule: Rule
    time: time
    timezone: str | None
    title: str
    place: str
    first: date
    last: date
    #: event ids, in start order
    members: tuple[int, ...]

    def zone(self) -> tzinfo:
        return zone_of(self.timezone)

    def as_series(self) -> Series:
        group = self.key.rpartition("|")[0]
        return Series(
            self.rule, self.time, self.title, self.place, self.members, self.first, self.last, group
        )

    def describe(self) -> str:
        """Return the rhythm as people say it: "every 2nd Saturday, 19:00"."""
        return f"{self.rule.describe()}, {self.time.strftime('%H:%M')}"


_OFFSET = re.compile(r"(?:UTC)?([+-])(\d\d):?(\d\d)")


def zone_of(name: str | None) -> tzinfo:
    """Return the zone called ``name``: an IANA name, or a fixed offset ("UTC-08:00",
    as readers name the zone of a time given only with its offset); else UTC."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
        found = _OFFSET.fullmatch(name.strip())
        if found:
            sign = -1 if found.group(1) == "-" else 1
            minutes = int(found.group(2)) * 60 + int(found.group(3))
            if minutes < 24 * 60:
                return timezone(sign * timedelta(minutes=minutes))
    return UTC


def _local(start: str, zone_name: str | None) -> datetime:
    """Return the start in the event's own zone (as written, when that zone is unknown)."""
    moment = datetime.fromisoformat(start)
    if zone_name:
        try:
            return moment.astimezone(ZoneInfo(zone_name))
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    return moment


# -- finding and keeping -------------------------------------------------------


def source_occurrences(conn: sqlite3.Connection, source_id: int) -> list[Occurrence]:
    """Return the events source ``source_id`` lists (past ones too) as detection takes them.

    All-day and longer events (conferences) are left out. An entry its
    source dropped before it happened counts as cancelled.
    """
    rows = conn.execute(
        "SELECT e.id, e.start, e.timezone, e.title, coalesce(nullif(e.venue, ''), e.city, ''),"
        " CASE WHEN p.removed_at IS NOT NULL OR e.removed_at IS NOT NULL THEN 'cancelled'"
        " ELSE e.status END, p.source_uid"
        " FROM provenance p JOIN events e ON e.id = p.event_id"
        " WHERE p.source_id = ? AND e.merged_into IS NULL AND e.all_day = 0"
        " AND (e.end_utc IS NULL OR e.end_utc - e.start_utc <= ?)"
        " ORDER BY e.start_utc, e.id",
        (source_id, LONGEST),
    )
    out = []
    for event_id, start, zone_name, title, place, status, source_uid in rows:
        uid, mark, _ = source_uid.partition("#")
        out.append(
            Occurrence(
                event_id,
                _local(start, zone_name),
                title,
                place or "",
                status,
                uid if mark else "",
            )
        )
    return out


def refresh_series(
    conn: sqlite3.Connection, source: str, *, now: datetime | None = None, changed: bool = False
) -> int:
    """Find the series of ``source`` again and keep them; return how many it has.

    Runs in one transaction of its own: the series of a source are
    replaced whole, or not at all.
    """
    now = now or datetime.now(UTC)
    row = conn.execute("SELECT id FROM sources WHERE name = ?", (source,)).fetchone()
    if row is None:
        return 0
    source_id = int(row[0])
    occurrences = source_occurrences(conn, source_id)
    found = detect(occurrences)
    # the zone of its latest meeting; a time given only with its offset keeps that offset
    starts = {o.key: o.start for o in occurrences}
    zones = {}
    for event_id, zone_name in conn.execute(
        "SELECT id, timezone FROM events WHERE id IN (SELECT value FROM json_each(?))",
        (_json_ids(s.members[-1] for s in found),),
    ):
        offset = starts[event_id].utcoffset() if event_id in starts else None
        if zone_name is None and offset is not None:
            minutes = int(offset.total_seconds() // 60)
            sign = "-" if minutes < 0 else "+"
            zone_name = f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        zones[event_id] = zone_name
    stamp = now.isoformat()
    with write_transaction(conn):
        kept = []
        for series in found:
            key = series.key()
            kept.append(key)
            series_id = conn.execute(
                "INSERT INTO series (source_id, key, rule, anchor, time, timezone, title, place,"
                " first, last, count, found_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (source_id, key) DO UPDATE SET rule = excluded.rule,"
                " anchor = excluded.anchor, time = excluded.time, timezone = excluded.timezone,"
                " title = excluded.title, place = excluded.place, first = excluded.first,"
                " last = excluded.last, count = excluded.count, found_at = excluded.found_at"
                " RETURNING id",
                (
                    source_id,
                    key,
                    series.rule.rrule(),
                    series.rule.anchor.isoformat() if series.rule.anchor else None,
                    series.time.strftime("%H:%M"),
                    zones.get(series.members[-1]),
                    series.title,
                    series.place,
                    series.first.isoformat(),
                    series.last.isoformat(),
                    len(series.members),
                    stamp,
                ),
            ).fetchone()[0]
            conn.execute("DELETE FROM series_events WHERE series_id = ?", (series_id,))
            conn.executemany(
                "INSERT OR IGNORE INTO series_events (series_id, event_id) VALUES (?, ?)",
                [(series_id, event_id) for event_id in series.members],
            )
        conn.execute(
            "DELETE FROM series WHERE source_id = ? AND key NOT IN"
            " (SELECT value FROM json_each(?))",
            (source_id, _json_strings(kept)),
        )
        conn.execute("UPDATE sources SET series_at = ? WHERE id = ?", (stamp, source_id))
        if changed:
            conn.execute("UPDATE sources SET changed_at = ? WHERE id = ?", (stamp, source_id))
    return len(found)


def extend_series(
    conn: sqlite3.Connection, source: str, since: str, *, now: datetime, changed: bool = False
) -> bool:
    """Add the entries ``source`` listed first at ``since`` or later to its series, if all fit.

    The usual change of a group's calendar is its next meeting posted: on
    the rule's date, at the usual time, under the group's title. Such
    entries join their series without finding the source's series again
    (a few lookups instead of detection). Returns False, changing nothing,
    when the source has no series yet or any new entry fits none of them:
    then the caller finds them all again.
    """
    rows = conn.execute(
        "SELECT s.id, s.key, s.rule, s.anchor, s.time, s.timezone, s.title, s.place, s.first,"
        " s.last FROM series s JOIN sources src ON src.id = s.source_id WHERE src.name = ?",
        (source,),
    ).fetchall()
    if not rows:
        return False
    kept = []
    for sid, key, rule, anchor, at, zone_name, title, place, first, last in rows:
        try:
            parsed = Rule.parse(rule, date.fromisoformat(anchor) if anchor else None)
        except ValueError:
            return False
        usual = time.fromisoformat(at)
        group = key.rpartition("|")[0]
        series = Series(
            parsed, usual, title, place, (), date.fromisoformat(first), date.fromisoformat(last),
            group,
        )  # fmt: skip
        kept.append((sid, series, zone_of(zone_name)))
    fresh = conn.execute(
        "SELECT e.id, e.start, e.title, e.all_day, e.merged_into FROM provenance p"
        " JOIN events e ON e.id = p.event_id JOIN sources src ON src.id = p.source_id"
        " WHERE src.name = ? AND p.first_seen >= ?",
        (source, since),
    ).fetchall()
    joins: list[tuple[int, int, date]] = []
    for event_id, start, title, all_day, merged_into in fresh:
        if all_day or merged_into is not None:
            return False
        moment = datetime.fromisoformat(start)
        for sid, series, tz in kept:
            local = moment.astimezone(tz)
            at = datetime.combine(local.date(), series.time, tz)
            near = abs((local - at).total_seconds()) <= TIME_TOLERANCE * 60
            if near and series.rule.matches(local.date()) and title_matches(series, title):
                joins.append((sid, event_id, local.date()))
                break
        else:
            return False
    stamp = now.isoformat()
    with write_transaction(conn):
        if changed:
            conn.execute("UPDATE sources SET changed_at = ? WHERE name = ?", (stamp, source))
        conn.executemany(
            "INSERT OR IGNORE INTO series_events (series_id, event_id) VALUES (?, ?)",
            [(sid, event_id) for sid, event_id, _ in joins],
        )
        for sid, _, day in joins:
            conn.execute(
                "UPDATE series SET last = max(last, ?), first = min(first, ?),"
                " count = (SELECT count(*) FROM series_events WHERE series_id = ?),"
                " found_at = ? WHERE id = ?",
                (day.isoformat(), day.isoformat(), sid, stamp, sid),
            )
    return True


def refresh_unseen(conn: sqlite3.Connection, *, now: datetime | None = None) -> int:
    """Find the series of every source whose series were never looked for; return how many.

    A store made before series were kept, or events imported before,
    gets its series the first time they are asked for.
    """
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sources WHERE series_at IS NULL"
            " AND EXISTS (SELECT 1 FROM provenance p WHERE p.source_id = sources.id)"
            " ORDER BY name"
        )
    ]
    for name in names:
        refresh_series(conn, name, now=now)
    return len(names)


def series_unknown(conn: sqlite3.Connection, source: str) -> bool:
    """Say whether the series of ``source`` were never looked for."""
    row = conn.execute("SELECT series_at IS NULL FROM sources WHERE name = ?", (source,)).fetchone()
    return bool(row and row[0])


def note_changed(conn: sqlite3.Connection, source: str, *, now: datetime) -> None:
    """Remember that the events of ``source`` changed at ``now`` (for staleness)."""
    with write_transaction(conn):
        conn.execute("UPDATE sources SET changed_at = ? WHERE name = ?", (now.isoformat(), source))


def _json_ids(ids: Iterable[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


def _json_strings(values: Iterable[str]) -> str:
    import json

    return json.dumps(list(values))


# -- reading -------------------------------------------------------------------


def series_records(conn: sqlite3.Connection, *, source: str | None = None) -> list[SeriesRecord]:
    """Return every series, those of several sources joined (those ``source`` has part in).

    Ordered by title, then rule.
    """
    rows = conn.execute(
        "SELECT s.id, s.key, s.rule, s.anchor, s.time, s.timezone, s.title, s.place, s.first,"
        " s.last, src.name, src.url FROM series s JOIN sources src ON src.id = s.source_id"
        " ORDER BY s.id"
    ).fetchall()
    if not rows:
        return []
    members: dict[int, list[int]] = {}
    for series_id, event_id in conn.execute(
        "SELECT se.series_id, coalesce(e.merged_into, e.id) FROM series_events se"
        " JOIN events e ON e.id = se.event_id ORDER BY e.start_utc, e.id"
    ):
        members.setdefault(series_id, []).append(event_id)
    groups = _joined([(row[0], row[1], members.get(row[0], [])) for row in rows])
    by_id = {row[0]: row for row in rows}
    out = []
    for ids in groups:
        parts = [by_id[i] for i in ids]
        if source is not None and source not in {p[10] for p in parts}:
            continue
        # the rule of the one with most events (then the oldest) speaks for all
        main = max(parts, key=lambda p: (len(members.get(p[0], [])), -p[0]))
        joined = list(dict.fromkeys(e for p in parts for e in members.get(p[0], [])))
        try:
            rule = Rule.parse(main[2], date.fromisoformat(main[3]) if main[3] else None)
        except ValueError:
            continue  # written by another version: found again at the next refresh
        out.append(
            SeriesRecord(
                id=main[0],
                ids=tuple(p[0] for p in parts),
                key=main[1],
                keys=tuple(dict.fromkeys([main[1], *(p[1] for p in parts)])),
                sources=tuple(dict.fromkeys(p[10] for p in parts)),
                urls=tuple(dict.fromkeys(p[11] for p in parts)),
                rule=rule,
                time=time.fromisoformat(main[4]),
                timezone=main[5],
                title=main[6],
                place=main[7],
                first=min(date.fromisoformat(p[8]) for p in parts),
                last=max(date.fromisoformat(p[9]) for p in parts),
                members=tuple(joined),
            )
        )
    out.sort(key=lambda r: (r.title.casefold(), r.rule.rrule(), r.id))
    return out


def _joined(series: list[tuple[int, str, list[int]]]) -> list[list[int]]:
    """Return the series ids in groups: one real series that several sources list.

    Two series are joined when they share at least two events and at least
    half of the smaller one's: one joint meeting of two groups (or one
    wrong merge) does not make them one. A series found by its slot alone
    (titles sharing nothing, key "@place|...") is never joined.
    """
    parent = {sid: sid for sid, _, _ in series}

    def root(sid: int) -> int:
        while parent[sid] != sid:
            parent[sid] = parent[parent[sid]]
            sid = parent[sid]
        return sid

    sizes = {sid: len(set(events)) for sid, _, events in series}
    owners: dict[int, list[int]] = {}
    for sid, key, events in series:
        if key.startswith("@"):
            continue
        for event_id in set(events):
            owners.setdefault(event_id, []).append(sid)
    shared: dict[tuple[int, int], int] = {}
    for sids in owners.values():
        for i, a in enumerate(sids):
            for b in sids[i + 1 :]:
                pair = (min(a, b), max(a, b))
                shared[pair] = shared.get(pair, 0) + 1
    for (a, b), count in shared.items():
        if count >= 2 and count * 2 >= min(sizes[a], sizes[b]):
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for sid, _, _ in series:
        groups.setdefault(root(sid), []).append(sid)
    return list(groups.values())


def listed_days(
    conn: sqlite3.Connection, record: SeriesRecord, since: date, until: date
) -> dict[date, str]:
    """Return the days in [since, until] an event of the series is listed on, with its status.

    Its members count, and so does any other event that names the group
    (its title matches the series) at about its time: a source that lists
    only the next meeting has no series of its own.
    """
    tz = record.zone()
    low = datetime.combine(since - timedelta(days=MOVE_DAYS), time(), tz)
    high = datetime.combine(until + timedelta(days=MOVE_DAYS + 1), time(), tz)
    rows = conn.execute(
        "SELECT id, start, title, status, removed_at FROM events"
        " WHERE start_utc >= ? AND start_utc < ? AND merged_into IS NULL",
        (int(low.timestamp()), int(high.timestamp())),
    )
    members = set(record.members)
    series = record.as_series()
    usual = record.time.hour * 60 + record.time.minute
    near = NEAR_TIME.total_seconds() // 60
    out: dict[date, str] = {}
    for event_id, start, title, status, removed_at in rows:
        if removed_at:
            continue  # no source lists it any more: not listed
        local = datetime.fromisoformat(start).astimezone(tz)
        if event_id not in members:
            apart = abs(local.hour * 60 + local.minute - usual)
            if min(apart, 1440 - apart) > near or not title_matches(series, title):
                continue
        day = local.date()
        if out.get(day) in (None, "cancelled"):
            out[day] = status
    return out


def member_days(conn: sqlite3.Connection, record: SeriesRecord) -> dict[date, str]:
    """Return the local day and status of each member of the series its sources still list.

    A meeting no source lists any more (taken off the calendar) is not
    listed: that is how a group goes quiet. One marked cancelled is listed,
    as cancelled.
    """
    tz = record.zone()
    rows = conn.execute(
        "SELECT start, status FROM events WHERE id IN (SELECT value FROM json_each(?))"
        " AND removed_at IS NULL",
        (_json_ids(record.members),),
    )
    out: dict[date, str] = {}
    for start, status in rows:
        day = datetime.fromisoformat(start).astimezone(tz).date()
        if out.get(day) in (None, "cancelled"):
            out[day] = status
    return out


def health_of(conn: sqlite3.Connection, record: SeriesRecord, now: datetime) -> SeriesHealth:
    """Return the state of a series at ``now`` (its own zone's date)."""
    today = now.astimezone(record.zone()).date()
    listed = member_days(conn, record)
    health = series_health(record.rule, listed, today)
    if health.state == "active" and health.next_status is not None:
        return health
    if health.state == "over" and len(health.missed) > OVER_AFTER:
        return health  # long over: no other listing of its last dates changes that
    # not listed by its own sources: is it by another, or moved a few days?
    horizon = today - timedelta(days=(OVER_AFTER + 1) * record.rule.period_days())
    since = max(min(record.last + timedelta(days=1), today), horizon)
    for day, status in listed_days(conn, record, since, today + timedelta(days=60)).items():
        if listed.get(day) in (None, "cancelled"):
            listed[day] = status
    return series_health(record.rule, listed, today)


def series_by_event(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, SeriesRecord]:
    """Return the series each of these events belongs to (those in one)."""
    wanted = set(ids)
    if not wanted:
        return {}
    hit = {
        row[0]
        for row in conn.execute(
            "SELECT series_id FROM series_events WHERE event_id IN"
            " (SELECT value FROM json_each(?))",
            (_json_ids(wanted),),
        )
    }
    if not hit:
        return {}
    out = {}
    for record in series_records(conn):
        if hit.intersection(record.ids):
            for event_id in wanted.intersection(record.members):
                out[event_id] = record
    return out


def rhythm(record: SeriesRecord, today: date) -> Rhythm:
    """Return the series as shown beside one of its events."""
    return Rhythm(
        id=record.id,
        title=record.title,
        rule=record.rule.rrule(),
        text=record.describe(),
        since=record.first,
        next_expected=next(record.rule.dates(today, today + timedelta(days=400)), None),
        sources=record.sources,
    )


def with_rhythms(
    conn: sqlite3.Connection, events: list[StoredEvent], *, now: datetime
) -> list[StoredEvent]:
    """Return ``events`` with the series each belongs to (``series``), where it has one."""
    from dataclasses import replace

    found = series_by_event(conn, (e.id for e in events))
    if not found:
        return events
    out = []
    for event in events:
        record = found.get(event.id)
        if record is not None:
            event = replace(event, series=rhythm(record, now.astimezone(record.zone()).date()))
        out.append(event)
    return out
