"""The VEVENT writer: event_block writes, byte for byte, what icalendar writes.

``event_block`` builds each VEVENT with str operations; icalendar
(``event_block_reference``) is the reference it is held to, on every event
the fixtures import, on hostile hand-made events, on generated ones, and in
what three independent parsers read back.
"""

from __future__ import annotations

import dataclasses
import doctest
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import icalendar
import ics
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ical.calendar_stream import IcsCalendarStream

import techcal.writers.ical as writer
from techcal.event import STATUSES, StoredEvent
from techcal.store import open_store
from techcal.store.ingest import import_files
from techcal.store.stored import EVENT_COLS, source_names, stored_event
from techcal.writers.ical import (
    assemble,
    calendar,
    event_block,
    event_block_reference,
    event_zone,
    vevent,
)

from conftest import FIXTURES, NOW

#: the folders of fixture files that hold events (sources/ and dedupe/ hold none)
EVENT_FIXTURES = ("ical", "rss", "html")

BASE = StoredEvent(
    id=1,
    uid="meeting-1@pdxlinux.org",
    sequence=2,
    title="PLUG meeting 1: Intro to eBPF",
    description="Monthly meeting of the Portland Linux/Unix Group.",
    url="https://pdxlinux.org/meetings/1",
    start="2026-12-03T18:30:00-08:00",
    end="2026-12-03T20:30:00-08:00",
    start_utc=1796351400,
    timezone="America/Los_Angeles",
    venue="Portland State University, Engineering Building",
    city="Portland",
    lat=45.5098,
    lon=-122.6833,
    geo_precision="exact",
    topics=("linux", "ebpf"),
    organizer="Portland Linux/Unix Group",
    changed_at="2026-11-20T15:01:12+00:00",
    created_at="2026-11-01T09:00:00+00:00",
)
NAMES = ("plug", "calagator")


def same_block(event: StoredEvent, names: Sequence[str] = NAMES, *, direct: bool = True) -> str:
    """Assert event_block writes the reference's bytes (or fails as it fails); return them.

    ``direct``: the event must not fall back to icalendar.
    """
    try:
        want = event_block_reference(event, names)
    except (AssertionError, ValueError, TypeError, OverflowError) as error:
        with pytest.raises(type(error)):
            event_block(event, names)
        return ""
    got = event_block(event, names)
    assert got.encode("utf-8") == want.encode("utf-8")
    if direct:
        assert writer._direct_block(event, names) == want, "fell back to icalendar"
    return got


def change(**values: object) -> StoredEvent:
    return dataclasses.replace(BASE, **values)  # type: ignore[arg-type]


# -- every event the fixtures import ---------------------------------------


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[StoredEvent, list[str]]]:
    """Return every stored event of the fixture files, with its source names, as feeds read them."""
    paths = sorted(
        path
        for folder in EVENT_FIXTURES
        for path in (FIXTURES / folder).iterdir()
        if not path.name.endswith(".toml")
    )
    db = open_store(tmp_path_factory.mktemp("fixtures") / "techcal.db")
    try:
        list(import_files(db, paths, now=NOW, workers=1))
        rows = db.conn.execute(f"SELECT {EVENT_COLS} FROM events e ORDER BY e.id").fetchall()
        events = [stored_event(row) for row in rows]
        names = source_names(db.conn, (e.id for e in events))
    finally:
        db.conn.close()
    return [(e, names.get(e.id, [])) for e in events]


def test_every_fixture_event_is_written_as_icalendar_writes_it(imported):
    assert len(imported) > 300
    assert {e.all_day for e, _ in imported} == {True, False}
    for event, names in imported:
        same_block(event, names)


def test_calendar_is_still_the_blocks_assembled(imported):
    events = [(e, names) for e, names in imported[:60]]
    zones = {z for z in (event_zone(e) for e, _ in events) if z}
    blocks = [event_block(e, names) for e, names in events]
    assert calendar(events) == assemble(blocks, zones)


# -- hostile events, by hand -----------------------------------------------

