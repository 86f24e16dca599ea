"""Series in the store and health: each state at frozen clocks, the commands, the notification.

The clocks are passed in (``now=``): the year's last half hour, a leap day,
the US spring-forward morning and the EU fall-back night. Histories are
written around each clock the way a group's calendar lists them: past
meetings kept by the store, the next ones listed or not.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from notify_endpoints import JsonEndpoint

from techcal.cli import cli
from techcal.event import Event
from techcal.normalise.health import series_health
from techcal.normalise.series import Rule
from techcal.notifier.deliver import deliver
from techcal.notifier.manage import subscribe
from techcal.notifier.match import match
from techcal.notifier.subscriptions import Subscription
from techcal.store import Source, add_source, open_store, upsert_events
from techcal.store.crawl_state import record_failure, record_success
from techcal.store.health import health_report, homepage, series_report
from techcal.store.ingest import keep_series
from techcal.store.query import Query
from techcal.store.search import search
from techcal.store.stored import get_event
from techcal.store.transactions import write_transaction
from techcal.writers.text import event_to_json, to_text

PDX = ZoneInfo("America/Los_Angeles")
BER = ZoneInfo("Europe/Berlin")
CLOCKS = [
    datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
    datetime(2028, 2, 29, 12, 0, tzinfo=UTC),
    datetime(2027, 3, 14, 7, 30, tzinfo=UTC),  # US spring forward
    datetime(2027, 10, 31, 1, 30, tzinfo=UTC),  # EU fall back
]
SECOND_SATURDAY = Rule("MONTHLY", weekday=5, nth=2)
MONDAYS = Rule("WEEKLY", weekday=0)


def rule_days(rule: Rule, today: date, back: int, ahead: int) -> tuple[list[date], list[date]]:
    """Return the last ``back`` rule dates before ``today`` and the next ``ahead`` from it."""
    past = list(rule.dates(today - timedelta(days=400), today - timedelta(days=1)))[-back:]
    future = list(rule.dates(today, today + timedelta(days=400)))[:ahead]
    return past, future


def meeting(
    source: str,
    day: date,
    *,
    title: str = "PLUG: monthly meeting",
    at: time = time(19, 0),
    zone: ZoneInfo = PDX,
    status: str = "confirmed",
    city: str = "Portland",
    venue: str | None = None,
) -> Event:
    """Return a meeting of ``source``'s group (each source meets in its own room)."""
    venue = venue or f"{source} room, Hackerspace"
    start = datetime.combine(day, at, zone)
    return Event(
        source=source,
        source_uid=f"{source}-{day.isoformat()}@example.org",
        title=title,
        start=start,
        end=start + timedelta(hours=2),
        timezone=zone.key,
        status=status,
        venue=venue,
        city=city,
        region="OR" if zone is PDX else None,
        country="US" if zone is PDX else "DE",
        kind="lug",
        topics=("linux",),
        url=f"https://{source}.example.org/{day.isoformat()}",
    )


def talks(source: str, days: list[date], group: str = "PLUG", **kw: object) -> list[Event]:
    topics = ["Intro to Nix", "eBPF tracing", "Kubernetes at home", "Rust in the kernel"]
    return [
        meeting(source, d, **{"title": f"{group}: {topics[i % len(topics)]}", **kw})  # type: ignore[arg-type]
        for i, d in enumerate(days)
    ]


def register(db, name: str, url: str | None = None, kind: str = "lug") -> None:
    add_source(
        db, Source(name=name, url=url or f"https://{name}.example.org/events.ics", kind=kind)
    )


def store(db, source: str, events: list[Event], now: datetime) -> None:
    """Store a source's events as a crawl's store step does (series found after them)."""
    result = upsert_events(db, source, events, now=now)
    record_success(db, source, status="ok", http_status=200, etag=None, last_modified=None, now=now)
    keep_series(db.conn, source, result, now=now)


@pytest.fixture
def db(tmp_path: Path):
    database = open_store(tmp_path / "techcal.db")
    yield database
    database.conn.close()


def today_in(now: datetime, zone: ZoneInfo = PDX) -> date:
    return now.astimezone(zone).date()


# -- the pure rules of health ----------------------------------------------------------


