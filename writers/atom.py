"""Writing events as an Atom 1.0 feed (with feedgen): one entry per event.

The feed is deterministic: the same events give the same bytes (its
``updated`` is the events' last change, never the time of the request).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from techcal.event import StoredEvent
from techcal.normalise.clean import web_url
from techcal.writers.text import event_when, where

#: the feed's ``updated`` when no event has a change time
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def last_modified(events: Iterable[StoredEvent]) -> datetime | None:
    """Return when the last of these events changed (whole seconds, UTC), None for none."""
    stamps = [e.updated_at for e in events if e.updated_at]
    if not stamps:
        return None
    return max(datetime.fromisoformat(s) for s in stamps).astimezone(UTC).replace(microsecond=0)


def atom(
    events: Sequence[StoredEvent],
    *,
    name: str,
    url: str | None = None,
    page_url: str | None = None,
) -> bytes:
    """Return an Atom 1.0 document of these events, deterministic for the same events."""
    from feedgen.feed import FeedGenerator

    gen = FeedGenerator()
    gen.id("urn:techcal:feed:" + hashlib.sha256(name.encode()).hexdigest()[:16])
    gen.title(name)
    gen.subtitle("Local tech events gathered by techcal")
    gen.generator("techcal")
    gen.updated(last_modified(events) or _EPOCH)
    if url:
        gen.link(href=url, rel="self")
    if page_url:
        gen.link(href=page_url, rel="alternate")
    gen.author({"name": "techcal"})
    for event in events:
        _entry(gen.add_entry(order="append"), event)
    body: bytes = gen.atom_str(pretty=True)
    return body


def _entry(entry: Any, event: StoredEvent) -> None:
    """Fill a feedgen entry with one event."""
    entry.id("urn:techcal:event:" + event.uid)
    cancelled = event.status == "cancelled" or event.removed_at is not None
    when = event_when(event)
    entry.title(("Cancelled: " if cancelled else "") + f"{event.title} ({when})")
    entry.updated(datetime.fromisoformat(str(event.updated_at)))
    entry.published(datetime.fromisoformat(str(event.created_at)))
    link = web_url(event.url)
    if link:
        entry.link(href=link, rel="alternate")
    lines = [when]
    place = where(event)
    if place:
        lines.append(place)
    if event.topics:
        lines.append("Topics: " + ", ".join(event.topics))
    names = [s.name for s in event.sources]
    if names:
        lines.append("Listed by: " + ", ".join(dict.fromkeys(names)))
    if event.description:
        lines.append("")
        lines.append(event.description)
    entry.content("\n".join(lines), type="text")
    for topic in event.topics:
        entry.category(term=topic)