CONTROLS = "".join(map(chr, range(32))) + "\x7f\x85\u2028\u2029"
PUNCTUATION = "a\\b;c,d\"e:f^g'h\u2019i\\Nj\\n^n"

HOSTILE = {
    "plain": {},
    "control characters": {"title": f"PLUG{CONTROLS}night", "description": CONTROLS * 3},
    "lone CR": {"title": "one\rtwo", "description": "one\rtwo\r"},
    "CRLF and LFCR": {"description": "one\r\ntwo\n\rthree\r\r\nfour\n\n"},
    "tabs": {"title": "\tPLUG\tnight\t", "description": "a\tb\n\tc"},
    "NUL": {"title": "PLUG\x00night", "description": "\x00" * 100},
    "punctuation everywhere": {
        "title": PUNCTUATION,
        "uid": PUNCTUATION,
        "venue": PUNCTUATION,
        "organizer": PUNCTUATION,
        "topics": (PUNCTUATION, "a,b", "c;d", "e\\f", ""),
    },
    "backslash-N is a line break to icalendar": {"title": "C:\\New folder\\Notes"},
    "escapes at every fold": {"description": "\\;,^\n" * 400, "title": "\\" * 300},
    "carets at every fold": {"description": "^" * 500, "organizer": "^" * 250},
    "10,000-character word": {"description": "a" * 10_000, "title": "b" * 500},
    "10,000 two-octet characters": {"description": "é" * 10_000},
    "10,000 emoji": {"description": "\U0001f600" * 10_000},
    "CJK and combining marks": {
        "title": "東京 Python 勉強会 " * 20,
        "description": ("e\u0301\u0302\u0303" * 50 + "\n") * 10,
        "venue": "Café Zürich, 渋谷",
    },
    "leading byte-order marks": {
        "title": "\ufeffPLUG",
        "description": "\ufeff\ufefftext",
        "topics": ("\ufefflinux", "\ufeffbsd"),
        "organizer": "\ufeffPLUG",
        "venue": "\ufeffhall",
    },
    "organizer quoting": {"organizer": 'The "Best" Group: Linux; BSD, more\r\nand\rso\n’on'},
    "organizer without a space": {"organizer": "PLUG"},
    "organizer with an apostrophe only": {"organizer": "PLUG's"},
    "organizer with an escaped quote only": {"organizer": 'PLUG"s'},
    "organizer with a colon only": {"organizer": "PLUG:pdx"},
    "all-day": {
        "all_day": True,
        "start": "2026-12-12T00:00:00-08:00",
        "end": "2026-12-13T00:00:00-08:00",
    },
    "all-day without an end": {"all_day": True, "start": "2026-12-12T00:00:00-08:00", "end": None},
    "UTC": {"timezone": "UTC", "start": "2026-12-08T02:00:00+00:00", "end": None},
    "Etc/UTC and Zulu": {"timezone": "Etc/Zulu", "start": "2026-12-08T02:00:00+00:00"},
    "a zone icalendar takes for UTC": {"timezone": "Universal"},
    "floating (no zone)": {"timezone": None},
    "no offset in the store": {"timezone": None, "start": "2026-12-08T02:00:00", "end": None},
    "unknown zone": {"timezone": "Mars/Olympus_Mons"},
    "offset as a zone": {"timezone": "UTC+01:00"},
    "half-hour zone": {"timezone": "Asia/Kolkata"},
    "Etc/GMT+5": {"timezone": "Etc/GMT+5"},
    "Lord Howe": {"timezone": "Australia/Lord_Howe"},
    "earliest and latest years": {
        "start": "1900-01-01T00:00:00+00:00",
        "end": "2200-12-31T23:59:59+00:00",
        "timezone": "Europe/Berlin",
    },
    "cancelled": {"status": "cancelled"},
    "tentative": {"status": "tentative"},
    "removed": {"removed_at": "2026-11-21T00:00:00+00:00"},
    "removed, no description": {"removed_at": "2026-11-21T00:00:00+00:00", "description": ""},
    "no end": {"end": None},
    "empty end": {"end": ""},
    "updated after the change": {"updated_at": "2026-11-21T08:00:00+05:00"},
    "no created": {"created_at": None},
    "online only": {
        "online": True,
        "online_url": "https://meet.example.org/plug",
        "venue": None,
        "city": None,
        "lat": None,
        "lon": None,
        "geo_precision": None,
    },
    "online at the event page": {
        "online": True,
        "online_url": BASE.url,
        "venue": None,
        "city": None,
    },
    "online with a javascript: link": {
        "online": True,
        "online_url": "javascript:alert(1)",
        "url": "data:text/html,x",
        "venue": None,
        "city": None,
    },
    "address over city": {"address": "1825 SW Broadway", "venue": None},
    "geo of a city": {"geo_precision": "city"},
    "geo at zero": {"lat": 0.0, "lon": -0.0},
    "geo with many digits": {"lat": 1 / 3, "lon": -179.99999999999997},
    "no organizer, topics, url or place": {
        "organizer": None,
        "topics": (),
        "url": None,
        "venue": None,
        "city": None,
        "description": "",
    },
    "empty title": {"title": ""},
    "largest sequence": {"sequence": 2**31 - 1},
    "negative sequence": {"sequence": -(2**31)},
    "a long URL": {"url": "https://example.org/" + "é" * 200 + "?q=a,b;c"},
}


