"""schema.org Event objects (JSON-LD) -> Event records, and the date rules every feed reader shares.

Used by the RSS/Atom reader for JSON-LD embedded in entries, and meant for
the crawler's pages too: it takes already-decoded JSON objects, never bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from techcal.event import Event, zone_named
from techcal.feeds.base import SourceDefaults
from techcal.feeds.place import online_url, says_online, split_location
from techcal.feeds.text import plain_text

#: schema.org types that are events (Event and its subtypes, plus ones sites invent)
EVENT_TYPES = frozenset(
    {
        "Event",
        "BusinessEvent",
        "ChildrensEvent",
        "ComedyEvent",
        "CourseInstance",
        "DanceEvent",
        "DeliveryEvent",
        "EducationEvent",
        "EventSeries",
        "ExhibitionEvent",
        "Festival",
        "FoodEvent",
        "Hackathon",
        "LiteraryEvent",
        "MusicEvent",
        "PublicationEvent",
        "SaleEvent",
        "ScreeningEvent",
        "SocialEvent",
        "SportsEvent",
        "TheaterEvent",
        "VisualArtsEvent",
    }
)
_STATUSES = {
    "eventcancelled": "cancelled",
    "eventpostponed": "tentative",
    "eventscheduled": "confirmed",
    "eventrescheduled": "confirmed",
    "eventmovedonline": "confirmed",
}
_SCRIPT = re.compile(
    r"<script[^>]*type\s*=\s*[\"']?application/ld\+json[\"']?[^>]*>(.*?)</script\s*>",
    re.I | re.S,
)
_DATE_ONLY = re.compile(r"^\d{4}-?\d{2}-?\d{2}$")


@dataclass(frozen=True)
class When:
    """A parsed point in time: aware ``value``, the zone name to keep, and whether it was a date."""

    value: datetime
    timezone: str
    all_day: bool = False
    #: set when the time had no zone and one was assumed
    assumed: str | None = None


def parse_when(value: Any, zone_name: str | None) -> When | None:
    """Return ``value`` (ISO 8601, RFC 822 or a date) as an aware :class:`When`, or None.

    Floating times are read in ``zone_name`` (else UTC, flagged in
    ``assumed``); an offset that agrees with ``zone_name``, or plain UTC,
    is shown in that zone so the record keeps its IANA name.

    >>> w = parse_when("2026-11-24T18:30:00-08:00", "America/Los_Angeles")
    >>> w.value.isoformat(), w.timezone
    ('2026-11-24T18:30:00-08:00', 'America/Los_Angeles')
    >>> w = parse_when("2026-11-24", None)
    >>> w.value.isoformat(), w.all_day
    ('2026-11-24T00:00:00+00:00', True)
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    zone = zone_named(zone_name)
    if _DATE_ONLY.match(text):
        try:
            day = date.fromisoformat(text if "-" in text else f"{text[:4]}-{text[4:6]}-{text[6:]}")
        except ValueError:
            return None
        return When(datetime.combine(day, time(), zone or UTC), _zone_label(zone), all_day=True)
    moment = _parse_datetime(text)
    if moment is None:
        return None
    if moment.tzinfo is None:
        if zone is not None:
            return When(moment.replace(tzinfo=zone), _zone_label(zone))
        return When(moment.replace(tzinfo=UTC), "UTC", assumed="UTC")
    return _in_zone(moment, zone)


def _parse_datetime(text: str) -> datetime | None:
    iso = text.replace(" ", "T", 1) if re.match(r"^\d{4}-\d{2}-\d{2} \d", text) else text
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        pass
    try:
        # RFC 822 (pubDate); "-0000" and "GMT" come back as UTC
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _in_zone(moment: datetime, zone: ZoneInfo | None) -> When:
    offset = moment.utcoffset()
    if zone is not None and (
        offset == timedelta(0) or moment.astimezone(zone).utcoffset() == offset
    ):
        return When(moment.astimezone(zone), zone.key)
    if offset == timedelta(0):
        return When(moment.astimezone(UTC), "UTC")
    return When(moment, _offset_name(moment.tzinfo, moment))


