"""What the ``subscribe`` commands do and say: add, list and test a subscription."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from techcal.errors import SubscriptionError
from techcal.notifier.deliver import FAILING_AFTER, send_apprise
from techcal.notifier.health import health_baseline
from techcal.notifier.messages import render
from techcal.notifier.subscriptions import (
    Subscription,
    add_subscription,
    duration_text,
    get_subscription,
    load_subscriptions,
    parse_duration,
)
from techcal.notifier.targets import mask
from techcal.store.outbox import delivery_state, summary_count, summary_series
from techcal.store.sources import source_exists
from techcal.store.transactions import write_transaction


def subscribe(
    conn: sqlite3.Connection, sub: Subscription, remind: Iterable[str], *, now: datetime
) -> str:
    """Add ``sub``, reminding ``remind`` (``--remind`` durations) before each event.

    Returns what `subscribe add` says.
    """
    sub.remind = [parse_duration(r) for r in remind]
    for name in sub.sources if sub.health else ():
        if not source_exists(conn, name):
            raise SubscriptionError(
                f"--source {name!r}: no such source (see `techcal sources list`)"
            )
    add_subscription(conn, sub, now=now)
    if sub.health:
        with write_transaction(conn):
            health_baseline(conn, sub, now=now)
        return (
            f"subscription {sub.name!r} added: {sub.describe()}; it watches"
            f" {summary_series(conn, sub.id)} series now (one summary message is waiting:"
            " run `techcal notify`)"
        )
    return (
        f"subscription {sub.name!r} added: {sub.describe()}; {summary_count(conn, sub.id)}"
        " upcoming event(s) match now (one summary message is waiting: run `techcal notify`)"
    )


def subscription_state(conn: sqlite3.Connection, sub: Subscription) -> dict[str, Any]:
    """Return what ``subscribe list`` shows of a subscription's deliveries."""
    state = delivery_state(conn, sub.id, FAILING_AFTER)
    return {
        "sent": state.sent,
        "last_sent": state.last_sent,
        "pending": state.pending,
        "waiting_for_digest": state.held,
        "failing": [
            {"target": mask(target), "attempts": attempts, "error": error}
            for target, attempts, error in state.failing
        ],
    }


def listing(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Return the rows of ``subscribe list --json``: each subscription and its state."""
    return [
        {
            "name": sub.name,
            "filters": sub.describe(),
            "health": sub.health,
            "sources": sub.sources,
            "targets": [mask(t) for t in sub.targets],
            "remind": [duration_text(r) for r in sub.remind],
            "digest": sub.digest,
            "changes": sub.changes,
            "created_at": sub.created_at.isoformat() if sub.created_at else None,
            **subscription_state(conn, sub),
        }
        for sub in load_subscriptions(conn)
    ]


def listing_text(rows: list[dict[str, Any]]) -> str:
    """Return ``subscribe list``'s text of :func:`listing`'s rows."""
    if not rows:
        return "no subscriptions yet: techcal subscribe add NAME [filters] --notify URL"
    lines = []
    for row in rows:
        extra = []
        if row["remind"]:
            extra.append("remind " + ", ".join(row["remind"]) + " before")
        if row["digest"]:
            extra.append(f"{row['digest']} digest")
        if not row["changes"]:
            extra.append("no change alerts")
        options = f" ({'; '.join(extra)})" if extra else ""
        lines.append(f"{row['name']}: {row['filters']}{options}")
        lines.append(f"  to: {', '.join(row['targets'])}")
        waiting = (
            f", {row['waiting_for_digest']} for the digest" if row["waiting_for_digest"] else ""
        )
        lines.append(f"  sent {row['sent']}, pending {row['pending']}{waiting}")
        for failing in row["failing"]:
            lines.append(
                f"  FAILING: {failing['target']}: {failing['error']}"
                f" ({failing['attempts']} attempts; retried with back-off)"
            )
    return "\n".join(lines)


def send_test(conn: sqlite3.Connection, name: str, echo: Callable[[str], None]) -> int:
    """Send a test message to each target of subscription ``name``; return how many failed.

    Each target's outcome is passed to ``echo`` as it is known.
    """
    sub = get_subscription(conn, name)
    message = render("test", sub, None, {})
    failed = 0
    for target in sub.targets:
        ok, error, _ = send_apprise(target, message, sub.apprise_config, set())
        echo(f"{mask(target)}: {'delivered' if ok else 'FAILED: ' + str(error)}")
        failed += not ok
    return failed
