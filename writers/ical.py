"""Writing events as iCalendar (RFC 5545, with RFC 7986's calendar properties).

Each event keeps its published UID and SEQUENCE, its own time zone (with
the VTIMEZONE it needs: clients misplace a TZID they cannot resolve), DATE
values when it is all-day, and STATUS:CANCELLED when cancelled or no longer
listed. DTSTAMP and LAST-MODIFIED are the time of the event's last change,
never of the request, so an unchanged store gives byte-identical feeds.

Two ways to a feed, with the same bytes (a test holds them to it):

- :func:`calendar` builds everything with icalendar: simple, about 1,800
  events a second;
- :func:`event_block` writes one VEVENT from a stored event's row and
  :func:`assemble` joins the blocks under a header with the VTIMEZONEs they
  need: a 10,000-event feed in well under a second, rendered when asked for
  (nothing rendered is stored: the row is the one copy of each text).

:func:`event_block` writes the text itself, with str operations, the bytes
icalendar writes (:func:`event_block_reference`; tests/test_vevent_writer.py
holds every event to it): icalendar's line folding alone took over half of
an import's rendering time.
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
    location = _location(event)
    if location:
        item.add("location", location)
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


def _location(event: StoredEvent) -> str | None:
    """Return the LOCATION: the venue and address (or city), else an online event's link."""
    place = ", ".join(p for p in (event.venue, event.address or event.city) if p)
    if place:
        return place
    online_url = web_url(event.online_url)
    return online_url if event.online and online_url else None


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


def event_block_reference(event: StoredEvent, source_names: Sequence[str] = ()) -> str:
    """Return one event's VEVENT as icalendar writes it: what :func:`event_block` matches."""
    return vevent(event, source_names).to_ical().decode("utf-8")


def event_block(event: StoredEvent, source_names: Sequence[str] = ()) -> str:
    """Return one event's VEVENT as text (CRLF lines), ready to join (see assemble).

    The bytes of :func:`event_block_reference`, written directly: about 15 times
    faster on long descriptions. An event this writer cannot vouch for (text
    that is no Unicode, a value icalendar refuses) is left to icalendar.
    """
    block = _direct_block(event, source_names)
    return event_block_reference(event, source_names) if block is None else block


# -- VEVENT text without icalendar -------------------------------------------
#
# Each rule below is icalendar's (as of 7.3), checked byte for byte by
# tests/test_vevent_writer.py: property order (SUMMARY, DTSTART, DTEND,
# DTSTAMP, UID, SEQUENCE, then the rest alphabetically), TEXT escaping,
# RFC 6868 parameter values, and folding.

#: icalendar folds before the octet that would make a line 75 octets long
_LINE_OCTETS = 74
#: a fold never follows these (a TEXT escape or an RFC 6868 escape stays whole)
_ESCAPE_OCTETS = frozenset(b"\\^")
#: SEQUENCE is an RFC 5545 INTEGER
_INT_RANGE = range(-(2**31), 2**31)
#: what makes icalendar quote a parameter value, and a CN value besides
_QUOTED = frozenset(",;:\u2019")
_QUOTED_CN = frozenset(",;:\u2019 '")


def _direct_block(event: StoredEvent, source_names: Sequence[str]) -> str | None:
    """Return the VEVENT text, or None when icalendar must write it."""
    try:
        lines = _content_lines(event, source_names)
        if lines is None:
            return None
        return "\r\n".join([_folded(line) for line in lines]) + "\r\n"
    except (AttributeError, TypeError, ValueError, OverflowError):
        # a value icalendar takes differently (not a str) or refuses (an
        # unencodable surrogate, a date out of range): it decides what to do
        return None


def _content_lines(event: StoredEvent, source_names: Sequence[str]) -> list[str] | None:
    """Return the unfolded lines of the VEVENT, or None when icalendar must write it."""
    sequence = event.sequence
    if type(sequence) is not int or sequence not in _INT_RANGE:
        return None
    changed = _utc_value(_utc(event.updated_at or event.changed_at))
    lines = [
        "BEGIN:VEVENT",
        _text_line("SUMMARY", event.title),
        "DTSTART" + _when_value(event.start, event.timezone, event.all_day),
    ]
    if event.end:
        lines.append("DTEND" + _when_value(event.end, event.timezone, event.all_day))
    lines += ["DTSTAMP:" + changed, _text_line("UID", event.uid), f"SEQUENCE:{sequence}"]
    if event.topics:
        lines.append(_line("CATEGORIES", ",".join([_escaped(t) for t in event.topics])))
    if event.created_at:
        lines.append("CREATED:" + _utc_value(_utc(event.created_at)))
    notes = _notes(event, source_names)
    if notes:
        lines.append(_text_line("DESCRIPTION", notes))
    if event.lat is not None and event.geo_precision == "exact":
        if event.lon is None:
            return None  # icalendar refuses half a GEO
        lines.append(f"GEO:{float(event.lat)};{float(event.lon)}")
    lines.append("LAST-MODIFIED:" + changed)
    location = _location(event)
    if location:
        lines.append(_text_line("LOCATION", location))
    if event.organizer:
        lines.append(f"ORGANIZER;CN={_cn(event.organizer)}:invalid:nomail")
    status = "CANCELLED" if event.removed_at is not None else event.status.upper()
    lines.append(_text_line("STATUS", status))
    url = web_url(event.url)
    if url:
        if "\r" in url or "\n" in url:
            return None  # icalendar refuses such a URI
        lines.append(_line("URL", url))
    if source_names:
        names = ",".join(source_names)  # an X- property is written as it is
        if "\n" in names:
            return None  # icalendar refuses a line break in a content line
        lines.append(_line("X-TECHCAL-SOURCES", names))
    lines.append("END:VEVENT")
    return lines


