"""Writing events as iCalendar (RFC 5545, with RFC 7986's calendar properties).

Each event keeps its published UID and SEQUENCE, its own time zone (with
the VTIMEZONE it needs: clients misplace a TZID they cannot resolve), DATE
values when it is all-day, and STATUS:CANCELLED when cancelled or no longer
listed. DTSTAMP and LAST-MODIFIED are the time of the event's last change,
never of the request, so an unchanged store gives byte-identical feeds.

Two ways to a feed, with the same bytes (a test holds them to it):

- :func:`calendar` builds everything with icalendar: simple, about 1,800
  events a second;
- :func:`event_block` renders one VEVENT once (the store keeps it until the
  event changes) and :func:`assemble` joins stored blocks under a header
  with the VTIMEZONEs they need: a 10,000-event feed in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from icalendar import Calendar, Event, Timezone, vCalAddress, vDuration

from techcal.event import StoredEvent, zone_named
from techcal.normalise.clean import web_url
from techcal.store.query import Query

PRODID = "-//techcal//techcal 0.1//EN"
#: bump when vevent() writes anything differently: stored blocks are dropped
RENDER_VERSION = "1"
#: how often clients should fetch a feed again (REFRESH-INTERVAL, X-PUBLISHED-TTL)
DEFAULT_TTL = timedelta(hours=1)
_END = "END:VCALENDAR\r\n"


def _when(text: str, zone: str | None, all_day: bool) -> date | datetime:
    moment = datetime.fromisoformat(text)
    if all_day:
        return moment.date()
    tz = None if zone in _UTC_NAMES else zone_named(zone)
    return moment.astimezone(tz if tz is not None else UTC)


_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Zulu", "Zulu", "GMT", "Etc/GMT"})


def event_zone(event: StoredEvent) -> str | None:
    """Return the TZID a stored event is written in (None: UTC or all-day)."""
    if event.all_day or event.timezone in _UTC_NAMES or zone_named(event.timezone) is None:
        return None
    return event.timezone


def vevent(event: StoredEvent, source_names: Sequence[str] = ()) -> Event:
    """Return the VEVENT of one stored event."""
    item = Event()
    item.add("uid", event.uid)
    changed = _utc(event.updated_at or event.changed_at)
    item.add("dtstamp", changed)
    if event.created_at:
        item.add("created", _utc(event.created_at))
    item.add("last-modified", changed)
    item.add("sequence", event.sequence)
    item.add("dtstart", _when(event.start, event.timezone, event.all_day))
    if event.end:
        item.add("dtend", _when(event.end, event.timezone, event.all_day))
    item.add("summary", event.title)
    removed = event.removed_at is not None
    notes = _notes(event, source_names)
    if notes:
        item.add("description", notes)
    url = web_url(event.url)
    if url:
        item.add("url", url)
    online_url = web_url(event.online_url)
    place = ", ".join(p for p in (event.venue, event.address or event.city) if p)
    if place:
        item.add("location", place)
    elif event.online and online_url:
        item.add("location", online_url)
    if event.lat is not None and event.geo_precision == "exact":
        item.add("geo", (event.lat, event.lon))
    if event.topics:
        item.add("categories", list(event.topics))
    if event.organizer:
        # Google's own exports use this address for someone without e-mail
        organizer = vCalAddress("invalid:nomail")
        organizer.params["cn"] = event.organizer
        item.add("organizer", organizer)
    item.add("status", "CANCELLED" if removed else event.status.upper())
    if source_names:
        item.add("x-techcal-sources", ",".join(source_names))
    return item


def _utc(text: str | None) -> datetime:
    return datetime.fromisoformat(str(text)).astimezone(UTC)


def _notes(event: StoredEvent, source_names: Sequence[str]) -> str:
    """Return the DESCRIPTION: a removal notice, the event's text, its links and sources."""
    notes = []
    if event.removed_at is not None:
        notes.append("No longer listed by its sources: it may have been called off.")
    if event.description:
        notes.append(event.description)
    url = web_url(event.url)
    online_url = web_url(event.online_url)
    extra = [f"Event page: {url}"] if url else []
    if event.online and online_url and online_url != url:
        extra.append(f"Online: {online_url}")
    if event.organizer:
        extra.append(f"Organizer: {event.organizer}")
    if source_names:
        extra.append("Listed by: " + ", ".join(source_names))
    if extra:
        notes.append("\n".join(extra))
    return "\n\n".join(notes)


