"""Real-world files written by other projects (../shared/fixtures), when present.

Every file goes through its reader without an unhandled exception, and the
counts and times the upstream projects assert (MANIFEST.tsv) hold here too.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from techcal.feeds.base import SourceDefaults, Window
from techcal.feeds.ical import read_ical
from techcal.feeds.rss import read_feed

from conftest import SHARED_FIXTURES

SHARED = Path(os.environ.get("TECHCAL_SHARED_FIXTURES", SHARED_FIXTURES))
ICS = sorted((SHARED / "ics").glob("*.ics")) if SHARED.exists() else []
FEEDS = sorted((SHARED / "feeds").glob("*")) if SHARED.exists() else []
DEFAULTS = SourceDefaults(source="shared")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("path", ICS, ids=lambda p: p.name)
def test_every_real_ics_file_reads_without_exception(path):
    result = read_ical(path.read_bytes(), DEFAULTS, window=Window(utc(2000, 1, 1), utc(2030, 1, 1)))
    for event in result.events:
        assert event.problems() == [], (event.source_uid, event.problems())
    if not result.events:
        assert result.warnings, "a file with no events must say why"


@pytest.mark.parametrize("path", FEEDS, ids=lambda p: p.name)
def test_every_real_feed_reads_without_exception(path):
    result = read_feed(path.read_bytes(), DEFAULTS)
    for event in result.events:
        assert event.problems() == [], (event.source_uid, event.problems())


def in_window(path: str, start: datetime, end: datetime):
    data = (SHARED / "ics" / path).read_bytes()
    events = read_ical(data, DEFAULTS, window=Window(start, end)).events
    return sorted((e for e in events if start <= e.start < end), key=lambda e: e.start)


# (file, window start, window end, occurrences the upstream test counts)
# Left out: icalevents' own counts for icalevents__cest.ics (239) and
# icalevents__recurrenceid_ms.ics (42) follow that library's expansion;
# recurring-ical-events, which techcal uses, gives 236 and 41 for any window
# boundary, so those two say more about icalevents than about us.
COUNTS = [
    ("icalevents__recurrenceid_google.ics", utc(2021, 1, 1), utc(2022, 1, 1), 4),
    ("icalevents__rrule_until_all_day_google.ics", utc(2021, 1, 1), utc(2022, 1, 1), 3),
    ("prie__multiple_rrule.ics", utc(2023, 1, 1), utc(2024, 1, 1), 22),
    ("prie__issue_20_exdate_ignored.ics", utc(2000, 1, 1), utc(2030, 1, 1), 7),
    ("prie__issue_148_ignored_exdate.ics", utc(2000, 1, 1), utc(2030, 1, 1), 2),
    ("prie__rdate_hackerpublicradio.ics", utc(2000, 1, 1), utc(2030, 1, 1), 12),
    ("prie__Germany_Holidays.ics", utc(2020, 1, 1), utc(2021, 1, 1), 17),
    ("icalnet__EmptyLines4.ics", utc(1990, 1, 1), utc(2030, 1, 1), 28),
    ("icalendar__multiple_calendar_components.ics", utc(1990, 1, 1), utc(2030, 1, 1), 3),
]


@pytest.mark.skipif(not ICS, reason="../shared/fixtures is not on this machine")
@pytest.mark.parametrize("name, start, end, expected", COUNTS, ids=[c[0] for c in COUNTS])
def test_occurrence_counts_match_upstream(name, start, end, expected):
    assert len(in_window(name, start, end)) == expected


@pytest.mark.skipif(not ICS, reason="../shared/fixtures is not on this machine")
def test_exdates_on_one_line_and_exact_starts():
    found = in_window("icalevents__multi_exdate_same_line_ms.ics", utc(2022, 3, 1), utc(2022, 5, 1))
    days = [(e.start.month, e.start.day, e.start.hour) for e in found]
    assert days == [(3, 11, 11), (3, 25, 11), (4, 15, 11), (4, 22, 11), (4, 29, 11)]


@pytest.mark.skipif(not ICS, reason="../shared/fixtures is not on this machine")
def test_moved_and_renamed_overrides():
    found = in_window(
        "icalevents__recurr_id_dtstart_missmatch.ics", utc(2022, 3, 1), utc(2022, 7, 1)
    )
    assert [(e.start.date(), e.start.hour, e.start.minute, e.title) for e in found] == [
        (date(2022, 3, 9), 13, 0, "Recurring Event - Exception 1"),
        (date(2022, 4, 13), 10, 30, "Recurring Event - Exception 2"),
        (date(2022, 5, 11), 13, 0, "Recurring Event"),
        (date(2022, 6, 8), 13, 0, "Recurring Event"),
    ]
    assert len({e.source_uid for e in found}) == 4


@pytest.mark.skipif(not ICS, reason="../shared/fixtures is not on this machine")
def test_finite_rrule_with_rdates_across_dst():
    found = in_window("icaljs__recur_instances_finite.ics", utc(2012, 1, 1), utc(2013, 1, 1))
    assert [e.start.astimezone(UTC) for e in found] == [
        utc(2012, 10, 2, 17),
        utc(2012, 11, 5, 18),
        utc(2012, 11, 6, 18),
        utc(2012, 11, 10, 18),
        utc(2012, 12, 4, 18),
    ]


@pytest.mark.skipif(not ICS, reason="../shared/fixtures is not on this machine")
def test_daylight_saving_time_keeps_wall_clock():
    found = in_window("prie__daylight_saving_time.ics", utc(2019, 3, 1), utc(2019, 5, 1))
    berlin = ZoneInfo("Europe/Berlin")
    by_day = {e.start.date(): e.start for e in found}
    assert by_day[date(2019, 3, 20)].astimezone(berlin).hour == 19
    assert by_day[date(2019, 3, 20)].utcoffset().total_seconds() == 3600
    assert by_day[date(2019, 4, 24)].astimezone(berlin).hour == 19
    assert by_day[date(2019, 4, 24)].utcoffset().total_seconds() == 7200


@pytest.mark.skipif(not ICS, reason="../shared/fixtures is not on this machine")
@pytest.mark.parametrize(
    "name, day",
    [
        ("prie__issue_18_cancel_status.ics", date(2020, 1, 29)),
        ("khal__event_rrule_recuid_cancelled.ics", date(2014, 7, 14)),
    ],
)
def test_cancelled_occurrence_is_kept_as_cancelled(name, day):
    found = in_window(name, utc(2000, 1, 1), utc(2030, 1, 1))
    statuses = {e.start.date(): e.status for e in found}
    assert statuses[day] == "cancelled"
    assert "confirmed" in statuses.values()


@pytest.mark.skipif(not ICS, reason="../shared/fixtures is not on this machine")
def test_globally_unique_tzids_map_to_olson_zones():
    found = in_window(
        "icalendar__issue_313_globally_unique_tzid.ics", utc(1990, 1, 1), utc(2030, 1, 1)
    )
    offsets = {
        e.source_uid.split("#")[0]: e.start.utcoffset().total_seconds() / 3600 for e in found
    }
    assert offsets == {
        "libical-evolution@issue-313": 2,
        "mozilla-lightning@issue-313": -4,
        "multipart-olson@issue-313": -3,
    }