def test_series_health_states_from_listed_days():
    today = date(2027, 1, 4)  # a Monday
    rule = MONDAYS
    weeks = [today - timedelta(days=7 * k) for k in range(6, 0, -1)]
    listed = dict.fromkeys(weeks, "confirmed")
    assert series_health(rule, {**listed, today: "confirmed"}, today).state == "active"
    assert series_health(rule, {**listed, today: "cancelled"}, today).state == "cancelled"
    quiet = series_health(rule, listed, today)
    assert (quiet.state, quiet.next_expected, quiet.missed) == ("quiet", today, ())
    # three Mondays passed with nothing listed: over
    old = {d - timedelta(days=21): "confirmed" for d in weeks}
    over = series_health(rule, old, today)
    assert over.state == "over" and len(over.missed) == 3
    # it skips one Monday but lists the one after: active
    skip = series_health(rule, {**listed, today + timedelta(days=7): "confirmed"}, today)
    assert skip.state == "active" and skip.next_status is None


def test_a_meeting_moved_a_few_days_stands_for_its_date():
    today = date(2026, 11, 20)
    past, future = rule_days(SECOND_SATURDAY, today, 4, 1)
    listed = dict.fromkeys(past, "confirmed")
    moved = future[0] - timedelta(days=2)  # held on the Thursday before (a holiday)
    health = series_health(SECOND_SATURDAY, {**listed, moved: "confirmed"}, today)
    assert health.state == "active" and health.next_status == "confirmed"


# -- series kept by the store, and each state at frozen clocks ----------------------------


@pytest.mark.parametrize("now", CLOCKS, ids=str)
def test_each_state_at_frozen_clocks(db, now):
    today = today_in(now)
    past, future = rule_days(SECOND_SATURDAY, today, 8, 2)
    register(db, "active-lug")
    store(db, "active-lug", talks("active-lug", past + future), now)
    # a weekly group whose next Monday is not listed
    wpast, wfuture = rule_days(MONDAYS, today, 10, 0)
    register(db, "quiet-group")
    store(
        db,
        "quiet-group",
        [meeting("quiet-group", d, title="PDX Go: hack night", at=time(18, 30)) for d in wpast],
        now,
    )
    # a weekly group silent for five weeks
    register(db, "over-group")
    old = [d - timedelta(days=35) for d in wpast]
    store(
        db,
        "over-group",
        [meeting("over-group", d, title="Elixir PDX", at=time(18)) for d in old],
        now,
    )
    # a group whose next meeting is cancelled
    register(db, "cancel-lug")
    events = talks("cancel-lug", past, group="SLUG", city="Salem")
    events.append(
        meeting("cancel-lug", future[0], title="SLUG: no meeting", status="cancelled", city="Salem")
    )
    events.append(meeting("cancel-lug", future[1], title="SLUG: back next month", city="Salem"))
    store(db, "cancel-lug", events, now)

    states = {
        s.record.sources[0]: (s.health.state, s.record.rule.rrule())
        for s in series_report(db.conn, now=now)
    }
    assert states["active-lug"] == ("active", "FREQ=MONTHLY;BYDAY=2SA")
    assert states["cancel-lug"][0] == "cancelled"
    assert states["over-group"] == ("over", "FREQ=WEEKLY;BYDAY=MO")
    state, rrule = states["quiet-group"]
    assert rrule == "FREQ=WEEKLY;BYDAY=MO"
    # its next Monday is within 7 days and not listed (or today, or one has passed)
    assert state == "quiet"

    report = {s.name: s for s in health_report(db.conn, now=now)}
    assert report["quiet-group"].attention and "may have moved" in report["quiet-group"].advice
    assert not report["active-lug"].attention
    assert not report["cancel-lug"].attention  # a cancellation is not a group gone quiet
    # over: nothing upcoming, so the source is empty too, and needs a look
    assert report["over-group"].state == "empty"


