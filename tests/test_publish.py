"""Calendar feeds that calendar apps keep: byte-identical, zones, UIDs, SEQUENCE, statuses.

Every feed is parsed back with four independent readers: icalendar,
recurring-ical-events, the strict ``ical`` package and ``ics``.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import feedparser
import icalendar
import ics
import pytest
import recurring_ical_events
import sqlite_utils
from ical.calendar_stream import IcsCalendarStream

from techcal.cli import cli
from techcal.errors import QueryError
from techcal.publish.feeds import atom_feed, calendar_window, ics_feed, json_feed
from techcal.publish.params import query_from_params
from techcal.publish.site import publish_site
from techcal.store import Source, add_source, open_store, upsert_events
from techcal.store.database import connect
from techcal.store.event_rows import RECORD_COLUMNS, provenance_record
from techcal.store.merges import merge_events
from techcal.store.query import Query, build_query
from techcal.store.schema import MIGRATIONS
from techcal.store.search import search
from techcal.store.stored import source_names, source_records
from techcal.writers.ical import calendar, calendar_description

from conftest import NOW, make_event

LA = ZoneInfo("America/Los_Angeles")
BERLIN = ZoneInfo("Europe/Berlin")


def _plug_events() -> list:
    first = datetime(2026, 12, 3, 18, 30, tzinfo=LA)
    return [
        make_event(1, start=first, end=first + timedelta(hours=2), topics=("linux",)),
        make_event(
            2,
            title="PLUG install fest",
            start=first + timedelta(days=7),
            end=first + timedelta(days=7, hours=3),
        ),
        make_event(
            3,
            title="PLUG holiday social",
            start=first + timedelta(days=14),
            end=None,
            status="cancelled",
        ),
        make_event(
            4,
            title="PLUG repair day",
            start=datetime(2026, 12, 12, tzinfo=LA),
            end=datetime(2026, 12, 13, tzinfo=LA),
            all_day=True,
            topics=("linux", "repair-reuse"),
        ),
        make_event(
            5,
            title="PLUG board call (online)",
            start=datetime(2026, 12, 8, 2, 0, tzinfo=UTC),
            end=datetime(2026, 12, 8, 3, 0, tzinfo=UTC),
            timezone=None,
            online=True,
            online_url="https://meet.example.org/plug",
            venue=None,
            lat=None,
            lon=None,
            city=None,
        ),
    ]


def _berlin_events() -> list:
    start = datetime(2026, 12, 5, 19, 0, tzinfo=BERLIN)
    return [
        make_event(
            10,
            source="berlin",
            source_uid="py-berlin-1@meetup.example",
            title="Python Users Berlin: typing in practice",
            description="Talks; bring questions.",
            url="https://example.org/pub/1",
            start=start,
            end=start + timedelta(hours=2),
            timezone="Europe/Berlin",
            venue="c-base",
            city="Berlin",
            region=None,
            country="DE",
            lat=52.5130,
            lon=13.4200,
            kind="user-group",
            topics=("python",),
            organizer="Python Users Berlin",
        ),
    ]


@pytest.fixture
def store(db, plug):
    add_source(db, Source(name="berlin", url="https://example.org/berlin.ics", kind="user-group"))
    upsert_events(db, "plug", _plug_events(), now=NOW)
    upsert_events(db, "berlin", _berlin_events(), now=NOW)
    return db


def _everything(db) -> Query:
    return Query(limit=None)


def _vevents(body: bytes) -> dict[str, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(body)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


# -- each VEVENT written from its row when the feed is made -----------------


def _reference(conn, query: Query, now: datetime, name: str = "techcal: all events") -> bytes:
    """Return the feed of ``query`` built wholly by icalendar."""
    hits = search(conn, calendar_window(query, now), now=now)
    hits.sort(key=lambda h: (h.start_utc, h.id))
    names = source_names(conn, [h.id for h in hits])
    return calendar(
        ((h, names[h.id]) for h in hits), name=name, description=calendar_description(query)
    )


def test_the_feed_equals_one_built_wholly_by_icalendar(store):
    feed = ics_feed(store.conn, _everything(store), now=NOW)
    assert feed.body == _reference(store.conn, Query(), NOW)
    assert feed.count == 6


def test_a_change_shows_in_the_next_feed(store):
    moved = _plug_events()
    moved[0] = make_event(
        1,
        start=datetime(2026, 12, 3, 19, 0, tzinfo=LA),
        end=datetime(2026, 12, 3, 21, 0, tzinfo=LA),
        topics=("linux",),
    )
    upsert_events(store, "plug", moved, now=NOW + timedelta(hours=1))
    uid = store.conn.execute(
        "SELECT e.uid FROM events e JOIN provenance p ON p.event_id = e.id"
        " WHERE p.source_uid = 'meeting-1@pdxlinux.org'"
    ).fetchone()[0]
    feed = ics_feed(store.conn, _everything(store), now=NOW + timedelta(hours=1))
    event = _vevents(feed.body)[uid]
    assert event.decoded("DTSTART") == datetime(2026, 12, 3, 19, 0, tzinfo=LA)
    assert int(event["SEQUENCE"]) == 1
    assert feed.body == _reference(store.conn, Query(), NOW + timedelta(hours=1))


def test_renaming_a_source_shows_in_the_feeds_that_name_it(store):
    store.conn.execute("UPDATE sources SET name = 'pub' WHERE name = 'berlin'")
    body = ics_feed(store.conn, Query(limit=None, topics=("python",)), now=NOW).body
    assert b"Listed by: pub" in body
    assert b"X-TECHCAL-SOURCES:pub\r\n" in body


def test_a_store_with_stored_blocks_migrates_and_serves_the_same_bytes(tmp_path):
    """A store made before feeds were written from rows: its blocks, triggers and key go."""
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(connect(path))
    MIGRATIONS.apply(old, stop_before="m009_drop_stored_blocks")
    add_source(old, Source(name="plug", url="https://pdxlinux.org/events.ics", kind="lug"))
    # (not matched: the matcher's index is a later migration's)
    upsert_events(old, "plug", _plug_events(), now=NOW, match=False)
    # blocks as the older techcal stored them, one of them stale, with its meta key
    ids = [row[0] for row in old.execute("SELECT id FROM events ORDER BY id")]
    old.conn.executemany(
        "INSERT INTO event_ics (event_id, block) VALUES (?, ?)",
        [(i, "BEGIN:VEVENT\r\nSUMMARY:STALE\r\nEND:VEVENT\r\n") for i in ids],
    )
    old.execute("INSERT INTO meta (key, value) VALUES ('ics_render', '1/icalendar-7.3')")
    old.conn.commit()
    old.conn.close()

    db = open_store(path)
    assert "m009_drop_stored_blocks" in {m.name for m in MIGRATIONS.applied(db)}
    schema = db.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    assert [row[:2] for row in schema if "event_ics" in (row[2] or "") + row[1]] == []
    assert db.execute("SELECT count(*) FROM meta WHERE key = 'ics_render'").fetchone()[0] == 0
    assert "merged_into" in db["events"].columns_dict  # m007's other change stays
    # writes that fired the old triggers still work; feeds come from the rows
    upsert_events(db, "plug", _plug_events()[1:], now=NOW + timedelta(hours=1))
    db.execute("UPDATE sources SET name = 'pdx' WHERE name = 'plug'")
    later = NOW + timedelta(hours=1)
    body = ics_feed(db.conn, _everything(db), now=later).body
    assert b"STALE" not in body and b"Listed by: pdx" in body
    assert body == _reference(db.conn, Query(), later)
    db.conn.close()
    assert open_store(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- what calendar apps see ------------------------------------------------


def test_zones_all_day_and_utc_are_kept(store):
    body = ics_feed(store.conn, _everything(store), now=NOW).body
    text = body.decode()
    cal = icalendar.Calendar.from_ical(body)
    zones = sorted(str(tz["TZID"]) for tz in cal.walk("VTIMEZONE"))
    assert zones == ["America/Los_Angeles", "Europe/Berlin"]
    assert "DTSTART;TZID=America/Los_Angeles:20261203T183000\r\n" in text
    assert "DTSTART;TZID=Europe/Berlin:20261205T190000\r\n" in text
    assert "DTSTART;VALUE=DATE:20261212\r\n" in text
    assert "DTEND;VALUE=DATE:20261213\r\n" in text
    assert "DTSTART:20261208T020000Z\r\n" in text
    # every TZID used has its VTIMEZONE
    assert cal.get_missing_tzids() == set()


def test_calendar_properties(store):
    query = build_query(topics=["python"], near="Berlin", within="30km", now=NOW)
    text = ics_feed(store.conn, query, now=NOW, url="https://ev.example/calendar.ics").body.decode()
    assert "PRODID:-//techcal//techcal 0.1//EN\r\n" in text
    assert "VERSION:2.0\r\n" in text
    assert "METHOD:PUBLISH\r\n" in text
    assert "X-WR-CALNAME:techcal: python near Berlin" in text
    assert "X-WR-CALDESC:" in text
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in text
    assert "X-PUBLISHED-TTL:PT1H\r\n" in text
    assert "SOURCE;VALUE=URI:https://ev.example/calendar.ics\r\n" in text


def test_event_properties(store):
    events = _vevents(ics_feed(store.conn, _everything(store), now=NOW).body)
    berlin = next(e for e in events.values() if "typing" in str(e["SUMMARY"]))
    assert str(berlin["URL"]) == "https://example.org/pub/1"
    assert str(berlin["LOCATION"]) == "c-base, Berlin"
    assert berlin["GEO"].latitude == pytest.approx(52.513)
    assert [str(c) for c in berlin["CATEGORIES"].cats] == ["python"]
    assert str(berlin["STATUS"]) == "CONFIRMED"
    assert berlin["ORGANIZER"].params["CN"] == "Python Users Berlin"
    description = str(berlin["DESCRIPTION"])
    assert "Talks; bring questions." in description
    assert "Event page: https://example.org/pub/1" in description
    assert "Listed by: berlin" in description
    stamp = berlin.decoded("DTSTAMP")
    assert stamp == berlin.decoded("LAST-MODIFIED") == NOW
    online = next(e for e in events.values() if "board call" in str(e["SUMMARY"]))
    assert str(online["LOCATION"]) == "https://meet.example.org/plug"
    assert "GEO" not in online


def test_cancelled_removed_and_merged_events(store):
    later = NOW + timedelta(hours=3)
    # meeting 2 vanishes from its source: kept, as cancelled, with a higher SEQUENCE
    upsert_events(store, "plug", [e for e in _plug_events() if "install" not in e.title], now=later)
    events = _vevents(ics_feed(store.conn, _everything(store), now=later).body)
    by_title = {str(e["SUMMARY"]): e for e in events.values()}
    assert str(by_title["PLUG holiday social"]["STATUS"]) == "CANCELLED"
    gone = by_title["PLUG install fest"]
    assert str(gone["STATUS"]) == "CANCELLED"
    assert int(gone["SEQUENCE"]) == 1
    assert "No longer listed" in str(gone["DESCRIPTION"])
    assert gone.decoded("DTSTAMP") == later
    # search hides both; the feed keeps them until they are past
    shown = {h.title for h in search(store.conn, Query(limit=None), now=later)}
    assert "PLUG install fest" not in shown and "PLUG holiday social" not in shown
    # a merged-away copy is not a cancellation: it leaves the feed
    ids = {
        t: i for i, t in store.conn.execute("SELECT id, title FROM events WHERE removed_at IS NULL")
    }
    berlin = ids["Python Users Berlin: typing in practice"]
    merge_events(store.conn, str(ids["PLUG repair day"]), str(berlin))
    titles = {
        str(e["SUMMARY"])
        for e in _vevents(ics_feed(store.conn, _everything(store), now=later).body).values()
    }
    assert "Python Users Berlin: typing in practice" not in titles
    assert "PLUG repair day" in titles


def test_past_events_leave_the_feed_after_thirty_days(store):
    later = datetime(2027, 1, 5, tzinfo=UTC)  # 33 days after the first meeting
    titles = {
        str(e["SUMMARY"])
        for e in _vevents(ics_feed(store.conn, _everything(store), now=later).body).values()
    }
    assert "PLUG meeting 1: Intro to eBPF" not in titles
    assert "PLUG install fest" in titles  # 2026-12-10: within 30 days


def test_uids_are_stable_across_feeds_and_sequence_grows_on_a_move(store):
    linux = ics_feed(store.conn, Query(limit=None, topics=("linux",)), now=NOW).body
    every = ics_feed(store.conn, _everything(store), now=NOW).body
    assert set(_vevents(linux)) < set(_vevents(every))
    before = _vevents(every)
    moved = _plug_events()
    moved[1] = make_event(
        2,
        title="PLUG install fest",
        start=datetime(2026, 12, 11, 18, 0, tzinfo=LA),
        end=datetime(2026, 12, 11, 21, 0, tzinfo=LA),
        venue="Free Geek",
    )
    upsert_events(store, "plug", moved, now=NOW + timedelta(days=1))
    after = _vevents(ics_feed(store.conn, _everything(store), now=NOW + timedelta(days=1)).body)
    assert set(after) == set(before)
    changed = [uid for uid in after if after[uid]["SEQUENCE"] != before[uid]["SEQUENCE"]]
    assert len(changed) == 1
    event = after[changed[0]]
    assert str(event["SUMMARY"]) == "PLUG install fest"
    assert int(event["SEQUENCE"]) == int(before[changed[0]]["SEQUENCE"]) + 1
    assert str(event["LOCATION"]).startswith("Free Geek")
    assert event.decoded("LAST-MODIFIED") == NOW + timedelta(days=1)


def test_an_unchanged_store_gives_byte_identical_feeds(store, db_path):
    first = ics_feed(store.conn, _everything(store), now=NOW)
    upsert_events(store, "plug", _plug_events(), now=NOW + timedelta(hours=5))
    again = ics_feed(store.conn, _everything(store), now=NOW + timedelta(hours=5))
    assert again.body == first.body
    assert again.etag == first.etag
    assert again.last_modified == NOW


# -- four independent readers ---------------------------------------------


def test_the_feed_parses_with_four_readers(store):
    body = ics_feed(store.conn, _everything(store), now=NOW).body
    uids = set(_vevents(body))
    assert len(uids) == 6

    strict = IcsCalendarStream.calendar_from_ics(body.decode())
    assert {e.uid for e in strict.events} == uids
    by_uid = {e.uid: e for e in strict.events}
    berlin = next(e for e in strict.events if "typing" in (e.summary or ""))
    assert berlin.dtstart == datetime(2026, 12, 5, 19, 0, tzinfo=BERLIN)
    assert str(berlin.dtstart.tzinfo) == "Europe/Berlin"
    repair = next(e for e in strict.events if e.summary == "PLUG repair day")
    assert repair.dtstart == date(2026, 12, 12)
    social = next(e for e in by_uid.values() if e.summary == "PLUG holiday social")
    assert social.status is not None and social.status.value == "CANCELLED"

    other = ics.Calendar(body.decode())
    assert {e.uid for e in other.events} == uids
    social = next(e for e in other.events if e.name == "PLUG holiday social")
    assert social.status == "CANCELLED"
    meeting = next(e for e in other.events if e.name.startswith("PLUG meeting 1"))
    assert meeting.begin.datetime == datetime(2026, 12, 3, 18, 30, tzinfo=LA)

    cal = icalendar.Calendar.from_ical(body)
    window = recurring_ical_events.of(cal).between(date(2026, 12, 1), date(2026, 12, 31))
    assert {str(e["UID"]) for e in window} == uids
    week = recurring_ical_events.of(cal).between(date(2026, 12, 3), date(2026, 12, 6))
    assert {str(e["SUMMARY"]) for e in week} == {
        "PLUG meeting 1: Intro to eBPF",
        "Python Users Berlin: typing in practice",
    }


def test_untrusted_text_is_escaped_in_ical(store):
    upsert_events(
        store,
        "berlin",
        [
            *_berlin_events(),
            make_event(
                11,
                source="berlin",
                title="Evil; title, with\nnewline\r\nBEGIN:VEVENT",
                description="DESCRIPTION:fake\r\nEND:VCALENDAR",
                start=datetime(2026, 12, 6, 19, 0, tzinfo=BERLIN),
                end=None,
                timezone="Europe/Berlin",
            ),
        ],
        now=NOW,
    )
    body = ics_feed(store.conn, _everything(store), now=NOW).body
    assert body.count(b"\r\nBEGIN:VEVENT\r\n") == 7
    assert body.count(b"\r\nEND:VCALENDAR\r\n") == 1
    strict = IcsCalendarStream.calendar_from_ics(body.decode())
    assert len(strict.events) == 7


# -- the other feeds ---------------------------------------------------------


def test_atom_and_json_feeds(store):
    query = Query(topics=("linux",))
    atom = atom_feed(store.conn, query, now=NOW, url="https://ev.example/events.atom")
    parsed = feedparser.parse(atom.body)
    assert not parsed.bozo, parsed.bozo_exception
    titles = [e.title for e in parsed.entries]
    assert titles[0].startswith("PLUG meeting 1: Intro to eBPF (Thu 3 Dec 2026, 18:30 PST)")
    assert any(t.startswith("Cancelled: PLUG holiday social") for t in titles)
    assert parsed.feed.title == "techcal: linux"
    assert all(e.id.startswith("urn:techcal:event:") for e in parsed.entries)
    assert atom_feed(store.conn, query, now=NOW, url="https://ev.example/events.atom") == atom

    import json

    data = json.loads(json_feed(store.conn, Query(topics=("python",)), now=NOW).body)
    assert [d["title"] for d in data] == ["Python Users Berlin: typing in practice"]
    for name in ("id", "uid", "title", "start", "end", "timezone", "topics", "kind", "sources"):
        assert name in data[0]
    assert data[0]["sources"][0]["name"] == "berlin"


def test_feed_url_parameters(store):
    query = query_from_params(
        {"topic": ["python"], "near": ["Berlin"], "within": ["30km"], "t": ["123"]},
        now=NOW,
        conn=store.conn,
    )
    assert query.topics == ("python",) and query.within_km == 30
    for params, option in (
        ({"within": ["5km"]}, "--within"),
        ({"kind": ["pub"]}, "--kind"),
        ({"days": ["x"]}, "days"),
        ({"online": ["maybe"]}, "online"),
        ({"from": ["yesterday-ish"]}, "--from"),
        ({"q": ["a", "b"]}, "q"),
    ):
        with pytest.raises(QueryError) as error:
            query_from_params(params, now=NOW, conn=store.conn)
        assert error.value.option == option


# -- the command and the static site ---------------------------------------


def test_feed_command_writes_the_file_and_leaves_it_alone_when_unchanged(
    store, db_path, runner, tmp_path
):
    # the command runs on the real clock: events relative to it
    today = datetime.now(UTC).replace(microsecond=0)
    upsert_events(
        store,
        "plug",
        [make_event(20, start=today + timedelta(days=2), end=None, title="PLUG soon")],
        now=NOW,
        complete=False,
    )
    store.conn.close()
    out = tmp_path / "linux.ics"
    result = runner.invoke(cli, ["--db", str(db_path), "feed", "--topic", "linux", "-o", str(out)])
    assert result.exit_code == 0, result.output
    body = out.read_bytes()
    assert body.startswith(b"BEGIN:VCALENDAR\r\n")
    assert b"X-WR-CALNAME:techcal: linux\r\n" in body
    assert b"SUMMARY:PLUG soon\r\n" in body
    assert b"Python Users Berlin" not in body
    mtime = out.stat().st_mtime_ns
    again = runner.invoke(cli, ["--db", str(db_path), "feed", "--topic", "linux", "-o", str(out)])
    assert again.exit_code == 0
    assert "(unchanged)" in again.output
    assert out.stat().st_mtime_ns == mtime
    bad = runner.invoke(cli, ["--db", str(db_path), "feed", "--within", "5km", "-o", str(out)])
    assert bad.exit_code == 2
    assert "--within: needs --near" in bad.output
    assert "Traceback" not in bad.output


def test_publish_writes_a_site_and_touches_only_what_changed(store, tmp_path):
    site = tmp_path / "site"
    first = publish_site(store.conn, site, "https://ev.example/cal", now=NOW)
    names = sorted(first.written)
    for expected in (
        "all.ics",
        "all.atom",
        "all.json",
        "index.html",
        "topics/linux.ics",
        "topics/linux.atom",
        "topics/python.ics",
        "kinds/lug.ics",
        "kinds/user-group.atom",
    ):
        assert expected in names
    assert not first.unchanged
    html = (site / "index.html").read_text()
    assert 'href="webcal://ev.example/cal/all.ics"' in html
    assert "https://ev.example/cal/topics/linux.ics" in html
    assert (
        b"SOURCE;VALUE=URI:https://ev.example/cal/topics/python.ics"
        in (site / "topics/python.ics").read_bytes()
    )
    stamps = {p: (site / p).stat().st_mtime_ns for p in names}
    os.utime(site / "all.ics", ns=(1, 1))  # a sync tool would see this as changed
    second = publish_site(store.conn, site, "https://ev.example/cal", now=NOW)
    assert second.written == [] and sorted(second.unchanged) == names
    assert (site / "topics/linux.ics").stat().st_mtime_ns == stamps["topics/linux.ics"]

    # a Berlin change rewrites the python and all feeds, not the linux ones
    moved = _berlin_events()
    moved[0].title = "Python Users Berlin: typing in depth"
    upsert_events(store, "berlin", moved, now=NOW + timedelta(hours=1))
    third = publish_site(store.conn, site, "https://ev.example/cal", now=NOW)
    assert "topics/python.ics" in third.written and "all.ics" in third.written
    assert "topics/linux.ics" in third.unchanged and "kinds/lug.ics" in third.unchanged
    # a topic whose events are gone keeps an (empty) feed, not a 404
    later = datetime(2027, 3, 1, tzinfo=UTC)
    fourth = publish_site(store.conn, site, "https://ev.example/cal", now=later)
    assert "topics/python.ics" in fourth.written
    assert b"BEGIN:VEVENT" not in (site / "topics/python.ics").read_bytes()


def test_each_published_feed_has_the_bytes_it_has_alone(store, tmp_path):
    # blocks written for all.ics are lent to the topic and kind feeds
    site = tmp_path / "site"
    publish_site(store.conn, site, "https://ev.example/", now=NOW)
    for stem, query in (
        ("all", Query(limit=None)),
        ("topics/linux", Query(topics=("linux",))),
        ("topics/python", Query(topics=("python",))),
        ("kinds/lug", Query(kinds=("lug",))),
    ):
        alone = ics_feed(store.conn, query, now=NOW, url=f"https://ev.example/{stem}.ics")
        assert (site / f"{stem}.ics").read_bytes() == alone.body, stem


def test_publish_command(store, db_path, runner, tmp_path):
    store.conn.close()
    site = tmp_path / "out"
    result = runner.invoke(
        cli, ["--db", str(db_path), "publish", str(site), "--base-url", "https://ev.example/"]
    )
    assert result.exit_code == 0, result.output
    assert "file(s) written" in result.output
    assert (site / "index.html").exists() and (site / "all.ics").exists()
    bad = runner.invoke(cli, ["--db", str(db_path), "publish", str(site), "--base-url", "ev"])
    assert bad.exit_code == 2
    assert "--base-url" in bad.output and "Traceback" not in bad.output
    # publishing only reads: a database that is not there is not made
    missing = tmp_path / "none.db"
    none = runner.invoke(
        cli, ["--db", str(missing), "publish", str(site), "--base-url", "https://ev.example/"]
    )
    assert none.exit_code == 1 and "no techcal database" in none.output
    assert not missing.exists()


def test_search_ics_matches_the_feed_blocks(store):
    """``search --format ics`` and the feeds render events the same way."""
    hits = search(store.conn, Query(limit=None, topics=("python",)), now=NOW)
    names = source_names(store.conn, [h.id for h in hits])
    whole = calendar(((h, names[h.id]) for h in hits), name="x")
    feed = ics_feed(store.conn, Query(limit=None, topics=("python",)), now=NOW).body
    assert set(_vevents(whole)) == set(_vevents(feed))
    block = feed.split(b"BEGIN:VEVENT")[1]
    assert block in whole


# -- found in review ---------------------------------------------------------


def test_an_event_whose_source_was_removed_stays_as_cancelled(store):
    from techcal.store.sources import remove_source

    remove_source(store, "berlin", now=NOW)
    events = _vevents(ics_feed(store.conn, _everything(store), now=NOW).body)
    berlin = [e for e in events.values() if "typing" in str(e["SUMMARY"])]
    assert len(berlin) == 1 and str(berlin[0]["STATUS"]) == "CANCELLED"


def test_only_web_links_reach_the_feeds(store):
    upsert_events(
        store,
        "berlin",
        [*_berlin_events(), make_event(12, source="berlin", url="javascript:alert(1)")],
        now=NOW,
    )
    body = ics_feed(store.conn, _everything(store), now=NOW).body
    assert b"javascript" not in body.lower()
    atom = atom_feed(store.conn, Query(), now=NOW).body
    assert b"javascript" not in atom.lower()
    assert b"javascript" not in json_feed(store.conn, Query(), now=NOW).body.lower()
    # links stored before normalisation checked them: every writer still keeps them out
    with store.conn:
        store.conn.execute("UPDATE events SET url = 'javascript:alert(1)',"
                           " online_url = ' JavaScript:alert(2)'")  # fmt: skip
        # (records are JSON, compressed when long: rewritten as the store writes them)
        for prov_id, values in source_records(store.conn).items():
            values = {k: v.replace("https:", "javascript:") if isinstance(v, str) else v
                      for k, v in values.items()}  # fmt: skip
            row = tuple(values[c] for c in RECORD_COLUMNS)
            store.conn.execute(
                "UPDATE provenance SET record = ? WHERE id = ?", (provenance_record(row), prov_id)
            )
    for body in (
        ics_feed(store.conn, _everything(store), now=NOW).body,
        atom_feed(store.conn, Query(), now=NOW).body,
        json_feed(store.conn, Query(), now=NOW).body,
    ):
        assert b"javascript" not in body.lower()


def test_utc_named_zones_need_no_vtimezone(store):
    start = datetime(2026, 12, 9, 17, 0, tzinfo=UTC)
    upsert_events(
        store,
        "berlin",
        [*_berlin_events(), make_event(13, source="berlin", start=start, end=None, timezone="UTC")],
        now=NOW,
    )
    body = ics_feed(store.conn, _everything(store), now=NOW).body
    assert b"TZID:UTC" not in body
    assert b"DTSTART:20261209T170000Z\r\n" in body
    assert icalendar.Calendar.from_ical(body).get_missing_tzids() == set()


def test_publish_writes_a_feed_per_saved_subscription(store, db_path, runner, tmp_path):
    from techcal.normalise.gazetteer import Place
    from techcal.notifier.subscriptions import Subscription, add_subscription

    sub = Subscription(
        name="Berlin-Python", targets=["json://user:s3cret@127.0.0.1:9/x"], topics=("python",),
        near=Place(name="Berlin", lat=52.52, lon=13.405),
    )  # fmt: skip
    add_subscription(store.conn, sub, now=NOW)
    store.conn.close()
    site = tmp_path / "site"
    result = runner.invoke(
        cli, ["--db", str(db_path), "publish", str(site), "--base-url", "https://ev.example/"]
    )
    assert result.exit_code == 0, result.output
    feed = site / "subscriptions" / "Berlin-Python.ics"
    assert feed.exists() and (site / "subscriptions" / "Berlin-Python.atom").exists()
    everything = b"".join(p.read_bytes() for p in site.rglob("*") if p.is_file())
    assert b"s3cret" not in everything
    assert "Subscription: Berlin-Python" in (site / "index.html").read_text()


# -- hardening for a public deployment (issue 16) ---------------------------


def _site_files(site):
    return {
        str(p.relative_to(site)): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()
    }


def test_publish_is_whole_or_leaves_the_old_site(store, db_path, runner, tmp_path):
    site = tmp_path / "site"
    publish_site(store.conn, site, "https://ev.example/", now=NOW)
    (site / "CNAME").write_text("ev.example\n")  # the host's own file: publish keeps it
    # the next publish cannot finish: a folder stands where its last file, the page, goes
    (site / "index.html").unlink()
    (site / "index.html").mkdir()
    (site / "index.html" / "keep").write_text("old")
    old = _site_files(site)
    moved = _berlin_events()
    moved[0].title = "Python Users Berlin: typing in depth"
    upsert_events(store, "berlin", moved, now=NOW + timedelta(hours=1))
    store.conn.close()
    result = runner.invoke(
        cli, ["--db", str(db_path), "publish", str(site), "--base-url", "https://ev.example/"]
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert _site_files(site) == old  # not one file of the new site: all.ics is the old one
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site.")]


def test_publish_keeps_what_it_did_not_write_and_the_unchanged_files_themselves(store, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "CNAME").write_text("ev.example\n")
    (site / ".git").mkdir()
    (site / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (site / "latest.ics").symlink_to("all.ics")
    publish_site(store.conn, site, "https://ev.example/", now=NOW)
    inode = (site / "topics" / "linux.ics").stat().st_ino
    moved = _berlin_events()
    moved[0].title = "Python Users Berlin: typing in depth"
    upsert_events(store, "berlin", moved, now=NOW + timedelta(hours=1))
    second = publish_site(store.conn, site, "https://ev.example/", now=NOW)
    assert "all.ics" in second.written and "topics/linux.ics" in second.unchanged
    assert (site / "topics" / "linux.ics").stat().st_ino == inode
    assert (site / "CNAME").read_text() == "ev.example\n"
    assert (site / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert os.readlink(site / "latest.ics") == "all.ics"
    assert b"typing in depth" in (site / "latest.ics").read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site.")]


def test_publish_through_a_symlinked_folder_updates_the_real_one(store, tmp_path):
    real = tmp_path / "www"
    publish_site(store.conn, real, "https://ev.example/", now=NOW)
    site = tmp_path / "site"
    site.symlink_to(real)
    moved = _berlin_events()
    moved[0].title = "Python Users Berlin: typing in depth"
    upsert_events(store, "berlin", moved, now=NOW + timedelta(hours=1))
    publish_site(store.conn, site, "https://ev.example/", now=NOW)
    assert site.is_symlink() and os.readlink(site) == str(real)
    assert b"typing in depth" in (real / "all.ics").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
