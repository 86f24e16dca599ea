"""The web page: a filter form, the matching upcoming events, subscribe links.

Rendered with Jinja2 with autoescaping on: titles, places and every other
text from sources are untrusted and reach the page only escaped. The page
needs no JavaScript. The server renders it per request; ``techcal
publish`` renders it once, with the list of its feeds instead of the form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from techcal.event import KINDS, StoredEvent
from techcal.normalise.clean import web_url
from techcal.store.upcoming import TopicCount
from techcal.writers.text import event_when, where


@dataclass(frozen=True)
class Links:
    """Where a filter's feeds live, and how to subscribe to its calendar."""

    ics: str
    webcal: str
    google: str
    atom: str
    json: str | None = None

    @classmethod
    def make(
        cls,
        base_url: str,
        pairs: Sequence[tuple[str, str]] = (),
        *,
        ics: str = "calendar.ics",
        atom: str = "events.atom",
        json: str | None = "events.json",
    ) -> Links:
        """Return the links of feeds under ``base_url`` for these parameters."""
        base = base_url if base_url.endswith("/") else base_url + "/"
        query = ("?" + urlencode(pairs)) if pairs else ""
        ics_url = base + ics + query
        return cls(
            ics=ics_url,
            webcal=webcal(ics_url),
            google="https://calendar.google.com/calendar/r?cid=" + quote(webcal(ics_url), safe=""),
            atom=base + atom + query,
            json=(base + json + query) if json else None,
        )


def webcal(url: str) -> str:
    """Return the ``webcal://`` form of an http(s) URL (calendar apps open it)."""
    parts = urlsplit(url)
    return urlunsplit(("webcal", *parts[1:]))


@lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("techcal.publish", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def event_rows(events: Sequence[StoredEvent]) -> list[dict[str, Any]]:
    """Return what the page shows of each event, times in the event's own zone."""
    return [
        {
            "id": event.id,
            "when": event_when(event),
            "start": event.start,
            "title": event.title,
            "url": web_url(event.url),
            "place": where(event),
            "distance": None if event.distance_km is None else round(event.distance_km),
            "topics": event.topics,
            "kind": event.kind,
            "cancelled": event.status == "cancelled" or event.removed_at is not None,
            "sources": list(dict.fromkeys(s.name for s in event.sources)),
            "series": event.series.text if event.series is not None else None,
        }
        for event in events
    ]


def render_page(
    *,
    title: str,
    events: Sequence[StoredEvent],
    links: Links,
    form: dict[str, Any] | None,
    topics: Sequence[TopicCount] = (),
    error: str | None = None,
    feeds: Sequence[tuple[str, Links]] = (),
    generated: datetime | None = None,
) -> str:
    """Return the HTML page.

    ``form`` holds the current filter values (None: no form, as on a static
    site, which lists ``feeds`` instead); ``topics`` are those to choose from.
    """
    template = _environment().get_template("index.html")
    return str(
        template.render(
            title=title,
            events=event_rows(events),
            links=links,
            form=form,
            topics=topics,
            kinds=KINDS,
            error=error,
            feeds=feeds,
            generated=generated,
        )
    )