@pytest.mark.parametrize("now", CLOCKS, ids=str)
def test_next_meeting_listed_by_another_source_is_not_quiet(db, now):
    today = today_in(now)
    past, future = rule_days(SECOND_SATURDAY, today, 8, 1)
    register(db, "plug")
    store(db, "plug", talks("plug", past), now)
    health = {s.record.title: s.health for s in series_report(db.conn, now=now)}
    (only,) = health.values()
    if future[0] <= today + timedelta(days=7):
        assert only.state == "quiet"
    # a community calendar lists only the next meeting, under its own title and time
    register(db, "calagator", kind="other")
    store(
        db,
        "calagator",
        [meeting("calagator", future[0], title="PLUG: February meeting", at=time(19, 30))],
        now,
    )
    (after,) = series_report(db.conn, now=now)
    assert after.health.state == "active"
    assert after.health.next_expected == future[0]


def test_a_series_two_sources_list_is_one_series_with_both(db):
    now = CLOCKS[0]
    today = today_in(now)
    past, future = rule_days(SECOND_SATURDAY, today, 6, 2)
    register(db, "plug")
    register(db, "calagator", kind="other")
    room = "Hackerspace, 123 Main St"
    store(db, "plug", talks("plug", past + future, venue=room), now)
    # the same meetings on the community calendar (merged into the same events)
    store(db, "calagator", talks("calagator", past + future, venue=room), now)
    found = series_report(db.conn, now=now)
    assert len(found) == 1
    assert set(found[0].record.sources) == {"plug", "calagator"}
    assert len(found[0].record.members) == 8
    assert [s.record.title for s in series_report(db.conn, now=now, source="calagator")] == [
        found[0].record.title
    ]


def test_a_source_that_stops_listing_its_next_meeting_goes_quiet(db):
    now = datetime(2027, 1, 2, 18, 0, tzinfo=UTC)
    today = today_in(now)
    past, future = rule_days(MONDAYS, today, 8, 2)
    register(db, "pdx-go")
    events = [meeting("pdx-go", d, title="PDX Go: hack night") for d in past + future]
    store(db, "pdx-go", events, now)
    assert [s.health.state for s in series_report(db.conn, now=now)] == ["active"]
    # the next crawl: the upcoming meetings are gone from the calendar
    later = now + timedelta(hours=1)
    store(db, "pdx-go", events[: len(past)], later)
    (status,) = series_report(db.conn, now=later)
    assert status.health.state == "quiet"
    assert status.health.next_expected == future[0]


# -- sources: failing, empty, stale, ok ---------------------------------------------------


def test_source_states(db):
    now = CLOCKS[1]
    today = today_in(now)
    past, future = rule_days(MONDAYS, today, 10, 3)
    register(db, "fine")
    store(db, "fine", [meeting("fine", d, title="Fine: hack night") for d in past + future], now)
    register(db, "broken")
    store(db, "broken", [meeting("broken", d, title="Broken meetup") for d in past + future], now)
    for _ in range(3):
        record_failure(db, "broken", error="HTTP 404", http_status=404, now=now)
    register(db, "empty")
    store(db, "empty", [meeting("empty", d, title="Empty meetup") for d in past], now)
    register(db, "stale")
    long_ago = now - timedelta(days=60)
    store(
        db,
        "stale",
        [meeting("stale", d, title="Stale: hack night") for d in past + future],
        long_ago,
    )
    record_success(
        db, "stale", status="unchanged", http_status=304, etag=None, last_modified=None, now=now
    )
    register(db, "never")

    report = {s.name: s for s in health_report(db.conn, now=now)}
    assert report["fine"].state == "ok" and not report["fine"].attention
    assert report["broken"].state == "failing"
    assert "failed 3 times" in report["broken"].problems[0]
    assert "check the URL" in report["broken"].advice
    assert report["empty"].state == "empty"
    assert report["stale"].state == "stale"
    assert "60 days" in report["stale"].problems[0]
    assert report["never"].state == "pending" and not report["never"].attention
    assert report["fine"].upcoming == 3


def test_homepage_for_the_advice():
    assert (
        homepage("https://www.meetup.com/pdx-go/events/ical/") == "https://www.meetup.com/pdx-go/"
    )
    assert homepage("webcal://pdxlinux.org/calendar.ics") == "https://pdxlinux.org/"
    assert homepage("file:///home/me/plug.ics") is None


# -- where people look: show, search JSON ---------------------------------------------------


