"""Finding groups' series in one source's events (techcal.normalise.series, issue 20)."""

from __future__ import annotations

import random
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import series_eval
from dateutil.rrule import rrulestr

from techcal.normalise.series import Occurrence, Rule, Series, detect, group_key, title_matches

LA = ZoneInfo("America/Los_Angeles")
BERLIN = ZoneInfo("Europe/Berlin")


def truth(rrule: str, start: date, end: date) -> list[date]:
    """Return the rule's dates as dateutil expands them (not the code under test)."""
    rule = rrulestr(rrule, dtstart=datetime.combine(start, time()))
    return [
        d.date()
        for d in rule.between(
            datetime.combine(start, time()), datetime.combine(end, time(23, 59)), inc=True
        )
    ]


def meetings(days, title="PLUG: {n}", at=time(19), zone=LA, first_key=0, **fields):
    return [
        Occurrence(
            first_key + n, datetime.combine(day, at, tzinfo=zone), title.format(n=n), **fields
        )
        for n, day in enumerate(days)
    ]


# -- Rule -------------------------------------------------------------------------------

RULES = [
    "FREQ=WEEKLY;BYDAY=MO",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
    "FREQ=MONTHLY;BYDAY=1TU",
    "FREQ=MONTHLY;BYDAY=2SA",
    "FREQ=MONTHLY;BYDAY=3TH",
    "FREQ=MONTHLY;BYDAY=4WE",
    "FREQ=MONTHLY;BYDAY=-1WE",
    "FREQ=MONTHLY;BYMONTHDAY=15",
    "FREQ=MONTHLY;BYMONTHDAY=31",
    "FREQ=MONTHLY;BYDAY=2SA;BYMONTH=1,2,3,4,5,6,9,10,11,12",
    "FREQ=WEEKLY;BYDAY=TH;BYMONTH=1,2,3,4,5,6,7,9,10,11,12",
]


@pytest.mark.parametrize("rrule", RULES)
def test_rrule_round_trip(rrule):
    assert Rule.parse(rrule).rrule() == rrule


@pytest.mark.parametrize(
    "text",
    [
        "", "FREQ=DAILY", "FREQ=MONTHLY;BYDAY=5SA", "FREQ=MONTHLY;BYDAY=SA",
        "FREQ=WEEKLY;BYDAY=MO;INTERVAL=2", "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO",
        "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO", "FREQ=MONTHLY;BYDAY=2SA;BYMONTH=8,7",
        "FREQ=MONTHLY;BYMONTHDAY=32", "FREQ=MONTHLY;BYMONTHDAY=015", "FREQ=WEEKLY;BYDAY=MO,TU",
        "FREQ=WEEKLY;BYDAY=MO;COUNT=3", "freq=weekly;byday=mo", "FREQ=MONTHLY;BYDAY=2SA;",
        "FREQ=MONTHLY;BYMONTHDAY=١٥", "FREQ=MONTHLY;BYDAY=2SA;BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12",
    ],
)  # fmt: skip
def test_parse_refuses_anything_else(text):
    with pytest.raises(ValueError):
        Rule.parse(text)


def test_describe():
    assert Rule.parse("FREQ=MONTHLY;BYDAY=2SA").describe() == "every 2nd Saturday"
    assert Rule.parse("FREQ=MONTHLY;BYDAY=-1WE").describe() == "every last Wednesday"
    assert Rule.parse("FREQ=WEEKLY;BYDAY=MO").describe() == "every Monday"
    assert Rule.parse("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU").describe() == "every other Tuesday"
    assert Rule.parse("FREQ=MONTHLY;BYMONTHDAY=15").describe() == "monthly on the 15th"
    assert Rule("MONTHLY", monthday=22).describe() == "monthly on the 22nd"
    assert (
        Rule.parse("FREQ=MONTHLY;BYDAY=2SA;BYMONTH=1,2,3,4,5,6,9,10,11,12").describe()
        == "every 2nd Saturday, not in Jul, Aug"
    )


