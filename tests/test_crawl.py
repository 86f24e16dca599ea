"""End-to-end crawls: the CLI in a subprocess, a real HTTP server on 127.0.0.1, a real store."""

from __future__ import annotations

import gzip
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from loopback import Answer, LoopbackServer, Site
from sitegen import (
    atom_jsonld,
    detail_html,
    listing_html,
    meetup_ics,
    monthly,
    wordpress_rss,
)

NOW = datetime.now(UTC)
ICS = "text/calendar; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"


def techcal(db: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run the installed techcal command line on ``db``."""
    return subprocess.run(
        [sys.executable, "-c", "from techcal.cli import main; main()", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def crawl_json(db: Path, *args: str, status: int = 0) -> dict:
    """Crawl, check the exit status (1: no source could be fetched), return the JSON summary."""
    done = techcal(db, "crawl", "--json", *args)
    assert done.returncode == status, done.stderr
    return json.loads(done.stdout)


def by_source(report: dict) -> dict[str, dict]:
    return {line["source"]: line for line in report["sources"]}


def rows(db: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def source_state(db: Path, name: str) -> dict:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM sources WHERE name = ?", (name,)).fetchone()
    return dict(row)


def titles(db: Path, source: str) -> list[str]:
    return [
        r[0]
        for r in rows(
            db,
            "SELECT e.title FROM events e JOIN provenance p ON p.event_id = e.id"
            " JOIN sources s ON s.id = p.source_id WHERE s.name = ? AND p.removed_at IS NULL"
            " ORDER BY e.start_utc",
            source,
        )
    ]


def add(db: Path, url: str, name: str, *extra: str) -> None:
    done = techcal(db, "sources", "add", url, "--name", name, *extra)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def site():
    site = Site()
    with LoopbackServer(site):
        yield site


def serve_listing(site: Site, prefix: str, events, *, per_page: int = 2) -> str:
    """Serve an events listing (paginated) and one page per event; return the listing URL."""
    pages = [events[i : i + per_page] for i in range(0, len(events), per_page)] or [[]]
    for number, chunk in enumerate(pages):
        path = f"{prefix}/" if number == 0 else f"{prefix}/?page={number + 1}"
        following = f"{prefix}/?page={number + 2}" if number + 1 < len(pages) else None
        links = [(ev.title, f"{prefix}/{ev.id}/") for ev in chunk]
        site.add(path, listing_html("Upcoming events", links, next_page=following))
        for ev in chunk:
            url = site.url(f"{prefix}/{ev.id}/")
            site.add(f"{prefix}/{ev.id}/", detail_html(ev, url))
    return site.url(f"{prefix}/")


def test_crawl_every_kind_of_source_then_again_unchanged(site: Site, tmp_path: Path) -> None:
    db = tmp_path / "techcal.db"
    # a Meetup group's iCal, fetched with its ETag the second time
    python = monthly("py", "Portland Python User Group", NOW, 3)
    site.add(
        "/pdxpython/events/ical/",
        meetup_ics("Portland Python", python, stamp=NOW),
        content_type=ICS,
        etag='"v1"',
    )
    # the same kind of file with no validators: recognised unchanged by its content
    rust = monthly("rs", "Rust PDX", NOW, 2)
    site.add("/rust/events/ical/", meetup_ics("Rust PDX", rust, stamp=NOW), content_type=ICS)
    # a WordPress feed of plain posts: their pages hold the events
    talks = monthly("talk", "Code for Portland Hack Night", NOW, 2)
    for ev in talks:
        site.add(f"/talks/{ev.id}/", detail_html(ev, site.url(f"/talks/{ev.id}/")))
    posts = [(ev.title, site.url(f"/talks/{ev.id}/")) for ev in talks]
    site.add("/blog/feed/", wordpress_rss(site.url("/"), posts, built=NOW), content_type=RSS)
    # an Atom feed with JSON-LD in its entries
    colloquia = monthly("coll", "PSU CS Colloquium", NOW, 2)
    site.add(
        "/cs/atom.xml",
        atom_jsonld("PSU CS events", colloquia, site.url("/cs"), updated=NOW),
        content_type=ATOM,
    )
    # a LUG's own site: a paginated listing with one page per meeting
    plug = monthly("plug", "PLUG Monthly Meeting", NOW, 3)
    listing = serve_listing(site, "/plug/events", plug)
    # and a calendar file on disk
    local = tmp_path / "local.ics"
    local.write_bytes(meetup_ics("BSides PDX", monthly("bs", "BSides PDX", NOW, 1), stamp=NOW))

    add(db, site.url("/pdxpython/events/ical/"), "pdxpython", "--kind", "user-group")
    add(db, site.url("/rust/events/ical/"), "rust-pdx")
    add(db, site.url("/blog/feed/"), "codeforpdx", "--kind", "charity")
    add(db, site.url("/cs/atom.xml"), "psu-cs", "--kind", "college")
    add(db, listing, "plug", "--kind", "lug", "--type", "html")
    add(db, local.as_uri(), "bsides")

    first = by_source(crawl_json(db))
    assert {name: line["status"] for name, line in first.items()} == dict.fromkeys(
        ["pdxpython", "rust-pdx", "codeforpdx", "psu-cs", "plug", "bsides"], "ok"
    )
    assert {name: line["new"] for name, line in first.items()} == {
        "pdxpython": 3,
        "rust-pdx": 2,
        "codeforpdx": 2,
        "psu-cs": 2,
        "plug": 3,
        "bsides": 1,
    }
    assert titles(db, "plug") == [ev.title for ev in plug]
    assert titles(db, "codeforpdx") == [ev.title for ev in talks]
    assert first["plug"]["pages"] == 5  # two listing pages and three meetings
    assert first["plug"]["type"] == "html"
    # the listing's navigation is not an event and was not fetched
    assert site.hits["/about/"] == site.hits["/contact/"] == site.hits["/blog/"] == 0
    # kinds and places come through from the source and the pages
    assert rows(db, "SELECT DISTINCT kind, city FROM events WHERE title LIKE 'PLUG%'") == [
        ("lug", "Portland")
    ]
    state = source_state(db, "pdxpython")
    assert (state["etag"], state["http_status"], state["last_status"]) == ('"v1"', 200, "ok")
    assert state["failures"] == 0 and state["last_error"] is None

    second = by_source(crawl_json(db))
    assert {line["status"] for line in second.values()} == {"unchanged"}
    assert sum(line["new"] + line["updated"] + line["removed"] for line in second.values()) == 0
    assert second["pdxpython"]["unchanged"] == 3
    # a conditional GET, answered 304
    assert site.requests["/pdxpython/events/ical/"][-1]["if-none-match"] == '"v1"'
    assert source_state(db, "pdxpython")["http_status"] == 304

    # a meeting moves by an hour on its own page: only the LUG's source is updated
    moved = plug[1]
    moved.start += timedelta(hours=1)
    site.add(
        f"/plug/events/{moved.id}/",
        detail_html(moved, site.url(f"/plug/events/{moved.id}/")),
    )
    # and Meetup's feed is regenerated with a new DTSTAMP only: still unchanged
    site.add(
        "/rust/events/ical/",
        meetup_ics("Rust PDX", rust, stamp=NOW + timedelta(hours=1)),
        content_type=ICS,
    )
    third = by_source(crawl_json(db))
    assert third["rust-pdx"]["status"] == "unchanged"
    # the listing is the same, so its event pages wait for the revisit time (12 h)...
    assert third["plug"]["status"] == "unchanged" and third["plug"]["pages"] == 2
    # ...unless the crawl is told to read them all
    fourth = by_source(crawl_json(db, "--revisit", "0", "--source", "plug"))
    assert fourth["plug"]["status"] == "ok" and fourth["plug"]["pages"] == 5
    assert (fourth["plug"]["updated"], fourth["plug"]["unchanged"]) == (1, 2)
    (sequence,) = rows(db, "SELECT sequence FROM events WHERE title = ?", moved.title)[0]
    assert sequence == 1


def test_hostile_sources_fail_alone_and_are_recorded(site: Site, tmp_path: Path) -> None:
    db = tmp_path / "techcal.db"
    good = meetup_ics("Portland Python", monthly("py", "Python", NOW, 2), stamp=NOW)
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    sources = {
        "good": site.add("/good.ics", good, content_type=ICS),
        "slow": site.add("/slow.ics", good, content_type=ICS, delay=3),
        "flaky": site.sequence(
            "/flaky.ics", Answer(b"oops", 500, "text/plain"), Answer(good, 200, ICS)
        ),
        "busy": site.sequence(
            "/busy.ics",
            Answer(b"busy", 503, "text/plain", {"Retry-After": "1"}),
            Answer(good, 200, ICS),
        ),
        "closed": site.add(
            "/closed.ics", "down for maintenance", status=503, headers={"Retry-After": "3600"}
        ),
        "loop": site.add("/loop", "", status=302, headers={"Location": "/loop"}),
        "huge": site.add("/huge.ics", content_type=ICS, size=50 * 2**20),
        "bomb": site.add(
            "/bomb.ics",
            gzip.compress(b"BEGIN:VCALENDAR\r\n" + b" " * 30 * 2**20),
            content_type=ICS,
            headers={"Content-Encoding": "gzip"},
        ),
        "octet": site.add("/octet", good, content_type="application/octet-stream"),
        "private": site.add("/private/cal.ics", good, content_type=ICS),
        "gone": site.add("/gone.ics", "no such calendar", status=404),
        "refused": "http://127.0.0.1:9/nothing-listens-here.ics",
    }
    for name, url in sources.items():
        add(db, url, name)

    lines = by_source(crawl_json(db, "--timeout", "1"))
    statuses = {name: line["status"] for name, line in lines.items()}
    assert statuses == {
        "good": "ok",
        "slow": "error",
        "flaky": "ok",
        "busy": "ok",
        "closed": "error",
        "loop": "error",
        "huge": "error",
        "bomb": "error",
        "octet": "ok",
        "private": "error",
        "gone": "error",
        "refused": "error",
    }
    for name in ("good", "flaky", "busy", "octet"):
        assert lines[name]["new"] == 2, name
    # retried after the 500 and after the 503's Retry-After; not retried after a long one
    assert site.hits["/flaky.ics"] == 2
    assert site.hits["/busy.ics"] == 2
    assert site.hits["/closed.ics"] == 1
    assert site.hits["/private/cal.ics"] == 0
    assert "timeout" in lines["slow"]["error"]
    assert "too many redirects" in lines["loop"]["error"]
    assert "size limit" in lines["huge"]["error"]
    assert "size limit once decompressed" in lines["bomb"]["error"]
    assert "robots.txt" in lines["private"]["error"]
    assert "connection refused" in lines["refused"]["error"]
    assert "HTTP 404" in lines["gone"]["error"]
    assert "wait 60 min" in lines["closed"]["error"]

    gone = source_state(db, "gone")
    assert (gone["http_status"], gone["failures"], gone["last_status"]) == (404, 1, "error")
    assert "HTTP 404" in gone["last_error"]
    closed = source_state(db, "closed")
    assert closed["http_status"] == 503
    due = datetime.fromisoformat(closed["next_due"])
    assert timedelta(minutes=55) < due - datetime.now(UTC) <= timedelta(hours=1)

    listed = techcal(db, "sources", "list")
    assert listed.returncode == 0
    assert "gone: http://127.0.0.1" in listed.stdout and "HTTP 404" in listed.stdout
    assert "closed:" in listed.stdout and "next try after" in listed.stdout

    # the next crawl leaves the source that asked for an hour alone...
    again = crawl_json(db, "--timeout", "1")
    assert "closed" not in by_source(again) and again["not_due"] == ["closed"]
    assert site.hits["/closed.ics"] == 1
    # ...unless it is asked for by name
    named = by_source(crawl_json(db, "--source", "closed", status=1))
    assert named["closed"]["status"] == "error" and site.hits["/closed.ics"] == 2
    assert source_state(db, "closed")["failures"] == 2


def test_a_failing_source_keeps_its_events_and_backs_off(site: Site, tmp_path: Path) -> None:
    db = tmp_path / "techcal.db"
    good = meetup_ics("PLUG", monthly("plug", "PLUG meeting", NOW, 2), stamp=NOW)
    site.sequence("/plug.ics", Answer(good, 200, ICS), Answer(b"broken", 500, "text/plain"))
    add(db, site.url("/plug.ics"), "plug")
    assert by_source(crawl_json(db))["plug"]["new"] == 2

    with sqlite3.connect(db) as conn:  # as if it had already failed four times in a row
        conn.execute("UPDATE sources SET failures = 4")
    failed = by_source(crawl_json(db, status=1))["plug"]
    assert failed["status"] == "error" and failed["failures"] == 5
    state = source_state(db, "plug")
    assert state["failures"] == 5 and "HTTP 500" in state["last_error"]
    assert (
        timedelta(minutes=55)
        < datetime.fromisoformat(state["next_due"]) - datetime.now(UTC)
        <= timedelta(hours=1)
    )
    # its events are kept, not marked removed
    assert titles(db, "plug") == ["PLUG meeting #1", "PLUG meeting #2"]
    assert rows(db, "SELECT count(*) FROM events WHERE removed_at IS NOT NULL") == [(0,)]
    # tried less often now: not in the next crawl
    assert crawl_json(db)["not_due"] == ["plug"]


def test_exit_status_is_1_when_no_source_could_be_fetched(site: Site, tmp_path: Path) -> None:
    db = tmp_path / "techcal.db"
    add(db, site.add("/gone.ics", "gone", status=410), "gone")
    done = techcal(db, "crawl")
    assert done.returncode == 1
    assert "gone" in done.stdout and "error" in done.stdout
    assert "HTTP 410 Gone" in done.stderr
    assert "Traceback" not in done.stderr


def test_crawl_usage_errors(tmp_path: Path) -> None:
    db = tmp_path / "techcal.db"
    empty = techcal(db, "crawl")
    assert empty.returncode == 2 and "no sources yet" in empty.stderr
    add(db, "https://example.org/events.ics", "example")
    unknown = techcal(db, "crawl", "--source", "nope")
    assert unknown.returncode != 0 and "nope" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_progress_lines_when_not_on_a_terminal(site: Site, tmp_path: Path) -> None:
    db = tmp_path / "techcal.db"
    ics = meetup_ics("PLUG", monthly("plug", "PLUG meeting", NOW, 2), stamp=NOW)
    add(db, site.add("/a.ics", ics, content_type=ICS), "a")
    add(db, site.add("/b.ics", ics, content_type=ICS), "b")
    done = techcal(db, "crawl")
    assert done.returncode == 0, done.stderr
    progress = sorted(line for line in done.stderr.splitlines() if line.startswith("["))
    assert len(progress) == 2
    assert progress[0].startswith(("[1/2] a: ok", "[1/2] b: ok"))
    assert progress[1].startswith(("[2/2] a: ok", "[2/2] b: ok"))
    table = done.stdout.splitlines()
    assert table[0].split() == [
        "source", "status", "new", "merged", "updated", "unchanged", "removed", "errors", "time"
    ]  # fmt: skip
    assert table[-1].split()[:4] == ["total", "(2)", "2", "ok"]


def _word(n: int) -> str:
    """Return a name made of letters for group ``n`` ("bc" for 12).

    Numbers are dropped when titles are compared for merging, so groups
    named "Group 3" and "Group 4" meeting at the same hour would be taken
    for one event announced twice.
    """
    return "".join("abcdefghij"[int(d)] for d in str(n)) + "x"


def serve_many(site: Site, count: int) -> dict[str, tuple[str, list[str], int]]:
    """Serve ``count`` good sources of every kind; return name -> (url, options, events)."""
    served: dict[str, tuple[str, list[str], int]] = {}
    for n in range(count):
        kind = n % 4
        prefix = f"/s{n}"
        if kind == 0:  # a group's iCal
            events = monthly(f"g{n}", f"Group {_word(n)} meetup", NOW, 3)
            url = site.add(f"{prefix}/ical/", meetup_ics(f"Group {n}", events, stamp=NOW),
                           content_type=ICS)  # fmt: skip
            served[f"ics-{n}"] = (url, [], 3)
        elif kind == 1:  # a blog whose posts link to event pages
            events = monthly(f"b{n}", f"Blog {_word(n)} hack night", NOW, 2)
            for ev in events:
                site.add(
                    f"{prefix}/talks/{ev.id}/",
                    detail_html(ev, site.url(f"{prefix}/talks/{ev.id}/")),
                )
            posts = [(ev.title, site.url(f"{prefix}/talks/{ev.id}/")) for ev in events]
            url = site.add(f"{prefix}/feed/", wordpress_rss(site.url(prefix), posts, built=NOW),
                           content_type=RSS)  # fmt: skip
            served[f"rss-{n}"] = (url, [], 2)
        elif kind == 2:  # a department's Atom feed with JSON-LD
            events = monthly(f"a{n}", f"Department {_word(n)} talk", NOW, 2)
            url = site.add(f"{prefix}/atom.xml",
                           atom_jsonld(f"Dept {n}", events, site.url(prefix), updated=NOW),
                           content_type=ATOM)  # fmt: skip
            served[f"atom-{n}"] = (url, [], 2)
        else:  # a LUG's listing with pages per meeting
            events = monthly(f"l{n}", f"LUG {_word(n)} meeting", NOW, 3)
            served[f"html-{n}"] = (
                serve_listing(site, f"{prefix}/events", events),
                ["--type", "html"],
                3,
            )
    return served


def test_two_hundred_sources_with_hostile_ones_then_unchanged(site: Site, tmp_path: Path) -> None:
    db = tmp_path / "techcal.db"
    good = serve_many(site, 190)
    ics = meetup_ics("PLUG", monthly("plug", "PLUG meeting", NOW, 1), stamp=NOW)
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    hostile = {
        "h-404": site.add("/h/404.ics", "gone", status=404),
        "h-500": site.add("/h/500.ics", "boom", status=500),
        "h-502": site.add("/h/502.ics", "bad gateway", status=502),
        "h-loop": site.add("/h/loop", "", status=301, headers={"Location": "/h/loop"}),
        "h-robots": site.add("/private/cal.ics", ics, content_type=ICS),
        "h-robots-2": site.add("/private/feed.xml", ics, content_type=ICS),
        "h-huge": site.add("/h/huge.ics", content_type=ICS, size=25 * 2**20),
        "h-slow": site.add("/h/slow.ics", ics, content_type=ICS, delay=3),
        "h-html": site.add("/h/not-a-calendar.ics", "<html><body>Login</body></html>"),
        "h-refused": "http://127.0.0.1:9/events.ics",
    }
    imported = tmp_path / "sources.toml"
    entries = [(name, url, opts) for name, (url, opts, _) in good.items()]
    entries += [
        (name, url, ["--type", "ics"] if name == "h-html" else []) for name, url in hostile.items()
    ]
    imported.write_text(
        "".join(
            f'[[source]]\nname = "{name}"\nurl = "{url}"\n'
            + (f'type = "{opts[1]}"\n' if opts else "")
            for name, url, opts in entries
        )
    )
    assert techcal(db, "sources", "import", str(imported)).returncode == 0

    first = by_source(crawl_json(db, "--timeout", "1"))
    assert len(first) == 200
    assert {name for name, line in first.items() if line["status"] == "error"} == set(hostile)
    for name, (_, _, count) in good.items():
        assert (first[name]["status"], first[name]["new"]) == ("ok", count), name
    stored = rows(db, "SELECT count(*) FROM events WHERE removed_at IS NULL")[0][0]
    assert stored == sum(count for _, _, count in good.values())
    errors = {
        name: state
        for name, state in (
            (r[0], r[1:])
            for r in rows(db, "SELECT name, last_status, failures, last_error FROM sources")
        )
        if state[0] == "error"
    }
    assert set(errors) == set(hostile)
    assert all(failures == 1 and error for _, failures, error in errors.values())

    second = by_source(crawl_json(db, "--timeout", "1"))
    assert {second[name]["status"] for name in good} == {"unchanged"}
    assert {second[name]["status"] for name in hostile} == {"error"}
    assert rows(db, "SELECT count(*) FROM events WHERE removed_at IS NULL")[0][0] == stored


def test_real_world_pages_crawled_give_their_events(site: Site, tmp_path: Path) -> None:
    from test_extract import _ref, _ref_events

    from conftest import SHARED_FIXTURES

    pages = sorted((SHARED_FIXTURES / "html").glob("*.html")) if SHARED_FIXTURES.exists() else []
    if not pages:
        pytest.skip("../shared/fixtures is not on this machine (tests/fixtures cover the cases)")
    db = tmp_path / "techcal.db"
    expected = {}
    imported = tmp_path / "sources.toml"
    entries = []
    for n, page in enumerate(pages):
        url = site.add(f"/shared/{n}.html", page.read_bytes())
        events = _ref_events(_ref(page))
        # an h-event without a start is no event; the rest are all expected
        expected[f"page-{n}"] = sum(
            1 for e in events if e.get("type") != ["h-event"] or "start" in e["properties"]
        )
        entries.append(f'[[source]]\nname = "page-{n}"\nurl = "{url}"\ntype = "html"\n')
    imported.write_text("".join(entries))
    assert techcal(db, "sources", "import", str(imported)).returncode == 0
    lines = by_source(crawl_json(db, "--max-depth", "0"))
    assert {name: line["status"] for name, line in lines.items()} == dict.fromkeys(expected, "ok")
    found = {name: line["new"] for name, line in lines.items()}
    assert found == expected
    assert sum(found.values()) >= 70  # 49 + 13 + 4 + 1 songkick concerts, and the rest


def test_a_progress_bar_on_a_terminal(site: Site, tmp_path: Path) -> None:
    import os
    import pty

    db = tmp_path / "techcal.db"
    ics = meetup_ics("PLUG", monthly("plug", "PLUG meeting", NOW, 1), stamp=NOW)
    add(db, site.add("/a.ics", ics, content_type=ICS), "a")
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-c", "from techcal.cli import main; main()", "--db", str(db),
             "crawl"],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=120,
        )  # fmt: skip
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal side is closed: all is read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
    assert done.returncode == 0
    assert b"crawling" in shown and b"1/1" in shown
    assert b"[1/1] a:" not in shown  # a bar, not the plain lines
    assert "a " in done.stdout and "ok" in done.stdout


def test_ctrl_c_stops_the_crawl_and_keeps_what_was_stored(site: Site, tmp_path: Path) -> None:
    import signal
    import time

    db = tmp_path / "techcal.db"
    ics = meetup_ics("PLUG", monthly("plug", "PLUG meeting", NOW, 2), stamp=NOW)
    add(db, site.add("/fast.ics", ics, content_type=ICS), "fast")
    add(db, site.add("/slow.ics", ics, content_type=ICS, delay=20), "slow")
    crawl = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from techcal.cli import main; main()",
            "--db",
            str(db),
            "crawl",
            "--timeout",
            "5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while titles(db, "fast") == [] and time.monotonic() < deadline:
        time.sleep(0.2)
    crawl.send_signal(signal.SIGINT)
    out, err = crawl.communicate(timeout=60)
    assert crawl.returncode == 0, err
    lines = {line.split()[0]: line.split()[1:3] for line in out.splitlines()[2:-1]}
    assert lines["fast"][0] == "ok" and lines["slow"] == ["not", "done"]
    assert titles(db, "fast") == ["PLUG meeting #1", "PLUG meeting #2"]
    assert "techcal: stopping: finishing the downloads in progress" in err
    assert "Traceback" not in err


def test_a_local_file_is_held_to_the_size_limit(tmp_path: Path) -> None:
    db = tmp_path / "techcal.db"
    big = tmp_path / "big.ics"
    big.write_bytes(b"BEGIN:VCALENDAR\r\n" + b"X" * 200_000)
    missing = tmp_path / "missing.ics"
    add(db, big.as_uri(), "big")
    add(db, missing.as_uri(), "missing")
    lines = by_source(crawl_json(db, "--max-size", "0.1", status=1))
    too_big = "the body is larger than the download size limit"
    assert lines["big"]["error"] == f"{big.as_uri()}: {too_big}"
    unreadable = "cannot read it (No such file or directory)"
    assert lines["missing"]["error"] == f"{missing.as_uri()}: {unreadable}"


def test_the_same_events_from_two_sources_are_stored_once(site: Site, tmp_path: Path) -> None:
    # the group's Meetup calendar, and a department's Atom feed with JSON-LD
    # announcing the same two meetings under its own ids and links
    db = tmp_path / "techcal.db"
    events = monthly("plug", "PLUG meeting", NOW, 2)
    ics = meetup_ics("PLUG", events, stamp=NOW)
    atom = atom_jsonld("PSU talks", events, site.url("/psu"), updated=NOW)
    add(db, site.add("/plug/ical/", ics, content_type=ICS), "plug")
    add(db, site.add("/psu/atom.xml", atom, content_type=ATOM), "psu")
    report = crawl_json(db)
    assert report["totals"]["new"] == 4
    assert report["totals"]["merged"] == 2
    assert rows(db, "SELECT count(*) FROM events")[0][0] == 2
    found = techcal(db, "search", "--format", "json", "--from", "2026-11-01")
    assert found.returncode == 0, found.stderr
    assert sorted(len(e["sources"]) for e in json.loads(found.stdout)) == [2, 2]
    again = crawl_json(db, "--source", "plug", "--source", "psu")
    assert again["totals"]["merged"] == 0
    assert rows(db, "SELECT count(*) FROM events")[0][0] == 2
