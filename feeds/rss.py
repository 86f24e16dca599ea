"""RSS and Atom feeds -> Event records (feedparser).

An entry becomes an Event only when it carries event data: schema.org
JSON-LD in its content, xCal elements (Trumba and others), the RSS event
module (``ev:``), hCalendar / Drupal date markup in its HTML, or a platform
convention that two fields confirm (The Events Calendar's pubDate, Localist's
date line plus ``dc:date``). Any other entry is a page for the crawler to
visit: its publication date is never taken for an event date. Where the
event data is found is :mod:`techcal.feeds.rss_event_data`.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from typing import Any

import feedparser

from techcal.event import Event
from techcal.feeds.base import ReadResult, SourceDefaults, Window, drop_unusable
from techcal.feeds.jsonld import events_from_jsonld, hash_uid, jsonld_objects
from techcal.feeds.place import online_url, says_online, split_location
from techcal.feeds.rss_event_data import Feed, Found, find_event_data
from techcal.feeds.scan import event_dicts
from techcal.feeds.text import plain_text

_CANCELLED = re.compile(r"^\s*[\[(]?\s*(cancell?ed|abgesagt|annul[ée]e?)\b", re.I)
#: Trumba files each item under a category that is just its date: not a topic
_DATE_CATEGORY = re.compile(r"^\d{4}/\d{2}/\d{2}\b")
_UTF16_DECLARED = re.compile(r"encoding=[\"']utf-16[^\"']*[\"']", re.I)


def read_feed(data: bytes, defaults: SourceDefaults, *, window: Window | None = None) -> ReadResult:
    """Return the events an RSS/Atom body announces, the pages to visit, and warnings.

    Never raises: a malformed feed yields what parsed plus one warning; a body
    that is not a feed yields no events and one warning. ``window`` is
    accepted for the reader contract; feed entries are single events.
    """
    result = ReadResult()
    try:
        _read(data, defaults, result)
    except Exception as error:  # noqa: BLE001 - a reader must never sink the crawl
        result.warn(f"{defaults.source}: feed reader failed ({type(error).__name__})")
        result.failed_entries += 1  # what was lost is unknown: never treat this read as whole
    return result


def _read(data: bytes, defaults: SourceDefaults, result: ReadResult) -> None:
    if not data or not data.strip():
        result.recognised = False
        result.warn(f"{defaults.source}: empty body, not a feed")
        return
    try:
        parsed = _parse(data)
    except Exception as exc:  # noqa: BLE001 - feedparser promises not to raise; stay pure anyway
        result.recognised = False
        result.warn(f"{defaults.source}: feed could not be parsed ({exc!r})")
        return
    if not parsed.get("version") and not parsed.entries:
        result.recognised = False
        result.warn(f"{defaults.source}: not an RSS or Atom feed ({_problem(parsed)})")
        return
    if parsed.get("bozo"):
        result.warn(f"{defaults.source}: feed is malformed, read what parsed ({_problem(parsed)})")
        if not isinstance(parsed.get("bozo_exception"), feedparser.CharacterEncodingOverride):
            # a feed that breaks mid-way may have lost entries after the break:
            # the store must not take missing entries for removed ones
            result.failed_entries += 1
    feed = Feed(defaults, tribe=_is_tribe_feed(parsed))
    for entry in parsed.entries:
        _read_entry(entry, feed, result)
    drop_unusable(result)


def _parse(data: bytes) -> Any:
    """Return feedparser's result for ``data``, retrying UTF-16 that has no BOM as UTF-8."""
    # unsanitised: the sanitiser drops <script>, and JSON-LD lives there;
    # the HTML only ever goes through plain_text, never out as markup
    parsed = feedparser.parse(io.BytesIO(data), sanitize_html=False)
    if parsed.get("version") or parsed.entries:
        return parsed
    recoded = _from_bomless_utf16(data)
    if recoded is None:
        return parsed
    again = feedparser.parse(io.BytesIO(recoded), sanitize_html=False)
    return again if again.get("version") or again.entries else parsed


def _from_bomless_utf16(data: bytes) -> bytes | None:
    """Return ``data`` as UTF-8 when it is UTF-16 without a byte order mark.

    feedparser needs a BOM or a declaration to see UTF-16.
    """
    head = data[:200]
    if len(head) < 20 or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    for codec, zeros in (("utf-16-le", head[1::2]), ("utf-16-be", head[0::2])):
        if zeros.count(0) > len(zeros) * 0.9:
            text = data.decode(codec, errors="replace")
            text = _UTF16_DECLARED.sub('encoding="utf-8"', text, count=1)
            return text.encode("utf-8")
    return None


def _problem(parsed: Any) -> str:
    exc = parsed.get("bozo_exception")
    if exc is None:
        return "no feed elements found"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _is_tribe_feed(parsed: Any) -> bool:
    """Return True for The Events Calendar's feed, whose pubDate is each event's start."""
    links = [link.get("href", "") for link in parsed.feed.get("links", [])]
    ids = [entry.get("id", "") for entry in parsed.entries]
    return any("tribe_events" in value for value in links + ids) or any(
        re.search(r"/events?/feed/?(?:\?|$)", link) for link in links
    )


def _label(entry: Any) -> str:
    """Return how warnings name ``entry``: its id, else its link or title."""
    return entry.get("id") or entry.get("link") or entry.get("title") or "entry without id"


