"""schema.org Event objects (JSON-LD) -> Event records, and the date rules every feed reader shares.

Used by the RSS/Atom reader for JSON-LD embedded in entries, and meant for
the crawler's pages too: it takes already-decoded JSON objects, never bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from techcal.event import Event, zone_named
from techcal.feeds.base import SourceDefaults
from techcal.feeds.place import online_url, says_online, split_location
from techcal.feeds.scan import event_dicts
from techcal.feeds.text import plain_text

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
_DATE_ONLY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$|^(\d{4})(\d{2})(\d{2})$")
#: ISO 8601 as plugins really write it: EventON's ``2024-5-28T16:30+0:00``, a space or no
#: ``T`` before the time, no seconds, one-digit fields and offsets (``+5:30``, ``-7``)
_NEAR_ISO = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:\s*[Tt]\s*|\s+|(?<=-\d\d)(?=\d\d:))"
    r"(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?"
    r"\s*(?:(Z|UTC|GMT)|([+-])(\d{1,2})(?::?(\d{2}))?(?::00)?)?",
    re.I,
)


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
    day = _date_only(text)
    if day is not None:
        return When(datetime.combine(day, time(), zone or UTC), _zone_label(zone), all_day=True)
    if _DATE_ONLY.match(text):
        return None  # the shape of a date, not a real one (2024-13-99)
    moment = _parse_datetime(text)
    if moment is None:
        return None
    if moment.tzinfo is None:
        if zone is not None:
            return When(moment.replace(tzinfo=zone), _zone_label(zone))
        return When(moment.replace(tzinfo=UTC), "UTC", assumed="UTC")
    return _in_zone(moment, zone)


def _date_only(text: str) -> date | None:
    """Return the day ``text`` names when it is only a date (``2024-05-28``, ``2024-5-8``)."""
    match = _DATE_ONLY.match(text)
    if match is None:
        return None
    year, month, day = (int(n) for n in (match.groups()[:3] if match[1] else match.groups()[3:]))
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _parse_datetime(text: str) -> datetime | None:
    """Return ``text`` (ISO 8601, near-ISO as plugins write it, or RFC 822) as a datetime."""
    iso = text.replace(" ", "T", 1) if re.match(r"^\d{4}-\d{2}-\d{2} \d", text) else text
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        pass
    near = _near_iso(text)
    if near is not None:
        return near
    try:
        # RFC 822 (pubDate); "-0000" and "GMT" come back as UTC
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _near_iso(text: str) -> datetime | None:
    """Return a near-ISO date-time (unpadded fields, ``+0:00`` offsets), or None.

    >>> _near_iso("2024-5-28T16:30+0:00").isoformat()
    '2024-05-28T16:30:00+00:00'
    >>> _near_iso("2024-05-28 9:05 +5:30").isoformat()
    '2024-05-28T09:05:00+05:30'
    >>> _near_iso("2024-13-28T16:30") is None, _near_iso("2024-05-28T16:30+31:00") is None
    (True, True)
    """
    match = _NEAR_ISO.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, utc, sign, hours, minutes = match.groups()
    zone: tzinfo | None = None
    if utc:
        zone = UTC
    elif sign:
        offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if int(hours) > 18 or int(minutes or 0) > 59:
            return None
        zone = timezone(-offset if sign == "-" else offset)
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=zone,
        )
    except ValueError:
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


def events_from_jsonld(
    objects: list[Any], defaults: SourceDefaults, base_url: str | None
) -> tuple[list[Event], list[str]]:
    """Return the Events described by schema.org Event objects in ``objects``, and warnings.

    Events are found as :func:`~techcal.feeds.scan.event_dicts` finds them:
    in lists, ``@graph``, ``ItemList`` entries, ``subEvent`` and other things'
    properties. ``base_url`` resolves relative ``url`` values; an Event that
    cannot be read is skipped with one warning naming it and the problem.
    """
    events: list[Event] = []
    warnings: list[str] = []
    for item in event_dicts(objects):
        event, problems = event_from_object(item, defaults, base_url)
        warnings.extend(problems)
        if event is not None:
            events.append(event)
    return events, warnings


def event_from_object(
    item: dict[str, Any], defaults: SourceDefaults, base_url: str | None, syntax: str = "JSON-LD"
) -> tuple[Event | None, list[str]]:
    """Return the Event one schema.org Event object describes (None when it cannot), and warnings.

    Every warning names the event (its URL, else its title) and, when the
    event is skipped, why; ``syntax`` says where the object was written.

    >>> event, problems = event_from_object(
    ...     {"@type": "Event", "name": "Monthly meeting", "startDate": "2024-13-99"},
    ...     SourceDefaults(source="plug"), None)
    >>> event, problems
    (None, ['JSON-LD event "Monthly meeting": startDate "2024-13-99" is not a date; skipped'])
    """
    title = plain_text(_text(item.get("name")))
    url = _url(item.get("url"), base_url)
    kind = syntax if syntax.lower().endswith("event") else f"{syntax} event"
    what = f'{kind} "{_clipped(title)}"' if title else kind
    label = f"{url}: {what}" if url else what
    raw_start = item.get("startDate")
    start = parse_when(_text(raw_start), defaults.timezone)
    if not title:
        when = f" (startDate {_shown(raw_start)})" if raw_start not in (None, "", []) else ""
        return None, [f"{label} without a name{when}; skipped"]
    if start is None:
        if raw_start in (None, "", []):
            return None, [f"{label} has no startDate; skipped"]
        return None, [f"{label}: startDate {_shown(raw_start)} is not a date; skipped"]
    problems = []
    if start.assumed:
        problems.append(f"{label}: startDate has no time zone; taken as {start.assumed}")
    raw_end = item.get("endDate")
    end = parse_when(_text(raw_end), start.timezone if not start.assumed else None)
    if end is None and raw_end not in (None, "", []):
        problems.append(f"{label}: endDate {_shown(raw_end)} is not a date; end left open")
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
        cost=cost_of(item.get("offers"), item.get("isAccessibleForFree")),
        **place,
    )
    if event.city is None:
        event.city = defaults.city
    if event.end is not None and event.end < event.start:
        problems.append(f"{label}: endDate is before startDate; end dropped")
        event.end = None
    return event, problems


def _clipped(text: str, limit: int = 80) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _shown(value: Any) -> str:
    """Return a JSON-LD value as a warning quotes it: one line, short, in double quotes."""
    if isinstance(value, str):
        return f'"{_clipped(value, 60)}"'
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    return _clipped(text, 60)


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


def cost_of(offers: Any, accessible_for_free: Any = None) -> str | None:
    """Return what an event costs, from its ``offers`` (Offers and AggregateOffers, or a list).

    A price range covers every offer of one currency; an event whose prices
    are all zero, or that is ``isAccessibleForFree`` and names no price, is
    ``free``.

    >>> cost_of({"@type": "AggregateOffer", "lowPrice": "10.00", "highPrice": "25.00",
    ...          "priceCurrency": "USD"})
    '10.00–25.00 USD'
    >>> cost_of([{"@type": "Offer", "price": 0, "priceCurrency": "EUR"},
    ...          {"@type": "AggregateOffer", "lowPrice": 5, "highPrice": 12}])
    '0–12 EUR'
    >>> cost_of([], "True")
    'free'
    """
    prices: list[tuple[float, str]] = []
    words: list[str] = []  # prices that are not numbers ("Donation"): said when nothing else is
    currency: str | None = None
    for offer in offers if isinstance(offers, list) else [offers]:
        if not isinstance(offer, dict):
            continue
        found = _offer_prices(offer, words)
        if not found:
            continue
        own = _text(offer.get("priceCurrency"))
        if prices and own and currency and own.upper() != currency.upper():
            continue  # one currency per range; the first offer's wins
        currency = currency or own
        prices.extend(found)
    free = str(accessible_for_free).rsplit("/", 1)[-1].lower() == "true"
    if not prices:
        return "free" if free else (words[0] if words else None)
    low = min(prices, key=lambda p: p[0])
    high = max(prices, key=lambda p: p[0])
    if high[0] == 0:
        return "free"
    amount = low[1] if low[0] == high[0] else f"{low[1]}–{high[1]}"
    return f"{amount} {currency}" if currency else amount


def _offer_prices(offer: dict[str, Any], words: list[str]) -> list[tuple[float, str]]:
    """Return an offer's prices (value, as written): its price, else its low and high price.

    A price that is no number is added to ``words`` (with its currency).
    """
    found = []
    keys = ("price",) if _text(offer.get("price")) is not None else ("lowPrice", "highPrice")
    for key in keys:
        text = _text(offer.get(key))
        if text is None:
            continue
        if text.casefold() == "free":
            found.append((0.0, "0"))
            continue
        value = _number(text)
        if value is not None:
            if value >= 0:
                found.append((value, text.lstrip("$€£").strip()))
        else:
            currency = _text(offer.get("priceCurrency"))
            words.append(f"{text} {currency}" if currency else text)
    return found


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(",", "").lstrip("$€£").strip())
    except ValueError:
        return None
    return value if value == value and value != float("inf") else None
