"""Where a feed entry says when and where its event is: namespaces, markup, platform habits.

xCal elements (Trumba and others) and the RSS event module (``ev:``) come
first, then hCalendar, microdata or Drupal date markup in the entry's HTML,
then a platform convention that two fields confirm (The Events Calendar's
pubDate, Localist's date line plus ``dc:date``). An entry with none of them
is no event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

import lxml.html
from lxml import etree

from techcal.event import zone_named
from techcal.feeds.base import SourceDefaults
from techcal.feeds.jsonld import When, parse_when
from techcal.feeds.text import plain_text

_MONTHS = (
    "january february march april may june july august september october november december"
).split()
_TIME = r"\d{1,2}(?::\d{2})?\s*[ap]\.?m\.?"
_CLOCK = re.compile(r"\d:\d\d|\d\s*[ap]\.?m\b", re.I)
#: Localist's date line: "Tuesday, November 24, 2026 at 4:30pm to 5:30pm"
_LOCALIST_LINE = re.compile(
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day,\s+(" + "|".join(_MONTHS) + r")\s+(\d{1,2}),\s+"
    r"(\d{4})(?:\s+at\s+(" + _TIME + r"))?(?:\s+to\s+(" + _TIME + r"))?",
    re.I,
)


#: the namespaced elements that date an entry: (how warnings name them, start key, end key);
#: feedparser names an element of a namespace it does not know prefix_name, the prefix as
#: the feed declares it (WP Event Manager's ``event_listing``, whose URI is each site's own)
_NAMESPACES = (
    ("xCal", "xcal_dtstart", "xcal_dtend"),
    ("ev:", "ev_startdate", "ev_enddate"),
    ("WP Event Manager", "event_listing_start_date", "event_listing_end_date"),
)
_PREFIXES = {"xCal": "xcal", "ev:": "ev", "WP Event Manager": "event_listing"}


@dataclass
class Found:
    """Event data read from one entry, before it becomes an Event."""

    how: str
    start: When
    end: When | None = None
    location: str | None = None
    organizer: str | None = None
    status: str | None = None
    all_day: bool | None = None
    categories: list[str] = field(default_factory=list)
    cost: str | None = None


@dataclass
class Feed:
    """What every entry of one feed needs to know."""

    defaults: SourceDefaults
    tribe: bool = False


def find_event_data(entry: Any, html: str, feed: Feed) -> tuple[Found | None, list[str]]:
    """Return the entry's event data (first source that has some) and what was wrong with it."""
    tz = feed.defaults.timezone
    problems: list[str] = []
    for how, start_key, end_key in _NAMESPACES:
        raw = entry.get(start_key)
        if not raw:
            continue
        start = parse_when(raw, tz)
        if start is None:
            problems.append(f"unreadable {how} start {raw!r}")
            continue
        end = _end(entry.get(end_key), start, tz, how, problems)
        if start.assumed:
            problems.append(f"{how} start has no time zone; taken as {start.assumed}")
        return _namespaced(entry, how, start, end), problems
    found = _from_markup(html, tz, problems)
    if found is None and feed.tribe:
        found = _from_pubdate(entry, tz)
        if found is None and entry.get("published"):
            problems.append(f"unreadable The Events Calendar pubDate {entry['published']!r}")
    if found is None:
        found = _from_localist(entry, tz)
    if found is not None and found.start.assumed:
        problems.append(f"{found.how} start has no time zone; taken as {found.start.assumed}")
    return found, problems


def _end(raw: Any, start: When, tz: str | None, how: str, problems: list[str]) -> When | None:
    """Return the end ``raw`` names, read in the start's zone (a problem noted when unreadable)."""
    if not raw:
        return None
    end = parse_when(raw, start.timezone if start.timezone != "UTC" else tz)
    if end is None:
        problems.append(f"unreadable {how} end {raw!r}; end left open")
    return end


def _namespaced(entry: Any, how: str, start: When, end: When | None) -> Found:
    """Return what the xCal, ``ev:`` or WP Event Manager elements of ``entry`` say."""
    prefix = _PREFIXES[how]
    found = Found(
        how,
        start,
        end,
        location=_given(entry.get(f"{prefix}_location")),
        organizer=_given(entry.get(f"{prefix}_organizer")),
    )
    if how == "xCal":
        found.status = _ical_status(entry.get("xcal_status"))
        all_day = str(entry.get("x-microsoft_cdo-alldayevent", "")).lower() == "true"
        found.all_day = all_day or None
    elif how == "ev:" and entry.get("ev_type"):
        found.categories = [entry["ev_type"]]
    elif how == "WP Event Manager":
        kind = _given(entry.get("event_listing_event_type"))
        found.categories = [kind] if kind else []
        # the plugin writes only whether tickets cost anything: "Free" or "Paid"
        price = _given(entry.get("event_listing_ticket_price"))
        found.cost = "free" if price and price.casefold() == "free" else price
    return found


def _given(value: Any) -> str | None:
    """Return an element's text, or None when it is empty or a placeholder ("-")."""
    text = " ".join(str(value or "").split())
    return text if text.strip("-–— ") else None


