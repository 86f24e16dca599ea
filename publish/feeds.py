"""Feeds of a search query: iCalendar (from stored VEVENT blocks), Atom, JSON.

A calendar feed holds every matching event from :data:`FEED_HISTORY` ago
on (so what people attended does not vanish from their calendar the next
morning), cancelled and no-longer-listed ones included as
STATUS:CANCELLED until they are past. Atom and JSON hold the upcoming ones,
like ``techcal search``.

Each event's VEVENT is rendered once and kept in ``event_ics`` (the store's
triggers drop it when anything it shows changes): :func:`render_pending`
fills what is missing, in a write transaction so that no crawl can change
an event between rendering and storing it; a reader that finds a block
missing renders it in memory for that answer.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from techcal.normalise.clean import web_url
from techcal.store.query import Query, build_query
from techcal.store.search import EVENT_COLS, Hit, row_to_event, search
from techcal.writers.ical import assemble, event_block, event_zone, render_key

#: how far back calendar feeds reach (events stay in calendars a while)
FEED_HISTORY = timedelta(days=30)
#: events on the web page and in Atom when no limit is asked
PAGE_LIMIT = 100
#: events in /events.json when no limit is asked
JSON_LIMIT = 1000
#: the filters a feed URL may carry, and their search option names
PARAMETERS = ("q", "topic", "kind", "near", "within", "from", "to", "days", "online")

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


def query_from_params(
    params: Mapping[str, Sequence[str]],
    *,
    now: datetime,
    conn: sqlite3.Connection | None = None,
) -> Query:
    """Return the Query of a feed URL's parameters (``?topic=python&near=...``).

    Parameters repeat like the options do (``topic=python&topic=rust``);
    unknown parameters are ignored (cache-busters such as ``?t=123``). Raises
    :class:`techcal.store.query.QueryError` naming the bad one.
    """
    from techcal.errors import QueryError

    def one(name: str) -> str | None:
        values = [v for v in params.get(name, ()) if v.strip()]
        if len(values) > 1:
            raise QueryError(name, "give it once")
        return values[0] if values else None

    days_text = one("days")
    days = None
    if days_text is not None:
        if not re.fullmatch(r"[0-9]{1,6}", days_text.strip()) or int(days_text) < 1:
            raise QueryError("days", f"{days_text!r} is not a number of days (1 or more)")
        days = int(days_text)
    online_text = one("online")
    online = None
    if online_text is not None:
        flag = online_text.strip().lower()
        if flag in ("1", "true", "yes", "online"):
            online = True
        elif flag in ("0", "false", "no", "in-person"):
            online = False
        else:
            raise QueryError("online", f"{online_text!r} is not yes or no")

    def topic_in_store(slug: str) -> bool:
        if conn is None:
            return False
        row = conn.execute("SELECT 1 FROM event_topics WHERE topic = ? LIMIT 1", (slug,))
        return row.fetchone() is not None

    return build_query(
        text=one("q"),
        topics=[t for t in params.get("topic", ()) if t.strip()],
        kinds=[k for k in params.get("kind", ()) if k.strip()],
        near=one("near"),
        within=one("within"),
        date_from=one("from"),
        date_to=one("to"),
        days=days,
        online=online,
        limit=None,
        now=now,
        topic_in_store=topic_in_store,
    )


def canonical_params(params: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """Return the known, non-empty parameters in a stable order (for links and cache keys)."""
    pairs: list[tuple[str, str]] = []
    for name in PARAMETERS:
        values = [v.strip() for v in params.get(name, ()) if v.strip()]
        if name in ("topic", "kind"):
            values = sorted(dict.fromkeys(values))
        pairs.extend((name, value) for value in values)
    return pairs


def feed_name(query: Query) -> str:
    """Return the calendar's name for a query ("techcal: python near Portland, OR, US")."""
    return "techcal: " + _describe(query)


def _describe(query: Query) -> str:
    text = query.describe()
    if query.near is not None:
        text = text.replace(f"within {query.within_km:g} km of ", "near ")
        text += f" ({query.within_km:g} km)"
    if query.start is not None:
        text += f" from {query.start:%Y-%m-%d}"
    if query.end is not None:
        text += f" to {query.end - timedelta(microseconds=1):%Y-%m-%d}"
    return text


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


