"""confs.tech's conference data -> Event records.

The tech-conferences/conference-data repository keeps one JSON array per
topic and year (``conferences/2026/python.json``); each entry names a
conference with its dates (no times), city and country, whether it is
online, and its call for papers::

    {"name": "PyCon US", "url": "https://us.pycon.org/2026/",
     "startDate": "2026-05-13", "endDate": "2026-05-19",
     "city": "Long Beach, CA", "country": "U.S.A.", "online": false,
     "cfpUrl": "https://...", "cfpEndDate": "2025-12-19", "locales": "EN"}

The reader only says where an event is (city and country as written); the
store places it through the gazetteer, as for every other reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from techcal.event import EARLIEST_YEAR, LATEST_YEAR, Event, zone_named
from techcal.feeds.base import ReadResult, SourceDefaults

#: conference-data's topics (its file names, scripts/config/topics.ts) and the
#: taxonomy topics (data/topics.toml) each one means. Empty where no topic fits
#: the whole file: "networking" is people meeting people (CTO Craft, LeadDev),
#: not computer networks; "general", "api", "leadership" and "performance" mix
#: many subjects, and the titles are tagged as usual.
TOPICS: dict[str, tuple[str, ...]] = {
    "accessibility": ("accessibility",),
    "android": ("mobile",),
    "api": (),
    "cfml": (),
    "clojure": ("functional",),
    "cpp": ("c-cpp",),
    "css": ("web",),
    "data": ("data",),
    "devops": ("devops",),
    "dotnet": ("dotnet",),
    "elixir": ("elixir",),
    "elm": ("functional",),
    "general": (),
    "golang": ("go",),
    "graphql": ("web",),
    "groovy": ("java",),
    "haskell": ("functional",),
    "identity": ("security",),
    "ios": ("mobile",),
    "iot": ("iot",),
    "java": ("java",),
    "javascript": ("javascript",),
    "kotlin": ("java",),
    "leadership": (),
    "networking": (),
    "opensource": ("open-source",),
    "performance": (),
    "php": ("php",),
    "product": ("product",),
    "python": ("python",),
    "ruby": ("ruby",),
    "rust": ("rust",),
    "scala": ("functional",),
    "security": ("security",),
    "sre": ("sre",),
    "tech-comm": ("technical-writing",),
    "testing": ("testing-qa",),
    "typescript": ("javascript",),
    "ux": ("ux-design",),
}
_LINK = re.compile(r"^https?://\S+$", re.I)
#: how much of a name a warning quotes
_LABEL_LENGTH = 60


def topic_of(url: str | None) -> str | None:
    """Return the conference-data topic a file's URL names, or None.

    >>> topic_of("https://raw.githubusercontent.com/tech-conferences/conference-data/main/conferences/2026/python.json")
    'python'
    >>> topic_of("https://example.org/events.json") is None
    True
    """
    if not url:
        return None
    name = urlsplit(url).path.rsplit("/", 1)[-1].lower()
    stem = name.removesuffix(".json")
    return stem if stem != name and stem in TOPICS else None


def is_conference_list(value: Any) -> bool:
    """Return True when ``value`` is shaped like a conference-data file.

    An array of objects with a ``name`` or ``startDate`` and no JSON-LD
    ``@type`` or ``@context`` (those are schema.org documents); an empty
    array is an empty file.
    """
    if not isinstance(value, list):
        return False
    objects = [v for v in value if isinstance(v, dict)]
    if any("@type" in v or "@context" in v for v in objects):
        return False
    return not value or any("startDate" in v or "name" in v for v in objects)


@dataclass
class _Seen:
    """Source uids given so far, and which entry gave each."""

    entries: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)


def read_conferences(
    entries: list[Any], defaults: SourceDefaults, url: str | None, result: ReadResult
) -> None:
    """Add the events of a conference-data array to ``result``, warning of each entry left out."""
    topic = topic_of(url)
    topics = tuple(dict.fromkeys((*defaults.topics, *TOPICS.get(topic or "", ()))))
    categories = (topic,) if topic else ()
    seen = _Seen()
    for index, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            result.warn(f"entry {index}: {_kind_of(entry)} where an object belongs; skipped")
            result.failed_entries += 1
            continue
        event = _event(entry, index, defaults, result)
        if event is None:
            result.failed_entries += 1
            continue
        event.topics = topics
        event.categories = categories
        uid = _unique_uid(event, index, entry, seen, result)
        if uid is None:
            continue
        event.source_uid = uid
        result.events.append(event)


def _event(
    entry: dict[str, Any], index: int, defaults: SourceDefaults, result: ReadResult
) -> Event | None:
    """Return one entry's Event, or None after a warning saying why it is left out."""
    name = _text(entry.get("name"))
    label = f"entry {index}" + (f" ({_short(name)})" if name else "")
    if not name:
        result.warn(f"{label}: no name; skipped")
        return None
    raw_start = entry.get("startDate")
    if raw_start is None:
        result.warn(f"{label}: no startDate; skipped")
        return None
    first = _day(raw_start)
    if first is None:
        result.warn(f"{label}: startDate {_quoted(raw_start)} is not a date (YYYY-MM-DD); skipped")
        return None
    last = first
    raw_end = entry.get("endDate")
    if raw_end is not None:
        end_day = _day(raw_end)
        if end_day is None:
            result.warn(f"{label}: endDate {_quoted(raw_end)} is not a date; taken as one day")
        elif end_day < first:
            result.warn(f"{label}: endDate {end_day} is before startDate {first}; taken as one day")
        else:
            last = end_day
    if not (EARLIEST_YEAR <= first.year and last.year <= LATEST_YEAR):
        years = f"{EARLIEST_YEAR}-{LATEST_YEAR}"
        result.warn(f"{label}: {first} to {last} is outside the years {years}; skipped")
        return None
    zone = zone_named(defaults.timezone)
    start = datetime.combine(first, time(), zone or UTC)
    city = _text(entry.get("city"))
    online = entry.get("online") is True or str(entry.get("online")).lower() == "true"
    link = _link(entry.get("url"))
    if entry.get("url") is not None and link is None:
        result.warn(f"{label}: url {_quoted(entry.get('url'))} is not a web link; left out")
    event = Event(
        source=defaults.source,
        source_uid=_uid(link, name, first),
        title=name,
        description=_description(entry, online, city),
        url=link,
        # the conference's own day; endDate is its last day, the record's end the day after
        start=start,
        end=datetime.combine(last + timedelta(days=1), time(), zone or UTC),
        timezone=zone.key if zone is not None else "UTC",
        all_day=True,
        # an online-only conference is not in the source's city
        city=city or (None if online else defaults.city),
        country=_text(entry.get("country")),
        online=online,
        kind="conference",
    )
    problems = event.problems()
    if problems:
        result.warn(f"{label}: {'; '.join(problems)}; skipped")
        return None
    return event


