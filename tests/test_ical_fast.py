"""The fast VEVENT reader: the same Events and warnings as icalendar, or it declines.

``techcal.feeds.ical_fast`` reads plain VEVENTs with str operations and leaves
the rest to icalendar. Every file here is read with the fast path switched
off (the reference) and on, and everything the reader returns must be the
same: the fixtures, ../shared/fixtures when present, hand-made hostile
VEVENTs, and generated ones. Some cases also check that the fast path is
really taken, so that it cannot silently decline everything.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar.parser.content_line import UFOLD, Contentline

import techcal.feeds.ical_fast as fast
from techcal.feeds.base import ReadResult, SourceDefaults, Window
from techcal.feeds.ical import read_ical
from techcal.feeds.incremental import read_ical_incremental

from conftest import FIXTURES, NOW, SHARED_FIXTURES

WINDOW = Window.around(NOW)
DEFAULTS = SourceDefaults(source="test")
OWN = sorted(
    path
    for path in FIXTURES.rglob("*")
    if path.is_file()
    and not path.name.endswith(".toml")
    and b"BEGIN:VCALENDAR" in path.read_bytes().upper()
)
SHARED = sorted(SHARED_FIXTURES.rglob("*.ics")) if SHARED_FIXTURES.exists() else []


@contextmanager
def fast_path(on: bool) -> Iterator[None]:
    before = fast.FAST
    fast.FAST = on
    try:
        yield
    finally:
        fast.FAST = before


def outcome(result: ReadResult) -> tuple[object, ...]:
    """Return all a read gives, strictly: repr tells a UTC datetime from a Berlin one."""
    return (
        [repr(event) for event in result.events],
        result.warnings,
        result.failed_entries,
        result.recognised,
        result.more_warnings,
        result.pages,
        result.unchanged,
    )


def same(data: bytes, defaults: SourceDefaults = DEFAULTS) -> int:
    """Assert both paths read ``data`` alike; return how many VEVENTs took the fast path."""
    with fast_path(False):
        want = read_ical(data, defaults, window=WINDOW)
    taken = fast.counts["fast"]
    with fast_path(True):
        got = read_ical(data, defaults, window=WINDOW)
    assert outcome(got) == outcome(want)
    return fast.counts["fast"] - taken


def fixture_defaults(path: Path) -> SourceDefaults:
    sidecar = path.with_name(path.name + ".expect.toml")
    if not sidecar.exists():
        return DEFAULTS
    given_ = tomllib.loads(sidecar.read_text()).get("defaults", {})
    return SourceDefaults(**{"source": "test", **given_})


@pytest.mark.parametrize("path", OWN, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_own_fixtures_read_alike(path: Path) -> None:
    data = path.read_bytes()
    same(data)
    same(data, fixture_defaults(path))
    same(data, SourceDefaults(source="test", timezone="America/New_York"))


@pytest.mark.skipif(not SHARED, reason="../shared/fixtures is not on this machine")
@pytest.mark.parametrize("path", SHARED, ids=lambda p: p.name)
def test_shared_fixtures_read_alike(path: Path) -> None:
    data = path.read_bytes()
    same(data)
    same(data, SourceDefaults(source="test", timezone="Europe/Berlin"))


def test_fixtures_take_the_fast_path() -> None:
    taken = sum(same(path.read_bytes()) for path in OWN)
    assert taken >= 10, "the fast path declined (almost) every fixture VEVENT"


def test_incremental_reads_alike() -> None:
    for path in OWN:
        data = path.read_bytes()
        with fast_path(False):
            want, _ = read_ical_incremental(data, DEFAULTS, window=WINDOW)
        with fast_path(True):
            got, _ = read_ical_incremental(data, DEFAULTS, window=WINDOW)
        assert outcome(got) == outcome(want), path.name


# --- hand-made VEVENTs -------------------------------------------------------

MEETUP = [
    "DTSTAMP:20261122T120000Z",
    "DTSTART;TZID=America/Chicago:20261203T183000",
    "DTEND;TZID=America/Chicago:20261203T203000",
    "STATUS:CONFIRMED",
    "SUMMARY:Kubernetes operators\\, in practice",
    "DESCRIPTION:Join us!\\n\\nTalks\\; pizza. Details: https://www.meetup.com/g/events/1/",
    "CLASS:PUBLIC",
    "CREATED:20261001T120000Z",
    "GEO:41.830704;-87.697306",
    "LOCATION:Makerspace (1585 Harbor Blvd\\, Chicago\\, IL)",
    "URL:https://www.meetup.com/g/events/1/",
    "UID:event_1@meetup.com",
]
GOOGLE = [
    "DTSTART:20261203T183000Z",
    "DTEND:20261203T203000Z",
    "DTSTAMP:20261122T120000Z",
    "UID:abc123@google.com",
    "CREATED:20260901T101500Z",
    "DESCRIPTION:Monthly meetup",
    "LAST-MODIFIED:20261101T091000Z",
    "LOCATION:1585 Harbor Blvd\\, Chicago\\, IL 60601\\, USA",
    "SEQUENCE:0",
    "STATUS:CONFIRMED",
    "SUMMARY:Rust async night",
    "TRANSP:OPAQUE",
]
WORDPRESS = [
    "DTSTART;VALUE=DATE:20261203",
    "DTEND;VALUE=DATE:20261205",
    "DTSTAMP:20261122T120000",
    "UID:10-1@example.org",
    "SUMMARY:Conference",
    "CATEGORIES:Python\\, data,Meetup",
    'ORGANIZER;CN="PyData: Chicago; Illinois":MAILTO:events@example.org',
    'X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-ADDRESS="1 Main St, Chicago";'
    "X-APPLE-RADIUS=500;X-TITLE=Main Hall:geo:41.8,-87.6",
    "ATTACH;FMTTYPE=image/png:https://example.org/logo.png",
    "X-ALT-DESC;FMTTYPE=text/html:<p>Hi\\, <a href='https://x.org/e/1'>there</a></p>",
]


def calendar(*events: list[str], header: tuple[str, ...] = (), newline: str = "\r\n") -> bytes:
    """Return a VCALENDAR of ``events`` (each a list of property lines)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", *header]
    for props in events:
        lines += ["BEGIN:VEVENT", *props, "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return (newline.join(lines) + newline).encode("utf-8")


def with_(base: list[str], *lines: str, drop: tuple[str, ...] = ()) -> list[str]:
    """Return ``base`` without the properties named in ``drop``, plus ``lines``."""
    kept = [line for line in base if re.split("[;:]", line, maxsplit=1)[0] not in drop]
    return kept + list(lines)


@pytest.mark.parametrize("props", [MEETUP, GOOGLE, WORDPRESS], ids=["meetup", "google", "wp"])
def test_plain_vevents_take_the_fast_path(props: list[str]) -> None:
    assert same(calendar(props)) == 1
    assert same(calendar(props, header=("X-WR-TIMEZONE:Europe/Berlin",))) == 1
    assert same(calendar(props, newline="\n")) == 1
    assert fast.read_block("\r\n".join(["BEGIN:VEVENT", *props, "END:VEVENT", ""])) is not None


def test_a_series_beside_plain_vevents() -> None:
    series = with_(
        MEETUP,
        "RRULE:FREQ=MONTHLY;BYDAY=1TH",
        "EXDATE;TZID=America/Chicago:20270107T183000",
        drop=("UID",),
    ) + ["UID:series-1@meetup.com"]
    override = [
        "UID:series-1@meetup.com",
        "RECURRENCE-ID;TZID=America/Chicago:20270204T183000",
        "DTSTART;TZID=America/Chicago:20270204T190000",
        "DTEND;TZID=America/Chicago:20270204T210000",
        "SUMMARY:Moved",
    ]
    data = calendar(MEETUP, series, GOOGLE, override, WORDPRESS)
    assert same(data) == 3
    # a plain VEVENT sharing its UID with the series is read by icalendar with it
    clash = with_(GOOGLE, "UID:series-1@meetup.com", drop=("UID",))
    assert same(calendar(MEETUP, series, clash, override)) == 1
    # the same UID once unescaped: only the reader sees it is one, so all goes to icalendar
    escaped = with_(series, "UID:series\\,1", drop=("UID",))
    plain = with_(GOOGLE, "UID:series,1", drop=("UID",))
    assert same(calendar(escaped, plain)) == 0
    assert same(calendar(plain, escaped)) == 0


HOSTILE = {
    "escapes": ["SUMMARY:a\\,b\\;c\\Nd\\\\ne\\:f\\x", "DESCRIPTION:\\\\\\\\,\\n\\N\\;"],
    "quoted params": [
        'ORGANIZER;CN="Foo: Bar; Baz":mailto:x@example.org',
        'LOCATION;ALTREP="http://x.org:80/a;b,c":Room 1',
    ],
    "param spaces": ["LOCATION;X-A=b c;X-B = d:Room", "SUMMARY;LANGUAGE=en :x"],
    "param oddities": [
        "SUMMARY;X-A=^n:x",
        "SUMMARY;X-A=a\\,b:x",
        "SUMMARY;X-A=a,b:x",
        "SUMMARY;X-A=:x",
        "SUMMARY;X-A=1;X-A=2:x",
        'SUMMARY;X-A="a"b:x',
    ],
    "param equals": ["ORGANIZER;CN=a = b:mailto:a@b.org", "SUMMARY;X-A=b=c:x"],
    "param percent": ['ORGANIZER;CN="100%2C sure %25":mailto:a@b.org'],
    "lowercase names": ["summary:lower", "dtstart;tzid=Europe/Berlin:20261203T183000"],
    "lowercase value param": ["DTSTART;VALUE=date:20261203"],
    "duplicate summary": ["SUMMARY:one", "SUMMARY:two"],
    "duplicate dtstart": ["DTSTART:20261203T183000Z"],
    "duplicate categories": ["CATEGORIES:a,b", "CATEGORIES:b,c"],
    "duplicate geo": ["GEO:1;2"],
    "duplicate uid": ["UID:other"],
    "duplicate url": ["URL:https://a.org/1", "URL:https://a.org/2"],
    "duplicate organizer": ["ORGANIZER:mailto:a@b.org", "ORGANIZER:mailto:c@d.org"],
    "x props": [
        "X-FOO;VALUE=DATE:not a date",
        "X-BAR:\\n\\,",
        "X-MICROSOFT-CDO-BUSYSTATUS:BUSY",
        "X-ALT-DESC;FMTTYPE=text/html:<b>x\\,y</b>",
        "X-APPLE-STRUCTURED-LOCATION:geo:45.5,-122.6",
    ],
    "apple uri with line break": ["X-APPLE-STRUCTURED-LOCATION;VALUE=URI:geo:1,2\\nx"],
    "long line": ["DESCRIPTION:" + "word\\, " * 20_000],
    "nul": ["SUMMARY:a\x00b"],
    "control chars": ["SUMMARY:a\x01b\x7fc"],
    "date start": ["DTSTART:20261203", "DTEND:20261204"],
    "value=date start": ["DTSTART;VALUE=DATE:20261203", "DTEND;VALUE=DATE:20261203"],
    "value=date with a time": ["DTSTART;VALUE=DATE:20261203T100000"],
    "date with tzid": ["DTSTART;TZID=Europe/Berlin:20261203"],
    "date-time value param": ["DTSTART;VALUE=DATE-TIME:20261203T100000Z"],
    "tzid unknown": ["DTSTART;TZID=Mars/Olympus:20261203T183000"],
    "tzid windows": ["DTSTART;TZID=W. Europe Standard Time:20261203T183000"],
    "tzid vendor": ["DTSTART;TZID=/mozilla.org/20050126_1/Asia/Tokyo:20261203T183000"],
    "tzid quoted": ['DTSTART;TZID="Europe/Berlin":20261203T183000'],
    "tzid utc": ["DTSTART;TZID=UTC:20261203T183000", "DTEND;TZID=Etc/UTC:20261203T193000"],
    "tzid and z": ["DTSTART;TZID=Europe/Berlin:20261203T183000Z"],
    "utc": ["DTSTART:20261203T183000Z", "DTEND:20261203T193000Z"],
    "floating": ["DTSTART:20261203T183000", "DTEND:20261203T193000"],
    "floating and utc": ["DTSTART:20261203T183000", "DTEND:20261203T193000Z"],
    "duration": ["DTSTART:20261203T183000Z", "DURATION:PT1H30M"],
    "duration days on a date": ["DTSTART;VALUE=DATE:20261203", "DURATION:P2D"],
    "duration negative": ["DTSTART:20261203T183000Z", "DURATION:-PT1H"],
    "duration bad": ["DTSTART:20261203T183000Z", "DURATION:PT1X"],
    "duration huge": ["DTSTART:20261203T183000Z", "DURATION:P99999999999W"],
    "duration a date": ["DTSTART:20261203T183000Z", "DURATION:20261204"],
    "duration and dtend": ["DTEND:20261203T200000Z", "DURATION:PT1H"],
    "end before start": ["DTSTART:20261203T183000Z", "DTEND:20261203T083000Z"],
    "end equals start": ["DTSTART:20261203T183000Z", "DTEND:20261203T183000Z"],
    "no end": ["DTSTART:20261203T183000Z"],
    "bad month": ["DTSTART:20261303T183000Z"],
    "bad leap day": ["DTSTART:20270229"],
    "leap second": ["DTSTART:20261231T235960Z"],
    "iso dashes": ["DTSTART:2026-12-03T18:30:00Z"],
    "unicode digits": ["DTSTART:２０２６１２０３"],
    "empty dtstart": ["DTSTART:"],
    "no dtstart": [],
    "geo out of range": ["GEO:91;0"],
    "geo zero": ["GEO:0;0"],
    "geo comma": ["GEO:45.5,-122.6"],
    "geo nan": ["GEO:nan;1"],
    "geo inf": ["GEO:inf;0"],
    "geo spaces": ["GEO: 45.5 ; -122.6 "],
    "geo exponent": ["GEO:4.5e1;-1.226E2"],
    "geo underscore": ["GEO:4_5;1"],
    "geo escaped": ["GEO:45.5\\;-122.6"],
    "geo empty": ["GEO:"],
    "geo three": ["GEO:1;2;3"],
    "geo param": ["GEO;X-A=1:1;2"],
    "url with break": ["URL:https://a.org/\\nx"],
    "url escaped": ["URL:https://a.org/a\\,b\\;c"],
    "organizer with break": ["ORGANIZER;CN=A:mailto:a@b.org\\nx"],
    "organizer cn lower": ["ORGANIZER;cn=Lower Case:mailto:a@b.org"],
    "status": ["STATUS:cancelled"],
    "value on text": ["SUMMARY;VALUE=URI:https://a.org"],
    "encoding": ["DESCRIPTION;ENCODING=BASE64:aGVsbG8="],
    "unread with value": ["X-A;VALUE=INTEGER:1", "COMMENT;VALUE=TEXT:x"],
    "priority bad": ["PRIORITY:high"],
    "sequence bad": ["SEQUENCE:1.5"],
    "dtstamp bad": ["DTSTAMP:yesterday"],
    "dtstamp tzid": ["DTSTAMP;TZID=W. Europe Standard Time:20261203T183000"],
    "created date": ["CREATED:20261203"],
    "unknown iana prop": ["REFRESH-INTERVAL;VALUE=DURATION:P99999999999W"],
    "attendee break": ["ATTENDEE:mailto:a@b.org\\nx"],
    "freebusy": ["FREEBUSY:20261203T100000Z/PT1H"],
    "due": ["DUE:20261203"],
    "recurrence id": ["RECURRENCE-ID:20261203T183000Z"],
    "rdate": ["RDATE:20261210T183000Z"],
    "empty rrule": ["RRULE:"],
    "bad content line": ["NOT A LINE"],
    "name with underscore": ["X_FOO:1"],
    "name with dot": ["X.FOO:1"],
    "no colon": ["SUMMARY"],
    "empty param section": ["SUMMARY;:x"],
    "backslash in name part": ["SUMMARY\\;X=1:x"],
    "valarm": ["BEGIN:VALARM", "TRIGGER:-PT15M", "ACTION:DISPLAY", "END:VALARM"],
    "uid escaped": ["UID:a\\,b"],
    "uid spaces": ["UID:  spaced  "],
    "uid empty": ["UID:"],
    "uid made up look": ["UID:0123@techcal.invalid"],
    "summary empty": ["SUMMARY:"],
    "meeting only": ["LOCATION:Zoom", "DESCRIPTION:https://zoom.us/j/123"],
    "html description": ["DESCRIPTION:&lt\\;b&gt\\;x&lt\\;/b&gt\\;"],
}
DROPPED = {
    "duplicate dtstart": (),
    "duplicate uid": (),
    "duplicate geo": (),
    "no dtstart": ("DTSTART", "DTEND"),
    "empty dtstart": ("DTSTART",),
    "duration and dtend": ("DTEND",),
    "uid escaped": ("UID",),
    "uid spaces": ("UID",),
    "uid empty": ("UID",),
    "uid made up look": ("UID",),
    "summary empty": ("SUMMARY",),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("base", [MEETUP, GOOGLE, WORDPRESS], ids=["meetup", "google", "wp"])
def test_hostile_vevents_read_alike(case: str, base: list[str]) -> None:
    extra = HOSTILE[case]
    names = {re.split("[;:]", line, maxsplit=1)[0].upper() for line in extra}
    drop = DROPPED.get(case, tuple(names & {"DTSTART", "DTEND", "GEO", "UID", "SUMMARY"}))
    props = with_(base, *extra, drop=drop)
    for header in ((), ("X-WR-TIMEZONE:Europe/Berlin",), ("METHOD:CANCEL",)):
        data = calendar(props, MEETUP, header=header)
        same(data)
        same(data, SourceDefaults(source="test", timezone="Asia/Tokyo"))
        same(data.replace(b"\r\n", b"\n"))


def test_plain_hostile_cases_take_the_fast_path() -> None:
    for case in ("escapes", "quoted params", "utc", "floating", "duration", "geo spaces"):
        extra = HOSTILE[case]
        drop = {re.split("[;:]", line, maxsplit=1)[0] for line in extra} | {"DTEND"}
        assert same(calendar(with_(GOOGLE, *extra, drop=tuple(drop)))) == 1, case


def folded(line: str, width: int, newline: str = "\r\n", pad: str = " ") -> str:
    """Return ``line`` folded every ``width`` characters."""
    parts = [line[i : i + width] for i in range(0, len(line), width)] or [""]
    return (newline + pad).join(parts)


def test_folds_anywhere() -> None:
    text = "SUMMARY:Café €uro ünïcödé \\, \\n 😀 meetup in Zürich\\; tonight"
    for width in range(1, 40):
        for pad in (" ", "\t"):
            props = with_(GOOGLE, folded(text, width, pad=pad), drop=("SUMMARY",))
            assert same(calendar(props)) == 1


def test_folds_splitting_utf8_bytes() -> None:
    line = "SUMMARY:Café €uro 😀".encode()
    for cut in range(9, len(line)):
        data = calendar(GOOGLE).replace(
            b"SUMMARY:Rust async night", line[:cut] + b"\r\n " + line[cut:]
        )
        same(data)  # not UTF-8 any more: read as Windows-1252 both ways


@pytest.mark.parametrize(
    "text",
    [
        "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261203\r\nEND:VEVENT\r\n \r\n",  # fold after END
        "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261203\r\nEND:VEVENT\r\n\r\n\r\n X\r\n",
        "BEGIN:VEVENT\r\nUID:a\r\n\r\n DTSTART:20261203\r\nEND:VEVENT\r\n",  # fold over blank
        "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261203\r\nEND:VEV\r\n ENT\r\n",
        "BEGIN:VEVENT\r\nUID:a\rDTSTART:20261203\r\nEND:VEVENT\r\n",  # lone CR
        "begin:vevent\r\nUID:a\r\nDTSTART:20261203\r\nend:vevent\r\n",
        "BEGIN:VEVENT \r\nUID:a\r\nDTSTART:20261203\r\nEND:VEVENT \r\n",
        "BEGIN;X=1:VEVENT\r\nUID:a\r\nDTSTART:20261203\r\nEND:VEVENT\r\n",
        " BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261203\r\nEND:VEVENT\r\n",
        "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261203\r\n",  # cut short
    ],
)
def test_odd_block_edges(text: str) -> None:
    body = "BEGIN:VEVENT\r\n" + "\r\n".join(GOOGLE) + "\r\nEND:VEVENT\r\n"
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
    same((head + body + text + body.replace("abc123", "second") + "END:VCALENDAR\r\n").encode())
    same((head + text + "END:VCALENDAR\r\n").encode())


def test_custom_and_iana_vtimezones() -> None:
    custom = (
        "BEGIN:VTIMEZONE",
        "TZID:Custom Zone",
        "BEGIN:STANDARD",
        "DTSTART:19700101T000000",
        "TZOFFSETFROM:+0300",
        "TZOFFSETTO:+0300",
        "END:STANDARD",
        "END:VTIMEZONE",
        "BEGIN:VTIMEZONE",
        "TZID:Europe/Berlin",
        "BEGIN:STANDARD",
        "DTSTART:19700101T000000",
        "TZOFFSETFROM:+0500",
        "TZOFFSETTO:+0500",
        "END:STANDARD",
        "END:VTIMEZONE",
    )
    events = [
        with_(GOOGLE, f"DTSTART;TZID={zone}:20261203T183000", drop=("DTSTART", "DTEND"))
        for zone in ("Custom Zone", "Europe/Berlin")
    ]
    events[1] = with_(events[1], "UID:second", drop=("UID",))
    assert same(calendar(*events, header=custom)) == 1


def test_many_warnings() -> None:
    alarm = ("BEGIN:VALARM", "TRIGGER:nonsense", "ACTION:DISPLAY", "END:VALARM")
    bad = [
        with_(GOOGLE, f"UID:bad-{n}", "DTSTART:nonsense", drop=("UID", "DTSTART"))
        for n in range(150)
    ]
    unreadable = [with_(GOOGLE, f"UID:alarm-{n}", *alarm, drop=("UID",)) for n in range(150)]
    same(calendar(MEETUP, *bad))
    same(calendar(MEETUP, *unreadable))
    same(calendar(*unreadable, MEETUP, *bad))
    for count in (98, 99, 100, 101):  # with a warning about the encoding before them
        data = calendar(MEETUP, *unreadable[:count]).replace(b"Join us!", b"Join \xe9!")
        same(data)


def test_a_broken_calendar_header() -> None:
    data = calendar(MEETUP, GOOGLE, header=("X-WR-TIMEZONE:Europe/Berlin", "BROKEN LINE"))
    same(data)
    data = calendar(MEETUP, GOOGLE, header=("X-WR-TIMEZONE;X=a\\b:Nowhere/Zone",))
    same(data)


# --- generated VEVENTs -------------------------------------------------------

_NAMES = [
    "SUMMARY", "summary", "DESCRIPTION", "LOCATION", "URL", "UID", "STATUS", "GEO",
    "CATEGORIES", "ORGANIZER", "DTSTART", "DTEND", "DURATION", "X-ALT-DESC",
    "X-APPLE-STRUCTURED-LOCATION", "X-FOO", "COMMENT", "ATTENDEE", "DTSTAMP", "SEQUENCE",
    "RRULE", "RECURRENCE-ID", "CLASS",
]  # fmt: skip
_PARAMS = [
    "", ";TZID=Europe/Berlin", ";TZID=America/New_York", ";TZID=Bad/Zone", ";VALUE=DATE",
    ";VALUE=DATE-TIME", ";VALUE=URI", ';CN="A: B; C"', ";CN=Plain Name", ";LANGUAGE=en",
    ";X-A=b c", ';X-A="q,u:o;t"', ";tzid=UTC", ";ENCODING=8BIT", ";X-A=^'",
]  # fmt: skip
_VALUES = st.one_of(
    st.sampled_from(
        [
            "20261203", "20261203T183000", "20261203T183000Z", "20261340T183000",
            "PT1H", "P1D", "-PT2H", "45.5;-122.6", "91;0", "0;0", "a,b\\,c", "",
            "mailto:a@b.org", "https://x.org/e/1", "CANCELLED", "FREQ=WEEKLY",
            "geo:1,2", "x\\ny", "Zoom",
        ]
    ),
    st.text(
        alphabet=st.sampled_from(list("aZ09 ,;:\\nN\"^'\t/é€😀.-@&<>") + ["\x00", "\r"]),
        max_size=30,
    ),
)  # fmt: skip
_PROPERTY = st.tuples(st.sampled_from(_NAMES), st.sampled_from(_PARAMS), _VALUES)


@st.composite
def vevent_texts(draw: st.DrawFn) -> bytes:
    events = []
    for n in range(draw(st.integers(1, 3))):
        props = [f"UID:gen-{n}", "DTSTART:20261203T183000Z", "SUMMARY:Generated"]
        keep = draw(st.sets(st.integers(0, 2)))
        props = [p for i, p in enumerate(props) if i in keep]
        props += [
            f"{name}{params}:{value}"
            for name, params, value in draw(st.lists(_PROPERTY, max_size=8))
        ]
        width = draw(st.sampled_from([0, 1, 7, 75]))
        events.append([folded(p, width) if width else p for p in props])
    header = draw(st.sampled_from([(), ("X-WR-TIMEZONE:Europe/Berlin",), ("METHOD:CANCEL",)]))
    newline = draw(st.sampled_from(["\r\n", "\n"]))
    return calendar(*events, header=header, newline=newline)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vevent_texts(), st.sampled_from([None, "Asia/Tokyo"]))
def test_generated_vevents_read_alike(data: bytes, zone: str | None) -> None:
    same(data, SourceDefaults(source="test", timezone=zone))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \t\r\n:")), max_size=40))
def test_unfold_is_icalendars(text: str) -> None:
    if text.count("\r") == text.count("\r\n"):  # read_block declines lone CRs first
        assert fast.unfold(text) == UFOLD.sub("", text)


_TEXT = st.lists(
    st.sampled_from(list("aZ09 .-/@&<>éü€😀") + ["\\,", "\\;", "\\n", "\\N", "\\\\", ":"]),
    max_size=40,
).map("".join)
_PLAIN_PROPERTY = st.one_of(
    st.tuples(st.sampled_from(["SUMMARY", "DESCRIPTION", "LOCATION", "Location", "COMMENT"]),
              st.sampled_from(["", ";LANGUAGE=en", ';ALTREP="http://a.org/x:y"']), _TEXT),
    st.tuples(st.just("CATEGORIES"), st.just(""), _TEXT),
    st.tuples(st.just("URL"), st.just(""), st.sampled_from(["https://a.org/e/1", "x\\,y"])),
    st.tuples(st.sampled_from(["X-ALT-DESC", "X-FOO", "X-APPLE-STRUCTURED-LOCATION"]),
              st.sampled_from(["", ";FMTTYPE=text/html"]), _TEXT),
)  # fmt: skip
_STARTS = [
    ("DTSTART;TZID=Europe/Berlin:20261203T183000", "DTEND;TZID=Europe/Berlin:20261203T203000"),
    ("DTSTART:20261203T183000Z", "DURATION:PT2H"),
    ("DTSTART:20261203T183000", "DTEND:20261203T173000"),
    ("DTSTART;VALUE=DATE:20261203", "DTEND;VALUE=DATE:20261203"),
    ("DTSTART:20261203", "X-NO-END:1"),
]
_GEOS = ["", "GEO:45.5;-122.6", "GEO:0;0", "GEO:-91;0", 'ORGANIZER;CN="A, B":mailto:a@b.org']


@st.composite
def plain_vevent_texts(draw: st.DrawFn) -> bytes:
    """Mostly VEVENTs the fast path takes: what it reads must still be what icalendar reads."""
    events = []
    for n in range(draw(st.integers(1, 3))):
        start, end = draw(st.sampled_from(_STARTS))
        props = [f"UID:plain-{n}", start, end, draw(st.sampled_from(_GEOS))]
        extra = draw(st.lists(_PLAIN_PROPERTY, max_size=6))
        props += [f"{name}{params}:{value}" for name, params, value in extra]
        width = draw(st.sampled_from([0, 1, 5, 74]))
        events.append([folded(p, width) if width else p for p in props if p])
    header = draw(st.sampled_from([(), ("X-WR-TIMEZONE:America/New_York",)]))
    return calendar(*events, header=header, newline=draw(st.sampled_from(["\r\n", "\n"])))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plain_vevent_texts(), st.sampled_from([None, "Asia/Tokyo"]))
