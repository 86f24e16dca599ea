"""The search query: one object for search, feeds and subscriptions.

:func:`build_query` turns what a user typed (``--near "Portland, OR"``,
``--within 15mi``, ``--from tomorrow``, ``--days 7``) into a :class:`Query`
with resolved places, kilometres and aware datetimes, or raises
:class:`QueryError` naming the option and the problem. The command line,
the web server's query parameters and saved subscriptions all go through it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from techcal.errors import QueryError
from techcal.event import KINDS
from techcal.normalise.gazetteer import Place

#: radius around --near when --within is not given
DEFAULT_WITHIN_KM = 50.0
#: results when --limit is not given
DEFAULT_LIMIT = 20
_KM_PER_UNIT = {"km": 1.0, "m": 0.001, "mi": 1.609344, "mile": 1.609344, "miles": 1.609344}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Query:
    """What to look for. Empty fields do not filter."""

    text: str | None = None
    topics: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    near: Place | None = None
    within_km: float = DEFAULT_WITHIN_KM
    #: window of start times, [start, end); start None means "now"
    start: datetime | None = None
    end: datetime | None = None
    #: True: online events only (with ``near``: online ones as well as nearby
    #: ones); False: in-person only; None: both
    online: bool | None = None
    include_cancelled: bool = False
    #: also events no longer listed by any source (feeds show them as cancelled)
    include_removed: bool = False
    #: None: every match in the window
    limit: int | None = DEFAULT_LIMIT
    #: the zone dates were read in and results are shown in
    tz: str | None = field(default=None, compare=False)

    def describe(self) -> str:
        """Return a short human description ("python near Portland, OR, US")."""
        parts = []
        if self.text:
            parts.append(repr(self.text))
        if self.topics:
            parts.append(" or ".join(self.topics))
        if self.kinds:
            parts.append("(" + ", ".join(self.kinds) + ")")
        if self.online is True:
            parts.append("online")
        elif self.online is False:
            parts.append("in person")
        if self.near is not None:
            parts.append(f"within {self.within_km:g} km of {self.near.label}")
        return " ".join(parts) or "all events"


def parse_distance(text: str) -> float:
    """Return ``25km`` / ``15mi`` / ``500m`` / ``30`` (km) in kilometres.

    >>> parse_distance("15mi")
    24.14016
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match:
        raise QueryError("--within", f"{text!r} is not a distance (try 25km or 15mi)")
    unit = match.group(2).lower() or "km"
    if unit not in _KM_PER_UNIT:
        raise QueryError("--within", f"unknown unit {match.group(2)!r} (use km, mi or m)")
    km = float(match.group(1)) * _KM_PER_UNIT[unit]
    if not 0 < km <= 20_040:
        raise QueryError("--within", f"{text!r} must be more than 0 and at most 20040 km")
    return round(km, 6)


def zone(name: str | None) -> tzinfo:
    """Return the zone called ``name`` (the local zone when None)."""
    if not name:
        return local_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise QueryError("--tz", f"unknown time zone {name!r} (use e.g. Europe/Berlin)") from None


def local_zone() -> tzinfo:
    """Return this machine's zone ($TZ, /etc/localtime), UTC when it has none."""
    import os

    name = os.environ.get("TZ")
    if name:
        try:
            return ZoneInfo(name.lstrip(":"))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    local = datetime.now().astimezone().tzinfo
    return local or UTC


def parse_day(text: str, option: str, *, tz: tzinfo, now: datetime) -> datetime:
    """Return the moment ``text`` means: midnight of a day, or an exact time.

    Accepts ISO dates (2026-12-03) and times (2026-12-03T18:00, with or
    without offset), ``today``, ``tomorrow``, ``yesterday``, ``+7d`` / ``+2w``
    / ``-1d``, and weekday names (``friday``, ``fri``: the next one, today
    if it is that day).
    """
    try:
        return _parse_day(text, option, tz=tz, now=now)
    except OverflowError:
        raise QueryError(option, f"{text!r} is too far from today") from None


