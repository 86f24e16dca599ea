"""Saved subscriptions: what a user cares about, and where to tell them.

A subscription keeps its filters as they were resolved when it was added
(the place's coordinates, kilometres, absolute dates), so later changes to
the gazetteer never move it. Targets are Apprise URLs, checked by Apprise
when added, or ``tag:NAME`` for the targets tagged NAME in an Apprise
configuration file. Secrets in URLs are never printed: :func:`mask` shows
them as Apprise's privacy mode does.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from techcal.errors import SubscriptionError, UnknownSubscription
from techcal.normalise.gazetteer import Place
from techcal.store.query import Query

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


@dataclass(slots=True)
class Subscription:
    """One saved subscription."""

    name: str
    targets: list[str]
    text: str | None = None
    topics: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    near: Place | None = None
    within_km: float = 50.0
    start: datetime | None = None
    end: datetime | None = None
    days: int | None = None
    online: bool | None = None
    remind: list[int] = field(default_factory=list)
    digest: str | None = None
    changes: bool = True
    apprise_config: str | None = None
    created_at: datetime | None = None
    digest_at: datetime | None = None
    id: int | None = None

    def query(self, now: datetime) -> Query:
        """Return the search query of this subscription at ``now``."""
        end = self.end
        if self.days:
            rolling = now + timedelta(days=self.days)
            end = rolling if end is None else min(end, rolling)
        return Query(
            text=self.text,
            topics=self.topics,
            kinds=self.kinds,
            near=self.near,
            within_km=self.within_km,
            start=self.start,
            end=end,
            online=self.online,
            limit=None,
        )

    def describe(self) -> str:
        text = Query(
            text=self.text,
            topics=self.topics,
            kinds=self.kinds,
            near=self.near,
            within_km=self.within_km,
            online=self.online,
        ).describe()
        if self.days:
            text += f", next {self.days} days"
        return text

    def row(self) -> tuple[Any, ...]:
        """Return the subscriptions row of this subscription (without id)."""
        near = self.near
        return (
            self.name,
            self.text,
            " ".join(self.topics),
            " ".join(self.kinds),
            near.label if near else None,
            near.lat if near else None,
            near.lon if near else None,
            self.within_km,
            self.start.isoformat() if self.start else None,
            self.end.isoformat() if self.end else None,
            self.days,
            None if self.online is None else int(self.online),
            json.dumps(list(dict.fromkeys(self.targets))),
            self.apprise_config,
            json.dumps(sorted(set(self.remind), reverse=True)),
            self.digest,
            int(self.changes),
            self.created_at.isoformat() if self.created_at else None,
            self.digest_at.isoformat() if self.digest_at else None,
        )

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Subscription:
        (
            id_,
            name,
            text,
            topics,
            kinds,
            place,
            lat,
            lon,
            within_km,
            start,
            end,
            days,
            online,
            targets,
            config,
            remind,
            digest,
            changes,
            created,
            digest_at,
        ) = row
        return cls(
            id=id_,
            name=name,
            text=text,
            topics=tuple(topics.split()),
            kinds=tuple(kinds.split()),
            near=Place(name=place or "", lat=lat, lon=lon) if lat is not None else None,
            within_km=within_km,
            start=datetime.fromisoformat(start) if start else None,
            end=datetime.fromisoformat(end) if end else None,
            days=days,
            online=None if online is None else bool(online),
            targets=_targets(targets),
            apprise_config=config,
            remind=json.loads(remind) if remind != "[]" else [],
            digest=digest,
            changes=bool(changes),
            created_at=datetime.fromisoformat(created) if created else None,
            digest_at=datetime.fromisoformat(digest_at) if digest_at else None,
        )


def _targets(raw: str) -> list[str]:
    """Decode the stored JSON list of targets (a fast path for json.dumps' plain output)."""
    if "\\" in raw:
        return list(json.loads(raw))
    return raw[2:-2].split('", "') if raw != "[]" else []


_FIELDS = (
    "name", "text", "topics", "kinds", "place", "lat", "lon", "within_km", "start", '"end"',
    "days", "online", "targets", "apprise_config", "remind", "digest", "changes", "created_at",
    "digest_at",
)  # fmt: skip
_COLUMNS = "id, " + ", ".join(_FIELDS)


def load_subscriptions(
    conn: sqlite3.Connection, ids: Iterable[int] | None = None
) -> list[Subscription]:
    """Return every subscription (or those with these ``ids``), by name."""
    if ids is None:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM subscriptions ORDER BY name")
    else:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM subscriptions"
            " WHERE id IN (SELECT value FROM json_each(?)) ORDER BY name",
            (json.dumps(sorted(set(ids))),),
        )
    return [Subscription.from_row(row) for row in rows]


