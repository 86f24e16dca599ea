"""A VEVENT's properties as Event fields (text, place, links, organizer), and why one failed."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import icalendar
from icalendar.cal import Component
from icalendar.prop import vBroken

from techcal.feeds.place import find_urls, online_url, says_online, split_location
from techcal.feeds.text import plain_text

# links that are the event's own page, preferred over other links in a DESCRIPTION
_EVENT_PAGE = re.compile(
    r"meetup\.com/[^/]+/events/|//lu\.ma/|//luma\.com/|eventbrite\.|/events?/", re.I
)
# properties whose unreadable values are dropped so the rest of the VEVENT still counts
_OPTIONAL = frozenset(
    {"DTEND", "DURATION", "EXDATE", "RDATE", "SUMMARY", "DESCRIPTION", "LOCATION", "URL"}
    | {"CATEGORIES", "ORGANIZER", "STATUS", "X-ALT-DESC"}
)
# LOCATIONs that name a meeting service rather than a place (Outlook, Google, Apple)
_MEETING_ONLY = re.compile(
    r"^\s*(microsoft teams( meeting)?|teams meeting|zoom( meeting)?|google meet|webex"
    r"( meeting)?|jitsi( meet)?|skype( meeting)?|discord|online( event| meeting)?)\s*$",
    re.I,
)
# Meetup writes "Venue (street, city)"
_NAME_AND_ADDRESS = re.compile(r"^(?P<venue>[^()]+?)\s*\((?P<address>[^()]*\d[^()]*)\)$")
_BROKEN = re.compile(r"on broken property '([A-Za-z0-9-]+)' \(expected '[^']*'\): (.*)", re.S)
_APPLE_PLACE = "X-APPLE-STRUCTURED-LOCATION"


def prop_value(event: Component, name: str) -> Any:
    """Return the date, datetime or duration of a property (raises when absent or unreadable)."""
    prop: Any = event[name]
    return prop.dt


def text_of(event: Component, name: str) -> str:
    """Return a text property as str ('' when absent; the first when repeated)."""
    value = event.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return "" if value is None else str(value)


def raw_text(value: object) -> str:
    """Return a property's value as written in the file."""
    raw = getattr(value, "to_ical", lambda: value)()
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def plain_description(text: str) -> str:
    """Return plain text, also for HTML escaped twice (Trumba writes ``&lt;br /&gt;``)."""
    once = plain_text(text)
    return plain_text(once) if "<" in once and once != text else once


def place_of(
    location: str, description: str, url: str | None
) -> tuple[str | None, str | None, bool, str | None]:
    """Return (venue, address, online, online_url) from LOCATION, DESCRIPTION and URL."""
    physical = location
    for link in find_urls(location):
        physical = physical.replace(link, " ")
    physical = physical.strip(" ,;-|\n")
    if says_online(physical) or _MEETING_ONLY.match(physical):
        physical = ""
    named = _NAME_AND_ADDRESS.match(physical)
    if named:
        venue, address = named.group("venue"), named.group("address")
    else:
        venue, address = split_location(physical)
    meeting = online_url(location) or online_url(description) or online_url(url)
    # a meeting link in the description of an event with a room is a stream, not the venue
    online = (
        says_online(location)
        or bool(_MEETING_ONLY.match(location))
        or (meeting is not None and venue is None and address is None)
    )
    return venue, address, online, (meeting if online else None)


def page_link(location: str, description: str) -> str | None:
    """Return the event's own page when a platform wrote it into LOCATION or DESCRIPTION."""
    for text in (location, description):
        links = [link for link in find_urls(text) if online_url(link) is None]
        pages = [link for link in links if _EVENT_PAGE.search(link)]
        if pages or links:
            return (pages or links)[0]
    return None


def apple_geo(event: Component) -> tuple[float | None, float | None]:
    """Return (lat, lon) from Apple's X-APPLE-STRUCTURED-LOCATION ``geo:`` URI, if any."""
    found = re.search(r"geo:(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)", text_of(event, _APPLE_PLACE))
    if not found:
        return None, None
    lat, lon = float(found.group(1)), float(found.group(2))
    return (lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else (None, None)


def categories_of(event: Component) -> tuple[str, ...]:
    """Return every CATEGORIES value, in order, once each."""
    values = event.get("CATEGORIES")
    found: dict[str, None] = {}
    for prop in values if isinstance(values, list) else [values] if values is not None else []:
        for value in getattr(prop, "cats", ()):
            text = str(value).strip()
            if text:
                found.setdefault(text, None)
    return tuple(found)


def organizer_of(event: Component) -> str | None:
    """Return the organizer's name (CN) or, failing that, the address without ``mailto:``."""
    value = event.get("ORGANIZER")
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    name = str(getattr(value, "params", {}).get("CN", "")).strip().strip('"')
    if name:
        return name
    address = re.sub(r"^mailto:", "", str(value).strip(), flags=re.I)
    return address or None


def made_up_uid(event: Component) -> str:
    """Return a UID for a VEVENT without one, the same on every read of the same entry."""
    start = event.get("DTSTART")
    raw = start.to_ical().decode() if hasattr(start, "to_ical") else ""
    digest = hashlib.sha1(f"{raw}|{text_of(event, 'SUMMARY')}".encode()).hexdigest()
    return f"{digest[:20]}@techcal.invalid"


def drop_broken(event: Component) -> list[str]:
    """Remove unreadable optional values from ``event``; return what was dropped, as phrases."""
    dropped = []
    for name, problem in getattr(event, "errors", ()):
        if name is None:
            dropped.append(f"unreadable line ({short_error(Exception(problem))})")
        elif name in _OPTIONAL and name in event:
            value = event[name]
            kept = (
                [v for v in value if not isinstance(v, vBroken)] if isinstance(value, list) else []
            )
            del event[name]
            for item in kept:
                event.add(name, item)
            dropped.append(f"bad {name} ({short_error(Exception(problem))})")
    return dropped[:1] + ([f"{len(dropped) - 1} more"] if len(dropped) > 1 else [])


def reason(error: Exception) -> str:
    """Return why a VEVENT failed, in the words a source owner would understand."""
    if isinstance(error, KeyError):
        return f"{error.args[0]} missing"
    broken = _BROKEN.search(str(error))
    if broken:  # icalendar's wording names its own types; say which property and why
        return f"bad {broken.group(1)} ({short_error(Exception(broken.group(2)))})"
    if isinstance(error, ValueError | icalendar.error.InvalidCalendar):
        return short_error(error)
    return f"{type(error).__name__}: {short_error(error)}"


def short_error(error: Exception) -> str:
    """Return a one-line, bounded description of ``error``."""
    message = " ".join(str(error).split()) or type(error).__name__
    return message if len(message) <= 120 else message[:117] + "..."