def in_start_order(hits: list[Hit]) -> list[Hit]:
    """Return hits sorted by start, then id (feeds do not rank)."""
    return sorted(hits, key=lambda h: (h.event["start_utc"], h.event["id"]))


# -- stored VEVENT blocks --------------------------------------------------


def source_names(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, list[str]]:
    """Return, per event, the names of the sources listing it (or that listed it)."""
    rows = conn.execute(
        "SELECT p.event_id, s.name, p.removed_at IS NULL FROM provenance p"
        " JOIN sources s ON s.id = p.source_id"
        " WHERE p.event_id IN (SELECT value FROM json_each(?)) ORDER BY p.event_id, p.id",
        (json.dumps(list(ids)),),
    )
    active: dict[int, list[str]] = {}
    every: dict[int, list[str]] = {}
    for event_id, name, listed in rows:
        if name not in every.setdefault(event_id, []):
            every[event_id].append(name)
        if listed and name not in active.setdefault(event_id, []):
            active[event_id].append(name)
    return {event_id: active.get(event_id) or names for event_id, names in every.items()}


def render_blocks(conn: sqlite3.Connection, events: Sequence[dict[str, Any]]) -> dict[int, str]:
    """Render the VEVENT of each event (with icalendar)."""
    names = source_names(conn, (e["id"] for e in events))
    return {e["id"]: event_block(e, names.get(e["id"], [])) for e in events}


_RENDER_KEY = "ics_render"


