"""Hostile files cost bounded work: warnings, memory and type detection.

A file can hold a million bad entries or nest a million components: the
result keeps a few warnings and counts the rest, icalendar is never handed
more than a batch at once, and a feed is told from a web page by its root
element however long its prolog, without reading much of a hostile one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import icalendar
import pytest

from techcal.feeds import ical_batches
from techcal.feeds.base import MAX_WARNINGS, ReadResult, SourceDefaults, Window
from techcal.feeds.detect import PROLOG_LIMIT, detect_type, root_element
from techcal.feeds.ical import read_ical
from techcal.feeds.ical_lines import MAX_DEPTH

from conftest import FIXTURES, NOW

HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//hostile//EN\r\n"
END = "END:VCALENDAR\r\n"
DEFAULTS = SourceDefaults(source="hostile")
WINDOW = Window.around(NOW)


def deep(n: int) -> bytes:
    """Return a calendar of ``n`` VEVENTs, each inside the one before."""
    return (HEAD + "BEGIN:VEVENT\r\n" * n + "END:VEVENT\r\n" * n + END).encode()


def flat(n: int, end: str = END) -> bytes:
    """Return a calendar of ``n`` empty VEVENTs (no DTSTART: each one is a warning)."""
    return (HEAD + "BEGIN:VEVENT\r\nEND:VEVENT\r\n" * n + end).encode()


def read(data: bytes) -> ReadResult:
    return read_ical(data, DEFAULTS, window=WINDOW)


def test_a_result_keeps_the_first_distinct_warnings_and_counts_the_rest():
    result = ReadResult(warnings=["decoding", "decoding"])
    for n in range(MAX_WARNINGS + 50):
        result.warn(f"entry {n}: bad")
        result.warn(f"entry {n}: bad")  # said twice, counted once
    result.warn("decoding")  # a kept one is never counted again
    result.warn_all(["entry 0: bad", "later"], more=7)
    assert result.warnings[0] == "decoding" and len(result.warnings) == MAX_WARNINGS
    assert len(set(result.warnings)) == MAX_WARNINGS
    assert result.more_warnings == (MAX_WARNINGS + 50) - (MAX_WARNINGS - 1) + 1 + 7


def test_a_flat_file_of_bad_entries_keeps_few_warnings_and_counts_the_rest():
    n = 3000
    result = read(flat(n))
    assert len(result.warnings) == MAX_WARNINGS
    assert result.more_warnings == n - MAX_WARNINGS  # each names its own line: all distinct
    assert result.failed_entries == n and not result.events
    assert result.warnings[0].endswith("(line 4): DTSTART missing; skipped")


def test_a_deep_file_is_cut_below_a_sane_depth_with_one_warning():
    n = 5000
    result = read(deep(n))
    cut, *kept = result.warnings
    first_cut = MAX_DEPTH + 3  # three header lines, then one VEVENT a line
    assert cut == (
        f"{n - MAX_DEPTH + 1} components nested more than {MAX_DEPTH} deep"
        f" (line {first_cut} on); skipped"
    )
    assert len(kept) == MAX_DEPTH - 1  # the VEVENTs above the cut, each without DTSTART
    assert result.failed_entries == n and result.more_warnings == 0


@pytest.fixture
def parsed(monkeypatch) -> list[int]:
    """Return the lines of each text icalendar parses during the test, as it parses them."""
    lines: list[int] = []
    real = icalendar.Calendar.from_ical.__func__

    def counting(cls, text, *args, **kwargs):
        lines.append(text.count("\n"))
        return real(cls, text, *args, **kwargs)

    monkeypatch.setattr(icalendar.Calendar, "from_ical", classmethod(counting))
    return lines


@pytest.mark.parametrize("shape", ["flat", "cut short", "other components"])
def test_icalendar_is_never_handed_more_than_a_batch(parsed, shape):
    n = ical_batches.BATCH_LINES  # two lines each: two batches' worth
    todos = b"BEGIN:VTODO\r\nEND:VTODO\r\n" * n  # never read: never parsed
    data = {
        "flat": flat(n),
        "cut short": flat(n, end=""),  # a download cut off: every entry read alone
        "other components": flat(n // 2)[: -len(END)] + todos + END.encode(),
    }[shape]
    result = read(data)
    assert max(parsed) <= ical_batches.BATCH_LINES + 10
    expected = n if shape != "other components" else n // 2
    assert result.failed_entries == expected
    assert len(result.warnings) + result.more_warnings == expected


@pytest.mark.parametrize("shape", ["entry", "series"])
def test_an_entry_too_long_to_read_is_refused_without_parsing_it(parsed, shape):
    good = "BEGIN:VEVENT\r\nUID:good\r\nDTSTART:20261201T180000Z\r\nSUMMARY:LUG\r\nEND:VEVENT\r\n"
    if shape == "entry":  # one VEVENT holding more alarms than lines any entry needs
        alarms = "BEGIN:VALARM\r\nEND:VALARM\r\n" * (ical_batches.ENTRY_LINES // 2 + 1)
        hostile = f"BEGIN:VEVENT\r\nUID:big\r\nDTSTART:20261201T100000Z\r\n{alarms}END:VEVENT\r\n"
        entries = 1
    else:  # one series with more overrides than any calendar has
        entries = ical_batches.SERIES_LINES // 2 + 1
        hostile = (
            "BEGIN:VEVENT\r\nUID:big\r\nDTSTART:20261201T100000Z\r\nRRULE:FREQ=DAILY\r\n"
            "END:VEVENT\r\n" + "BEGIN:VEVENT\r\nUID:big\r\nEND:VEVENT\r\n" * (entries - 1)
        )
    result = read((HEAD + good + hostile + END).encode())
    assert [e.source_uid for e in result.events] == ["good"]
    assert len(result.warnings) == 1 and "VEVENT big (line 9): " in result.warnings[0]
    assert result.warnings[0].endswith("past any real one; skipped")
    assert result.failed_entries == entries
    assert max(parsed) < 100  # only the good entry was ever parsed


@pytest.mark.parametrize("path", sorted((FIXTURES / "ical").glob("*.ics")), ids=lambda p: p.name)
def test_reading_in_batches_gives_what_a_whole_read_gives(monkeypatch, path: Path):
    data = path.read_bytes()
    whole = read(data)
    # every file cut into batches of a few entries
    monkeypatch.setattr(ical_batches, "BATCH_CHARS", 400)
    monkeypatch.setattr(ical_batches, "BATCH_LINES", 12)
    monkeypatch.setitem(ical_batches.batch_texts.__kwdefaults__, "chars", 400)
    monkeypatch.setitem(ical_batches.batch_texts.__kwdefaults__, "lines", 12)
    batched = read(data)
    assert batched.events == whole.events
    assert batched.failed_entries == whole.failed_entries
    assert set(batched.warnings) == set(whole.warnings)


PEAK = textwrap.dedent(
    """
    import json, resource, sys
    from datetime import UTC, datetime
    from techcal.feeds.base import SourceDefaults, Window
    from techcal.feeds.ical import read_ical

    head = "BEGIN:VCALENDAR\\r\\nVERSION:2.0\\r\\nPRODID:-//hostile//EN\\r\\n"
    n = int(sys.argv[2])
    if sys.argv[1] == "deep":
        body = "BEGIN:VEVENT\\r\\n" * n + "END:VEVENT\\r\\n" * n
    elif sys.argv[1] == "flat":
        body = "BEGIN:VEVENT\\r\\nEND:VEVENT\\r\\n" * n
    else:  # empty lines, then one entry
        body = "\\r\\n" * n + "BEGIN:VEVENT\\r\\nUID:a\\r\\nEND:VEVENT\\r\\n"
    data = (head + body + "END:VCALENDAR\\r\\n").encode()
    del body
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    window = Window.around(datetime(2026, 11, 22, tzinfo=UTC))
    result = read_ical(data, SourceDefaults(source="hostile"), window=window)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"size": len(data), "extra": (peak - before) * 1024,
                      "warnings": len(result.warnings)}))
    """
)


@pytest.mark.parametrize("shape, n", [("deep", 150_000), ("flat", 100_000), ("empty", 1_000_000)])
def test_peak_memory_is_what_the_file_size_justifies(shape, n):
    # in a process of its own: the peak of this one says nothing
    done = subprocess.run(
        [sys.executable, "-c", PEAK, shape, str(n)], capture_output=True, text=True, check=True
    )
    measured = json.loads(done.stdout)
    # a whole parse takes some 30 times the file; a batch, or what a deep cut leaves, far less
    assert measured["extra"] < 10 * measured["size"], measured
    assert measured["warnings"] <= MAX_WARNINGS


ENTITIES = "".join(f'  <!ENTITY lug{n} "&#{160 + n % 90};">\n' for n in range(200))
LONG_DTD_FEED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<!-- written by a CMS that declares its entities inline -->\n"
    f"<!DOCTYPE rss [\n{ENTITIES}]>\n"
    '<?xml-stylesheet type="text/xsl" href="feed.xsl"?>\n'
    '<rss version="2.0" xmlns:ev="http://purl.org/rss/1.0/modules/event/"><channel>'
    "<title>LUG talks &lug3;</title><link>https://lug.example.org/</link>"
    "<item><title>Kernel night</title><link>https://lug.example.org/e/1</link>"
    "<guid>https://lug.example.org/e/1</guid>"
    "<ev:startdate>2026-12-02T18:00:00Z</ev:startdate></item>"
    "</channel></rss>\n"
).encode()


def test_a_feed_is_told_by_its_root_element_after_a_long_prolog():
    assert len(LONG_DTD_FEED) > 5000 and LONG_DTD_FEED.index(b"<rss") > 5000
    assert detect_type(LONG_DTD_FEED) == "rss"
    atom = b'<?xml version="1.0"?>\n<a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:id/></a:feed>'
    assert detect_type(atom) == "rss"
    page = b"<!DOCTYPE html>\n<!-- the old site had <rss version='2.0'> here -->\n<html></html>"
    assert detect_type(page) == "html"
    # a DTD whose quoted strings and comments hold "]" and ">"
    tricky = b"<!DOCTYPE html [<!ENTITY a ']>'><!-- ]> <rss> -->]><html/>"
    assert root_element(tricky) == b"html" and detect_type(tricky) == "html"


def test_a_hostile_prolog_is_looked_at_no_further_than_the_limit():
    comment = b"<!--" + b"-" * (PROLOG_LIMIT // 2) + b"-->"
    assert detect_type(comment + b"<rss version='2.0'/>") == "rss"  # long, but within reach
    hostile = b"<!--" + b"x" * 20_000_000 + b"--><rss version='2.0'/>"
    tracemalloc.start()
    try:
        kind = detect_type(hostile)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kind == "html"  # no root element within reach: not taken for a feed
    assert peak < 4 * PROLOG_LIMIT


def test_import_reads_a_feed_with_a_long_dtd_as_a_feed(tmp_path):
    feed = tmp_path / "talks.xml"
    feed.write_bytes(LONG_DTD_FEED)
    done = subprocess.run(
        [sys.executable, "-m", "techcal.cli", "--db", str(tmp_path / "t.db"), "import", str(feed)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "(rss): 1 read; 1 new" in done.stdout, done.stdout + done.stderr