@pytest.mark.parametrize("rrule", RULES)
def test_dates_agree_with_dateutil(rrule):
    start, end = date(2027, 11, 20), date(2029, 3, 10)  # a year end and 2028-02-29
    anchor = truth(rrule, start, end)[0]
    rule = Rule.parse(rrule, anchor=anchor)
    assert list(rule.dates(start, end)) == truth(rrule, start, end)
    every_day = [start + timedelta(days=k) for k in range((end - start).days + 1)]
    assert [d for d in every_day if rule.matches(d)] == truth(rrule, start, end)


def test_dates_across_year_end_and_leap_day():
    assert [
        str(d) for d in Rule("MONTHLY", monthday=29).dates(date(2028, 1, 1), date(2028, 3, 31))
    ] == ["2028-01-29", "2028-02-29", "2028-03-29"]
    assert list(Rule("MONTHLY", monthday=29).dates(date(2027, 2, 1), date(2027, 2, 28))) == []
    last_tuesday = Rule("MONTHLY", 1, -1)
    assert list(last_tuesday.dates(date(2027, 12, 1), date(2028, 1, 31))) == [
        date(2027, 12, 28),
        date(2028, 1, 25),
    ]
    fortnight = Rule("WEEKLY", 1, interval=2, anchor=date(2027, 12, 21))
    assert list(fortnight.dates(date(2027, 12, 22), date(2028, 1, 20))) == [
        date(2028, 1, 4),
        date(2028, 1, 18),
    ]
    assert list(fortnight.dates(date(2028, 1, 5), date(2028, 1, 4))) == []


def test_period_days():
    assert [Rule.parse(r).period_days() for r in RULES[:4]] == [7, 14, 30, 30]


def test_rule_checks_its_fields():
    with pytest.raises(ValueError):
        Rule("MONTHLY", 2, 5)
    with pytest.raises(ValueError):
        Rule("WEEKLY", None)
    with pytest.raises(ValueError):
        Rule("MONTHLY", 2, 1, monthday=3)


# -- titles -----------------------------------------------------------------------------


def test_group_key():
    assert group_key("PLUG: Intro to Nix") == group_key("PLUG: Kubernetes") == "plug"
    assert group_key("Rust Berlin Meetup #42") == "rust berlin"
    assert group_key("Rust Berlin Meetup - October 2024") == "rust berlin"
    assert group_key("BeLUG Treffen März 2026") == "belug treffen"
    assert group_key("PDX Python: Holiday social (Dec 3)") == "pdx python"
    assert group_key("Monthly Meeting") == ""
    assert group_key("") == group_key("\x00\x01 ::: - ") == ""


def test_title_matches():
    series = detect(meetings(truth("FREQ=MONTHLY;BYDAY=3TH", date(2026, 1, 1), date(2026, 8, 1))))[
        0
    ]
    assert series.title == "PLUG"
    assert title_matches(series, "PLUG: Intro to eBPF")
    assert title_matches(series, "PLUG Holiday Party")
    assert title_matches(series, "Portland Linux/Unix Group - Kubernetes")
    assert not title_matches(series, "PDX Python: Intro to eBPF")
    assert not title_matches(series, "Plugging leaks in Go")
    assert not title_matches(series, "")


# -- each kind of rule -----------------------------------------------------------------


@pytest.mark.parametrize("rrule", [r for r in RULES if "BYMONTH=" not in r])
def test_finds_each_kind_of_rule(rrule):
    days = truth(rrule, date(2025, 9, 1), date(2026, 8, 31))
    found = detect(meetings(days))
    assert [s.rule.rrule() for s in found] == [rrule]
    assert found[0].members == tuple(range(len(days)))
    assert (found[0].first, found[0].last, found[0].time) == (days[0], days[-1], time(19))