def blocks_current(conn: sqlite3.Connection) -> bool:
    """Say whether the stored blocks were written by this writer and icalendar version."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_RENDER_KEY,)).fetchone()
    return row is not None and row[0] == render_key()


def stored_blocks(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, str]:
    """Return the stored VEVENT blocks of these events (missing ones are absent)."""
    if not blocks_current(conn):
        return {}
    rows = conn.execute(
        "SELECT event_id, block FROM event_ics WHERE event_id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(ids)),),
    )
    return dict(rows.fetchall())


def render_pending(
    conn: sqlite3.Connection,
    *,
    now: datetime | None = None,
    batch: int = 2000,
) -> int:
    """Render and store the missing blocks of every event feeds may show; return how many.

    Run by the commands that write events (crawl, import, retag, merge,
    split) and by ``feed``, so readers seldom render. Each batch is one
    write transaction: no other writer can change an event between its
    rendering and its storing.
    """
    from techcal.store.database import write_transaction

    now = now or datetime.now(UTC)
    since = int((now - FEED_HISTORY - timedelta(days=1)).timestamp())
    pending_sql = (
        "SELECT 1 FROM events e WHERE e.start_utc >= ?"
        " AND NOT EXISTS (SELECT 1 FROM event_ics b WHERE b.event_id = e.id) LIMIT 1"
    )
    current = blocks_current(conn)
    if current and conn.execute(pending_sql, (since,)).fetchone() is None:
        return 0  # nothing to do: no need to wait for the write lock
    if not current:
        # a new techcal or icalendar writes blocks differently: start again
        with write_transaction(conn):
            conn.execute("DELETE FROM event_ics")
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (_RENDER_KEY, render_key()),
            )
    done = 0
    while True:
        with write_transaction(conn):
            rows = conn.execute(
                f"SELECT {EVENT_COLS} FROM events e WHERE e.start_utc >= ?"
                " AND NOT EXISTS (SELECT 1 FROM event_ics b WHERE b.event_id = e.id)"
                " ORDER BY e.id LIMIT ?",
                (since, batch),
            ).fetchall()
            if not rows:
                return done
            events = [row_to_event(row) for row in rows]
            blocks = render_blocks(conn, events)
            conn.executemany(
                "INSERT OR REPLACE INTO event_ics (event_id, block) VALUES (?, ?)",
                blocks.items(),
            )
        done += len(rows)
        if len(rows) < batch:
            return done


# -- the feeds -------------------------------------------------------------


def _last_modified(events: Iterable[dict[str, Any]]) -> datetime | None:
    stamps = [e["updated_at"] for e in events if e.get("updated_at")]
    if not stamps:
        return None
    return max(datetime.fromisoformat(s) for s in stamps).astimezone(UTC).replace(microsecond=0)


def ics_feed(
    conn: sqlite3.Connection,
    query: Query,
    *,
    now: datetime,
    url: str | None = None,
) -> Rendered:
    """Return the calendar feed of ``query``, assembled from stored blocks."""
    hits = in_start_order(search(conn, calendar_window(query, now), now=now, with_sources=False))
    events = [h.event for h in hits]
    removed = [e["id"] for e in events if e["removed_at"] is not None]
    if removed:
        # an event merged into another was a copy, not a cancellation: it leaves the feed
        merged = {
            r[0]
            for r in conn.execute(
                "SELECT id FROM events WHERE id IN (SELECT value FROM json_each(?))"
                " AND merged_into IS NOT NULL",
                (json.dumps(removed),),
            )
        }
        events = [e for e in events if e["id"] not in merged]
    ids = [e["id"] for e in events]
    blocks = stored_blocks(conn, ids)
    missing = [e for e in events if e["id"] not in blocks]
    if missing:
        blocks.update(render_blocks(conn, missing))
    zones = {z for z in (event_zone(e) for e in events) if z}
    body = assemble(
        (blocks[i] for i in ids),
        zones,
        name=feed_name(query),
        description=_calendar_description(query),
        url=url,
    )
    return Rendered(body, ICS_TYPE, len(events), _last_modified(events))


def _calendar_description(query: Query) -> str:
    return (
        f"Local tech events: {_describe(query)}. Gathered by techcal from the groups' own"
        " calendars, feeds and pages; updated hourly."
    )


def json_feed(conn: sqlite3.Connection, query: Query, *, now: datetime) -> Rendered:
    """Return the upcoming matches as ``techcal search --format json`` prints them."""
    from techcal.writers.text import to_json

    hits = search(conn, listing_window(query, query.limit or JSON_LIMIT), now=now)
    body = (to_json(hits) + "\n").encode("utf-8")
    return Rendered(body, JSON_TYPE, len(hits), _last_modified(h.event for h in hits))


def atom_feed(
    conn: sqlite3.Connection,
    query: Query,
    *,
    now: datetime,
    url: str | None = None,
    page_url: str | None = None,
) -> Rendered:
    """Return the upcoming matches as an Atom 1.0 feed (one entry per event)."""
    hits = in_start_order(search(conn, listing_window(query, query.limit or PAGE_LIMIT), now=now))
    body = atom(hits, name=feed_name(query), url=url, page_url=page_url)
    return Rendered(body, ATOM_TYPE, len(hits), _last_modified(h.event for h in hits))


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def atom(
    hits: Sequence[Hit],
    *,
    name: str,
    url: str | None = None,
    page_url: str | None = None,
) -> bytes:
    """Return an Atom 1.0 document of these events (feedgen), deterministic for the same events."""
    from feedgen.feed import FeedGenerator

    from techcal.writers.text import event_when, where

    gen = FeedGenerator()
    gen.id("urn:techcal:feed:" + hashlib.sha256(name.encode()).hexdigest()[:16])
    gen.title(name)
    gen.subtitle("Local tech events gathered by techcal")
    gen.generator("techcal")
    gen.updated(_last_modified(h.event for h in hits) or _EPOCH)
    if url:
        gen.link(href=url, rel="self")
    if page_url:
        gen.link(href=page_url, rel="alternate")
    gen.author({"name": "techcal"})
    for hit in hits:
        event = hit.event
        entry = gen.add_entry(order="append")
        entry.id("urn:techcal:event:" + event["uid"])
        cancelled = event["status"] == "cancelled" or event["removed_at"] is not None
        when = event_when(event)
        entry.title(("Cancelled: " if cancelled else "") + f"{event['title']} ({when})")
        entry.updated(datetime.fromisoformat(event["updated_at"]))
        entry.published(datetime.fromisoformat(event["created_at"]))
        link = web_url(event["url"])
        if link:
            entry.link(href=link, rel="alternate")
        lines = [when]
        place = where(event)
        if place:
            lines.append(place)
        if event["topics"]:
            lines.append("Topics: " + ", ".join(event["topics"]))
        names = [s["name"] for s in hit.sources]
        if names:
            lines.append("Listed by: " + ", ".join(dict.fromkeys(names)))
        if event["description"]:
            lines.append("")
            lines.append(event["description"])
        entry.content("\n".join(lines), type="text")
        for topic in event["topics"]:
            entry.category(term=topic)
    body: bytes = gen.atom_str(pretty=True)
    return body
