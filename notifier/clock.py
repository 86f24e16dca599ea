"""Messages due by the clock, not by changes: rolling windows, reminders and digests.

Each runs at the end of every matching run, in its transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from techcal.event import StoredEvent
from techcal.notifier.index import Index
from techcal.notifier.outbox import Outbox
from techcal.notifier.subscriptions import DIGESTS, Subscription
from techcal.notifier.told import place_text
from techcal.store.notified import events_starting, remember, text_hits, told_ids
from techcal.store.outbox import attach_to_digest, held_messages
from techcal.store.search import search
from techcal.store.subscriptions import set_digest_at


def rolling_windows(conn: sqlite3.Connection, index: Index, outbox: Outbox, now: datetime) -> None:
    """Announce what walked into a ``--days`` window since it was last looked at.

    An event announced weeks ahead does not change when it comes within the
    next N days, so the change log never brings it: each run looks again.
    """
    for sid in sorted(index.days_ids):
        sub = index.sub(sid)
        hits = search(conn, sub.query(now), now=now, with_sources=False)
        if not hits:
            continue
        told = told_ids(conn, sid, [h.id for h in hits])
        fresh = [h for h in hits if h.id not in told]
        for event in fresh:
            outbox.put(sub, event.id, "new", str(event.sequence), hold=bool(sub.digest))
        remember(conn, [(sid, e.id, e.start, e.end, place_text(e), "on") for e in fresh])


def reminders(conn: sqlite3.Connection, index: Index, outbox: Outbox, now: datetime) -> None:
    """Write the reminders whose time has come."""
    reminding = [index.sub(sid) for sid in sorted(index.remind_ids)]
    if not reminding:
        return
    furthest = max(max(s.remind) for s in reminding)
    now_ts = int(now.timestamp())
    events = events_starting(conn, now_ts, now_ts + furthest)
    if not events:
        return
    sub_index = Index.of(reminding)
    hits = text_hits(conn, events, sub_index.texts)
    for event in events:
        for sub, distance in sub_index.matches(event, now, hits):
            _remind(outbox, sub, event, event.start_utc - now_ts, distance)


def _remind(
    outbox: Outbox, sub: Subscription, event: StoredEvent, left: int, distance: float | None
) -> None:
    """Write the reminder of ``event`` that is due with ``left`` seconds to go, if one is."""
    due = [r for r in sub.remind if r >= left]
    if not due:
        return
    offset = min(due)
    if left < offset / 2 and any(r < left for r in sub.remind):
        return  # this one is late, and a shorter one is still to come
    detail: dict[str, Any] = {"before": offset, "left": left}
    if distance is not None:
        detail["distance_km"] = round(distance, 1)
    outbox.put(sub, event.id, "reminder", f"{offset}@{event.start_utc}", detail)


def digests(
    conn: sqlite3.Connection, subs: Sequence[Subscription], outbox: Outbox, now: datetime
) -> None:
    """Write the digests whose period has ended, of what was held for them."""
    for sub in subs:
        if not sub.digest:
            continue
        period = DIGESTS[sub.digest]
        since = sub.digest_at or sub.created_at or now
        if now < since + period:
            continue
        held = held_messages(conn, sub.id)
        set_digest_at(conn, sub.id, now.isoformat())
        if not held:
            continue
        digest_id = outbox.put(
            sub, 0, "digest", now.isoformat(), {"items": held, "since": since.isoformat()}
        )
        if digest_id is not None:
            attach_to_digest(conn, digest_id, held)