def _parse_day(text: str, option: str, *, tz: tzinfo, now: datetime) -> datetime:
    word = text.strip().lower()
    today = now.astimezone(tz).date()
    day: date | None = None
    if word == "now":
        return now
    if word == "today":
        day = today
    elif word == "tomorrow":
        day = today + timedelta(days=1)
    elif word == "yesterday":
        day = today - timedelta(days=1)
    elif match := re.fullmatch(r"([+-])\s*(\d+)\s*([dw])", word):
        count = int(match.group(2)) * (7 if match.group(3) == "w" else 1)
        day = today + timedelta(days=count if match.group(1) == "+" else -count)
    else:
        for index, name in enumerate(_WEEKDAYS):
            if word in (name, name[:3]):
                day = today + timedelta(days=(index - today.weekday()) % 7)
                break
    if day is None:
        try:
            if len(word) <= 10:
                day = date.fromisoformat(word)
            else:
                moment = datetime.fromisoformat(text.strip())
                return moment if moment.tzinfo else moment.replace(tzinfo=tz)
        except ValueError:
            raise QueryError(
                option,
                f"{text!r} is not a date (use YYYY-MM-DD, today, tomorrow, +7d or a weekday)",
            ) from None
    return datetime.combine(day, time(0), tzinfo=tz)


def build_query(
    *,
    text: str | None = None,
    topics: tuple[str, ...] | list[str] = (),
    kinds: tuple[str, ...] | list[str] = (),
    near: str | None = None,
    within: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    days: int | None = None,
    online: bool | None = None,
    include_cancelled: bool = False,
    limit: int | None = DEFAULT_LIMIT,
    tz: str | None = None,
    now: datetime | None = None,
    topic_in_store: Callable[[str], bool] | None = None,
) -> Query:
    """Return the Query the options describe; raise QueryError on any bad one.

    ``topic_in_store`` says whether a topic outside the taxonomy is used by
    stored events (a source's own ``--topic``): such a topic is accepted too.
    """
    now = now or datetime.now(UTC)
    zone_info = zone(tz)
    checked_topics = _topics(topics, topic_in_store)
    for kind in kinds:
        if kind not in KINDS:
            raise QueryError("--kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    place = _place(near)
    if within is not None and place is None:
        raise QueryError("--within", "needs --near")
    within_km = parse_distance(within) if within is not None else DEFAULT_WITHIN_KM
    start, end = _window(date_from, date_to, days, tz=zone_info, now=now)
    if limit is not None and limit < 0:
        raise QueryError("--limit", "must be 0 (no limit) or more")
    return Query(
        text=(text or "").strip() or None,
        topics=tuple(checked_topics),
        kinds=tuple(dict.fromkeys(kinds)),
        near=place,
        within_km=within_km,
        start=start,
        end=end,
        online=online,
        include_cancelled=include_cancelled,
        limit=limit or None,
        tz=tz,
    )


def _topics(
    topics: tuple[str, ...] | list[str], topic_in_store: Callable[[str], bool] | None
) -> list[str]:
    """Return the slugs of ``topics``, each once; raise UnknownTopic for one nobody uses."""
    checked: list[str] = []
    if not topics:
        return checked
    from techcal.errors import UnknownTopic
    from techcal.normalise.topics import taxonomy

    known = taxonomy()
    for topic in topics:
        try:
            slug = known.check(topic)
        except UnknownTopic:
            slug = topic.strip().lower()
            if topic_in_store is None or not topic_in_store(slug):
                raise
        if slug not in checked:
            checked.append(slug)
    return checked


def _place(near: str | None) -> Place | None:
    """Return the place ``--near`` names (a city or LAT,LON), None when not given."""
    if near is None:
        return None
    if not near.strip(" ,"):
        raise QueryError("--near", "give a place (a city, 'City, Region', or LAT,LON)")
    from techcal.normalise.gazetteer import parse_coordinates
    from techcal.store.places import gazetteer

    try:
        coords = parse_coordinates(near)
    except ValueError as exc:
        raise QueryError("--near", str(exc)) from None
    if coords is None:
        return gazetteer().resolve(near)
    return Place(name=f"{coords[0]:g},{coords[1]:g}", lat=coords[0], lon=coords[1])


def _window(
    date_from: str | None, date_to: str | None, days: int | None, *, tz: tzinfo, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """Return the [start, end) of ``--from``, ``--to`` and ``--days`` (None: open)."""
    start = parse_day(date_from, "--from", tz=tz, now=now) if date_from else None
    end = None
    if date_to and days:
        raise QueryError("--days", "give either --to or --days, not both")
    try:
        if date_to:
            end = parse_day(date_to, "--to", tz=tz, now=now)
            if len(date_to.strip()) <= 10:
                # a day given as --to is included in full
                end = _next_midnight(end, tz)
        elif days:
            first = (start or now).astimezone(tz).date()
            end = datetime.combine(first + timedelta(days=days), time(0), tzinfo=tz)
    except OverflowError:
        raise QueryError("--to" if date_to else "--days", "reaches past the year 9999") from None
    if end is not None and end <= (start or now):
        raise QueryError("--to", "the window ends before it starts")
    return start, end


def _next_midnight(moment: datetime, tz: tzinfo) -> datetime:
    day = moment.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=tz)