def render_key() -> str:
    """Return what stored blocks depend on besides the event: this writer and icalendar."""
    from importlib.metadata import version

    return f"{RENDER_VERSION}/icalendar-{version('icalendar')}"


def event_block(event: StoredEvent, source_names: Sequence[str] = ()) -> str:
    """Return one event's VEVENT as text (CRLF lines), ready to store and join."""
    return vevent(event, source_names).to_ical().decode("utf-8")


def header(
    *,
    name: str = "techcal",
    description: str = "",
    ttl: timedelta = DEFAULT_TTL,
    url: str | None = None,
) -> Calendar:
    """Return an empty VCALENDAR with the properties of a published feed."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    if description:
        cal.add("description", description)
        cal.add("x-wr-caldesc", description)
    if url:
        cal.add("source", url, parameters={"value": "URI"})
    cal.add("refresh-interval", ttl, parameters={"value": "DURATION"})
    cal.add("x-published-ttl", vDuration(ttl))
    return cal


@lru_cache(maxsize=512)
def vtimezone(tzid: str) -> Timezone:
    """Return the VTIMEZONE of an IANA zone (1970-2038, as icalendar writes it)."""
    return Timezone.from_tzid(tzid)


@lru_cache(maxsize=512)
def vtimezone_block(tzid: str) -> str:
    """Return the VTIMEZONE of an IANA zone as text."""
    return vtimezone(tzid).to_ical().decode("utf-8")


@lru_cache(maxsize=64)
def _header_text(name: str, description: str, ttl: timedelta, url: str | None) -> str:
    text = header(name=name, description=description, ttl=ttl, url=url).to_ical().decode()
    if not text.endswith(_END):  # pragma: no cover - icalendar always ends so
        raise ValueError("icalendar wrote a calendar without END:VCALENDAR")
    return text[: -len(_END)]


def assemble(
    blocks: Iterable[str],
    tzids: Iterable[str],
    *,
    name: str = "techcal",
    description: str = "",
    ttl: timedelta = DEFAULT_TTL,
    url: str | None = None,
) -> bytes:
    """Join stored VEVENT blocks into a calendar, with the VTIMEZONEs named."""
    parts = [_header_text(name, description, ttl, url)]
    parts.extend(vtimezone_block(tzid) for tzid in sorted(set(tzids)))
    parts.extend(blocks)
    parts.append(_END)
    return "".join(parts).encode("utf-8")


def calendar(
    events: Iterable[tuple[StoredEvent, Sequence[str]]],
    *,
    name: str = "techcal",
    description: str = "",
    ttl: timedelta = DEFAULT_TTL,
    url: str | None = None,
) -> bytes:
    """Return a VCALENDAR of ``events`` (event, source names), built wholly by icalendar."""
    cal = header(name=name, description=description, ttl=ttl, url=url)
    items = []
    zones = set()
    for event, names in events:
        items.append(vevent(event, names))
        tzid = event_zone(event)
        if tzid:
            zones.add(tzid)
    # sorted, not add_missing_timezones(): that walks a set, whose order
    # changes between runs, and feeds must not
    for tzid in sorted(zones):
        cal.add_component(vtimezone(tzid))
    for item in items:
        cal.add_component(item)
    return cal.to_ical()


def feed_name(query: Query) -> str:
    """Return the calendar's name for a query ("techcal: python near Portland, OR, US")."""
    return "techcal: " + describe_window(query)


def calendar_description(query: Query) -> str:
    """Return the DESCRIPTION of a published calendar of ``query``."""
    return (
        f"Local tech events: {describe_window(query)}. Gathered by techcal from the groups' own"
        " calendars, feeds and pages; updated hourly."
    )


def describe_window(query: Query) -> str:
    """Return what a query asks for, its radius and its dates ("python near Berlin (50 km)")."""
    text = query.describe()
    if query.near is not None:
        text = text.replace(f"within {query.within_km:g} km of ", "near ")
        text += f" ({query.within_km:g} km)"
    if query.start is not None:
        text += f" from {query.start:%Y-%m-%d}"
    if query.end is not None:
        text += f" to {query.end - timedelta(microseconds=1):%Y-%m-%d}"
    return text