def _unique_uid(
    event: Event, index: int, entry: dict[str, Any], seen: _Seen, result: ReadResult
) -> str | None:
    """Return the entry's source uid, or None when it repeats an earlier entry."""
    uid = event.source_uid
    earlier = seen.entries.get(uid)
    if earlier is not None and earlier[1] != entry:
        # two conferences on one site and one day (a conference's two tracks)
        uid = f"{uid}|{' '.join(event.title.lower().split())}"
        earlier = seen.entries.get(uid)
    if earlier is not None:
        result.warn(f"entry {index} ({_short(event.title)}) repeats entry {earlier[0]}; skipped")
        return None
    seen.entries[uid] = (index, entry)
    return uid


def _uid(link: str | None, name: str, first: date) -> str:
    """Return an entry's source uid: its site and first day, else its name and first day.

    Between commits of the data, links lose or gain a trailing slash and
    names are corrected far more often than dates move, so the link without
    its trailing slash is the better key; the first day tells a yearly
    conference's editions apart when they share a site.

    >>> _uid("https://PyCon.org/2026/", "PyCon", date(2026, 5, 13))
    'https://pycon.org/2026|2026-05-13'
    >>> _uid(None, "  Some  Conf ", date(2026, 5, 13))
    'some conf|2026-05-13'
    """
    if link:
        parts = urlsplit(link)
        key = parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()
        key = key.rstrip("/")
    else:
        key = " ".join(name.lower().split())
    return f"{key}|{first.isoformat()}"


def _description(entry: dict[str, Any], online: bool, city: str | None) -> str:
    """Return the plain-text description: the call for papers first, so it can be searched."""
    lines = []
    cfp_end = _day(entry.get("cfpEndDate"))
    cfp_url = _link(entry.get("cfpUrl"))
    if cfp_end and cfp_url:
        lines.append(f"CFP closes {cfp_end}: {cfp_url}")
    elif cfp_end:
        lines.append(f"CFP closes {cfp_end}")
    elif cfp_url:
        lines.append(f"CFP: {cfp_url}")
    if online:
        lines.append("Online and in person" if city else "Online")
    locales = _text(entry.get("locales"))
    if locales:
        lines.append(f"Languages: {locales}")
    if entry.get("offersSignLanguageOrCC") is True:
        lines.append("Offers sign language or closed captions")
    coc = _link(entry.get("cocUrl"))
    if coc:
        lines.append(f"Code of conduct: {coc}")
    return "\n".join(lines)


def _day(value: Any) -> date | None:
    """Return a YYYY-MM-DD text as a date, or None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text or None


def _link(value: Any) -> str | None:
    text = _text(value)
    return text if text and _LINK.match(text) else None


def _short(text: str) -> str:
    return text if len(text) <= _LABEL_LENGTH else text[: _LABEL_LENGTH - 1] + "…"


def _quoted(value: Any) -> str:
    """Return a value as a warning shows it: short, quoted, whatever its type."""
    if isinstance(value, str):
        return _short(repr(value[: _LABEL_LENGTH + 1]))
    return _short(repr(value)) if isinstance(value, int | float) else _kind_of(value)


def _kind_of(value: Any) -> str:
    """Return what a JSON value is, in words ("an array", "a number")."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "a number"
    return "null"
