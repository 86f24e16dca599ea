"""What upcoming events there are by topic and kind: ``techcal topics``, the page, the site."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import NamedTuple

from techcal.normalise.topics import Taxonomy
from techcal.store.normalise import tags_are_current
from techcal.store.stored import has_events


class TopicCount(NamedTuple):
    """A topic, its label, and how many upcoming events have it."""

    topic: str
    label: str
    upcoming: int


def topic_counts(conn: sqlite3.Connection, *, now: datetime | None = None) -> dict[str, int]:
    """Return how many upcoming (not cancelled, not removed) events each topic has."""
    now_ts = int((now or datetime.now(UTC)).timestamp())
    rows = conn.execute(
        "SELECT t.topic, count(*) FROM event_topics t CROSS JOIN events e ON e.id = t.event_id"
        " WHERE t.start_utc >= ? AND e.removed_at IS NULL AND e.status != 'cancelled'"
        " GROUP BY t.topic",
        (now_ts,),
    )
    return dict(rows.fetchall())


def topic_table(
    conn: sqlite3.Connection, known: Taxonomy, *, now: datetime | None = None
) -> list[TopicCount]:
    """Return every topic of the taxonomy and every other one events use, busiest first."""
    counts = topic_counts(conn, now=now)
    rows = [TopicCount(t.slug, t.label, counts.get(t.slug, 0)) for t in known.topics.values()]
    # source topics outside the taxonomy still count
    rows += [TopicCount(slug, slug, n) for slug, n in counts.items() if slug not in known.topics]
    rows.sort(key=lambda r: (-r.upcoming, r.topic))
    return rows


def topics_in_use(conn: sqlite3.Connection, known: Taxonomy, *, now: datetime) -> list[TopicCount]:
    """Return the topics with upcoming events, by label (the web page's choice of topics)."""
    rows = [
        TopicCount(slug, known.topics[slug].label if slug in known.topics else slug, count)
        for slug, count in topic_counts(conn, now=now).items()
    ]
    return sorted(rows, key=lambda t: t.label.lower())


def tags_stale(conn: sqlite3.Connection, known: Taxonomy) -> bool:
    """Say whether stored events were tagged with another taxonomy than ``known``."""
    return not tags_are_current(conn, known) and has_events(conn)


def topic_used(conn: sqlite3.Connection, slug: str) -> bool:
    """Say whether any stored event has the topic ``slug`` (one outside the taxonomy too)."""
    row = conn.execute("SELECT 1 FROM event_topics WHERE topic = ? LIMIT 1", (slug,))
    return row.fetchone() is not None


def listed_topics(conn: sqlite3.Connection, *, now: datetime) -> set[str]:
    """Return the topics of the upcoming events still listed (cancelled ones too)."""
    rows = conn.execute(
        "SELECT DISTINCT t.topic FROM event_topics t JOIN events e ON e.id = t.event_id"
        " WHERE t.start_utc >= ? AND e.removed_at IS NULL",
        (int(now.timestamp()),),
    )
    return {row[0] for row in rows}


def listed_kinds(conn: sqlite3.Connection, *, now: datetime) -> set[str]:
    """Return the kinds of the upcoming events still listed (cancelled ones too)."""
    rows = conn.execute(
        "SELECT DISTINCT kind FROM events WHERE start_utc >= ? AND removed_at IS NULL",
        (int(now.timestamp()),),
    )
    return {row[0] for row in rows}
