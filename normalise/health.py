"""The health of a series and of a source, from what is listed and the date: pure.

A series is judged on the days its events are listed (every source's, once
merged), in its own zone, against its rule:

- **active**: the next occurrence is listed, or not due for a while yet
  (a monthly group posts next month's meeting some days ahead);
- **cancelled**: the next occurrence is listed as cancelled (a cancellation,
  which subscribers were told about as such: not a group gone quiet);
- **quiet**: the next occurrence is due within ``warn_days`` (default 7)
  and nothing is listed for it, or one or two have passed unlisted;
- **over**: three or more occurrences have passed with nothing listed.

An occurrence held a few days off its date (a holiday move) stands for the
rule date nearest it, and a group that skips one date but lists a later
one is active. Months a group does not meet in (a summer break) are part
of its rule, so they are never missed.

A source is **failing** after repeated fetch errors, **empty** when it
answers but lists nothing upcoming, **stale** when its events have not
changed for much longer than its series' rhythm says they should.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from techcal.normalise.series import Rule

#: a series is quiet when its next occurrence is this near and not listed
WARN_DAYS = 7
#: a series is over after this many occurrences passed without a listing
OVER_AFTER = 3
#: an occurrence this many days off its rule date stands for it (a holiday move)
MOVE_DAYS = 7
#: a source failing this many times in a row is failing (as `sources list` counts)
FAILING_AFTER = 3
#: a source's events are stale after this many of its shortest period without change
STALE_PERIODS = 3
#: ... and never sooner than this
STALE_MIN = timedelta(days=21)
#: a source without a series is stale after this long without a change
STALE_WITHOUT_SERIES = timedelta(days=120)

#: series states that need someone to look
QUIET_STATES = frozenset({"quiet"})
#: source states that need someone to look
ATTENTION_STATES = frozenset({"failing", "stale", "empty"})


@dataclass(frozen=True, slots=True)
class SeriesHealth:
    """What the listing of a series says at a date."""

    state: str
    #: the first rule date on or after today (None when there is none in a year)
    next_expected: date | None
    #: the status its next occurrence is listed with, None when it is not listed
    next_status: str | None
    #: rule dates since the last listed occurrence that passed with nothing listed
    missed: tuple[date, ...]
    #: the last rule date covered by a listing
    last: date | None


def covered_dates(rule: Rule, listed: Mapping[date, str]) -> dict[date, str]:
    """Return the rule dates the listed days stand for, with the status of each.

    A listed day on the rule stands for itself; one off it stands for the
    nearest rule date within :data:`MOVE_DAYS` that nothing else stands for.
    A confirmed listing wins over a cancelled one on the same date.
    """
    covered: dict[date, str] = {}
    off: list[date] = []
    for day in sorted(listed):
        if rule.matches(day):
            _cover(covered, day, listed[day])
        else:
            off.append(day)
    for day in off:
        near = [
            d
            for d in rule.dates(day - timedelta(days=MOVE_DAYS), day + timedelta(days=MOVE_DAYS))
            if d not in covered
        ]
        if near:
            nearest = min(near, key=lambda d: (abs((d - day).days), d))
            _cover(covered, nearest, listed[day])
    return covered


def _cover(covered: dict[date, str], day: date, status: str) -> None:
    if covered.get(day) not in (None, "cancelled"):
        return
    covered[day] = status


def series_health(
    rule: Rule, listed: Mapping[date, str], today: date, *, warn_days: int = WARN_DAYS
) -> SeriesHealth:
    """Return the state of a series whose events are listed on ``listed`` days (local dates).

    ``listed`` maps each day an event of the series is listed on (any
    source) to its status (confirmed, tentative, cancelled).
    """
    covered = covered_dates(rule, listed)
    last = max(covered) if covered else None
    next_expected = next(rule.dates(today, today + timedelta(days=400)), None)
    next_status = covered.get(next_expected) if next_expected is not None else None
    missed: tuple[date, ...] = ()
    if last is not None and last < today - timedelta(days=1):
        missed = tuple(rule.dates(last + timedelta(days=1), today - timedelta(days=1)))
    upcoming = last is not None and last >= today
    if next_status is not None:
        state = "cancelled" if next_status == "cancelled" else "active"
    elif upcoming:
        state = "active"  # it skips a date but lists a later one
    elif len(missed) >= OVER_AFTER:
        state = "over"
    elif missed or (next_expected is not None and next_expected <= today + timedelta(warn_days)):
        state = "quiet"
    else:
        state = "active"
    return SeriesHealth(state, next_expected, next_status, missed, last)


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """The state of a source, with every problem found, worst first."""

    state: str
    problems: tuple[str, ...]


def stale_after(periods: Iterable[int]) -> timedelta:
    """Return how long a source's events may stay unchanged, given its series' periods (days)."""
    shortest = min(periods, default=None)
    if shortest is None:
        return STALE_WITHOUT_SERIES
    return max(timedelta(days=STALE_PERIODS * shortest), STALE_MIN)


def source_health(
    *,
    now: datetime,
    failures: int,
    last_ok: datetime | None,
    changed_at: datetime | None,
    upcoming: int,
    periods: Iterable[int],
    last_error: str | None = None,
) -> SourceHealth:
    """Return the state of a source from its crawl state and what it lists."""
    problems: list[tuple[str, str]] = []
    if failures >= FAILING_AFTER:
        error = f": {last_error}" if last_error else ""
        problems.append(("failing", f"failed {failures} times in a row{error}"))
    if last_ok is None:
        if not problems:
            return SourceHealth("pending", ("not fetched yet",))
    else:
        if upcoming == 0:
            problems.append(("empty", "answers but lists nothing upcoming"))
        limit = stale_after(periods)
        if changed_at is not None and now - changed_at > limit:
            days = (now - changed_at).days
            problems.append(("stale", f"its events have not changed for {days} days"))
    if not problems:
        return SourceHealth("ok", ())
    return SourceHealth(problems[0][0], tuple(text for _, text in problems))