def test_fourth_or_last_decided_by_the_five_week_months():
    for rrule in ("FREQ=MONTHLY;BYDAY=4WE", "FREQ=MONTHLY;BYDAY=-1WE"):
        days = truth(rrule, date(2025, 9, 1), date(2026, 8, 31))
        assert [s.rule.rrule() for s in detect(meetings(days))] == [rrule]


def test_weekly_beats_the_monthly_rules_it_implies():
    days = truth("FREQ=WEEKLY;BYDAY=WE", date(2025, 9, 1), date(2026, 3, 1))
    found = detect(meetings(days[::1], title="PDX Hack Night"))
    assert [s.rule.rrule() for s in found] == ["FREQ=WEEKLY;BYDAY=WE"]


def test_first_and_third_tuesday_are_two_series():
    first = truth("FREQ=MONTHLY;BYDAY=1TU", date(2025, 9, 1), date(2026, 8, 31))
    third = truth("FREQ=MONTHLY;BYDAY=3TU", date(2025, 9, 1), date(2026, 8, 31))
    found = detect(meetings(sorted(first + third)))
    assert sorted(s.rule.rrule() for s in found) == [
        "FREQ=MONTHLY;BYDAY=1TU",
        "FREQ=MONTHLY;BYDAY=3TU",
    ]


def test_same_room_two_groups_on_different_weeks():
    days = [
        (d, "Python Meetup: {n}")
        for d in truth("FREQ=MONTHLY;BYDAY=1TU", date(2025, 9, 1), date(2026, 6, 30))
    ]
    days += [
        (d, "Rust Meetup: {n}")
        for d in truth("FREQ=MONTHLY;BYDAY=3TU", date(2025, 9, 1), date(2026, 6, 30))
    ]
    occurrences = [
        Occurrence(n, datetime.combine(d, time(19), tzinfo=LA), t.format(n=n), "Hackerspace")
        for n, (d, t) in enumerate(days)
    ]
    found = {s.title: s.rule.rrule() for s in detect(occurrences)}
    assert found == {
        "Python Meetup": "FREQ=MONTHLY;BYDAY=1TU",
        "Rust Meetup": "FREQ=MONTHLY;BYDAY=3TU",
    }


# -- what real calendars do ----------------------------------------------------------------


def test_weekly_from_a_utc_feed_across_both_dst_changes():
    # 02:00Z on Wednesdays: 19:00 on Tuesday in summer, 18:00 in winter, in Los Angeles
    days = truth("FREQ=WEEKLY;BYDAY=WE", date(2026, 1, 7), date(2026, 12, 16))
    occurrences = [
        Occurrence(n, datetime.combine(d, time(2), tzinfo=UTC).astimezone(LA), "Hack Night")
        for n, d in enumerate(days)
    ]
    assert {o.start.hour for o in occurrences} == {18, 19}
    (series,) = detect(occurrences)
    assert series.rule.rrule() == "FREQ=WEEKLY;BYDAY=TU"
    assert len(series.members) == len(days)
    assert series.first < date(2026, 3, 8) and series.last > date(2026, 11, 1)


@pytest.mark.parametrize("utc", [False, True])
def test_last_sunday_in_berlin_including_the_dst_change_day(utc):
    days = truth("FREQ=MONTHLY;BYDAY=-1SU", date(2025, 1, 1), date(2026, 12, 31))
    assert date(2026, 3, 29) in days and date(2025, 3, 30) in days  # the clocks go forward
    if utc:
        starts = [datetime.combine(d, time(10), tzinfo=UTC).astimezone(BERLIN) for d in days]
    else:
        starts = [
            datetime.combine(d, time(2, 30), tzinfo=BERLIN) for d in days
        ]  # a time that is not
    occurrences = [Occurrence(n, s, "Repair Café") for n, s in enumerate(starts)]
    (series,) = detect(occurrences)
    assert series.rule.rrule() == "FREQ=MONTHLY;BYDAY=-1SU"
    assert len(series.members) == len(days)


