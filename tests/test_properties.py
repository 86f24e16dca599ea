"""Property tests: both readers keep their contract on random and damaged input.

The contract (:mod:`techcal.feeds.base`): a reader never raises, returns a
ReadResult whose events can all be stored (aware start, valid status and
kind, a non-empty ``source_uid`` unique within the result), names what it
skipped in one-line warnings, and says so when a body is not its format.

Inputs are arbitrary bytes, damaged copies of small valid documents (one per
shape the readers are built for), and calendars generated property by
property, broken values included. Every read uses a fixed window.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from techcal.event import KINDS, Event
from techcal.feeds.base import ReadResult, SourceDefaults, Window
from techcal.feeds.ical import read_ical
from techcal.feeds.rss import read_feed

from conftest import NOW

WINDOW = Window(NOW - timedelta(days=7), NOW + timedelta(days=365))
DEFAULTS = SourceDefaults(source="prop")

Reader = Callable[..., ReadResult]
READERS: dict[str, Reader] = {"ical": read_ical, "feed": read_feed}

# few examples each, no deadline: a long series takes a read well past
# hypothesis's 200 ms, and the whole module has to stay well under 20 seconds
#: TECHCAL_FUZZ_EXAMPLES=N runs every target with at least N examples (a longer fuzzing run)
_AT_LEAST = int(os.environ.get("TECHCAL_FUZZ_EXAMPLES", "0"))
FAST = settings(
    max_examples=max(60, _AT_LEAST),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ICAL_SERIES = """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//techcal//properties//EN
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:weekly-talk@example.org
DTSTAMP:20261101T000000Z
DTSTART;TZID=Europe/Berlin:20261103T190000
DTEND;TZID=Europe/Berlin:20261103T210000
RRULE:FREQ=WEEKLY;BYDAY=TU;UNTIL=20270302T180000Z
EXDATE;TZID=Europe/Berlin:20261124T190000
SUMMARY:Weekly talk
LOCATION:c-base\\, Rungestr. 20\\, Berlin
GEO:52.5128;13.4203
CATEGORIES:talk,linux
STATUS:CONFIRMED
END:VEVENT
BEGIN:VEVENT
UID:weekly-talk@example.org
DTSTAMP:20261101T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:20261201T190000
DTSTART;TZID=Europe/Berlin:20261201T200000
DTEND;TZID=Europe/Berlin:20261201T220000
SUMMARY:Weekly talk (moved)
STATUS:TENTATIVE
END:VEVENT
END:VCALENDAR
""".replace("\n", "\r\n")

ICAL_GOOGLE = """\
BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:PUBLISH
X-WR-CALNAME:Portland Linux
X-WR-TIMEZONE:America/Los_Angeles
BEGIN:VEVENT
DTSTART;VALUE=DATE:20261205
DTEND;VALUE=DATE:20261207
DTSTAMP:20261101T000000Z
UID:install-fest@google.com
SUMMARY:Install fest
DESCRIPTION:Bring a laptop. https://pdxlinux.example.org/events/install-fest
ORGANIZER;CN=PLUG:mailto:board@pdxlinux.example.org
END:VEVENT
BEGIN:VEVENT
DTSTART:20261210T030000Z
DTEND:20261210T050000Z
RRULE:FREQ=MONTHLY;BYDAY=2TH;COUNT=6
DTSTAMP:20261101T000000Z
UID:monthly@google.com
SUMMARY:Monthly meeting
LOCATION:https://meet.jit.si/plug
END:VEVENT
END:VCALENDAR
""".replace("\n", "\r\n")

RSS_EV = """\
<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:ev="http://purl.org/rss/1.0/modules/event/"
  xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
