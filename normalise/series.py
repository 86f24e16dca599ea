"""The series in one source's events: which groups meet on a rhythm, and which.

A series is a group's regular meeting ("every 2nd Saturday, 19:00"): events
whose titles share the group's part ("PLUG: Intro to Nix", "PLUG:
Kubernetes"), at about one local time, on the dates of one :class:`Rule`
(weekly, every other week, the Nth or last weekday of the month, or a day
of the month). :func:`detect` finds them among everything one source lists,
which may be a single group's calendar or a community calendar mixing many
groups with one-off specials and conferences.

It is pure: no clock, no store, no network. The caller passes the events
(:class:`Occurrence`) and gets the series back. How it decides:

* events are pooled by the group part of their titles (the part most of the
  source's titles share, so "PLUG Holiday Party" joins PLUG and "PDX Python
  Hack Night" stays apart from "PDX Python: <talk>"); the expanded
  occurrences of one iCal RRULE (one ``series_uid``) stay in one pool;
* in each pool, every rule the events' weekdays and days of the month allow
  is tried; a rule's members are the events on its dates within 90 minutes
  of their usual local time (a feed in UTC shifts an hour across DST), in one
  stretch without long gaps; an event within a week of a rule date the group
  missed, at the usual time, is that meeting moved (Thanksgiving, December);
* the rule explaining the most events wins, if it covers enough of its dates
  (a series of three must have missed at most one), and the pool is searched
  again for a second series (1st and 3rd Tuesday);
* with a year of history, months with no meeting at all (a summer break) are
  learned, and not counted as missed;
* events left over, whose titles share nothing (a LUG whose titles are only
  the talk), are pooled by place instead, with stricter demands: they must be
  most of what happens at that place in that slot.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from techcal.normalise.gazetteer import fold
from techcal.normalise.titles import initial_sets, initials, title_words

#: how far (minutes) an event's local start may be from its series' usual time
TIME_TOLERANCE = 90
#: the fewest dates a series has
MIN_MEMBERS = 3
#: the share of its dates (between its first and last) a series must have met on;
#: fewer members need more (three in a row, or three of four)
MIN_COVERAGE = 0.6
#: the days of history that let missing months be learned as a break
YEAR_OF_HISTORY = 330
#: the most series looked for in one pool (a group holds few rhythms)
MAX_SERIES_PER_POOL = 8
#: the part of a title looked at: the group's name is at its start
TITLE_LIMIT = 200

_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = tuple(calendar.day_name)
_MONTH_ABBR = tuple(calendar.month_abbr)
_NTH_NAMES = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", -1: "last"}
#: a Monday: week parity (every other week) is counted from it
_EPOCH = date(2001, 1, 1)

_SPLIT = re.compile(r"\s*(?::|\s[-–—|/]\s|\|)\s*|[\[\]()]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
#: words kept in a group's name as written when they follow it ("Rust Berlin Meetup")
_NAME_TAIL = frozenset(
    (
        "user users group groups usergroup ug meetup meetups chapter night nights evening "
        "session monthly weekly meeting meetings"
    ).split()
)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One stored event, as the detector sees it."""

    key: int
    #: aware, in the event's own zone: its wall time is the local time
    start: datetime
    title: str
    place: str = ""
    status: str = "confirmed"
    #: the iCal UID a recurring set's expanded occurrences share, "" when none
    series_uid: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    """When a series meets: a small subset of RFC 5545 RRULE.

    >>> rule = Rule.parse("FREQ=MONTHLY;BYDAY=2SA;BYMONTH=1,2,3,4,5,6,9,10,11,12")
    >>> rule.describe()
    'every 2nd Saturday, not in Jul, Aug'
    >>> [str(d) for d in rule.dates(date(2026, 6, 1), date(2026, 9, 30))]
    ['2026-06-13', '2026-09-12']
    """

    freq: str
    weekday: int | None = None
    nth: int | None = None
    monthday: int | None = None
    interval: int = 1
    months: tuple[int, ...] = ()
    anchor: date | None = None

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem:
            raise ValueError(f"not a series rule: {problem}")

    def _problem(self) -> str:
        if self.weekday is not None and self.weekday not in range(7):
            return "weekday must be 0..6"
        if self.freq == "WEEKLY":
            if self.weekday is None or self.nth is not None or self.monthday is not None:
                return "a weekly rule has a weekday only"
            if self.interval not in (1, 2):
                return "a weekly rule's interval is 1 or 2"
        elif self.freq == "MONTHLY":
            if self.interval != 1:
                return "a monthly rule's interval is 1"
            by_weekday = self.weekday is not None and self.nth in (1, 2, 3, 4, -1)
            by_day = self.monthday is not None and 1 <= self.monthday <= 31
            if by_weekday == by_day or (by_day and (self.weekday, self.nth) != (None, None)):
                return "a monthly rule has a weekday and nth (1..4, -1), or a monthday"
        else:
            return f"frequency {self.freq!r}"
        if list(self.months) != sorted(set(self.months)) or len(self.months) >= 12:
            return "months must be increasing, fewer than 12"
        if any(m not in range(1, 13) for m in self.months):
            return "months must be 1..12"
        return ""

    def rrule(self) -> str:
        """Return the RFC 5545 RRULE value ("FREQ=MONTHLY;BYDAY=2SA")."""
        parts = [f"FREQ={self.freq}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.monthday is not None:
            parts.append(f"BYMONTHDAY={self.monthday}")
        elif self.weekday is not None:
            parts.append(f"BYDAY={self.nth if self.nth else ''}{_DAYS[self.weekday]}")
        if self.months:
            parts.append("BYMONTH=" + ",".join(str(m) for m in self.months))
        return ";".join(parts)

    @classmethod
    def parse(cls, rrule: str, anchor: date | None = None) -> Rule:
        """Return the rule :meth:`rrule` wrote as ``rrule``; ValueError for anything else."""
        values: dict[str, str] = {}
        for part in str(rrule).split(";"):
            name, sign, value = part.partition("=")
            if not sign or name in values:
                raise ValueError(f"not a series rule: {rrule!r}")
            values[name] = value
        try:
            byday = re.fullmatch(r"(-1|[1-4])?(MO|TU|WE|TH|FR|SA|SU)", values.pop("BYDAY", "-"))
            monthday = values.pop("BYMONTHDAY", None)
            months = values.pop("BYMONTH", None)
            rule = cls(
                freq=values.pop("FREQ", ""),
                weekday=_DAYS.index(byday.group(2)) if byday else None,
                nth=int(byday.group(1)) if byday and byday.group(1) else None,
                monthday=int(monthday) if monthday is not None else None,
                interval=int(values.pop("INTERVAL", "1")),
                months=tuple(int(m) for m in months.split(",")) if months is not None else (),
                anchor=anchor,
            )
        except (TypeError, ValueError) as error:
            raise ValueError(f"not a series rule: {rrule!r}") from error
        if values or rule.rrule() != rrule:
            raise ValueError(f"not a series rule: {rrule!r}")
        return rule

    def describe(self) -> str:
        """Return the rule in words ("every 2nd Saturday", "monthly on the 15th")."""
        if self.monthday is not None:
            text = f"monthly on the {_ordinal(self.monthday)}"
        else:
            day = _DAY_NAMES[self.weekday or 0]
            if self.nth:
                text = f"every {_NTH_NAMES[self.nth]} {day}"
            else:
                text = f"every other {day}" if self.interval == 2 else f"every {day}"
        if self.months:
            text += ", not in " + ", ".join(
                _MONTH_ABBR[m] for m in range(1, 13) if m not in self.months
            )
        return text

    def matches(self, day: date) -> bool:
        """Return True when the series meets on ``day``.

        Every other week without an anchor matches every week: its parity is unknown.
        """
        if self.months and day.month not in self.months:
            return False
        if self.monthday is not None:
            return day.day == self.monthday
        if day.weekday() != self.weekday:
            return False
        if self.nth is None:
            return self.interval == 1 or self.anchor is None or (day - self.anchor).days % 14 == 0
        if self.nth == -1:
            return day.day + 7 > calendar.monthrange(day.year, day.month)[1]
        return (day.day - 1) // 7 + 1 == self.nth

    def dates(self, start: date, end: date) -> Iterator[date]:
        """Yield the rule's dates from ``start`` to ``end`` (both included), in order."""
        if start > end:
            return
        if self.freq == "WEEKLY":
            day = start + timedelta(days=((self.weekday or 0) - start.weekday()) % 7)
            if self.interval == 2 and self.anchor is not None and (day - self.anchor).days % 14:
                day += timedelta(days=7)
            step = timedelta(days=7 * self.interval)
            while day <= end:
                if not self.months or day.month in self.months:
                    yield day
                day += step
            return
        year, month = start.year, start.month
        while (year, month) <= (end.year, end.month):
            day_of = self._day_in(year, month)
            if day_of and start <= day_of <= end and (not self.months or month in self.months):
                yield day_of
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    def _day_in(self, year: int, month: int) -> date | None:
        """Return the rule's date in a month (None: the 31st in a 30-day month)."""
        first_weekday, length = calendar.monthrange(year, month)
        if self.monthday is not None:
            return date(year, month, self.monthday) if self.monthday <= length else None
        first = 1 + ((self.weekday or 0) - first_weekday) % 7
        if self.nth == -1:
            return date(year, month, first + 7 * ((length - first) // 7))
        return date(year, month, first + 7 * ((self.nth or 1) - 1))

    def period_days(self) -> int:
        """Return roughly how many days apart its meetings are: 7, 14 or 30."""
        return 7 * self.interval if self.freq == "WEEKLY" else 30


@dataclass(frozen=True, slots=True)
class Series:
    """A group's regular meeting, as found in one source's events."""

    rule: Rule
    #: the typical local start time
    time: dt.time
    #: the group part its titles share, as the latest member writes it
    title: str
    #: the place of the latest member with one
    place: str
    #: the member events' keys, in start order (cancelled and moved ones too)
    members: tuple[int, ...]
    first: date
    last: date
    #: the casefolded group part its titles share; for a series found by its
    #: slot (titles that share nothing), "@" and the folded place
    group: str = ""

    def key(self) -> str:
        """Return a stable identity: the group and the rule (without learned months)."""
        rule = self.rule.rrule().split(";BYMONTH=")[0]
        return f"{self.group or group_key(self.title)}|{rule}"


def group_key(title: str) -> str:
    """Return the casefolded group part of ``title``: its first part's distinctive words.

    Numbering, dates, month names and filler ("Meetup", "User Group") are dropped.

    >>> group_key("PLUG: Intro to Nix")
    'plug'
    >>> group_key("Rust Berlin Meetup #42"), group_key("Rust Berlin Meetup - October 2024")
    ('rust berlin', 'rust berlin')
    """
    for part in _parts(_clean(title)):
        words = title_words(part)
        if words:
            return " ".join(words)
    return ""


def title_matches(series: Series, title: str) -> bool:
    """Return True when ``title`` looks like one of the series' (it names the group).

    >>> series = Series(Rule("MONTHLY", 3, 3), dt.time(19), "PLUG", "", (), date(2026, 1, 15),
    ...                 date(2026, 6, 18), "plug")
    >>> title_matches(series, "Portland Linux/Unix Group - Kubernetes")
    True
    >>> title_matches(series, "PDX Go: Generics")
    False
    """
    text = _clean(title)
    group = series.group or group_key(series.title)
    if not group or not text:
        return False
    if group.startswith("@"):
        return title_words(text) == title_words(_clean(series.title))
    wanted = group.split()
    words = title_words(text)
    if any(words[i : i + len(wanted)] == tuple(wanted) for i in range(len(words))):
        return True
    # an acronym on one side for the name on the other ("PLUG", "Portland Linux/Unix Group")
    if len(wanted) == 1 and 3 <= len(wanted[0]) <= 6 and wanted[0] in initial_sets(text):
        return True
    return len(wanted) >= 3 and any(initials(group) == w for w in words)


def detect(occurrences: Iterable[Occurrence]) -> list[Series]:
    """Return the series in one source's events, by first date, then title."""
    items = _prepare(occurrences)
    _choose_groups(items)
    pools: dict[str, list[_Item]] = defaultdict(list)
    for item in items:
        pools[item.group].append(item)
    found: list[tuple[str, _Fit]] = []
    claimed: set[int] = set()
    for group in sorted(pools):
        if group and len(pools[group]) >= MIN_MEMBERS:
            for fit in _search(pools[group], by_slot=False):
                found.append((group, fit))
                claimed.update(id(m) for m in fit.members)
    by_place: dict[str, list[_Item]] = defaultdict(list)
    for item in items:
        if id(item) not in claimed:
            by_place[item.place_key].append(item)
    for place in sorted(by_place):
        if len(by_place[place]) >= MIN_MEMBERS + 1:
            found.extend(("@" + place, fit) for fit in _search(by_place[place], by_slot=True))
    order = {item.key: (item.start.timestamp(), item.key) for item in items}
    return _sorted_series((_series(group, fit) for group, fit in found), order)


# -- how it is done ---------------------------------------------------------------------


class _Item:
    """One occurrence, with what the search compares worked out once."""

    __slots__ = (
        "key", "start", "day", "minute", "title", "place", "place_key", "uid", "group", "slots",
    )  # fmt: skip

    def __init__(self, occurrence: Occurrence, start: datetime) -> None:
        self.key = occurrence.key
        self.start = start
        self.day = start.date()
        self.minute = start.hour * 60 + start.minute
        self.title = _clean(occurrence.title)
        self.place = _clean(occurrence.place)
        self.place_key = fold(self.place)
        self.uid = occurrence.series_uid or ""
        self.group = ""
        # the rules whose dates include this day, as keys of _fits' buckets
        weekday, nth = self.day.weekday(), (self.day.day - 1) // 7 + 1
        last = self.day.day + 7 > calendar.monthrange(self.day.year, self.day.month)[1]
        parity = (self.day - _EPOCH).days // 7 % 2
        self.slots = [("W", weekday, 0), ("M", weekday, nth), ("B", weekday, parity)]
        if last:
            self.slots.append(("M", weekday, -1))


@dataclass
class _Fit:
    """A rule tried on a pool: the events it explains, and how well."""

    rule: Rule
    center: int
    members: list[_Item]
    #: how many members are moved meetings (the rest are on the rule's dates)
    moved: int
    covered: set[date]
    coverage: float
    rank: int

    def score(self) -> tuple[int, int, float, int]:
        # the most events first, then the most on the rule's own dates: the 4th
        # Wednesday explains a last-Wednesday group's 5th Wednesdays only as moves
        return (len(self.members), -self.moved, self.coverage, -self.rank)


def _clean(text: str | None) -> str:
    return " ".join(_CONTROL.sub(" ", str(text or "")[:TITLE_LIMIT]).split())


def _parts(title: str) -> list[str]:
    return [p for p in _SPLIT.split(title) if p and p.strip()]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _prepare(occurrences: Iterable[Occurrence]) -> list[_Item]:
    items = []
    for occurrence in occurrences:
        start = occurrence.start
        if isinstance(start, datetime):
            items.append(_Item(occurrence, start))
    items.sort(key=lambda it: (it.day, it.minute, it.key))
    return items


def _candidates(title: str) -> tuple[list[str], bool]:
    """Return the group parts a title may have, and whether they nest (prefixes of one part).

    A title with ':' or ' - ' offers each part; one without offers its words
    and their shorter beginnings ("PLUG Holiday Party": "plug holiday party",
    "plug holiday", "plug").
    """
    parts = [" ".join(title_words(p)) for p in _parts(title)]
    parts = [p for p in parts if p]
    if len(parts) != 1:
        return list(dict.fromkeys(parts)), False
    words = parts[0].split()[:6]
    return [" ".join(words[:k]) for k in range(len(words), 0, -1)], True


def _choose_groups(items: list[_Item]) -> None:
    """Set each item's group: the part of its title most of the source's titles share."""
    offered = [_candidates(item.title) for item in items]
    counts = Counter(key for keys, _ in offered for key in keys)
    for item, (keys, nested) in zip(items, offered, strict=True):
        if not keys:
            continue
        most = max(counts[k] for k in keys)
        if nested:
            # the longest beginning that names a run of events: "pdx python hack"
            # for the hack nights, though "pdx python" is shared with the talks;
            # "plug" for a lone "PLUG Holiday Party"
            item.group = next(k for k in keys if counts[k] >= MIN_MEMBERS or counts[k] == most)
        else:
            item.group = next(k for k in keys if counts[k] == most)
    _join_aliases(items, counts)
    # the occurrences of one RRULE are one group, whatever an override's title says
    by_uid: dict[str, list[_Item]] = defaultdict(list)
    for item in items:
        if item.uid:
            by_uid[item.uid].append(item)
    for members in by_uid.values():
        groups = Counter(it.group for it in members if it.group)
        if groups:
            group = min(groups, key=lambda g: (-groups[g], g))
            for item in members:
                item.group = group


def _join_aliases(items: list[_Item], counts: Counter[str]) -> None:
    """Give one group the titles that spell its name in other ways.

    "PDXPython" and "PDX Python" are one name; so are "PLUG" and "Portland
    Linux/Unix Group" (an acronym of a title's first words): a calendar
    several people post to has both.
    """
    spelled: dict[str, str] = {}
    for group in sorted({it.group for it in items if it.group}, key=lambda g: (-counts[g], g)):
        spelled.setdefault(group.replace(" ", ""), group)
    acronyms = {g for g in spelled.values() if " " not in g and 3 <= len(g) <= 6 and counts[g] >= 2}
    for item in items:
        if not item.group:
            continue
        item.group = spelled[item.group.replace(" ", "")]
        if acronyms and " " in item.group:
            named = sorted(acronyms & initial_sets(item.title), key=lambda g: (-counts[g], g))
            if named:
                item.group = named[0]


def _search(pool: list[_Item], *, by_slot: bool) -> list[_Fit]:
    """Return the series in one pool, the one explaining most events first."""
    remaining = list(pool)
    found: list[_Fit] = []
    for _ in range(MAX_SERIES_PER_POOL):
        best = _best_fit(remaining, by_slot=by_slot)
        if best is None:
            break
        found.append(best)
        taken = {id(m) for m in best.members}
        remaining = [it for it in remaining if id(it) not in taken]
        if len(remaining) < MIN_MEMBERS:
            break
    if by_slot:
        found = [fit for fit in found if _pure(fit, remaining)]
    return found


class _Base:
    """A rule's own events in a pool (before moved meetings), and what moves could add."""

    __slots__ = ("rule", "rank", "center", "hits", "days", "expected")

    def __init__(self, rule: Rule, rank: int, center: int, hits: list[_Item], days: list[date]):
        self.rule, self.rank, self.center, self.hits, self.days = rule, rank, center, hits, days
        self.expected = sum(1 for _ in rule.dates(days[0], days[-1]))

    def bound(self) -> int:
        """Return the most members it can have with moved meetings (one a missed date, two ends)."""
        return len(self.hits) + self.expected - len(self.days) + 2


def _best_fit(remaining: list[_Item], *, by_slot: bool) -> _Fit | None:
    """Return the rule that explains most of the remaining events well enough, if any.

    Every rule their dates allow is tried on the events on its dates; moved
    meetings (the costly part) are looked for only while a rule could still
    beat the best so far.
    """
    bases = [
        base for rule, bucket, rank in _tries(remaining) if (base := _base(rule, bucket, rank))
    ]
    bases.sort(key=lambda b: -b.bound())
    nearby: dict[date, list[_Item]] = defaultdict(list)
    if not by_slot:  # (a slot's events share no name: none is the group's moved meeting)
        for item in remaining:
            nearby[item.day].append(item)
    known = sorted(nearby)
    best: _Fit | None = None
    for base in bases:
        if best is not None and base.bound() < len(best.members):
            break
        fit = _fit(base, (nearby, known), by_slot=by_slot)
        if fit is not None and (best is None or fit.score() > best.score()):
            best = fit
    return best


def _tries(remaining: list[_Item]) -> Iterator[tuple[Rule, list[_Item], int]]:
    """Yield the rules the events' dates allow, each with its events and a rank (lower: simpler)."""
    by_slot_key: dict[tuple[str, int, int], list[_Item]] = defaultdict(list)
    by_monthday: dict[int, list[_Item]] = defaultdict(list)
    for item in remaining:
        for slot in item.slots:
            by_slot_key[slot].append(item)
        by_monthday[item.day.day].append(item)
    for (kind, weekday, n), bucket in sorted(by_slot_key.items()):
        if len(bucket) < MIN_MEMBERS or len({it.day for it in bucket}) < MIN_MEMBERS:
            continue
        if kind == "W":
            yield Rule("WEEKLY", weekday), bucket, 0
        elif kind == "M" and n in (1, 2, 3, 4, -1):
            yield Rule("MONTHLY", weekday, n), bucket, 2 if n == -1 else 1
        elif kind == "B":
            anchor = _EPOCH + timedelta(days=weekday + 7 * n)
            yield Rule("WEEKLY", weekday, interval=2, anchor=anchor), bucket, 3
    for monthday, bucket in sorted(by_monthday.items()):
        if len({it.day for it in bucket}) >= MIN_MEMBERS:
            yield Rule("MONTHLY", monthday=monthday), bucket, 4


def _base(rule: Rule, bucket: list[_Item], rank: int) -> _Base | None:
    """Return the events on ``rule``'s dates at its usual time, in its longest stretch."""
    center = _center([it.minute for it in bucket])
    hits = [it for it in bucket if abs(it.minute - center) <= TIME_TOLERANCE]
    days = _longest_run(rule, sorted({it.day for it in hits}))
    if len(days) < MIN_MEMBERS:
        return None
    base = _Base(rule, rank, center, [it for it in hits if days[0] <= it.day <= days[-1]], days)
    if len(days) < 0.4 * base.expected:
        return None  # too thin for moved meetings or a learned break to save
    return base


#: the events of a pool by date, and their dates in order (where moved meetings are looked for)
_Nearby = tuple[dict[date, list[_Item]], list[date]]


def _fit(base: _Base, nearby: _Nearby, *, by_slot: bool) -> _Fit | None:
    """Return how ``base``'s rule fits, moved meetings and breaks counted; None when badly."""
    rule, days, center = base.rule, base.days, base.center
    members = list(base.hits)
    covered = set(days)
    moved = []
    if nearby[1]:
        moved = _moved(rule, days, center, nearby, {id(m) for m in members})
        members.extend(item for item, _ in moved)
        covered.update(day for _, day in moved)
    first, last = min(covered), max(covered)
    anchor = first if rule.interval == 2 else None
    rule = Rule(rule.freq, rule.weekday, rule.nth, rule.monthday, rule.interval, (), anchor)
    expected = list(rule.dates(first, last))
    months = _break_months(expected, covered)
    if months:
        rule = Rule(rule.freq, rule.weekday, rule.nth, rule.monthday, rule.interval, months, anchor)
        expected = [d for d in expected if d.month in months]
        covered = {d for d in covered if d.month in months}
    coverage = len(covered & set(expected)) / max(len(expected), 1)
    if coverage < _needed(len(covered), by_slot=by_slot):
        return None
    return _Fit(rule, center, members, len(moved), covered, coverage, base.rank)


def _needed(dates: int, *, by_slot: bool) -> float:
    """Return the coverage a series of ``dates`` dates needs: three of four at least."""
    if by_slot:
        return 0.7 if dates > MIN_MEMBERS else 2.0
    return {3: 0.75, 4: 0.66}.get(dates, MIN_COVERAGE)


def _center(minutes: list[int]) -> int:
    """Return the usual start (minute of the day): the median of the busiest 3-hour window."""
    minutes = sorted(minutes)
    best = (0, 0, 0)
    j = 0
    for i, start in enumerate(minutes):
        while j < len(minutes) and minutes[j] - start <= 2 * TIME_TOLERANCE:
            j += 1
        if j - i > best[0]:
            best = (j - i, i, j)
    window = minutes[best[1] : best[2]]
    return window[len(window) // 2]


def _index(rule: Rule, day: date) -> int:
    """Return the number of ``day``'s period (week, fortnight or month) in the rule."""
    if rule.freq == "WEEKLY":
        return (day - _EPOCH).days // (7 * rule.interval)
    return day.year * 12 + day.month


def _longest_run(rule: Rule, days: list[date]) -> list[date]:
    """Return the longest stretch of ``days`` with no long gap (a summer break is short)."""
    gap = {7: 10, 14: 5}.get(rule.period_days(), 4)
    runs: list[list[date]] = []
    for day in days:
        if runs and _index(rule, day) - _index(rule, runs[-1][-1]) <= gap:
            runs[-1].append(day)
        else:
            runs.append([day])
    return max(runs, key=len, default=[])


def _moved(
    rule: Rule, days: list[date], center: int, nearby: _Nearby, taken: set[int]
) -> list[tuple[_Item, date]]:
    """Return the events that are meetings moved off a rule date, with the date they replace.

    A rule date without a meeting is filled by an event of the group within a
    week of it (half the period for weekly rules), at the usual time, that is
    nearer that date than any other rule date.
    """
    reach = min(7, rule.period_days() // 2)
    first, last = days[0], days[-1]
    window = list(
        rule.dates(
            first - timedelta(days=rule.period_days() + 7),
            last + timedelta(days=rule.period_days() + 7),
        )
    )
    before = [d for d in window if d < first][-1:]
    after = [d for d in window if d > last][:1]
    met = set(days)
    by_day, known = nearby
    moved: list[tuple[_Item, date]] = []
    for missing in before + [d for d in window if first < d < last and d not in met] + after:
        options = []
        low = bisect.bisect_left(known, missing - timedelta(days=reach))
        high = bisect.bisect_right(known, missing + timedelta(days=reach))
        for day in known[low:high]:
            for item in by_day[day]:
                if id(item) in taken or abs(item.minute - center) > TIME_TOLERANCE:
                    continue
                if _nearest(window, item.day) == missing:
                    options.append((abs((day - missing).days), item.day, item.key, item))
        if options:
            item = min(options, key=lambda o: o[:3])[3]
            taken.add(id(item))
            moved.append((item, missing))
    return moved


def _nearest(days: list[date], day: date) -> date:
    """Return the date of the sorted ``days`` nearest ``day`` (the earlier on a tie)."""
    at = bisect.bisect_left(days, day)
    near = days[max(at - 1, 0) : at + 1]
    return min(near, key=lambda d: (abs((d - day).days), d))


def _break_months(expected: list[date], covered: set[date]) -> tuple[int, ...]:
    """Return the months a series meets in, when a year of history shows a break; else ().

    A month is a break when none of its dates in the history had a meeting,
    and either it was missed in two years or it is next to another missed
    month (July and August): one missed month in one year is only a miss.
    """
    if not expected or (expected[-1] - expected[0]).days < YEAR_OF_HISTORY:
        return ()
    years: dict[int, set[int]] = defaultdict(set)
    met: set[int] = set()
    for day in expected:
        years[day.month].add(day.year)
        if day in covered:
            met.add(day.month)
    missed = [m for m in years if m not in met]
    if not missed or len(missed) > 4 or len(years) < 12:
        return ()
    for month in missed:
        beside = {(month % 12) + 1, ((month - 2) % 12) + 1} & set(missed)
        if len(years[month]) < 2 and not beside:
            return ()
    return tuple(m for m in range(1, 13) if m not in missed)


def _pure(fit: _Fit, left: list[_Item]) -> bool:
    """Return True when a slot's series is most of what is left in its slot.

    Events found by place alone are a series only when the place holds few
    other events on that weekday at that time in the series' span (a venue
    with talks on most Tuesdays has no "2nd Tuesday" series by chance).
    """
    first, last = min(fit.covered), max(fit.covered)
    others = sum(
        1
        for it in left
        if first <= it.day <= last
        and abs(it.minute - fit.center) <= TIME_TOLERANCE
        and (fit.rule.weekday is None or it.day.weekday() == fit.rule.weekday)
    )
    return len(fit.members) >= 2 * others


def _series(group: str, fit: _Fit) -> Series:
    members = sorted(fit.members, key=lambda it: (it.start.timestamp(), it.key))
    minutes = sorted(it.minute for it in members)
    middle = minutes[len(minutes) // 2]
    latest = max(members, key=lambda it: (it.day, it.minute, it.key))
    placed = [it for it in members if it.place]
    place = max(placed, key=lambda it: (it.day, it.minute, it.key)).place if placed else ""
    if group.startswith("@"):
        title = _slot_title(members, place)
    else:
        title = _group_text(latest.title, group)
    return Series(
        rule=fit.rule,
        time=dt.time(middle // 60, middle % 60),
        title=title,
        place=place,
        members=tuple(it.key for it in members),
        first=min(it.day for it in members),
        last=max(it.day for it in members),
        group=group,
    )


def _slot_title(members: list[_Item], place: str) -> str:
    """Return the most common title, when titles repeat; else a generic one."""
    counts = Counter(it.title for it in members)
    title, count = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if count >= 2 and count * 3 >= len(members):
        return title
    return f"Meeting at {place}" if place else "Meeting"


def _group_text(title: str, group: str) -> str:
    """Return the words of ``title`` that are its group part, as written ("Rust Berlin Meetup")."""
    wanted = tuple(group.split())
    for part in _parts(title):
        tokens = part.split()
        start = next((i for i, t in enumerate(tokens) if title_words(t)), None)
        if start is None:
            continue
        for end in range(start + 1, len(tokens) + 1):
            words = title_words(" ".join(tokens[start:end]))
            if words == wanted:
                while end < len(tokens) and fold(tokens[end]) in _NAME_TAIL:
                    end += 1
                return " ".join(tokens[start:end])
            if len(words) > len(wanted) or words != wanted[: len(words)]:
                break
    return group


def _sorted_series(found: Iterable[Series], order: dict[int, tuple[float, int]]) -> list[Series]:
    """Return the series by first date and title, one per key (a paused group's two stretches)."""
    by_key: dict[str, Series] = {}
    for series in found:
        known = by_key.get(series.key())
        if known is None:
            by_key[series.key()] = series
            continue
        # one group's two stretches (a pause, a new time, every other week
        # restarted on the other week): the latest says how it meets now
        latest, earlier = (known, series) if known.last >= series.last else (series, known)
        by_key[series.key()] = Series(
            latest.rule,
            latest.time,
            latest.title,
            latest.place or earlier.place,
            tuple(sorted(set(known.members) | set(series.members), key=order.__getitem__)),
            min(known.first, series.first),
            max(known.last, series.last),
            latest.group,
        )
    return sorted(by_key.values(), key=lambda s: (s.first, s.title, s.key()))