def _ical_status(value: Any) -> str | None:
    """Return an xCal STATUS as an Event status, or None."""
    text = str(value or "").strip().lower()
    return {"cancelled": "cancelled", "tentative": "tentative", "confirmed": "confirmed"}.get(text)


def _from_markup(html: str, tz: str | None, problems: list[str]) -> Found | None:
    """Return event data from hCalendar, microdata or Drupal date-field markup in ``html``."""
    if "<" not in html:
        return None
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return None
    starts = _marked(root, ("dtstart", "dt-start", "date-display-start", "date-display-single"))
    ends = _marked(root, ("dtend", "dt-end", "date-display-end"))
    starts += root.xpath(".//*[@itemprop='startDate']")
    ends += root.xpath(".//*[@itemprop='endDate']")
    # Drupal 8+ datetime fields: <time datetime=".." class="datetime">, a range is two of them
    drupal = root.xpath(".//time[@datetime and contains(concat(' ', @class, ' '), ' datetime ')]")
    if not starts and drupal:
        starts, ends = drupal[:1], drupal[1:2]
    if not starts:
        return None
    raw = _value_of(starts[0])
    start = parse_when(raw, tz)
    if start is None:
        problems.append(f"unreadable start in markup {raw!r}")
        return None
    if _shows_a_day_only(starts[0], start):
        start = parse_when(start.value.date().isoformat(), tz) or start
    end = _end(_value_of(ends[0]) if ends else None, start, tz, "markup", problems)
    where = _marked(root, ("location", "p-location")) + root.xpath(".//*[@itemprop='location']")
    location = plain_text(etree.tostring(where[0], encoding="unicode")) if where else None
    return Found("markup", start, end, location=location or None)


def _shows_a_day_only(node: Any, start: When) -> bool:
    """Return True when a midnight value is displayed as a bare date (Drupal's day granularity)."""
    if start.all_day or start.value.time() != time():
        return False
    return not _CLOCK.search(node.text_content())


def _marked(root: Any, classes: tuple[str, ...]) -> list[Any]:
    """Return the elements under ``root`` with one of ``classes``."""
    tests = " or ".join(f"contains(concat(' ', @class, ' '), ' {c} ')" for c in classes)
    return list(root.xpath(f".//*[{tests}]"))


def _value_of(node: Any) -> str:
    """Return a date element's machine value (datetime, content, title), else its text."""
    for attribute in ("datetime", "content", "title"):
        if node.get(attribute):
            return str(node.get(attribute))
    return " ".join(node.text_content().split())


def _from_pubdate(entry: Any, tz: str | None) -> Found | None:
    """Return The Events Calendar's event start, which it writes as the item's pubDate."""
    start = parse_when(entry.get("published"), tz)
    return Found("The Events Calendar pubDate", start) if start else None


def _from_localist(entry: Any, tz: str | None) -> Found | None:
    """Return Localist's event time: its description's date line, when dc:date or pubDate agree.

    The line gives the local wall time, the date field the instant; the two
    together also give the UTC offset, so a missing source zone costs nothing.
    """
    match = _LOCALIST_LINE.search(plain_text(entry.get("summary")))
    if not match:
        return None
    month, day, year, start_text, end_text = match.groups()
    local_day = datetime(int(year), _MONTHS.index(month.lower()) + 1, int(day))
    for key in ("updated", "published"):
        instant = parse_when(entry.get(key), None)
        if instant is None or instant.all_day:
            continue
        if start_text is None:
            if abs(instant.value.replace(tzinfo=None) - local_day) <= timedelta(hours=14):
                start = parse_when(local_day.date().isoformat(), tz)
                return Found("Localist", start) if start else None
            continue
        local_start = local_day + _clock(start_text)
        offset = local_start - instant.value.astimezone(UTC).replace(tzinfo=None)
        if abs(offset) > timedelta(hours=14) or offset % timedelta(minutes=15):
            continue
        start = _at_offset(local_start, offset, tz)
        end = None
        if end_text:
            local_end = local_day + _clock(end_text)
            if local_end < local_start:
                local_end += timedelta(days=1)
            end = _at_offset(local_end, offset, tz)
        return Found("Localist", start, end)
    return None


def _clock(text: str) -> timedelta:
    """Return a clock time (``4:30pm``, ``11 a.m.``) as the time since midnight."""
    digits = re.match(r"(\d{1,2})(?::(\d{2}))?", text.strip())
    assert digits is not None
    hour, minute = int(digits.group(1)) % 12, int(digits.group(2) or 0)
    if text.strip().lower().replace(".", "").endswith("pm"):
        hour += 12
    return timedelta(hours=hour, minutes=minute)


def _at_offset(local: datetime, offset: timedelta, tz: str | None) -> When:
    """Return ``local`` at ``offset``: in zone ``tz`` when it has that offset then."""
    zone = zone_named(tz)
    if zone is not None and local.replace(tzinfo=zone).utcoffset() == offset:
        return When(local.replace(tzinfo=zone), zone.key)
    fixed = timezone(offset)
    return When(local.replace(tzinfo=fixed), fixed.tzname(None))