def test_show_and_search_json_carry_the_rhythm(db):
    now = CLOCKS[0]
    today = today_in(now)
    past, future = rule_days(SECOND_SATURDAY, today, 10, 2)
    register(db, "plug")
    store(db, "plug", talks("plug", past + future), now)
    (hit, *_) = search(db.conn, Query(topics=("linux",)), now=now)
    assert hit.series is not None
    data = event_to_json(hit)
    assert data["series"]["rule"] == "FREQ=MONTHLY;BYDAY=2SA"
    assert data["series"]["text"] == "every 2nd Saturday, 19:00"
    assert data["series"]["since"] == past[0].isoformat()
    event = get_event(db.conn, str(hit.id))
    assert event is not None and event.series is not None
    text = to_text(event, PDX, now=now)
    line = next(line for line in text.splitlines() if line.startswith("series:"))
    assert "every 2nd Saturday, 19:00" in line and f"since {past[0]:%b %Y}" in line
    assert "next expected" in line


# -- the commands (their clock is the real one: the histories are written around it) ----------


def test_series_and_health_commands(tmp_path):
    db_path = tmp_path / "cli.db"
    db = open_store(db_path)
    now = datetime.now(UTC)
    today = today_in(now)
    past, future = rule_days(SECOND_SATURDAY, today, 8, 2)
    register(db, "plug", url="https://pdxlinux.org/events.ics")
    store(db, "plug", talks("plug", past + future), now)
    db.conn.close()
    runner = CliRunner()
    listed = runner.invoke(cli, ["--db", str(db_path), "series"])
    assert listed.exit_code == 0, listed.output
    assert "every 2nd Saturday, 19:00" in listed.output and "[active]" in listed.output
    as_json = json.loads(runner.invoke(cli, ["--db", str(db_path), "series", "--json"]).output)
    assert as_json[0]["state"] == "active" and as_json[0]["sources"] == ["plug"]
    assert as_json[0]["next_expected"] == future[0].isoformat()
    health = runner.invoke(cli, ["--db", str(db_path), "sources", "health"])
    assert health.exit_code == 0, health.output
    assert health.output.startswith("plug  ok  ")
    unknown = runner.invoke(cli, ["--db", str(db_path), "series", "--source", "nope"])
    assert unknown.exit_code != 0 and "no such source" in unknown.output

    # the group stops listing what is coming: quiet (or, on a day far from its
    # next meeting, still active until it is due), and the source is empty
    db = open_store(db_path)
    store(db, "plug", talks("plug", past), now)
    db.conn.close()
    health = runner.invoke(cli, ["--db", str(db_path), "sources", "health", "--json"])
    assert health.exit_code == 1
    (plug,) = json.loads(health.output)
    assert plug["state"] == "empty" and plug["attention"] is True
    assert "techcal sources discover https://pdxlinux.org/" in plug["advice"]


# -- the notification: once per missed occurrence, through a real endpoint --------------------


def test_health_subscription_is_told_once_per_missed_occurrence(db):
    now = datetime(2027, 1, 4, 20, 0, tzinfo=UTC)  # Monday noon in Portland
    today = today_in(now)
    past, _ = rule_days(MONDAYS, today, 8, 0)
    register(db, "pdx-go", url="https://www.meetup.com/pdx-go/events/ical/")
    register(db, "plug")
    store(db, "pdx-go", [meeting("pdx-go", d, title="PDX Go: hack night") for d in past], now)
    sp, sf = rule_days(SECOND_SATURDAY, today, 6, 2)
    store(db, "plug", talks("plug", sp + sf), now)
    with JsonEndpoint() as endpoint:
        conn = db.conn
        sub = Subscription("go-watch", [endpoint.url()], health=True, sources=["pdx-go"])
        assert "watches 1 series" in subscribe(conn, sub, (), now=now)
        plug_watch = Subscription(
            "plug-watch", [endpoint.url("plug")], health=True, sources=["plug"]
        )
        subscribe(conn, plug_watch, (), now=now)
        for minutes in (0, 10, 60):  # three notify runs: one message
            at = now + timedelta(minutes=minutes)
            with write_transaction(conn):
                match(conn, now=at)
            deliver(conn, now=at)
        quiet = [
            m for m in endpoint.received if m["path"] == "/hook" and "not listed" in m["title"]
        ]
        (group,) = [s.record.title for s in series_report(conn, now=now, source="pdx-go")]
        assert [m["title"] for m in quiet] == [
            f"{group}'s meeting (every Monday) is not listed for Mon 4 Jan 2027"
        ]
        assert "techcal sources discover https://www.meetup.com/pdx-go/" in quiet[0]["message"]
        assert "techcal: 'go-watch' watches 1 series" in endpoint.titles()
        # the plug watcher hears nothing of pdx-go, and its own group is fine
        assert [
            m for m in endpoint.received if m["path"] == "/plug" and "not listed" in m["title"]
        ] == []
        # a week later the next Monday is missed too: one more message, about it
        week = now + timedelta(days=7)
        for minutes in (0, 30):
            with write_transaction(conn):
                match(conn, now=week + timedelta(minutes=minutes))
            deliver(conn, now=week + timedelta(minutes=minutes))
        quiet = [
            m for m in endpoint.received if m["path"] == "/hook" and "not listed" in m["title"]
        ]
        assert len(quiet) == 2
        assert quiet[0]["title"] != quiet[1]["title"]