def test_summer_break_is_learned_from_two_years():
    days = [
        d
        for d in truth("FREQ=MONTHLY;BYDAY=2SA", date(2024, 9, 1), date(2026, 8, 31))
        if d.month not in (7, 8)
    ]
    (series,) = detect(meetings(days))
    assert series.rule.months == (1, 2, 3, 4, 5, 6, 9, 10, 11, 12)
    assert series.rule.describe() == "every 2nd Saturday, not in Jul, Aug"
    assert series.key() == "plug|FREQ=MONTHLY;BYDAY=2SA"


def test_no_break_is_learned_from_a_short_history():
    days = [
        d
        for d in truth("FREQ=MONTHLY;BYDAY=2SA", date(2026, 3, 1), date(2026, 12, 31))
        if d.month != 8
    ]
    (series,) = detect(meetings(days))
    assert series.rule.months == ()


def test_one_missed_month_in_one_year_is_no_break():
    days = [
        d
        for d in truth("FREQ=MONTHLY;BYDAY=2SA", date(2025, 9, 1), date(2026, 8, 31))
        if d.month != 3
    ]
    (series,) = detect(meetings(days))
    assert series.rule.months == ()


def test_specials_are_not_members_and_moves_are():
    days = truth("FREQ=MONTHLY;BYDAY=4TH", date(2025, 1, 1), date(2026, 6, 30))
    # Thanksgiving: the November meeting a week early
    days = [d - timedelta(days=7) if d.month == 11 else d for d in days]
    occurrences = meetings(days)
    specials = [
        Occurrence(100, datetime(2025, 12, 12, 18, tzinfo=LA), "PLUG Holiday Party"),  # Friday
        Occurrence(101, datetime(2025, 7, 19, 12, tzinfo=LA), "PLUG: Summer Picnic"),
        Occurrence(102, datetime(2025, 10, 4, 9, tzinfo=LA), "SeaGL 2025"),
        Occurrence(103, datetime(2026, 2, 26, 9, tzinfo=LA), "PLUG: Hackathon"),  # the day, 9 am
    ]
    cancelled = Occurrence(
        104, datetime(2026, 5, 28, 19, tzinfo=LA), "PLUG: cancelled", status="cancelled"
    )
    occurrences = [o for o in occurrences if o.start.date() != date(2026, 5, 28)]
    (series,) = detect(occurrences + specials + [cancelled])
    assert series.rule.rrule() == "FREQ=MONTHLY;BYDAY=4TH"
    assert set(series.members) == {o.key for o in occurrences} | {104}
    assert list(series.members) == sorted(series.members, key=lambda k: k if k < 100 else 16.5)


def test_a_venue_move_keeps_the_series_and_takes_the_new_place():
    days = truth("FREQ=MONTHLY;BYDAY=3TH", date(2025, 1, 1), date(2026, 6, 30))
    occurrences = [
        Occurrence(
            n,
            datetime.combine(d, time(19), tzinfo=LA),
            f"PLUG: talk {n}",
            "Free Geek" if d.year == 2025 else "PSU",
        )
        for n, d in enumerate(days)
    ]
    (series,) = detect(occurrences)
    assert series.place == "PSU" and len(series.members) == len(days)


def test_titles_of_talks_only_are_found_by_slot():
    days = truth("FREQ=MONTHLY;BYDAY=2TU", date(2025, 3, 1), date(2026, 6, 30))
    occurrences = [
        Occurrence(n, datetime.combine(d, time(19), tzinfo=LA), series_eval.TALKS[n], "Free Geek")
        for n, d in enumerate(days)
    ]
    (series,) = detect(occurrences)
    assert series.rule.rrule() == "FREQ=MONTHLY;BYDAY=2TU"
    assert series.title == "Meeting at Free Geek" and series.key().startswith("@free geek|")


