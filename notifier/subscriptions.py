"""Saved subscriptions: what a user cares about, and where to tell them.

A subscription keeps its search as a :class:`Query` resolved when it was
added (the place's coordinates, kilometres, absolute dates), so later
changes to the gazetteer never move it; ``days`` is a rolling window that
ends N days after each moment it is asked (:meth:`Subscription.query`).
Targets are checked by Apprise when added (:mod:`techcal.notifier.targets`).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from techcal.errors import SubscriptionError, UnknownSubscription
from techcal.normalise.gazetteer import Place
from techcal.notifier.targets import check_target
from techcal.notifier.told import place_text, told_status
from techcal.store.database import write_transaction
from techcal.store.notified import remember
from techcal.store.outbox import add_message
from techcal.store.query import Query
from techcal.store.search import search
from techcal.store.subscriptions import (
    SubscriptionRow,
    delete_subscription,
    insert_subscription,
    subscription_exists,
    subscription_names,
    subscription_row,
    subscription_rows,
)

DIGESTS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DURATION = re.compile(r"(\d+)\s*([wdhms])")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str, option: str = "--remind") -> int:
    """Return ``24h`` / ``90m`` / ``1d12h`` / ``2w`` in seconds."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise SubscriptionError(f"{option}: {text!r} is not a duration (try 24h, 90m or 2d)")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)
    if not 60 <= seconds <= 60 * 86400:
        raise SubscriptionError(f"{option}: {text!r} must be between 1 minute and 60 days")
    return seconds


