"""Matching: which subscriptions hear about which events, written to the outbox.

The store logs every change a subscriber may hear about (``event_changes``,
filled by triggers in commit order). :func:`match` reads the log past its
cursor and, for each changed event, finds the subscriptions it concerns
(with the set index of :mod:`techcal.notifier.index`):

- **new**: it matches, is upcoming and not cancelled, and the subscription
  was never told about it;
- **changed**: the subscription was told about it, and its time, place or
  status differs from what it was told ("moved from Tue 18:00 to Wed 18:30");
- **cancelled**: the subscription was told about it and it was cancelled or
  vanished from its sources.

Reminders and digests are due by the clock, not by changes: :func:`match`
also writes the reminders whose time has come and the digests whose period
has ended (:mod:`techcal.notifier.clock`). Everything is written in one
transaction with the cursor: a run killed halfway leaves nothing, and the
next run does it all.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import defaultdict
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from techcal.event import StoredEvent
from techcal.notifier.clock import digests, reminders, rolling_windows
from techcal.notifier.health import health_alerts
from techcal.notifier.index import Index
from techcal.notifier.outbox import MatchReport, Outbox
from techcal.notifier.told import place_text, told_status
from techcal.store.notified import (
    Told,
    changes,
    drop_changes,
    events_by_id,
    hand_over_merged,
    remember,
    remember_events,
    text_hits,
    told,
)
from techcal.store.outbox import (
    NewMessages,
    add_deliveries_since,
    add_new_messages,
    last_message_id,
)


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
    outbox = Outbox(conn, now, report)
    health_alerts(conn, outbox)
    index = Index.read(conn)
    if not index.ids:
        drop_changes(conn)
        return report
    first_new = last_message_id(conn)
    while True:
        logged = changes(conn, batch)
        if not logged:
            break
        ids = list(dict.fromkeys(r[1] for r in logged))
        report.changes += len(ids)
        _Changes(conn, index, outbox).match(events_by_id(conn, ids))
        drop_changes(conn, logged[-1][0])
        if len(logged) < batch:
            break
    # one delivery per target of every message written above (put() wrote
    # its own already; OR IGNORE keeps them single)
    add_deliveries_since(conn, first_new, outbox.stamp)
    # the clock's subscriptions, read in one query rather than one by one
    index.load(index.days_ids | index.remind_ids | index.digest_ids)
    rolling_windows(conn, index, outbox, now)
    reminders(conn, index, outbox, now)
    digests(conn, [index.sub(sid) for sid in sorted(index.digest_ids)], outbox, now)
    return report


class _Changes:
    """One batch of changed events, matched: what is news, and to whom."""

    def __init__(self, conn: sqlite3.Connection, index: Index, outbox: Outbox) -> None:
        self.conn = conn
        self.index = index
        self.outbox = outbox
        self.now = outbox.now
        #: (subscription, event, start, end, place, status) told now, of changes
        self.remember: list[tuple[Any, ...]] = []
        #: 'new' messages, an event at a time: a crawl may bring a million
        self.fresh: list[NewMessages] = []
        #: (event, start, end, place, status, JSON list of subscriptions) told now, of news
        self.told_new: list[tuple[Any, ...]] = []
        #: how many of the 'new' messages are held for digests
        self.held = 0

    def match(self, events: list[StoredEvent]) -> None:
        removed = [e.id for e in events if e.removed_at is not None]
        # a copy merged into another event was not cancelled: nothing is sent
        # for it, and a later change to the kept event is news to those who
        # heard of the copy
        merged = hand_over_merged(self.conn, removed)
        events = [e for e in events if e.id not in merged]
        was_told = told(self.conn, [e.id for e in events])
        told_by_event: dict[int, set[int]] = defaultdict(set)
        for sid, eid in was_told:
            told_by_event[eid].add(sid)
        # the subscriptions that may hear of a change, read at once
        self.index.load({sid for sid, _ in was_told} & self.index.ids)
        hits = text_hits(self.conn, events, self.index.texts)
        now_ts = self.now.timestamp()
        for event in events:
            status = told_status(event)
            place = place_text(event)
            upcoming = event.start_utc > now_ts
            told_here = told_by_event.get(event.id)
            for sid in told_here or ():
                if sid in self.index.ids:
                    self.changed(event, sid, was_told[(sid, event.id)], (place, status), upcoming)
            if upcoming and status == "on":
                matched = self.index.match_ids(event, self.now, hits)
                self.new(event, place, status, matched, told_here)
        self.write()

    def changed(
        self,
        event: StoredEvent,
        sid: int,
        before: Told,
        now: tuple[str, str],
        upcoming: bool,
    ) -> None:
        """Tell subscription ``sid`` what changed since it was told ``before``, if anything."""
        place, status = now
        old_start, old_end, old_place, old_status = before
        if tuple(before) == (event.start, event.end, place, status):
            return
        self.remember.append((sid, event.id, event.start, event.end, place, status))
        sub = self.index.sub(sid)
        if not sub.changes or not upcoming:
            return  # what happens to a past event is news to nobody
        detail: dict[str, Any]
        if status == "cancelled" and old_status != "cancelled":
            kind, detail = "cancelled", {"removed": event.removed_at is not None}
        else:
            kind = "changed"
            detail = {
                "start": old_start if old_start != event.start else None,
                "end": old_end if old_end != event.end else None,
                "place": old_place if old_place != place else None,
                "status": old_status if old_status != status else None,
            }
        # keyed by what they are told now: two changes without a SEQUENCE
        # bump (a place refined) are two messages, not one
        state = f"{event.start}|{event.end}|{place}|{status}"
        key = f"{event.sequence}:{hashlib.sha1(state.encode()).hexdigest()[:12]}"
        self.outbox.put(sub, event.id, kind, key, detail, hold=bool(sub.digest))

    def new(
        self,
        event: StoredEvent,
        place: str,
        status: str,
        matched: set[int],
        told_here: set[int] | None,
    ) -> None:
        """Note 'new' for the subscriptions ``event`` matches that were never told of it."""
        if told_here:
            matched -= told_here
        if not matched:
            return
        # in order of subscription: the same rows whatever order the sets are in
        sids = json.dumps(sorted(matched))
        held = sorted(matched & self.index.digest_ids)
        self.held += len(held)
        self.fresh.append(NewMessages(event.id, str(event.sequence), sids, json.dumps(held)))
        self.told_new.append((event.id, event.start, event.end, place, status, sids))

    def write(self) -> None:
        """Write the 'new' messages and what was told."""
        if self.fresh:
            added = add_new_messages(self.conn, self.outbox.stamp, self.fresh)
            report = self.outbox.report
            report.held += min(self.held, added)
            report.messages["new"] += max(added - self.held, 0)
        remember(self.conn, self.remember)
        # by event, as the table is keyed: each event's rows go after the last
        remember_events(self.conn, sorted(self.told_new, key=itemgetter(0)))