def _escaped(text: str) -> str:
    r"""Return ``text`` as an RFC 5545 TEXT value, escaped as icalendar escapes it.

    A literal ``\N`` is taken for an escaped line break, and CRLF, CR and LF
    each become ``\n``; other control characters stay as they are.

    >>> _escaped("Rust; C, and \\ C++\r\nnext")
    'Rust\\; C\\, and \\\\ C++\\nnext'
    """
    # in icalendar's order; each replace only where its character is (looking
    # for one character is many times faster than for two, or than a replace)
    if "\\" in text:
        text = text.replace("\\N", "\n").replace("\\", "\\\\")
    if ";" in text:
        text = text.replace(";", "\\;")
    if "," in text:
        text = text.replace(",", "\\,")
    if "\r" in text:
        text = text.replace("\r\n", "\\n")
    if "\n" in text:
        text = text.replace("\n", "\\n")
    if "\r" in text:
        text = text.replace("\r", "\\n")
    return text


def _line(name: str, value: str) -> str:
    # icalendar decodes each value as "utf-8-sig": a leading BOM is dropped
    return f"{name}:{value[1:] if value.startswith(chr(0xFEFF)) else value}"


def _text_line(name: str, text: str) -> str:
    return _line(name, _escaped(text))


def _param_value(value: str, quote_if: frozenset[str] = _QUOTED) -> str:
    """Return a parameter value with RFC 6868 escapes, quoted when icalendar quotes it."""
    quoted = not quote_if.isdisjoint(value)
    value = (
        value.replace("^", "^^")
        .replace("\r\n", "^n")
        .replace("\r", "^n")
        .replace("\n", "^n")
        .replace('"', "^'")
    )
    return f'"{value}"' if quoted else value


def _cn(name: str) -> str:
    """Return the CN parameter value of ORGANIZER (quoted too when it has a space or ')."""
    return _param_value(name, _QUOTED_CN)


def _utc_value(moment: datetime) -> str:
    return f"{_date_value(moment)}T{moment.hour:02}{moment.minute:02}{moment.second:02}Z"


def _date_value(day: date) -> str:
    return f"{day.year:04}{day.month:02}{day.day:02}"


def _when_value(text: str, zone: str | None, all_day: bool) -> str:
    """Return a DTSTART or DTEND after its name: ";VALUE=DATE:…", ";TZID=…:…" or ":…Z"."""
    moment = _when(text, zone, all_day)
    if not isinstance(moment, datetime):
        return ";VALUE=DATE:" + _date_value(moment)
    key = getattr(moment.tzinfo, "key", None)
    tzid = _tzid(key) if key else None
    if tzid is None:
        return ":" + _utc_value(moment)
    local = f"{_date_value(moment)}T{moment.hour:02}{moment.minute:02}{moment.second:02}"
    return f";TZID={tzid}:{local}"


@lru_cache(maxsize=512)
def _tzid(key: str) -> str | None:
    """Return the TZID parameter value of a time in zone ``key`` (None: it is written in UTC).

    icalendar writes a zone it finds equivalent to UTC ("Universal", "Zulu")
    as UTC; this asks it, once per zone.
    """
    from zoneinfo import ZoneInfo

    from icalendar.timezone.tzid import tzid_from_tzinfo

    tzid = tzid_from_tzinfo(ZoneInfo(key))
    return None if tzid in (None, "UTC") else _param_value(tzid)


def _folded(line: str) -> str:
    """Return a content line folded where icalendar folds it.

    Every line, the first and each continuation after its leading space, holds
    at most 74 octets of the line, cut between characters (never inside a
    UTF-8 sequence), and a cut never follows a backslash or caret that has
    another character before it on its line: the escape moves on whole.
    """
    if len(line) <= _LINE_OCTETS and line.isascii():
        return line
    data = line.encode("utf-8")  # a lone surrogate raises: icalendar refuses it too
    size = len(data)
    if size <= _LINE_OCTETS:
        return line
    pieces = []
    start = 0
    while size - start > _LINE_OCTETS:
        cut = start + _LINE_OCTETS
        while data[cut] & 0xC0 == 0x80:  # a continuation octet: cut before its character
            cut -= 1
        if data[cut - 1] in _ESCAPE_OCTETS:
            cut -= 1
        pieces.append(data[start:cut])
        start = cut
    pieces.append(data[start:])
    return b"\r\n ".join(pieces).decode("utf-8")


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