def _zone_label(zone: ZoneInfo | None) -> str:
    return zone.key if zone is not None else "UTC"


def _offset_name(tz: tzinfo | None, moment: datetime) -> str:
    name = tz.tzname(moment) if tz is not None else None
    return name or "UTC"


def jsonld_objects(markup: str | None) -> tuple[list[Any], list[str]]:
    """Return the JSON values of every ``<script type="application/ld+json">`` in ``markup``.

    Also returns one problem line per block that is not valid JSON.
    """
    found: list[Any] = []
    problems: list[str] = []
    for block in _SCRIPT.findall(markup or ""):
        text = block.strip().removeprefix("<!--").removesuffix("-->").strip()
        if not text:
            continue
        try:
            found.append(json.loads(text))
        except json.JSONDecodeError as exc:
            problems.append(f"JSON-LD block is not valid JSON ({exc.msg} at line {exc.lineno})")
        except ValueError as exc:  # e.g. numbers too long to convert
            problems.append(f"JSON-LD block is not valid JSON ({exc})")
    return found, problems


def event_objects(objects: list[Any]) -> list[dict[str, Any]]:
    """Return the schema.org Event dicts in ``objects``, looking into lists and ``@graph``."""
    found: list[dict[str, Any]] = []
    stack = list(reversed(objects))
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            if _is_event(item):
                found.append(item)
            elif "@graph" in item:
                stack.append(item["@graph"])
    return found


def _is_event(item: dict[str, Any]) -> bool:
    types = item.get("@type")
    names = types if isinstance(types, list) else [types]
    return any(isinstance(t, str) and t.rsplit("/", 1)[-1] in EVENT_TYPES for t in names)


def events_from_jsonld(
    objects: list[Any], defaults: SourceDefaults, base_url: str | None
) -> tuple[list[Event], list[str]]:
    """Return the Events described by schema.org Event objects in ``objects``, and warnings.

    ``base_url`` resolves relative ``url`` values and names the place in
    warnings; an Event without a name or a readable ``startDate`` is skipped
    with a warning.
    """
    events: list[Event] = []
    warnings: list[str] = []
    for item in event_objects(objects):
        event, problems = _event_from(item, defaults, base_url)
        warnings.extend(problems)
        if event is not None:
            events.append(event)
    return events, warnings


def _event_from(
    item: dict[str, Any], defaults: SourceDefaults, base_url: str | None
) -> tuple[Event | None, list[str]]:
    title = plain_text(_text(item.get("name")))
    url = _url(item.get("url"), base_url)
    label = url or title or base_url or "JSON-LD event"
    start = parse_when(_text(item.get("startDate")), defaults.timezone)
    if not title or start is None:
        missing = "name" if not title else f"a readable startDate ({item.get('startDate')!r})"
        return None, [f"{label}: JSON-LD Event without {missing}; skipped"]
    problems = []
    if start.assumed:
        problems.append(f"{label}: startDate has no time zone; taken as {start.assumed}")
    end = parse_when(_text(item.get("endDate")), start.timezone if not start.assumed else None)
    end_value = _end_value(start, end)
    place = _place(item.get("location"))
    description = plain_text(_text(item.get("description")))
    online = place.pop("online", False) or _attends_online(item)
    link = place.pop("online_url", None) or (online_url(description) if online else None)
    uid = _text(item.get("@id")) or url or hash_uid(title, start.value)
    event = Event(
        source=defaults.source,
        source_uid=uid,
        title=title,
        description=description,
        url=url,
        start=start.value,
        end=end_value,
        timezone=start.timezone,
        all_day=start.all_day,
        status=_status(item.get("eventStatus")),
        online=bool(online or link),
        online_url=link,
        kind=defaults.kind,
        topics=defaults.topics,
        categories=_keywords(item.get("keywords")),
        organizer=_name(item.get("organizer")),
        cost=_cost(item.get("offers")),
        **place,
    )
    if event.city is None:
        event.city = defaults.city
    if event.end is not None and event.end < event.start:
        problems.append(f"{label}: endDate is before startDate; end dropped")
        event.end = None
    return event, problems