def get_subscription(conn: sqlite3.Connection, name: str) -> Subscription:
    row = conn.execute(f"SELECT {_COLUMNS} FROM subscriptions WHERE name = ?", (name,)).fetchone()
    if row is None:
        known = [r[0] for r in conn.execute("SELECT name FROM subscriptions ORDER BY name")]
        raise UnknownSubscription(name, known)
    return Subscription.from_row(row)


# -- Apprise targets ---------------------------------------------------------


def default_config_paths() -> list[Path]:
    """Return the Apprise configuration files that exist where Apprise looks by default."""
    try:
        from apprise.cli import DEFAULT_CONFIG_PATHS

        candidates = [Path(p).expanduser() for p in DEFAULT_CONFIG_PATHS]
    except ImportError:  # pragma: no cover - older Apprise
        candidates = [Path("~/.apprise").expanduser(), Path("~/.apprise.yml").expanduser()]
    return [p for p in candidates if p.is_file()]


def _config_paths(config: str | None) -> list[Path]:
    return [Path(config).expanduser()] if config else default_config_paths()


def load_config(config: str | None) -> Any:
    """Return an AppriseConfig of ``config`` (or the default files)."""
    import apprise

    paths = _config_paths(config)
    bundle = apprise.AppriseConfig()
    for path in paths:
        bundle.add(str(path))
    return bundle


def check_target(target: str, config: str | None) -> None:
    """Raise SubscriptionError unless Apprise can use ``target``."""
    import apprise

    if target.startswith("tag:"):
        tag = target[4:].strip()
        if not tag:
            raise SubscriptionError("--notify: tag: needs a tag name, e.g. tag:family")
        paths = _config_paths(config)
        if not paths:
            raise SubscriptionError(
                f"--notify {target}: no Apprise configuration file found"
                " (give one with --apprise-config, or create ~/.config/apprise/apprise.yml)"
            )
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise SubscriptionError(f"--apprise-config: {missing[0]} does not exist")
        notifier = apprise.Apprise()
        notifier.add(load_config(config))
        if not list(notifier.find(tag=tag)):
            where = ", ".join(str(p) for p in paths)
            raise SubscriptionError(f"--notify {target}: no target is tagged {tag!r} in {where}")
        return
    plugin = apprise.Apprise.instantiate(target)
    if plugin is None:
        raise SubscriptionError(
            f"--notify: Apprise cannot use {mask(target)!r}: not a URL of a service it knows"
            " (see https://github.com/caronc/apprise/wiki for the URL of each service)"
        )


def mask(target: str) -> str:
    """Return ``target`` with its secrets hidden (Apprise's privacy mode)."""
    if target.startswith("tag:"):
        return target
    try:
        import apprise

        plugin = apprise.Apprise.instantiate(target)
    except Exception:  # noqa: BLE001 - a target we cannot parse is shown as its scheme only
        plugin = None
    if plugin is None:
        scheme = target.split("://", 1)[0] if "://" in target else "?"
        return f"{scheme}://****"
    text: str = plugin.url(privacy=True)
    # the defaults Apprise adds to every URL are noise in a listing
    base, _, query = text.partition("?")
    kept = [
        p
        for p in query.split("&")
        if p and p.split("=", 1)[0] not in {"retry", "wait", "optional", "overflow", "format"}
    ]
    return base + ("?" + "&".join(kept) if kept else "")


