"""Feeds of a search query: iCalendar, Atom, JSON.

A calendar feed holds every matching event from :data:`FEED_HISTORY` ago
on (so what people attended does not vanish from their calendar the next
morning), cancelled and no-longer-listed ones included as
STATUS:CANCELLED until they are past. Atom and JSON hold the upcoming ones,
like ``techcal search``.

Each event's VEVENT is written from its row and its sources' names when
the feed is made (:func:`techcal.writers.ical.event_block`, tens of
microseconds an event), so nothing rendered is kept in the store and no
block can be stale.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta

from techcal.event import StoredEvent
from techcal.store.query import Query
from techcal.store.search import search
from techcal.store.stored import merged_ids, source_names
from techcal.writers.atom import atom, last_modified
from techcal.writers.ical import (
    assemble,
    calendar_description,
    event_block,
    event_zone,
    feed_name,
)
from techcal.writers.text import to_json

#: how far back calendar feeds reach (events stay in calendars a while)
FEED_HISTORY = timedelta(days=30)
#: events on the web page and in Atom when no limit is asked
PAGE_LIMIT = 100
#: events in /events.json when no limit is asked
JSON_LIMIT = 1000

ICS_TYPE = "text/calendar; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Rendered:
    """A feed's bytes and what HTTP caches need to know about them."""

    body: bytes
    content_type: str
    count: int
    last_modified: datetime | None
    #: a strong validator: the same bytes give the same tag (digested once)
    etag: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "etag", '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"')


def calendar_window(query: Query, now: datetime) -> Query:
    """Return the query a calendar feed runs: every match from FEED_HISTORY ago on."""
    start = query.start
    if start is None:
        # whole days, so a feed's bytes stay the same all day
        day = (now - FEED_HISTORY).astimezone(UTC).date()
        start = datetime.combine(day, time(0), tzinfo=UTC)
    return replace(query, start=start, limit=None, include_cancelled=True, include_removed=True)


def listing_window(query: Query, limit: int | None = PAGE_LIMIT) -> Query:
    """Return the query of a list of upcoming events (Atom, JSON, the web page)."""
    return replace(query, limit=limit, include_cancelled=True)


def in_start_order(events: list[StoredEvent]) -> list[StoredEvent]:
    """Return events sorted by start, then id (feeds do not rank)."""
    return sorted(events, key=lambda e: (e.start_utc, e.id))


# -- the feeds -------------------------------------------------------------


def ics_feed(
    conn: sqlite3.Connection,
    query: Query,
    *,
    now: datetime,
    url: str | None = None,
    blocks: MutableMapping[int, str] | None = None,
) -> Rendered:
    """Return the calendar feed of ``query``, each VEVENT written from its row.

    ``blocks`` (event id -> VEVENT) lends blocks already written and keeps
    the new ones: feeds made together, from one snapshot of the store
    (``techcal publish``), write each event once.
    """
    found = search(conn, calendar_window(query, now), now=now, with_sources=False)
    events = in_start_order(found)
    removed = [e.id for e in events if e.removed_at is not None]
    if removed:
        # an event merged into another was a copy, not a cancellation: it leaves the feed
        merged = merged_ids(conn, removed)
        events = [e for e in events if e.id not in merged]
    zones = {z for z in (event_zone(e) for e in events) if z}
    body = assemble(
        vevent_blocks(conn, events, blocks),
        zones,
        name=feed_name(query),
        description=calendar_description(query),
        url=url,
    )
    return Rendered(body, ICS_TYPE, len(events), last_modified(events))


def vevent_blocks(
    conn: sqlite3.Connection,
    events: Sequence[StoredEvent],
    blocks: MutableMapping[int, str] | None = None,
) -> list[str]:
    """Return the VEVENT of each event, in order, with the names of the sources listing it."""
    if blocks is None:
        blocks = {}
    missing = [e for e in events if e.id not in blocks]
    if missing:
        names = source_names(conn, [e.id for e in missing])
        for event in missing:
            blocks[event.id] = event_block(event, names.get(event.id, ()))
    return [blocks[e.id] for e in events]


def json_feed(conn: sqlite3.Connection, query: Query, *, now: datetime) -> Rendered:
    """Return the upcoming matches as ``techcal search --format json`` prints them."""
    events = search(conn, listing_window(query, query.limit or JSON_LIMIT), now=now)
    body = (to_json(events) + "\n").encode("utf-8")
    return Rendered(body, JSON_TYPE, len(events), last_modified(events))


def atom_feed(
    conn: sqlite3.Connection,
    query: Query,
    *,
    now: datetime,
    url: str | None = None,
    page_url: str | None = None,
) -> Rendered:
    """Return the upcoming matches as an Atom 1.0 feed (one entry per event)."""
    found = search(conn, listing_window(query, query.limit or PAGE_LIMIT), now=now)
    events = in_start_order(found)
    body = atom(events, name=feed_name(query), url=url, page_url=page_url)
    return Rendered(body, ATOM_TYPE, len(events), last_modified(events))