<title>Campus talks</title>
<link>https://talks.example.edu/</link>
<description>Talks</description>
<item>
<title>Rust for embedded systems</title>
<link>https://talks.example.edu/event/rust/</link>
<guid isPermaLink="false">talk-4411</guid>
<category>Lectures</category>
<description><![CDATA[A talk by the embedded systems lab.]]></description>
<ev:startdate>2026-12-02T16:10:00-08:00</ev:startdate>
<ev:enddate>2026-12-02T17:00:00-08:00</ev:enddate>
<ev:location>Sloan Hall 175, Pullman</ev:location>
<ev:organizer>CS department</ev:organizer>
<ev:type>lecture</ev:type>
</item>
<item>
<title>CANCELLED: Office hours</title>
<link>https://talks.example.edu/event/office-hours/</link>
<guid isPermaLink="false">talk-4415</guid>
<ev:startdate>2026-12-03</ev:startdate>
</item>
</channel>
</rss>
"""

ATOM_JSONLD = """\
<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>Rust Sydney</title>
<link href="https://rust-syd.example.org/" />
<updated>2026-11-20T10:00:00+11:00</updated>
<id>https://rust-syd.example.org/</id>
<entry>
<title>December meetup</title>
<link rel="alternate" href="https://rust-syd.example.org/meetups/2026-12/" />
<id>tag:rust-syd.example.org,2026:meetup-2026-12</id>
<updated>2026-11-20T10:00:00+11:00</updated>
<content type="html">&lt;script type="application/ld+json"&gt;{"@context":"https://schema.org",
"@type":"Event","name":"December meetup","startDate":"2026-12-09T18:00:00+11:00",
"endDate":"2026-12-09T21:00:00+11:00","eventStatus":"https://schema.org/EventScheduled",
"location":{"@type":"Place","name":"Atlassian","address":"341 George St, Sydney"},
"organizer":{"@type":"Organization","name":"Rust Sydney"}}&lt;/script&gt;</content>
</entry>
<entry>
<title>Slides from November</title>
<link rel="alternate" href="https://rust-syd.example.org/posts/slides/" />
<id>tag:rust-syd.example.org,2026:post-nov-slides</id>
<updated>2026-11-12T10:00:00+11:00</updated>
<summary>Links to the slides.</summary>
</entry>
</feed>
"""

SEEDS = {
    "ical-series": ICAL_SERIES.encode(),
    "ical-google": ICAL_GOOGLE.encode(),
    "rss-ev": RSS_EV.encode(),
    "atom-jsonld": ATOM_JSONLD.encode(),
}

TZIDS = [
    "Europe/Berlin",
    "America/Los_Angeles",
    "Australia/Lord_Howe",
    "UTC",
    "GMT",
    "Z",
    "Etc/GMT+5",
    "W. Europe Standard Time",
    "Pacific Standard Time",
    "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
    "/mozilla.org/20050126_1/Asia/Tokyo",
    "/citadel.org/20190914_1/Europe/London",
    "tzone://Microsoft/Custom",
    '"Europe/London"',
    "Custom Zone",
    "Not/A_Zone",
    "../../../etc/passwd",
    "Europe/Berlin/../../../x",
    ".",
    "",
    " ",
    "Europe/\u00e9",
]


def check(result: object) -> ReadResult:
    """Assert the reader contract on one result and return it."""
    assert isinstance(result, ReadResult)
    assert all(isinstance(w, str) and w for w in result.warnings), result.warnings
    uids = []
    for event in result.events:
        assert isinstance(event, Event)
        assert event.problems() == [], (event.source_uid, event.problems())
        assert isinstance(event.source_uid, str) and event.source_uid.strip()
        uids.append(event.source_uid)
    duplicates = sorted({uid for uid in uids if uids.count(uid) > 1})
    assert not duplicates, f"source_uid repeated in one result: {duplicates}"
    if not result.recognised:
        assert not result.events and result.warnings
    if result.failed_entries:
        assert result.warnings, "entries failed without a warning naming them"
    return result


def read(reader: str, data: bytes, defaults: SourceDefaults = DEFAULTS) -> ReadResult:
    """Return ``reader``'s checked result for ``data`` (an escaping exception fails the test)."""
    return check(READERS[reader](data, defaults, window=WINDOW))