def test_a_few_upcoming_meetings_are_enough():
    days = truth("FREQ=MONTHLY;BYDAY=2WE", date(2026, 6, 1), date(2026, 8, 31))
    (series,) = detect(meetings(days, title="PDXJS: talk {n}"))
    assert series.rule.rrule() == "FREQ=MONTHLY;BYDAY=2WE" and series.title == "PDXJS"


def test_irregular_dates_are_no_series():
    rng = random.Random(9)
    days = sorted({date(2026, 1, 1) + timedelta(days=rng.randrange(365)) for _ in range(25)})
    occurrences = [
        Occurrence(
            n,
            datetime.combine(d, time(rng.choice((12, 15, 17))), tzinfo=LA),
            f"Distinguished Speaker Series: speaker {n}",
        )
        for n, d in enumerate(days)
    ]
    assert detect(occurrences) == []


def test_key_is_stable_as_the_history_grows_and_output_is_deterministic():
    days = truth("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", date(2025, 9, 2), date(2026, 8, 31))
    occurrences = meetings(days, title="Code & Coffee")
    keys = {detect(occurrences[:n])[0].key() for n in range(5, len(days) + 1)}
    assert keys == {"code coffee|FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"}
    shuffled = list(occurrences)
    random.Random(1).shuffle(shuffled)
    assert detect(shuffled) == detect(occurrences)


def test_series_orders_by_first_date_then_title():
    a = meetings(truth("FREQ=MONTHLY;BYDAY=1MO", date(2026, 1, 1), date(2026, 6, 30)), "Beta: {n}")
    b = meetings(
        truth("FREQ=MONTHLY;BYDAY=1MO", date(2026, 1, 1), date(2026, 6, 30)),
        "Alpha: {n}",
        first_key=50,
    )
    c = meetings(
        truth("FREQ=MONTHLY;BYDAY=3MO", date(2025, 6, 1), date(2026, 6, 30)),
        "Gamma: {n}",
        first_key=100,
    )
    found = detect(a + b + c)
    assert [s.title for s in found] == ["Gamma", "Alpha", "Beta"]
    assert all(isinstance(s, Series) for s in found)


def test_hostile_input_finishes_quickly():
    rng = random.Random(2)
    base = datetime(2026, 1, 6, 19, tzinfo=LA)
    long_title = "PLUG: " + "x\x00\x1b\u202e " * 2_500
    occurrences = [
        Occurrence(
            n,
            base
            if n % 3 == 0
            else base + timedelta(days=rng.randrange(900), minutes=rng.randrange(1440)),
            long_title if n % 2 else f"\x07Talk {n}\r\n",
            place="\x00" * 50,
            status="cancelled" if n % 5 == 0 else "confirmed",
            series_uid="uid" if n % 7 == 0 else "",
        )
        for n in range(20_000)
    ]
    started = clock.perf_counter()
    found = detect(occurrences)
    assert clock.perf_counter() - started < 15
    for series in found:
        assert len(series.title) <= 200 and series.members


def test_detector_reads_no_clock():
    source = (Path(series_eval.__file__).parents[1] / "normalise" / "series.py").read_text()
    assert "now(" not in source and "today(" not in source and "time.time" not in source


# -- the labelled set ------------------------------------------------------------------------


def test_labelled_set_size():
    made = series_eval.histories()
    assert 25 <= len(made) <= 40
    assert sum(len(h.labels) for h in made) >= 60
    assert {h.category for h in made} >= {"aggregator", "negative", "meetup-upcoming", "lug"}
    assert [h.name for h in made] == [h.name for h in series_eval.histories()]  # deterministic


def test_labelled_set_score():
    made = series_eval.histories()
    result = series_eval.score(series_eval.detect_pure(made), made)
    assert result.precision >= 0.95, result.wrong
    assert result.recall >= 0.90, result.missed