def test_health_options_are_checked(tmp_path):
    runner = CliRunner()
    db_path = str(tmp_path / "x.db")
    result = runner.invoke(
        cli,
        [
            "--db",
            db_path,
            "subscribe",
            "add",
            "w",
            "--health",
            "--remind",
            "1h",
            "--notify",
            "json://127.0.0.1:9/x",
        ],
    )
    assert result.exit_code != 0 and "--remind" in result.output
    result = runner.invoke(
        cli,
        [
            "--db",
            db_path,
            "subscribe",
            "add",
            "w",
            "--source",
            "plug",
            "--notify",
            "json://127.0.0.1:9/x",
        ],
    )
    assert result.exit_code != 0 and "--health" in result.output
    result = runner.invoke(
        cli,
        [
            "--db",
            db_path,
            "subscribe",
            "add",
            "w",
            "--health",
            "--source",
            "nope",
            "--notify",
            "json://127.0.0.1:9/x",
        ],
    )
    assert result.exit_code != 0 and "no such source" in result.output


def test_an_older_store_gets_its_series_when_asked(tmp_path):
    """A store whose events were kept before series were: found on first `techcal series`."""
    path = tmp_path / "old.db"
    db = open_store(path)
    now = CLOCKS[0]
    past, future = rule_days(SECOND_SATURDAY, today_in(now), 6, 1)
    register(db, "plug")
    upsert_events(db, "plug", talks("plug", past + future), now=now)
    db.conn.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM series").fetchone()[0] == 0
    db = open_store(path)
    assert [s.record.rule.rrule() for s in series_report(db.conn, now=now)] == [
        "FREQ=MONTHLY;BYDAY=2SA"
    ]
    db.conn.close()


def test_next_meeting_posted_joins_its_series_and_a_special_does_not(db):
    """The usual change (the next meeting posted) joins the series without finding it again."""
    now = CLOCKS[2]
    today = today_in(now)
    past, future = rule_days(SECOND_SATURDAY, today, 8, 3)
    register(db, "plug")
    events = talks("plug", past + future[:2])
    store(db, "plug", events, now)
    (before,) = series_report(db.conn, now=now)
    later = now + timedelta(hours=6)
    posted = meeting("plug", future[2], title="PLUG: Wayland")
    store(db, "plug", [*events, posted], later)
    (after,) = series_report(db.conn, now=later)
    assert after.record.id == before.record.id
    assert len(after.record.members) == len(before.record.members) + 1
    assert after.record.last == future[2]
    # a holiday party on a Friday evening fits no series: found again, and not a member
    party = meeting("plug", future[0] - timedelta(days=1), title="PLUG Holiday Party", at=time(21))
    store(db, "plug", [*events, posted, party], later + timedelta(hours=1))
    (again,) = series_report(db.conn, now=later)
    assert again.record.rule.rrule() == "FREQ=MONTHLY;BYDAY=2SA"
    party_id = db.conn.execute(
        "SELECT event_id FROM provenance WHERE source_uid = ?", (party.source_uid,)
    ).fetchone()[0]
    assert party_id not in again.record.members