def assert_not_recognised(result: ReadResult) -> None:
    """A body not of the reader's format gives no events and says why."""
    assert (not result.recognised) or (not result.events and result.warnings), result


# --- (1) arbitrary bytes -----------------------------------------------------

# no "BEGIN:V" and no "<": neither a calendar nor markup a feed could hide in
NON_FORMAT = st.binary(max_size=400).filter(lambda b: b"<" not in b and b"BEGIN" not in b.upper())


@FAST
@given(data=st.binary(max_size=2000), reader=st.sampled_from(sorted(READERS)))
@example(data=b"", reader="ical")
@example(data=b"", reader="feed")
@example(data=b"\xff\xfe", reader="ical")
@example(data=b"\xfe\xff\x00<", reader="feed")
@example(data=b"B\x00E\x00", reader="ical")
def test_arbitrary_bytes(data: bytes, reader: str) -> None:
    read(reader, data)


@FAST
@given(data=NON_FORMAT, reader=st.sampled_from(sorted(READERS)))
def test_non_format_bytes_are_not_recognised(data: bytes, reader: str) -> None:
    assert_not_recognised(read(reader, data))


@FAST
@given(
    prefix=st.sampled_from(
        [b"BEGIN:VCALENDAR\r\n", b"BEGIN:VEVENT\n", b"<rss version='2.0'><channel><item>", b"<feed"]
    ),
    data=st.binary(max_size=600),
    reader=st.sampled_from(sorted(READERS)),
)
def test_bytes_behind_a_format_header(prefix: bytes, data: bytes, reader: str) -> None:
    read(reader, prefix + data)


@FAST
@given(text=st.text(max_size=600), reader=st.sampled_from(sorted(READERS)))
def test_arbitrary_text(text: str, reader: str) -> None:
    read(reader, text.encode("utf-8", "surrogatepass"))


# --- (2) damaged copies of valid documents -----------------------------------

LINE = re.compile(rb"[^\n]*\n|[^\n]+$")
XML_TEXT = re.compile(rb">([^<]*)<")
VALUE_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40
) | st.sampled_from(
    [
        "",
        "20261301T250000",
        "2026-02-30",
        "TBA",
        "FREQ=SECONDLY;UNTIL=x",
        "-PT1H",
        "99999999T999999Z",
        "<![CDATA[",
        "&bogus;",
        "{",
        "\\",
        ";;;",
        "\x00",
    ]
)


def lines_of(doc: bytes) -> list[bytes]:
    return LINE.findall(doc) or [doc]


