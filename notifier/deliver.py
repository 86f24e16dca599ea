"""Delivery: pending outbox rows through Apprise, each target on its own, exactly once.

Each (message, target) pair is a row of ``deliveries``. Sending one:

1. mark it ``sending`` and commit;
2. send it through Apprise;
3. mark it ``sent`` (or, on failure, ``pending`` with the error and a later
   ``next_at``: 1, 2, 4 ... minutes, at most 6 hours) and commit.

A process killed between 1 and 3 leaves the row ``sending``: the next run
sends it again, with a first line saying it may be a repeat. So nothing is
lost, and the only possible double is the one message per target that was
in flight when the process died, and it says so. One failing target never
blocks another: after its first failure in a run, its other messages wait
for the next run, and the other targets go on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from techcal.notifier.messages import RESENT, Message, render
from techcal.notifier.subscriptions import load_subscriptions
from techcal.notifier.targets import load_config, mask
from techcal.store.notified import events_by_id
from techcal.store.outbox import (
    DueDelivery,
    claim_delivery,
    delivery_failed,
    delivery_sent,
    due_deliveries,
)

#: after this many failed attempts, `subscribe list` shows the target as failing
FAILING_AFTER = 3
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)

#: a claim by a process on another machine (or one we cannot check) lapses after this
LEASE = timedelta(minutes=10)

#: send(target, message, apprise_config, done) -> (ok, error, done): ``done`` holds
#: digests of the URLs under a tag: target that already have the message
Sender = Callable[[str, Message, str | None, set[str]], tuple[bool, str | None, set[str]]]


def owner_name() -> str:
    """Return who is delivering, for claims: ``host:pid:run``."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"


def _claim_lapsed(owner: str | None, claimed_at: str | None, now: datetime) -> bool:
    """Say whether a ``sending`` claim was left by a process that is gone.

    On this machine the process is looked up; elsewhere (or when its id
    was reused) the claim lapses after :data:`LEASE`.
    """
    if not owner or not claimed_at:
        return True
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    return datetime.fromisoformat(claimed_at) + LEASE < max(now, datetime.now(UTC))


