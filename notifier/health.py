"""Health subscriptions: tell of a series gone quiet, once per missed occurrence.

A subscription added with ``--health`` watches the series in its scope:
those of its ``--source`` names, and of its filters (topics, kinds, a
place and radius, online), judged on the series' latest event. Each
matching run writes one ``quiet`` message per (subscription, series,
occurrence not listed): the outbox's unique key makes it exactly once,
however many runs see the series quiet. The message carries everything
it says (``detail``), so it reads the same when sent after the series
changed or was found again under another id.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from typing import Any

from techcal.event import StoredEvent
from techcal.normalise.gazetteer import distance_km
from techcal.normalise.health import WARN_DAYS
from techcal.notifier.outbox import Outbox
from techcal.notifier.subscriptions import Subscription, load_subscriptions
from techcal.store.health import homepage
from techcal.store.notified import events_by_id
from techcal.store.outbox import add_message, was_told
from techcal.store.series import SeriesRecord, health_of, series_records
from techcal.store.subscriptions import health_subscription_ids


def in_scope(sub: Subscription, record: SeriesRecord, latest: StoredEvent | None) -> bool:
    """Say whether a health subscription watches this series."""
    if sub.sources and not set(sub.sources).intersection(record.sources):
        return False
    q = sub.filters
    if not (q.topics or q.kinds or q.near is not None or q.online is not None or q.text):
        return True
    if latest is None:
        return False
    if q.topics and not set(q.topics).intersection(latest.topics):
        return False
    if q.kinds and latest.kind not in q.kinds:
        return False
    if q.text and q.text.casefold() not in f"{record.title} {latest.title}".casefold():
        return False
    if q.online is not None and latest.online != q.online and q.near is None:
        return False
    if q.near is not None and q.near.lat is not None and q.near.lon is not None:
        if latest.lat is None or latest.lon is None:
            return bool(q.online and latest.online)
        far = distance_km(q.near.lat, q.near.lon, latest.lat, latest.lon)
        if far > q.within_km and not (q.online and latest.online):
            return False
    return True


def _latest(conn: sqlite3.Connection, records: list[SeriesRecord]) -> dict[int, StoredEvent]:
    events = events_by_id(conn, [r.members[-1] for r in records if r.members])
    return {e.id: e for e in events}


def watched(
    conn: sqlite3.Connection, sub: Subscription, records: list[SeriesRecord] | None = None
) -> list[SeriesRecord]:
    """Return the series a health subscription watches."""
    records = series_records(conn) if records is None else records
    latest = _latest(conn, records)
    return [r for r in records if r.members and in_scope(sub, r, latest.get(r.members[-1]))]


def health_baseline(conn: sqlite3.Connection, sub: Subscription, *, now: datetime) -> int:
    """Write a new health subscription's summary (how many series it watches); return that."""
    count = len(watched(conn, sub))
    stamp = now.isoformat()
    add_message(
        conn, (sub.id, 0, "watching", stamp), {"series": count}, stamp=stamp, targets=sub.targets
    )
    return count


def quiet_day(today: date, next_expected: date | None, missed: tuple[date, ...]) -> date | None:
    """Return the occurrence a quiet series is told about: the next one when it is near,
    else the last one missed."""
    if next_expected is not None and next_expected <= today + timedelta(days=WARN_DAYS):
        return next_expected
    return missed[-1] if missed else next_expected


def health_alerts(conn: sqlite3.Connection, outbox: Outbox) -> int:
    """Write a message for each series gone quiet to each health subscription watching it.

    Returns how many were written (0 when each was written before).
    """
    ids = health_subscription_ids(conn)
    if not ids:
        return 0
    subs = load_subscriptions(conn, ids)
    records = series_records(conn)
    # only the series someone watches are judged
    watching = {sub.id: watched(conn, sub, records) for sub in subs}
    states = {
        r.id: health_of(conn, r, outbox.now)
        for r in {r.id: r for found in watching.values() for r in found}.values()
    }
    written = 0
    for sub in subs:
        for record in watching[sub.id]:
            health = states[record.id]
            if health.state != "quiet":
                continue
            today = outbox.now.astimezone(record.zone()).date()
            day = quiet_day(today, health.next_expected, health.missed)
            if day is None:
                continue
            # told under any key the series had (its sources' series are joined
            # in another order, or one more source lists it): not told again
            keys = [f"{key}|{day.isoformat()}" for key in record.keys]
            if was_told(conn, sub.id, "quiet", keys):
                continue
            detail = quiet_detail(record, day, health.last)
            if outbox.put(sub, 0, "quiet", keys[0], detail):
                written += 1
    return written


def quiet_detail(record: SeriesRecord, day: date, last: date | None) -> dict[str, Any]:
    """Return what a quiet message says, kept with it."""
    pages = [p for p in (homepage(u) for u in record.urls) if p]
    return {
        "series": record.id,
        "title": record.title,
        "rule": record.rule.describe(),
        "time": record.time.strftime("%H:%M"),
        "place": record.place,
        "date": day.isoformat(),
        "last": last.isoformat() if last else None,
        "sources": list(record.sources),
        "homepage": pages[0] if pages else None,
    }
