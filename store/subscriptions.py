"""The subscriptions table: saved subscriptions as rows, read, added and removed.

The notifier turns a :class:`SubscriptionRow` into its ``Subscription`` and
back; here it is only the row, column by column, as stored.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import NamedTuple

from techcal.store.outbox import undelivered


class SubscriptionRow(NamedTuple):
    """One row of ``subscriptions``, in the order of its columns."""

    id: int | None
    name: str
    text: str | None
    #: space-separated slugs, "" for any
    topics: str
    kinds: str
    place: str | None
    lat: float | None
    lon: float | None
    within_km: float
    #: ISO 8601, or None
    start: str | None
    end: str | None
    days: int | None
    #: 1, 0 or None
    online: int | None
    #: a JSON list of Apprise URLs and tag:NAME
    targets: str
    apprise_config: str | None
    #: a JSON list of seconds, longest first
    remind: str
    digest: str | None
    changes: int
    created_at: str | None
    digest_at: str | None
    #: 1: told about series gone quiet (in its scope), never about events
    health: int = 0
    #: space-separated source names a health subscription watches, "" for any
    sources: str = ""


#: the columns a new subscription is written with (all but ``id``)
SUBSCRIPTION_FIELDS = tuple(
    f'"{name}"' if name == "end" else name for name in SubscriptionRow._fields[1:]
)
SUBSCRIPTION_COLUMNS = "id, " + ", ".join(SUBSCRIPTION_FIELDS)


def subscription_rows(
    conn: sqlite3.Connection, ids: Iterable[int] | None = None, *, by_name: bool = True
) -> list[SubscriptionRow]:
    """Return every subscription's row (or those with these ``ids``), by name.

    ``by_name=False`` leaves them in the table's order (matching needs no order).
    """
    order = " ORDER BY name" if by_name else ""
    if ids is None:
        rows = conn.execute(f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions{order}")
    else:
        rows = conn.execute(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions"
            f" WHERE id IN (SELECT value FROM json_each(?)){order}",
            (json.dumps(sorted(set(ids))),),
        )
    return list(map(SubscriptionRow._make, rows))


#: what the matching index keeps of a subscription's filters: (topics, kinds, digest,
#: days, remind), and of its place: (lat, lon, within_km, online)
FilterKey = tuple[str, str, str | None, int | None, str]
PlaceKey = tuple[float | None, float | None, float, int | None]


def subscription_groups(
    conn: sqlite3.Connection,
) -> tuple[dict[FilterKey, set[int]], dict[PlaceKey, set[int]]]:
    """Return the ids of the subscriptions that share filters, and that share a place.

    Grouped by SQLite: the matching index is built from a few hundred groups,
    not from every row (two scans of the table instead of 10,000 row objects).
    """
    filters = conn.execute(
        "SELECT topics, kinds, digest, days, remind, group_concat(id) FROM subscriptions"
        " WHERE health = 0 GROUP BY topics, kinds, digest, days, remind"
    )
    places = conn.execute(
        "SELECT lat, lon, within_km, online, group_concat(id) FROM subscriptions"
        " WHERE health = 0 GROUP BY lat, lon, within_km, online"
    )
    return (
        {row[:5]: _ids(row[5]) for row in filters},
        {row[:4]: _ids(row[4]) for row in places},
    )


def _ids(text: str) -> set[int]:
    return set(map(int, text.split(",")))


class CheckedFilters(NamedTuple):
    """The filters of a subscription that matching checks event by event, as stored."""

    id: int
    text: str | None
    online: int | None
    #: 1 when it has a place (lat and lon)
    placed: int
    start: str | None
    end: str | None
    days: int | None


def checked_filters(conn: sqlite3.Connection) -> list[CheckedFilters]:
    """Return the filters of the subscriptions with a text, online, date or days filter.

    Some without one may come too (an empty text): the caller decides.
    """
    rows = conn.execute(
        'SELECT id, text, online, lat IS NOT NULL AND lon IS NOT NULL, start, "end", days'
        " FROM subscriptions WHERE health = 0 AND (text IS NOT NULL OR online IS NOT NULL"
        ' OR start IS NOT NULL OR "end" IS NOT NULL OR days IS NOT NULL)'
    )
    return list(map(CheckedFilters._make, rows))


def subscription_row(conn: sqlite3.Connection, name: str) -> SubscriptionRow | None:
    """Return the row of the subscription called ``name``, or None."""
    row = conn.execute(
        f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE name = ?", (name,)
    ).fetchone()
    return None if row is None else SubscriptionRow._make(row)


def subscription_names(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT name FROM subscriptions ORDER BY name")]


def subscription_exists(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM subscriptions WHERE name = ?", (name,)).fetchone()
    return row is not None


def insert_subscription(conn: sqlite3.Connection, row: SubscriptionRow) -> int:
    """Write a new subscription (its ``id`` is not used); return its id."""
    marks = ", ".join("?" for _ in SUBSCRIPTION_FIELDS)
    cursor = conn.execute(
        f"INSERT INTO subscriptions ({', '.join(SUBSCRIPTION_FIELDS)}) VALUES ({marks})", row[1:]
    )
    return int(cursor.lastrowid or 0)


def insert_subscriptions(conn: sqlite3.Connection, rows: Iterable[SubscriptionRow]) -> None:
    """Write many subscriptions at once (benchmarks), without checks."""
    marks = ", ".join("?" for _ in SUBSCRIPTION_FIELDS)
    conn.executemany(
        f"INSERT INTO subscriptions ({', '.join(SUBSCRIPTION_FIELDS)}) VALUES ({marks})",
        (row[1:] for row in rows),
    )


def delete_subscription(conn: sqlite3.Connection, sub_id: int | None) -> int:
    """Delete a subscription with its messages; return how many were undelivered.

    The last one gone, the change log is emptied: nobody reads it until a
    new subscription starts from what matches then.
    """
    pending = undelivered(conn, sub_id)
    conn.execute(
        "DELETE FROM deliveries WHERE outbox_id IN"
        " (SELECT id FROM outbox WHERE subscription_id = ?)",
        (sub_id,),
    )
    conn.execute("DELETE FROM outbox WHERE subscription_id = ?", (sub_id,))
    conn.execute("DELETE FROM notified WHERE subscription_id = ?", (sub_id,))
    conn.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,))
    if not conn.execute("SELECT 1 FROM subscriptions LIMIT 1").fetchone():
        conn.execute("DELETE FROM event_changes")
    return pending


def set_digest_at(conn: sqlite3.Connection, sub_id: int | None, stamp: str) -> None:
    """Record when a subscription's digest period last ended."""
    conn.execute("UPDATE subscriptions SET digest_at = ? WHERE id = ?", (stamp, sub_id))


def health_subscription_ids(conn: sqlite3.Connection) -> list[int]:
    """Return the ids of the subscriptions told about series gone quiet."""
    return [row[0] for row in conn.execute("SELECT id FROM subscriptions WHERE health = 1")]