@st.composite
def mutation(draw: st.DrawFn, doc: bytes) -> bytes:
    """Return ``doc`` with one random kind of damage."""
    lines = lines_of(doc)
    at_line = draw(st.integers(0, len(lines) - 1))
    at_byte = draw(st.integers(0, len(doc)))
    kind = draw(
        st.sampled_from(
            [
                "delete-line",
                "duplicate-line",
                "duplicate-lines",
                "truncate",
                "flip-byte",
                "insert-bytes",
                "replace-value",
                "line-endings",
                "re-encode",
            ]
        )
    )
    if kind == "delete-line":
        del lines[at_line]
    elif kind == "duplicate-line":
        lines.insert(at_line, lines[at_line])
    elif kind == "duplicate-lines":
        end = draw(st.integers(at_line, len(lines)))
        lines[end:end] = lines[at_line:end]
    elif kind == "truncate":
        return doc[:at_byte]
    elif kind == "flip-byte":
        if not doc:
            return doc
        at = min(at_byte, len(doc) - 1)
        return doc[:at] + bytes([doc[at] ^ draw(st.integers(1, 255))]) + doc[at + 1 :]
    elif kind == "insert-bytes":
        return doc[:at_byte] + draw(st.binary(min_size=1, max_size=8)) + doc[at_byte:]
    elif kind == "replace-value":
        line = lines[at_line]
        value = draw(VALUE_TEXT).encode("utf-8")
        ending = line[len(line.rstrip(b"\r\n")) :]
        if XML_TEXT.search(line):
            lines[at_line] = XML_TEXT.sub(lambda _: b">" + value + b"<", line, count=1)
        elif b":" in line:
            lines[at_line] = line.split(b":", 1)[0] + b":" + value + ending
    elif kind == "line-endings":
        ending = draw(st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\r", b"\r\r\n"]))
        return re.sub(rb"\r?\n", ending, doc)
    else:
        codec = draw(st.sampled_from(["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be"]))
        text = doc.decode("utf-8", "replace")
        return text.encode(codec, "replace")
    return b"".join(lines)


@st.composite
def damaged(draw: st.DrawFn, doc: bytes) -> bytes:
    """Return ``doc`` after one to three random kinds of damage."""
    for _ in range(draw(st.integers(1, 3))):
        doc = draw(mutation(doc))
    return doc


def test_seeds_are_read_whole() -> None:
    """The undamaged seeds give events and nothing to complain about."""
    for name, doc in SEEDS.items():
        reader = "ical" if name.startswith("ical") else "feed"
        result = read(reader, doc)
        assert result.events and result.complete and not result.warnings, (name, result)


@settings(FAST, max_examples=max(150, _AT_LEAST))
@given(data=st.data(), name=st.sampled_from(sorted(SEEDS)), cross=st.booleans())
def test_damaged_documents(data: st.DataObject, name: str, cross: bool) -> None:
    # each reader also gets the other format's documents: detection must not crash either
    own = "ical" if name.startswith("ical") else "feed"
    reader = ({"ical", "feed"} - {own}).pop() if cross else own
    read(reader, data.draw(damaged(SEEDS[name]), label="doc"))


@FAST
@given(data=st.data(), name=st.sampled_from(sorted(SEEDS)))
def test_damaged_documents_with_source_defaults(data: st.DataObject, name: str) -> None:
    defaults = SourceDefaults(
        source="prop",
        kind=data.draw(st.sampled_from(KINDS), label="kind"),
        timezone=data.draw(st.sampled_from([None, *TZIDS]), label="timezone"),
        city=data.draw(st.none() | st.text(max_size=10), label="city"),
    )
    reader = "ical" if name.startswith("ical") else "feed"
    read(reader, data.draw(damaged(SEEDS[name]), label="doc"), defaults)


# --- (3) calendars generated property by property ----------------------------

MOMENTS = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31))
NEAR = st.datetimes(min_value=datetime(2026, 10, 1), max_value=datetime(2027, 12, 31))
BROKEN_TIMES = st.sampled_from(
    [
        "",
        "2026-12-01T18:00",
        "20261301T180000",
        "20260230",
        "20261201T250000",
        "20261201T1800",
        "20261201T180000+0100",
        "00000101T000000Z",
        "99991231T235959Z",
        "20261201T180000ZZ",
        "TBA",
        "20261201,20261202",
    ]
) | st.text(st.characters(codec="ascii", exclude_characters="\r\n"), max_size=20)


def stamp(moment: datetime, form: str) -> str:
    if form == "date":
        return moment.strftime("%Y%m%d")
    return moment.strftime("%Y%m%dT%H%M%S") + ("Z" if form == "utc" else "")


@st.composite
def time_property(draw: st.DrawFn, name: str, moments: st.SearchStrategy[datetime]) -> str:
    """Return one DTSTART-like line: UTC, floating, zoned, all-day or broken."""
    form = draw(st.sampled_from(["utc", "floating", "zoned", "date", "bare-date", "broken"]))
    if form == "broken":
        params = draw(st.sampled_from(["", ";VALUE=DATE", ";TZID=Europe/Berlin", ";VALUE=PERIOD"]))
        return f"{name}{params}:{draw(BROKEN_TIMES)}"
    moment = draw(moments)
    if form == "zoned":
        return f"{name};TZID={draw(st.sampled_from(TZIDS))}:{stamp(moment, 'floating')}"
    if form == "date":
        return f"{name};VALUE=DATE:{stamp(moment, 'date')}"
    if form == "bare-date":
        return f"{name}:{stamp(moment, 'date')}"
    return f"{name}:{stamp(moment, form)}"


DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU", "1MO", "-1FR", "5SU", "+2WE", "0TU", "XX"]
SUB_DAILY = ("HOURLY", "MINUTELY", "SECONDLY")


@st.composite
def rrule(draw: st.DrawFn) -> str:
    """Return an RRULE line from random parts, some of them out of range or junk."""
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY", *SUB_DAILY, "BOGUS", ""]))
    parts = [f"FREQ={freq}"] if draw(st.integers(0, 9)) else []
    if draw(st.booleans()):
        interval = draw(st.integers(-1, 400) | st.sampled_from(["x", ""]))
        parts.append(f"INTERVAL={interval}")
    # BYSETPOS is left out: with a BYDAY or BYMONTHDAY beside it, one past the
    # size of the set never matches and the reader walks to the year 9999
    # (test_rules_that_never_match_finish below)
    if draw(st.booleans()):
        parts.append(f"COUNT={draw(st.integers(-1, 30))}")
    elif draw(st.booleans()):
        until = draw(time_property("UNTIL", NEAR)).split(":", 1)[1]
        parts.append(f"UNTIL={until}")
    if draw(st.booleans()):
        parts.append(f"BYDAY={','.join(draw(st.lists(st.sampled_from(DAYS), max_size=3)))}")
    if draw(st.booleans()):
        days = draw(st.lists(st.integers(-32, 32), min_size=1, max_size=3))
        parts.append(f"BYMONTHDAY={','.join(map(str, days))}")
    if draw(st.booleans()):
        parts.append(f"BYMONTH={draw(st.integers(0, 13))}")
    if draw(st.integers(0, 4)) == 0:
        parts.append(f"WKST={draw(st.sampled_from(['MO', 'SU', 'XX']))}")
    if draw(st.integers(0, 9)) == 0:
        parts.append(draw(st.text(st.characters(codec="ascii", exclude_characters="\r\n"))))
    draw(st.randoms(use_true_random=False)).shuffle(parts)
    return "RRULE:" + ";".join(parts)


@st.composite
def vevent(draw: st.DrawFn, uid: str) -> list[str]:
    """Return the lines of one VEVENT: sometimes recurring, with EXDATEs, overrides, junk."""
    lines = ["BEGIN:VEVENT"]
    if uid:
        lines.append(f"UID:{uid}")
    if draw(st.integers(0, 9)):
        lines.append(draw(time_property("DTSTART", NEAR | MOMENTS)))
    end = draw(st.sampled_from(["none", "dtend", "duration"]))
    if end == "dtend":
        lines.append(draw(time_property("DTEND", NEAR)))
    elif end == "duration":
        duration = ["PT1H", "P1D", "P1W", "PT0S", "-PT1H", "P", "PT1H30M", "P400D", "1H"]
        lines.append(f"DURATION:{draw(st.sampled_from(duration))}")
    if draw(st.booleans()):
        lines.append(draw(rrule()))
    for _ in range(draw(st.integers(0, 2))):
        lines.append(draw(time_property("EXDATE", NEAR)))
    if draw(st.integers(0, 5)) == 0:
        lines.append(draw(time_property("RDATE", NEAR)))
    if draw(st.integers(0, 4)) == 0:
        lines.append(draw(time_property("RECURRENCE-ID", NEAR)))
    if draw(st.integers(0, 5)):
        summary = draw(
            st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=20)
        )
        lines.append(f"SUMMARY:{summary}")
    status = ["CONFIRMED", "CANCELLED", "CANCELED", "TENTATIVE", "tentative", "DONE", ""]
    if draw(st.booleans()):
        lines.append(f"STATUS:{draw(st.sampled_from(status))}")
    if draw(st.integers(0, 3)) == 0:
        geo = ["52.5;13.4", "0;0", "91;0", "10;200", "nan;nan", "inf;1", "x;y", "52.5", ""]
        lines.append(f"GEO:{draw(st.sampled_from(geo))}")
    if draw(st.integers(0, 3)) == 0:
        lines.append("LOCATION:" + draw(st.sampled_from(["Zoom", "Hall (Main St 1, Town)", ""])))
    lines.append("END:VEVENT")
    return lines