def test_generated_plain_vevents_read_alike(data: bytes, zone: str | None) -> None:
    same(data, SourceDefaults(source="test", timezone=zone))


_PARAM_CHARS = list('aZ09-/. ,;:="^\\\t') + ["é", "\x01"]


@st.composite
def content_lines(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(["SUMMARY", "dtStart", "X-A", "ORGANIZER", "A_B", "GEO"]))
    params = ""
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(["CN", "tzid", "X-Y", "VALUE", "cn"]))
        value = "".join(draw(st.lists(st.sampled_from(_PARAM_CHARS), max_size=8)))
        if draw(st.booleans()):
            value = f'"{value}"'
        params += f";{key}={value}"
    value = "".join(draw(st.lists(st.sampled_from(_PARAM_CHARS), max_size=8)))
    return f"{name}{params}:{value}"


@settings(max_examples=1000, deadline=None)
@given(content_lines())
def test_content_lines_split_as_icalendar_splits_them(line: str) -> None:
    """Whatever line the fast path splits, icalendar splits the same way."""
    match = fast._LINE.match(line)
    params = fast._params(match.group(2)) if match and match.group(2) else {}
    if match is None or params is None:
        return
    name, parsed, value = Contentline(line).parts()
    assert name.upper() == match.group(1).upper()
    assert dict(parsed) == params
    assert value == fast._unescaped(line[match.end() :])


def test_pruned_texts_keep_their_line_numbers() -> None:
    """Nesting cut and empty runs dropped before the read: warnings still name the file's lines."""
    deep = [f"BEGIN:X-{n}" for n in range(20)] + [f"END:X-{n}" for n in reversed(range(20))]
    late = with_(GOOGLE, "UID:late", "DTEND:20261203T083000Z", drop=("UID", "DTEND"))
    data = calendar(MEETUP, late, header=(*deep, *[""] * 100))
    assert same(data) == 2
    with fast_path(True):
        warnings = read_ical(data, DEFAULTS, window=WINDOW).warnings
    line = data[: data.rfind(b"BEGIN:VEVENT")].count(b"\n") + 1
    assert f"VEVENT late (line {line}): DTEND before DTSTART; end ignored" in warnings