def _read_entry(entry: Any, feed: Feed, result: ReadResult) -> None:
    """Add what one entry announces; an entry that cannot be read costs only itself."""
    label = _label(entry)
    try:
        _read_entry_data(entry, label, feed, result)
    except (ValueError, OverflowError, RecursionError, TypeError, KeyError) as exc:
        # dates past the year 9999, broken URLs, JSON nested too deep...
        result.failed_entries += 1
        result.warn(f"{label}: unreadable entry ({type(exc).__name__}: {exc}); skipped")


def _read_entry_data(entry: Any, label: str, feed: Feed, result: ReadResult) -> None:
    """Add the events of one entry (JSON-LD first), else its page to visit."""
    html = _entry_html(entry)
    objects, problems = jsonld_objects(html)
    result.warn_all(f"{label}: {p}" for p in problems)
    skipped = 0
    if objects:
        events, warnings = events_from_jsonld(objects, feed.defaults, entry.get("link"))
        result.warn_all(f"{label}: {w}" for w in warnings)
        # each skipped one was warned of; the entry is not read whole either way
        skipped = len(event_dicts(objects)) - len(events)
        if events:
            result.failed_entries += 1 if skipped else 0
            result.events.extend(_fill_from_entry(events, entry, feed.defaults))
            return
    try:
        found, problems = find_event_data(entry, html, feed)
    except Exception as exc:  # noqa: BLE001 - one odd entry must not cost the others
        found, problems = None, [f"could not read its event data ({exc!r})"]
    result.warn_all(f"{label}: {p}" for p in problems)
    if found is None:
        if problems or skipped:
            result.failed_entries += 1
        if entry.get("link") and entry["link"] not in result.pages:
            result.pages.append(entry["link"])
        return
    result.events.append(_event(entry, html, found, feed.defaults))


def _entry_html(entry: Any) -> str:
    """Return the entry's richest HTML: content:encoded / Atom content, else its summary."""
    for content in entry.get("content") or []:
        if content.get("value"):
            return str(content["value"])
    return str(entry.get("summary") or "")


def _fill_from_entry(events: list[Event], entry: Any, defaults: SourceDefaults) -> list[Event]:
    """Return JSON-LD events with the entry's identity, link and tags where they are silent."""
    tags = _categories(entry)
    for index, event in enumerate(events):
        if entry.get("id") or entry.get("link"):
            uid = entry.get("id") or entry.get("link")
            event.source_uid = uid if len(events) == 1 else f"{uid}#{index + 1}"
        event.url = event.url or entry.get("link")
        event.categories = event.categories or tuple(tags)
        if not event.description:
            event.description = plain_text(_entry_html(entry))
    return events


def _event(entry: Any, html: str, found: Found, defaults: SourceDefaults) -> Event:
    """Return the Event of an entry whose event data is ``found``."""
    title = plain_text(entry.get("title") or entry.get("xcal_summary")) or "(untitled)"
    description = plain_text(entry.get("xcal_description") or html)
    start, end, all_day = _times(found)
    venue, address = split_location(found.location)
    online = says_online(found.location)
    link = online_url(found.location) or online_url(description)
    if online:
        venue, address = None, None
    lat, lon = _coordinates(entry)
    return Event(
        source=defaults.source,
        source_uid=entry.get("id") or entry.get("link") or hash_uid(title, start),
        title=title,
        description=description,
        url=entry.get("link"),
        start=start,
        end=end,
        timezone=found.start.timezone,
        all_day=all_day,
        status=found.status or ("cancelled" if _CANCELLED.match(title) else "confirmed"),
        venue=venue,
        address=address,
        city=defaults.city,
        lat=lat,
        lon=lon,
        online=online or (found.location is None and link is not None),
        online_url=link if (online or found.location is None) else None,
        kind=defaults.kind,
        topics=defaults.topics,
        categories=tuple(dict.fromkeys(_categories(entry) + found.categories)),
        organizer=found.organizer,
        cost=found.cost,
    )


def _times(found: Found) -> tuple[datetime, datetime | None, bool]:
    """Return start, end and all-day; a date-only (or flagged all-day) event ends a day later."""
    start = found.start.value
    all_day = bool(found.all_day) or found.start.all_day
    if all_day and not found.start.all_day:
        start = start.replace(hour=0, minute=0, second=0, microsecond=0)
    end = found.end.value if found.end else None
    if all_day and end is not None and found.end is not None and found.end.all_day:
        # an all-day end written as a date is the last day, inclusive
        end = end + timedelta(days=1) if end >= start else None
    if end is not None and end < start:
        end = None
    return start, end, all_day


def _coordinates(entry: Any) -> tuple[float | None, float | None]:
    """Return (lat, lon) from GeoRSS, when it is a real point on Earth."""
    try:
        lat, lon = float(entry["geo_lat"]), float(entry["geo_long"])
    except (KeyError, TypeError, ValueError):
        where = entry.get("where") or {}
        coords = where.get("coordinates") if where.get("type") == "Point" else None
        if not coords:
            return None, None
        lon, lat = float(coords[0]), float(coords[1])
    if -90 <= lat <= 90 and -180 <= lon <= 180:
        return lat, lon
    return None, None


def _categories(entry: Any) -> list[str]:
    """Return the entry's tags, less Trumba's date categories."""
    terms = [str(t.get("term") or "").strip() for t in entry.get("tags") or []]
    return [t for t in terms if t and not _DATE_CATEGORY.match(t)]