@dataclass
class Delivery:
    """One message for one target, as `notify --dry-run` shows it."""

    outbox_id: int
    subscription: str
    target: str
    kind: str
    message: Message
    attempts: int
    resend: bool
    apprise_config: str | None = None
    owner: str | None = None
    done: set[str] = field(default_factory=set)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    """Return the wait after ``attempts`` failures: 1, 2, 4 ... minutes, at most 6 hours."""
    return min(BACKOFF_FIRST * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


def _with_overflow(url: str) -> str:
    """Let Apprise split a body too long for the service, unless the URL says otherwise."""
    if "overflow=" in url:
        return url
    return url + ("&" if "?" in url else "?") + "overflow=split"


def send_apprise(
    target: str, message: Message, config: str | None, done: set[str]
) -> tuple[bool, str | None, set[str]]:
    """Send one message to one target through Apprise; return (ok, error, done).

    A ``tag:NAME`` target is sent URL by URL, and the URLs that succeeded are
    returned in ``done`` (by digest, never the URL), so a retry after one
    of them failed does not repeat the message to the others.
    """
    import apprise

    with apprise.LogCapture(level=logging.WARNING) as logs:
        if target.startswith("tag:"):
            bundle = apprise.Apprise()
            bundle.add(load_config(config))
            servers = list(bundle.find(tag=target[4:]))
            if not servers:
                return False, f"no target is tagged {target[4:]!r} any more", done
            done = set(done)
            ok = True
            for server in servers:
                key = hashlib.sha256(server.url(privacy=False).encode()).hexdigest()[:16]
                if key in done:
                    continue
                if server.notify(body=message.body, title=message.title):
                    done.add(key)
                else:
                    ok = False
        else:
            notifier = apprise.Apprise()
            if not notifier.add(_with_overflow(target)):
                return False, f"Apprise cannot use {mask(target)}", done
            ok = bool(notifier.notify(title=message.title, body=message.body))
    if ok:
        return True, None, done
    text = " ".join(logs.getvalue().split(" - WARNING - ")[-1].split()) if logs else ""
    if not text:
        text = "Apprise reported a failure"
    return False, text.replace(target, mask(target))[:300], done


def pending(
    conn: sqlite3.Connection, now: datetime, *, include_later: bool = False
) -> list[DueDelivery]:
    """Return the deliveries due at ``now`` (``include_later``: every one not sent).

    A delivery another live notify is sending is left out; one whose sender
    died is due again.
    """
    rows = due_deliveries(conn, None if include_later else now.isoformat())
    return [
        row
        for row in rows
        if row.state != "sending" or _claim_lapsed(row.owner, row.claimed_at, now)
    ]


def prepare(conn: sqlite3.Connection, rows: list[DueDelivery]) -> list[Delivery]:
    """Return the messages of delivery rows, written from the events as they are now."""
    subs = {s.id: s for s in load_subscriptions(conn, {r.subscription_id for r in rows})}
    events = {e.id: e for e in events_by_id(conn, [r.event_id for r in rows if r.event_id])}
    cache: dict[int, Message] = {}
    out = []
    for row in rows:
        sub = subs.get(row.subscription_id)
        if sub is None:
            continue
        message = cache.get(row.outbox_id)
        if message is None:
            detail = json.loads(row.detail)
            message = render(row.kind, sub, events.get(row.event_id), detail, conn=conn)
            cache[row.outbox_id] = message
        resend = row.state == "sending"
        if resend:
            message = Message(message.title, RESENT + "\n" + message.body)
        out.append(
            Delivery(
                row.outbox_id,
                sub.name,
                row.target,
                row.kind,
                message,
                row.attempts,
                resend,
                apprise_config=sub.apprise_config,
                owner=row.owner,
                done=set(json.loads(row.done or "[]")),
            )
        )
    return out


def deliver(
    conn: sqlite3.Connection,
    *,
    now: datetime | None = None,
    send: Sender = send_apprise,
    limit: int | None = None,
) -> DeliveryReport:
    """Send every due delivery; return what happened."""
    now = now or datetime.now(UTC)
    report = DeliveryReport()
    rows = pending(conn, now)
    if limit is not None:
        rows = rows[:limit]
    failed_targets: set[str] = set()
    me = owner_name()
    for item in prepare(conn, rows):
        if item.target in failed_targets:
            report.deferred += 1
            continue
        # claim it: only if nobody claimed it since we looked (another notify
        # running at the same time finds it taken and leaves it)
        if not claim_delivery(
            conn,
            (item.outbox_id, item.target),
            owner=me,
            stamp=datetime.now(UTC).isoformat(),
            state="sending" if item.resend else "pending",
            was_owner=item.owner,
        ):
            continue
        if not _send_one(conn, item, send, now, report):
            failed_targets.add(item.target)
    return report


def _send_one(
    conn: sqlite3.Connection, item: Delivery, send: Sender, now: datetime, report: DeliveryReport
) -> bool:
    """Send a claimed delivery and record how it went; return whether it was sent."""
    done = item.done
    try:
        ok, error, done = send(item.target, item.message, item.apprise_config, item.done)
    except Exception as exc:  # noqa: BLE001 - a plugin's crash is one failed delivery
        ok, error = False, f"{type(exc).__name__}: {exc}".replace(item.target, "****")
    key = (item.outbox_id, item.target)
    if ok:
        delivery_sent(conn, key, stamp=datetime.now(UTC).isoformat(), done=done)
        report.sent += 1
        return True
    attempts = item.attempts + 1
    next_at = (now + backoff(attempts)).isoformat()
    delivery_failed(conn, key, attempts=attempts, next_at=next_at, error=error, done=done)
    report.failed += 1
    report.errors.append(f"{item.subscription} -> {mask(item.target)}: {error}")
    return False