# -- adding and removing ---------------------------------------------------


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
    from techcal.notifier.match import baseline
    from techcal.store.database import write_transaction

    now = now or datetime.now(UTC)
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
    for target in subscription.targets:
        check_target(target, subscription.apprise_config)
    with write_transaction(conn):
        exists = conn.execute(
            "SELECT 1 FROM subscriptions WHERE name = ?", (subscription.name,)
        ).fetchone()
        if exists:
            raise SubscriptionError(
                f"a subscription named {subscription.name!r} exists: remove it first,"
                " or choose another name"
            )
        subscription.created_at = now
        if subscription.digest:
            subscription.digest_at = now
        marks = ", ".join("?" for _ in _FIELDS)
        cursor = conn.execute(
            f"INSERT INTO subscriptions ({', '.join(_FIELDS)}) VALUES ({marks})",
            subscription.row(),
        )
        subscription.id = int(cursor.lastrowid or 0)
        baseline(conn, subscription, now=now)
    return subscription.id


def remove_subscription(conn: sqlite3.Connection, name: str) -> int:
    """Remove a subscription and its undelivered messages; return how many were dropped."""
    from techcal.store.database import write_transaction

    with write_transaction(conn):
        sub = get_subscription(conn, name)
        pending = conn.execute(
            "SELECT count(*) FROM deliveries d JOIN outbox o ON o.id = d.outbox_id"
            " WHERE o.subscription_id = ? AND d.state != 'sent'",
            (sub.id,),
        ).fetchone()[0]
        conn.execute(
            "DELETE FROM deliveries WHERE outbox_id IN"
            " (SELECT id FROM outbox WHERE subscription_id = ?)",
            (sub.id,),
        )
        conn.execute("DELETE FROM outbox WHERE subscription_id = ?", (sub.id,))
        conn.execute("DELETE FROM notified WHERE subscription_id = ?", (sub.id,))
        conn.execute("DELETE FROM subscriptions WHERE id = ?", (sub.id,))
        if not conn.execute("SELECT 1 FROM subscriptions LIMIT 1").fetchone():
            conn.execute("DELETE FROM event_changes")
    return int(pending)


def subscription_state(conn: sqlite3.Connection, sub: Subscription) -> dict[str, Any]:
    """Return what ``subscribe list`` shows of a subscription's deliveries."""
    sent = conn.execute(
        "SELECT count(*), max(d.sent_at) FROM deliveries d JOIN outbox o ON o.id = d.outbox_id"
        " WHERE o.subscription_id = ? AND d.state = 'sent'",
        (sub.id,),
    ).fetchone()
    pending = conn.execute(
        "SELECT count(*) FROM deliveries d JOIN outbox o ON o.id = d.outbox_id"
        " WHERE o.subscription_id = ? AND d.state != 'sent'",
        (sub.id,),
    ).fetchone()[0]
    held = conn.execute(
        "SELECT count(*) FROM outbox WHERE subscription_id = ? AND held = 1 AND digest_id IS NULL",
        (sub.id,),
    ).fetchone()[0]
    from techcal.notifier.deliver import FAILING_AFTER

    failing = []
    for target, attempts, error in conn.execute(
        "SELECT d.target, max(d.attempts), d.last_error FROM deliveries d"
        " JOIN outbox o ON o.id = d.outbox_id WHERE o.subscription_id = ? AND d.state != 'sent'"
        " AND d.attempts >= ? GROUP BY d.target",
        (sub.id, FAILING_AFTER),
    ):
        failing.append({"target": mask(target), "attempts": attempts, "error": error})
    return {
        "sent": sent[0],
        "last_sent": sent[1],
        "pending": pending,
        "waiting_for_digest": held,
        "failing": failing,
    }