@pytest.mark.parametrize("changes", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("names", [NAMES, (), ("a;b", "c,d", "e\\f", "\ufeffg", "h\ri")])
def test_hostile_events(changes, names):
    same_block(change(**changes), names)


BOUNDARY_CHARACTERS = ["é", "中", "\U0001f600", "e\u0301", "\\", ",", ";", "^", "\n", "\r\n", '"']


@pytest.mark.parametrize("character", BOUNDARY_CHARACTERS)
def test_characters_on_the_fold_boundary(character):
    # every offset of the character around the first fold of SUMMARY,
    # DESCRIPTION and ORGANIZER, and around each fold of a long run of it
    for pad in range(55, 80):
        text = "x" * pad + character * 4 + "y" * 80
        same_block(change(title=text, description=text, organizer=text[:300]))
    for shift in range(4):
        run = "x" * shift + character * 200
        same_block(change(title=run, description=run, topics=(run,)))


@pytest.mark.parametrize(
    "changes",
    [
        {"title": "lone \ud800 surrogate"},
        {"description": "\udfff"},
        {"sequence": 2**31},
        {"url": "https://example.org/\nx"},
        {"lon": None},
        {"changed_at": None},
        {"start": "not a date"},
    ],
    ids=str,
)
def test_what_icalendar_refuses_is_refused_alike(changes):
    event = change(**changes)
    assert writer._direct_block(event, NAMES) is None
    same_block(event, direct=False)


def test_a_line_break_in_a_source_name_is_refused_alike():
    assert writer._direct_block(BASE, ["one\ntwo"]) is None
    same_block(BASE, ["one\ntwo"], direct=False)


@pytest.mark.parametrize(
    "changes", [{"title": 42}, {"sequence": True}, {"topics": ("linux", 7)}], ids=str
)
def test_values_of_other_types_go_to_icalendar(changes):
    event = change(**changes)
    assert writer._direct_block(event, NAMES) is None
    same_block(event, direct=False)


# -- generated events ------------------------------------------------------

HOSTILE_CHARACTERS = list("\\;,:\"'^\r\n\t\x00\x0b\x85\u2028\u2019\ufeffNné中\U0001f600\u0301 ")
texts = st.text(
    st.one_of(
        st.sampled_from(HOSTILE_CHARACTERS),
        st.characters(exclude_categories=("Cs",)),
    ),
    max_size=200,
)
ZONES = [None, "UTC", "Etc/UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata",
         "Universal", "Etc/GMT-14", "Mars/Olympus_Mons", "UTC+01:00"]  # fmt: skip
moments = st.datetimes(
    min_value=datetime(1900, 1, 2),
    max_value=datetime(2200, 12, 30),
    timezones=st.sampled_from([UTC, writer.zone_named("Europe/Berlin")]),
)


@st.composite
def stored_events(draw: st.DrawFn) -> StoredEvent:
    start = draw(moments)
    length = draw(st.one_of(st.none(), st.timedeltas(timedelta(0), timedelta(days=3))))
    changed = draw(moments)
    stamps = st.one_of(st.none(), moments.map(datetime.isoformat))
    maybe = st.one_of(st.none(), texts)
    precise = draw(st.booleans())
    return StoredEvent(
        id=1,
        uid=draw(texts),
        sequence=draw(st.integers(min_value=-(2**31), max_value=2**31 - 1)),
        title=draw(texts),
        description=draw(texts),
        url=draw(st.one_of(st.none(), texts.map(lambda t: "https://example.org/" + t))),
        start=start.isoformat(),
        end=None if length is None else (start + length).isoformat(),
        start_utc=int(start.timestamp()),
        timezone=draw(st.sampled_from(ZONES)),
        all_day=draw(st.booleans()),
        status=draw(st.sampled_from(STATUSES)),
        venue=draw(maybe),
        address=draw(maybe),
        city=draw(maybe),
        lat=draw(st.floats(-90, 90)) if precise else None,
        lon=draw(st.floats(-180, 180)) if precise else None,
        geo_precision=draw(st.sampled_from(["exact", "city", None])),
        online=draw(st.booleans()),
        online_url=draw(st.sampled_from([None, "https://meet.example.org/x", "javascript:x"])),
        topics=tuple(draw(st.lists(texts, max_size=4))),
        organizer=draw(maybe),
        changed_at=changed.isoformat(),
        removed_at=draw(stamps),
        created_at=draw(stamps),
        updated_at=draw(stamps),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    event=stored_events(),
    names=st.lists(texts.map(lambda t: t.replace("\n", " ")), max_size=3),
)
def test_generated_events(event, names):
    same_block(event, names)


# -- read back by three parsers --------------------------------------------

READABLE = [
    change(),
    change(
        uid="readable-1@example.org",
        title='Rust, C; and \\ C++: a "talk" — 東京 \U0001f600' + "é" * 70,
        description="Line one,\nline two; with \\ backslash\n\n" + "x" * 2_000 + " 中" * 200,
        organizer='The "Best" Group: Linux; BSD',
        topics=("a,b", "c;d"),
        venue="Café; Zürich",
        city="Zürich, CH",
    ),
    change(
        uid="readable-2@example.org",
        all_day=True,
        start="2026-12-12T00:00:00-08:00",
        end="2026-12-13T00:00:00-08:00",
        removed_at="2026-11-21T00:00:00+00:00",
    ),
    change(
        uid="readable-3@example.org",
        timezone="UTC",
        online=True,
        online_url="https://meet.example.org/plug",
        venue=None,
        city=None,
        description="\t" + "\U0001f600" * 300,
    ),
    change(uid="readable-4@example.org", timezone="Europe/Berlin", end=None, title="x" * 73 + "é"),
]


def test_three_parsers_read_back_what_was_written(imported):
    events = [(e, names) for e, names in imported] + [(e, list(NAMES)) for e in READABLE]
    body = assemble(
        [event_block(e, names) for e, names in events],
        {z for z in (event_zone(e) for e, _ in events) if z},
    ).decode("utf-8")
    want = {}
    for event, names in events:
        item = vevent(event, names)
        want[event.uid] = tuple(
            str(item[key]) if key in item else None
            for key in ("SUMMARY", "DESCRIPTION", "LOCATION")
        )
    assert len(want) == len(events)

    parsed = icalendar.Calendar.from_ical(body)
    assert {
        str(item["UID"]): tuple(
            str(item[key]) if key in item else None
            for key in ("SUMMARY", "DESCRIPTION", "LOCATION")
        )
        for item in parsed.walk("VEVENT")
    } == want

    strict = IcsCalendarStream.calendar_from_ics(body)
    assert {e.uid: (e.summary, e.description, e.location) for e in strict.events} == want

    other = ics.Calendar(body)
    assert {e.uid: (e.name, e.description, e.location) for e in other.events} == want


def test_docstring_examples():
    failures, tried = doctest.testmod(writer, verbose=False)
    assert tried > 0 and failures == 0