CUSTOM_ZONE = [
    "BEGIN:VTIMEZONE",
    "TZID:Custom Zone",
    "BEGIN:STANDARD",
    "DTSTART:16010101T000000",
    "TZOFFSETFROM:+0530",
    "TZOFFSETTO:+0530",
    "END:STANDARD",
    "END:VTIMEZONE",
]


@st.composite
def calendar(draw: st.DrawFn) -> bytes:
    """Return a calendar of one to four generated VEVENTs (UIDs shared on purpose)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//techcal//properties//EN"]
    if draw(st.booleans()):
        lines.append(f"X-WR-TIMEZONE:{draw(st.sampled_from(TZIDS))}")
    if draw(st.integers(0, 5)) == 0:
        lines.append("METHOD:CANCEL")
    if draw(st.booleans()):
        lines += CUSTOM_ZONE
    uids = st.sampled_from(["a@example.org", "b@example.org", "", " "])
    for _ in range(draw(st.integers(1, 4))):
        lines += draw(vevent(draw(uids)))
    lines.append("END:VCALENDAR")
    ending = draw(st.sampled_from(["\r\n", "\n"]))
    return (ending.join(lines) + ending).encode("utf-8")


@settings(FAST, max_examples=max(200, _AT_LEAST))
@given(doc=calendar(), timezone=st.sampled_from([None, "Europe/Berlin", "Not/A_Zone", "UTC"]))
def test_generated_calendars(doc: bytes, timezone: str | None) -> None:
    read("ical", doc, SourceDefaults(source="prop", timezone=timezone))


OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=5)), timezone(timedelta(hours=-5))])
FEED_DATES = (
    st.text(max_size=30)
    | st.dates().map(date.isoformat)
    | NEAR.map(datetime.isoformat)
    | st.datetimes(timezones=OFFSETS).map(datetime.isoformat)
    | st.sampled_from(["9999-12-31", "0001-01-01", "9999-12-31T23:00:00-05:00", "TBA"])
)
DEEP_JSON = 5000  # json.loads gives up past about a thousand levels


def feed_with(start: str, end: str | None, jsonld: bool, link: str, depth: int) -> bytes:
    """Return a one-entry feed: the event's dates in JSON-LD (Atom) or the ev: module (RSS)."""
    if jsonld:
        event = {"@type": "Event", "name": "x", "startDate": start, "endDate": end, "url": "a"}
        body = "[" * depth + json.dumps(event) + "]" * depth
        script = f'<script type="application/ld+json">{body}</script>'
        content = f'<content type="html">{escape(script)}</content>'
        entry = f'<entry><id>e1</id><title>t</title><link href="{escape(link)}"/>{content}</entry>'
        return f'<feed xmlns="http://www.w3.org/2005/Atom"><title>f</title>{entry}</feed>'.encode()
    starts = f"<ev:startdate>{escape(start)}</ev:startdate>"
    ends = "" if end is None else f"<ev:enddate>{escape(end)}</ev:enddate>"
    item = f"<item><guid>i1</guid><title>t</title><link>{escape(link)}</link>{starts}{ends}</item>"
    return (
        '<rss version="2.0" xmlns:ev="http://purl.org/rss/1.0/modules/event/">'
        f"<channel><title>f</title>{item}</channel></rss>"
    ).encode("utf-8", "surrogatepass")


