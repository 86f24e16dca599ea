"""Writing events as iCalendar (RFC 5545), with icalendar.

Each event keeps its published UID and SEQUENCE, its own time zone (with
the VTIMEZONE it needs, since clients misplace a TZID they cannot resolve),
DATE values when it is all-day, and STATUS:CANCELLED when cancelled.
DTSTAMP is the time of the event's last change, so unchanged events give
byte-identical output.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, Event

PRODID = "-//techcal//techcal//EN"


def _when(text: str, zone: str | None, all_day: bool) -> date | datetime:
    moment = datetime.fromisoformat(text)
    if all_day:
        return moment.date()
    if zone:
        try:
            return moment.astimezone(ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return moment.astimezone(UTC)


def vevent(event: dict[str, Any], sources: Iterable[dict[str, Any]] = ()) -> Event:
    """Return the VEVENT of one stored event (a search result's ``event``)."""
    item = Event()
    item.add("uid", event["uid"])
    item.add("dtstamp", datetime.fromisoformat(event["changed_at"]).astimezone(UTC))
    item.add("sequence", event["sequence"])
    all_day = event["all_day"]
    item.add("dtstart", _when(event["start"], event["timezone"], all_day))
    if event["end"]:
        item.add("dtend", _when(event["end"], event["timezone"], all_day))
    item.add("summary", event["title"])
    names = [s["name"] for s in sources]
    description = event["description"] or ""
    extra = [f"Event page: {event['url']}"] if event["url"] else []
    if event["organizer"]:
        extra.append(f"Organizer: {event['organizer']}")
    if names:
        extra.append("Listed by: " + ", ".join(names))
    item.add("description", "\n\n".join(p for p in (description, "\n".join(extra)) if p))
    if event["url"]:
        item.add("url", event["url"])
    place = ", ".join(p for p in (event["venue"], event["address"] or event["city"]) if p)
    if place:
        item.add("location", place)
    elif event["online"] and event["online_url"]:
        item.add("location", event["online_url"])
    if event["lat"] is not None and event["geo_precision"] == "exact":
        item.add("geo", (event["lat"], event["lon"]))
    if event["topics"]:
        item.add("categories", event["topics"])
    item.add("status", event["status"].upper())
    return item


def calendar(
    events: Iterable[tuple[dict[str, Any], Iterable[dict[str, Any]]]],
    *,
    name: str = "techcal",
    description: str = "",
) -> bytes:
    """Return a VCALENDAR holding ``events`` (event, sources) and their VTIMEZONEs."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    if description:
        cal.add("x-wr-caldesc", description)
    for event, sources in events:
        cal.add_component(vevent(event, sources))
    cal.add_missing_timezones()
    return cal.to_ical()