def duration_text(seconds: int) -> str:
    """Return 86400 as ``1d``, 129600 as ``36h``, 5400 as ``1h30m``."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if unit == "d" and seconds % 86400:
            continue  # 36h reads better than 1d12h
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


@dataclass(slots=True, init=False)
class Subscription:
    """One saved subscription: its search, its targets and how it is told."""

    name: str
    targets: list[str]
    #: the saved search (every match: no limit); ``days`` rolls its end
    filters: Query
    days: int | None
    remind: list[int]
    digest: str | None
    changes: bool
    apprise_config: str | None
    created_at: datetime | None
    digest_at: datetime | None
    id: int | None
    #: told about series gone quiet in its scope (filters, ``sources``), not about events
    health: bool
    sources: list[str]

    def __init__(
        self,
        name: str,
        targets: Iterable[str],
        filters: Query | None = None,
        *,
        days: int | None = None,
        remind: list[int] | None = None,
        digest: str | None = None,
        changes: bool = True,
        apprise_config: str | None = None,
        created_at: datetime | None = None,
        digest_at: datetime | None = None,
        id: int | None = None,
        health: bool = False,
        sources: Iterable[str] = (),
        **search: Any,
    ) -> None:
        """``search``: the fields of a Query, instead of ``filters`` (``topics=("rust",)``)."""
        if filters is not None and search:
            raise TypeError("give filters or the fields of a Query, not both")
        self.name = name
        self.targets = list(targets)
        self.filters = filters if filters is not None else Query(limit=None, **search)
        self.days = days
        self.remind = remind if remind is not None else []
        self.digest = digest
        self.changes = changes
        self.apprise_config = apprise_config
        self.created_at = created_at
        self.digest_at = digest_at
        self.id = id
        self.health = health
        self.sources = list(dict.fromkeys(sources))

    def query(self, now: datetime) -> Query:
        """Return the search query of this subscription at ``now``."""
        end = self.filters.end
        if self.days:
            rolling = now + timedelta(days=self.days)
            end = rolling if end is None else min(end, rolling)
        return replace(self.filters, end=end, limit=None)

    def describe(self) -> str:
        text = self.filters.describe()
        if self.health:
            text = "the health of series of " + (
                " ".join(self.sources) if self.sources else "any source"
            )
            scope = self.filters.describe()
            return text + ("" if scope == "all events" else f", {scope}")
        if self.days:
            text += f", next {self.days} days"
        return text

    def row(self) -> SubscriptionRow:
        """Return the subscriptions row of this subscription."""
        q = self.filters
        near = q.near
        return SubscriptionRow(
            id=self.id,
            name=self.name,
            text=q.text,
            topics=" ".join(q.topics),
            kinds=" ".join(q.kinds),
            place=near.label if near else None,
            lat=near.lat if near else None,
            lon=near.lon if near else None,
            within_km=q.within_km,
            start=q.start.isoformat() if q.start else None,
            end=q.end.isoformat() if q.end else None,
            days=self.days,
            online=None if q.online is None else int(q.online),
            targets=json.dumps(list(dict.fromkeys(self.targets))),
            apprise_config=self.apprise_config,
            remind=json.dumps(sorted(set(self.remind), reverse=True)),
            digest=self.digest,
            changes=int(self.changes),
            created_at=self.created_at.isoformat() if self.created_at else None,
            digest_at=self.digest_at.isoformat() if self.digest_at else None,
            health=int(self.health),
            sources=" ".join(self.sources),
        )

    @classmethod
    def from_row(cls, row: SubscriptionRow) -> Subscription:
        filters = Query(
            text=row.text,
            topics=tuple(row.topics.split()),
            kinds=tuple(row.kinds.split()),
            near=Place(name=row.place or "", lat=row.lat, lon=row.lon)
            if row.lat is not None and row.lon is not None
            else None,
            within_km=row.within_km,
            start=_moment(row.start),
            end=_moment(row.end),
            online=None if row.online is None else bool(row.online),
            limit=None,
        )
        return cls(
            row.name,
            _targets(row.targets),
            filters,
            id=row.id,
            days=row.days,
            apprise_config=row.apprise_config,
            remind=json.loads(row.remind) if row.remind != "[]" else [],
            digest=row.digest,
            changes=bool(row.changes),
            created_at=_moment(row.created_at),
            digest_at=_moment(row.digest_at),
            health=bool(row.health),
            sources=row.sources.split(),
        )


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _targets(raw: str) -> list[str]:
    """Decode the stored JSON list of targets (a fast path for json.dumps' plain output)."""
    if "\\" in raw:
        return list(json.loads(raw))
    return raw[2:-2].split('", "') if raw != "[]" else []


def load_subscriptions(
    conn: sqlite3.Connection, ids: Iterable[int] | None = None
) -> list[Subscription]:
    """Return every subscription (or those with these ``ids``), by name."""
    return [Subscription.from_row(row) for row in subscription_rows(conn, ids)]


def get_subscription(conn: sqlite3.Connection, name: str) -> Subscription:
    """Return the subscription called ``name``; raise UnknownSubscription when there is none."""
    row = subscription_row(conn, name)
    if row is None:
        raise UnknownSubscription(name, subscription_names(conn))
    return Subscription.from_row(row)


# -- adding and removing ---------------------------------------------------


def check_subscription(subscription: Subscription) -> None:
    """Raise SubscriptionError unless ``subscription`` can be saved (targets checked by Apprise)."""
    if not _NAME.fullmatch(subscription.name):
        raise SubscriptionError(
            f"subscription name {subscription.name!r}: use letters, digits, '.', '-' or '_'"
            " (up to 64, starting with a letter or digit)"
        )
    if not subscription.targets:
        raise SubscriptionError("--notify: give at least one Apprise URL or tag:NAME")
    if subscription.digest is not None and subscription.digest not in DIGESTS:
        raise SubscriptionError(f"--digest: {subscription.digest!r} is not daily or weekly")
    if subscription.apprise_config and not Path(subscription.apprise_config).expanduser().is_file():
        raise SubscriptionError(f"--apprise-config: {subscription.apprise_config} does not exist")
    if subscription.health:
        for option, value in (
            ("--remind", subscription.remind),
            ("--digest", subscription.digest),
            ("--days", subscription.days),
        ):
            if value:
                raise SubscriptionError(
                    f"{option} is for event subscriptions; --health tells of series gone quiet"
                )
    elif subscription.sources:
        raise SubscriptionError("--source: only with --health (event subscriptions use filters)")
    for target in subscription.targets:
        check_target(target, subscription.apprise_config)


def add_subscription(
    conn: sqlite3.Connection,
    subscription: Subscription,
    *,
    now: datetime | None = None,
) -> int:
    """Store a new subscription (targets checked) and its first summary; return its id.

    Everything that already matches is recorded as told (one summary
    message says how many and which come next), so a new subscription does
    not flood its targets; from then on only what is new or changed is sent.
    """
    now = now or datetime.now(UTC)
    check_subscription(subscription)
    with write_transaction(conn):
        if subscription_exists(conn, subscription.name):
            raise SubscriptionError(
                f"a subscription named {subscription.name!r} exists: remove it first,"
                " or choose another name"
            )
        subscription.created_at = now
        if subscription.digest:
            subscription.digest_at = now
        subscription.id = insert_subscription(conn, subscription.row())
        baseline(conn, subscription, now=now)
    return subscription.id


def baseline(conn: sqlite3.Connection, sub: Subscription, *, now: datetime) -> int:
    """Record what a new subscription already matches, with one summary message.

    A health subscription is told of series, not events: its summary
    (notifier/health.py) counts the series it watches.
    """
    if sub.health:
        return 0
    hits = search(conn, sub.query(now), now=now, with_sources=False)
    hits.sort(key=lambda h: (h.start_utc, h.id))
    remember(conn, [(sub.id, h.id, h.start, h.end, place_text(h), told_status(h)) for h in hits])
    stamp = now.isoformat()
    detail = {"count": len(hits), "next": [h.id for h in hits[:5]]}
    add_message(conn, (sub.id, 0, "summary", stamp), detail, stamp=stamp, targets=sub.targets)
    return len(hits)


def remove_subscription(conn: sqlite3.Connection, name: str) -> int:
    """Remove a subscription and its undelivered messages; return how many were dropped."""
    with write_transaction(conn):
        sub = get_subscription(conn, name)
        return delete_subscription(conn, sub.id)