def _end_value(start: When, end: When | None) -> datetime | None:
    if end is None:
        return None
    if start.all_day and end.all_day and end.value == start.value:
        # a one-day event: schema.org's endDate is inclusive, iCalendar's exclusive
        return start.value + timedelta(days=1)
    if start.all_day and end.all_day:
        return end.value + timedelta(days=1)
    return end.value


def hash_uid(title: str, start: datetime) -> str:
    """Return a stable uid for an event that names none: a hash of its title and start."""
    digest = hashlib.sha1(f"{title}\n{start.isoformat()}".encode()).hexdigest()
    return f"sha1:{digest[:20]}"


def _text(value: Any) -> str | None:
    """Return a plain string from a JSON-LD value (string, number, {"@value"}, first of a list)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("@value", value.get("name"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _url(value: Any, base_url: str | None) -> str | None:
    if isinstance(value, dict):
        value = value.get("@id") or value.get("url")
    text = _text(value)
    if text is None:
        return None
    return urljoin(base_url, text) if base_url else text


def _name(value: Any) -> str | None:
    if isinstance(value, list):
        names = [n for n in (_name(v) for v in value) if n]
        return ", ".join(names) or None
    if isinstance(value, dict):
        return _text(value.get("name"))
    return _text(value)


def _status(value: Any) -> str:
    text = (_text(value) or "").rsplit("/", 1)[-1].lower()
    return _STATUSES.get(text, "confirmed")


def _attends_online(item: dict[str, Any]) -> bool:
    mode = (_text(item.get("eventAttendanceMode")) or "").lower()
    status = (_text(item.get("eventStatus")) or "").lower()
    return "onlineeventattendancemode" in mode or "eventmovedonline" in status


def _place(value: Any) -> dict[str, Any]:
    """Return Event place fields from a schema.org location (Place, VirtualLocation, text, list)."""
    places = value if isinstance(value, list) else [value]
    fields: dict[str, Any] = {}
    for place in places:
        for key, found in _one_place(place).items():
            if found is not None:
                fields.setdefault(key, found)
    return fields


def _one_place(place: Any) -> dict[str, Any]:
    if isinstance(place, str):
        if says_online(place):
            return {"online": True, "online_url": online_url(place)}
        venue, address = split_location(place)
        return {"venue": venue, "address": address}
    if not isinstance(place, dict):
        return {}
    kind = str(place.get("@type") or "")
    if kind.endswith("VirtualLocation"):
        return {"online": True, "online_url": _url(place.get("url"), None)}
    fields: dict[str, Any] = {"venue": _text(place.get("name"))}
    fields.update(_address(place.get("address")))
    fields.update(_geo(place.get("geo")))
    return {k: v for k, v in fields.items() if v is not None}


def _address(value: Any) -> dict[str, Any]:
    if isinstance(value, str) or not isinstance(value, dict):
        return {"address": _text(value)}
    street = _text(value.get("streetAddress"))
    city = _text(value.get("addressLocality"))
    region = _text(value.get("addressRegion"))
    postcode = _text(value.get("postalCode"))
    country = _name(value.get("addressCountry"))
    line = ", ".join(p for p in (street, city, " ".join(filter(None, (region, postcode)))) if p)
    return {"address": line or None, "city": city, "region": region, "country": country}


def _geo(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    try:
        lat = float(value["latitude"])
        lon = float(value["longitude"])
    except (KeyError, TypeError, ValueError):
        return {}
    if -90 <= lat <= 90 and -180 <= lon <= 180:
        return {"lat": lat, "lon": lon}
    return {}


def _keywords(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(k.strip() for k in value.split(",") if k.strip())
    if isinstance(value, list):
        return tuple(t for t in (_text(v) for v in value) if t)
    return ()


def _cost(value: Any) -> str | None:
    offers = value if isinstance(value, list) else [value]
    for offer in offers:
        if not isinstance(offer, dict):
            continue
        price = _text(offer.get("price"))
        if price is None:
            continue
        if price in ("0", "0.0", "0.00"):
            return "free"
        currency = _text(offer.get("priceCurrency"))
        return f"{price} {currency}" if currency else price
    return None