@FAST
@given(
    start=FEED_DATES,
    end=st.none() | FEED_DATES,
    jsonld=st.booleans(),
    link=st.sampled_from(["https://example.org/e/", "", "not a url", "http://[x"]),
    depth=st.integers(0, 30),
    timezone_name=st.sampled_from([None, "Europe/Berlin", "Not/A_Zone"]),
)
# each of these made read_feed raise before 0c2c69b
@example("9999-12-31", "9999-12-31", True, "https://example.org/e/", 0, None)  # _end_value
@example("9999-12-31T23:00:00-05:00", None, True, "", 0, "Europe/Berlin")  # _in_zone
@example("2026-12-01", None, True, "http://[x", 0, None)  # urljoin
@example("2026-12-01", None, True, "", DEEP_JSON, None)  # json.loads
@example("9999-12-31", "9999-12-31", False, "", 0, None)  # rss._times
def test_generated_feed_dates(
    start: str, end: str | None, jsonld: bool, link: str, depth: int, timezone_name: str | None
) -> None:
    """Random event dates, links and nesting in the ev: module and in JSON-LD."""
    doc = feed_with(start, end, jsonld, link, depth)
    read("feed", doc, SourceDefaults(source="prop", timezone=timezone_name))


# --- found by the tests above ------------------------------------------------

DUPLICATE_GUID_FEED = (
    b'<rss version="2.0" xmlns:ev="http://purl.org/rss/1.0/modules/event/"><channel>'
    b"<item><guid>a</guid><title>t</title><ev:startdate>2026-12-02T16:10:00Z</ev:startdate></item>"
    b"<item><guid>a</guid><title>t</title><ev:startdate>2026-12-09T16:10:00Z</ev:startdate></item>"
    b"</channel></rss>"
)


def test_feed_entries_sharing_a_guid_get_distinct_uids() -> None:
    """Two items with one guid must not give two events with one source_uid."""
    read("feed", DUPLICATE_GUID_FEED)


def one_rule(rule: str, start: str = "DTSTART:20261219T100000Z") -> bytes:
    lines = ["BEGIN:VCALENDAR", "BEGIN:VEVENT", "UID:x", "SUMMARY:s", start, rule, "END:VEVENT"]
    return "\r\n".join([*lines, "END:VCALENDAR", ""]).encode()


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(one_rule("RRULE:FREQ=DAILY;INTERVAL=0"), id="interval-0"),
        pytest.param(one_rule("RRULE:FREQ=DAILY;BYMONTH=0"), id="bymonth-0"),
        pytest.param(one_rule("RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"), id="february-30th"),
        pytest.param(one_rule("RRULE:FREQ=DAILY;BYSETPOS=-3;COUNT=3"), id="bysetpos-alone"),
        pytest.param(one_rule("RRULE:FREQ=MINUTELY"), id="every-minute"),
        pytest.param(one_rule("RRULE:FREQ=SECONDLY"), id="every-second"),
        pytest.param(one_rule("RRULE:FREQ=DAILY;BYDAY=MO;BYSETPOS=2"), id="bysetpos-daily"),
        pytest.param(
            one_rule("RRULE:FREQ=WEEKLY;BYDAY=MO;BYMONTHDAY=1;BYMONTH=2;BYSETPOS=3"),
            id="bysetpos-weekly",
        ),
    ],
)
def test_rules_that_never_match_are_refused(doc: bytes) -> None:
    """A rule that matches nothing, never ends or matches every second is skipped, named.

    Expanding one walks dateutil to the year 9999 (seconds to forever), so a
    regression here shows as this test hanging, not as a timing.
    """
    result = read("ical", doc)
    assert result.events == [] and result.failed_entries == 1
    assert len(result.warnings) == 1 and result.warnings[0].endswith("series skipped")
