"""Writing the outbox for one matching run, and counting what was written."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from techcal.notifier.subscriptions import Subscription
from techcal.store.outbox import add_message


@dataclass
class MatchReport:
    """What one matching run wrote."""

    changes: int = 0
    messages: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    held: int = 0

    @property
    def total(self) -> int:
        return sum(self.messages.values())


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
        """Add a message unless that exact one exists; return its id when added.

        A held message waits for the subscription's digest; any other gets
        a delivery to each target at once.
        """
        outbox_id = add_message(
            self.conn,
            (sub.id, event_id, kind, key),
            detail or {},
            stamp=self.stamp,
            targets=None if hold else sub.targets,
        )
        if outbox_id is None:
            return None
        if hold:
            self.report.held += 1
        else:
            self.report.messages[kind] += 1
        return outbox_id
