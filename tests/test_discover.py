"""Feed discovery: `sources discover` and `sources add` on a homepage.

Pages shaped like each platform's (tests/fixtures/discover/) are served by a
real HTTP server on 127.0.0.1; the platforms' hosts (calendar.google.com,
www.meetup.com, ...) are served from it through ``TECHCAL_HOST_MAP``, so
the URLs discovered are the real ones and nothing leaves this machine.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from loopback import LoopbackServer, Site
from sitegen import meetup_ics, monthly, wordpress_rss

from techcal.feeds.discover import Candidate, best_first, page_candidates

from conftest import FIXTURES

PAGES = FIXTURES / "discover"
NOW = datetime.now(UTC)
ICS = "text/calendar; charset=utf-8"
RSS = "application/rss+xml; charset=UTF-8"
HOSTS = {
    "plug.example.org": "/plug",
    "salem-lug.example.org": "/salem",
    "calendar.google.com": "/google",
    "cs.riverside.example.edu": "/riverside",
    "outlook.office365.com": "/outlook",
    "volunteers.example.org": "/volunteers",
    "teamup.com": "/teamup",
    "ics.teamup.com": "/teamup-ics",
    "rust-berlin.example.org": "/rust",
    "www.meetup.com": "/meetup",
    "lu.ma": "/luma",
    "api.lu.ma": "/luma-api",
    "hackerspace.example.org": "/hackerspace",
}
GOOGLE_ICS = "/calendar/ical/salemlug%40group.calendar.google.com/public/basic.ics"
OUTLOOK_DIR = (
    "/owa/calendar/3c9f0d2a61e54b1f9a2c7e4b5d6f7a80@riverside.example.edu/"
    "9b8a7c6d5e4f40318293a4b5c6d7e8f91234567890123456789/"
)


def page(name: str, start: datetime | None = None) -> bytes:
    """Return a fixture page with its dates put in relation to today."""
    text = (PAGES / name).read_text(encoding="utf-8")
    start = start or (NOW + timedelta(days=9)).replace(hour=2, minute=0, second=0, microsecond=0)
    text = (
        text.replace("@START1_MS@", str(int(start.timestamp() * 1000)))
        .replace("@START1@", start.isoformat())
        .replace("@END1@", (start + timedelta(hours=2)).isoformat())
        .replace("@TITLE1@", "eBPF in practice")
        .replace("@SLUG1@", "ebpf")
    )
    return text.encode()


def calendar(group: str, count: int = 3) -> bytes:
    return meetup_ics(group, monthly(group[:4], f"{group} meeting", NOW, count), stamp=NOW)


def past_calendar(group: str) -> bytes:
    return meetup_ics(
        group, monthly(group[:4], f"{group} meeting", NOW - timedelta(days=400), 3), stamp=NOW
    )


def blog(site: str) -> bytes:
    posts = [
        ("Meeting notes", f"https://{site}/2026/notes/"),
        ("New board", f"https://{site}/2026/board/"),
    ]
    return wordpress_rss(site, posts, built=NOW)


@pytest.fixture
def site():
    served = Site()
    with LoopbackServer(served):
        yield served


def host_map(site: Site) -> str:
    return json.dumps({host: site.base + prefix for host, prefix in HOSTS.items()})


def techcal(site: Site, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "TECHCAL_HOST_MAP": host_map(site)}
    return subprocess.run(
        [sys.executable, "-c", "from techcal.cli import main; main()", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def discover(site: Site, db: Path, url: str, status: int = 0) -> dict:
    done = techcal(site, db, "sources", "discover", url, "--json")
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


def sources(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT name, url, type FROM sources ORDER BY name").fetchall()


def serve_tec_site(site: Site) -> None:
    site.add("/plug/", page("wordpress-tec-home.html"))
    site.add("/plug/events/?ical=1", calendar("PLUG", 4), content_type=ICS)
    site.add("/plug/feed/", blog("plug.example.org"), content_type=RSS)
    site.add("/plug/comments/feed/", blog("plug.example.org"), content_type=RSS)
    site.add(
        "/plug/wp-json/wp/v2/pages/12",
        json.dumps({"id": 12, "title": {"rendered": "Home"}, "content": {"rendered": "<p>Hi</p>"}}),
        content_type="application/json; charset=UTF-8",
    )


# --- what a page offers, from the page alone ----------------------------------


@pytest.mark.parametrize(
    ("name", "url", "expected"),
    [
        (
            "wordpress-tec-home.html",
            "https://plug.example.org/",
            [
                ("https://plug.example.org/feed/", "rss"),
                ("https://plug.example.org/comments/feed/", "rss"),
                ("https://plug.example.org/events/?ical=1", "ics"),
                ("https://plug.example.org/wp-json/wp/v2/pages/12", "json"),
            ],
        ),
        (
            "google-embed.html",
            "https://salem-lug.example.org/",
            [("https://calendar.google.com" + GOOGLE_ICS, "ics")],
        ),
        (
            "office365-link.html",
            "https://cs.riverside.example.edu/colloquium/",
            [("https://outlook.office365.com" + OUTLOOK_DIR + "calendar.ics", "ics")],
        ),
        (
            "teamup-embed.html",
            "https://volunteers.example.org/tech-help/",
            [("https://ics.teamup.com/feed/ks8f3k2j1h7g6d5s4a/0.ics", "ics")],
        ),
        (
            "subscribe-links.html",
            "https://rust-berlin.example.org/",
            [
                ("https://rust-berlin.example.org/calendar/all.ics", "ics"),
                ("https://rust-berlin.example.org/calendar/export?type=ical", "auto"),
            ],
        ),
        (
            "meetup-group.html",
            "https://www.meetup.com/pdxpython/",
            [("https://www.meetup.com/pdxpython/events/ical/", "ics")],
        ),
        (
            "luma-calendar.html",
            "https://lu.ma/pdx-tech-nights",
            [("https://api.lu.ma/ics/get?entity=calendar&id=cal-3kD9xQ2mWz7pL1v", "ics")],
        ),
        ("nothing-offered.html", "https://hackerspace.example.org/", []),
    ],
)
def test_each_platform_page_offers_its_feed(name: str, url: str, expected: list) -> None:
    found = page_candidates(page(name), url)
    assert [(c.url, c.type) for c in found] == expected


def test_a_google_page_without_a_calendar_and_per_event_links_offer_nothing() -> None:
    body = b"""<html><body>
    <a href="https://calendar.google.com/calendar/render?action=TEMPLATE&text=PLUG\
&dates=20261210T030000Z/20261210T050000Z">Add to Google Calendar</a>
    <iframe src="https://calendar.google.com/calendar/embed?src=en.usa%23holiday%40group.v.calendar.google.com"></iframe>
    <a href="https://outlook.office365.com/owa/?path=/calendar/action/compose">Outlook</a>
    <a href="javascript:alert(1)">Subscribe</a><a href="mailto:x@y.org">iCal by mail</a>
    </body></html>"""
    assert page_candidates(body, "https://lug.example.org/") == []


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        (
            "https://outlook.office365.com/owa/calendar/a1@x.edu/S-1-8-12/reachcalendar.html",
            "https://outlook.office365.com/owa/calendar/a1@x.edu/S-1-8-12/reachcalendar.ics",
        ),
        (
            "https://calendar.google.com/calendar/u/0?cid=c2FsZW1sdWdAZ3JvdXAuY2FsZW5kYXIuZ29vZ2xlLmNvbQ",
            "https://calendar.google.com" + GOOGLE_ICS,
        ),
        (
            "https://calendar.google.com/calendar/htmlembed?src=salemlug@group.calendar.google.com",
            "https://calendar.google.com" + GOOGLE_ICS,
        ),
        (
            "https://www.google.com/calendar/render?cid=webcal://lug.example.org/?ical=1",
            "https://lug.example.org/?ical=1",
        ),
    ],
)
def test_more_hosted_calendar_shapes(href: str, expected: str) -> None:
    body = f'<html><body><a href="{href}">calendar</a></body></html>'.encode()
    assert [c.url for c in page_candidates(body, "https://lug.example.org/")] == [expected]


def test_a_localised_meetup_page_gives_the_groups_feed() -> None:
    found = page_candidates(b"<html></html>", "https://www.meetup.com/fr-FR/pdxpython/")
    assert [c.url for c in found] == ["https://www.meetup.com/pdxpython/events/ical/"]


def test_subscribe_links_elsewhere_are_not_candidates() -> None:
    body = b"""<html><body><a href="https://www.youtube.com/@plug?sub_confirmation=1">Subscribe</a>
    <a href="https://lists.example.org/subscribe">Subscribe to the newsletter</a>
    <a href="/calendar/export">Subscribe to our calendar</a></body></html>"""
    found = page_candidates(body, "https://lug.example.org/")
    assert [c.url for c in found] == ["https://lug.example.org/calendar/export"]


def test_the_groups_calendar_is_kept_among_many_per_event_links() -> None:
    per_event = "".join(f'<a href="/event/talk-{n}/?ical=1">iCal</a>' for n in range(40))
    body = f"""<html><body>{per_event}
    <a href="webcal://lug.example.org/events/?ical=1">Subscribe</a></body></html>""".encode()
    found = page_candidates(body, "https://lug.example.org/")
    assert len(found) == 12
    assert found[0].url == "https://lug.example.org/event/talk-0/?ical=1"  # page order kept
    assert "https://lug.example.org/events/?ical=1" in [c.url for c in found]


def test_a_hostile_page_offers_at_most_twelve_candidates() -> None:
    links = "".join(f'<a href="/c{n}.ics">cal {n}</a>' for n in range(5000))
    found = page_candidates(f"<html><body>{links}</body></html>".encode(), "https://x.org/")
    assert len(found) == 12
    assert found[0].url == "https://x.org/c0.ics"


def test_best_first_prefers_a_calendar_with_upcoming_events() -> None:
    page_ = Candidate("https://lug.org/", "html", "page", "html", upcoming=5, events=5)
    ics = Candidate("https://lug.org/a.ics", "ics", "link", "ics", upcoming=3, events=30)
    past = Candidate("https://lug.org/old.ics", "ics", "link", "ics", upcoming=0, events=50)
    broken = Candidate("https://lug.org/b.ics", "ics", "link", error="HTTP 404")
    assert best_first([broken, past, page_, ics]) == [ics, page_, past, broken]


# --- sources discover, end to end ----------------------------------------------


def test_discover_lists_each_candidate_read_once_best_first(site: Site, tmp_path: Path) -> None:
    serve_tec_site(site)
    found = discover(site, tmp_path / "t.db", "https://plug.example.org/")
    ranked = [(c["url"], c["type"], c["upcoming"]) for c in found["candidates"]]
    assert ranked[0] == ("https://plug.example.org/events/?ical=1", "ics", 4)
    assert ranked[1] == ("https://plug.example.org/", "html", 1)
    assert {r[0] for r in ranked[2:]} == {
        "https://plug.example.org/feed/",
        "https://plug.example.org/comments/feed/",
        "https://plug.example.org/wp-json/wp/v2/pages/12",
    }
    assert all(r[2] in (0, None) for r in ranked[2:])
    assert found["choice"] == "https://plug.example.org/events/?ical=1"
    # each candidate fetched once, and the page once
    for path in ("/plug/", "/plug/events/?ical=1", "/plug/feed/", "/plug/comments/feed/"):
        assert site.hits[path] == 1, path
    # nothing was stored: the store is not even opened
    assert not (tmp_path / "t.db").exists()


def test_discover_in_words(site: Site, tmp_path: Path) -> None:
    serve_tec_site(site)
    done = techcal(site, tmp_path / "t.db", "sources", "discover", "https://plug.example.org/")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert (
        lines[0] == "https://plug.example.org/ offers 4 feed(s) besides its own page, best first:"
    )
    assert lines[1] == "  1. https://plug.example.org/events/?ical=1"
    assert "ics; 4 upcoming, 4 in all; found as <link rel=alternate> text/calendar" in lines[2]
    assert "would add https://plug.example.org/events/?ical=1" in done.stdout


@pytest.mark.parametrize(
    ("home_path", "home", "feed_path", "url", "chosen"),
    [
        (
            "/salem/",
            "google-embed.html",
            "/google" + GOOGLE_ICS,
            "https://salem-lug.example.org/",
            "https://calendar.google.com" + GOOGLE_ICS,
        ),
        (
            "/riverside/colloquium/",
            "office365-link.html",
            "/outlook" + OUTLOOK_DIR + "calendar.ics",
            "https://cs.riverside.example.edu/colloquium/",
            "https://outlook.office365.com" + OUTLOOK_DIR + "calendar.ics",
        ),
        (
            "/volunteers/tech-help/",
            "teamup-embed.html",
            "/teamup-ics/feed/ks8f3k2j1h7g6d5s4a/0.ics",
            "https://volunteers.example.org/tech-help/",
            "https://ics.teamup.com/feed/ks8f3k2j1h7g6d5s4a/0.ics",
        ),
        (
            "/meetup/pdxpython/",
            "meetup-group.html",
            "/meetup/pdxpython/events/ical/",
            "https://www.meetup.com/pdxpython/",
            "https://www.meetup.com/pdxpython/events/ical/",
        ),
        (
            "/luma/pdx-tech-nights",
            "luma-calendar.html",
            "/luma-api/ics/get?entity=calendar&id=cal-3kD9xQ2mWz7pL1v",
            "https://lu.ma/pdx-tech-nights",
            "https://api.lu.ma/ics/get?entity=calendar&id=cal-3kD9xQ2mWz7pL1v",
        ),
        (
            "/rust/",
            "subscribe-links.html",
            "/rust/calendar/all.ics",
            "https://rust-berlin.example.org/",
            "https://rust-berlin.example.org/calendar/all.ics",
        ),
    ],
)
def test_add_a_homepage_registers_its_platform_feed(
    site: Site, tmp_path: Path, home_path: str, home: str, feed_path: str, url: str, chosen: str
) -> None:
    site.add(home_path, page(home))
    site.add(feed_path, calendar("Group", 3), content_type=ICS)
    db = tmp_path / "t.db"
    done = techcal(site, db, "sources", "add", url, "--kind", "user-group")
    assert done.returncode == 0, done.stderr
    [(name, stored_url, kind)] = sources(db)
    assert (stored_url, kind) == (chosen, "ics")
    # named after the homepage, not the feed's host
    assert (
        name
        == {
            "/salem/": "salem-lug-example",
            "/riverside/colloquium/": "cs-riverside-example-colloquium",
            "/volunteers/tech-help/": "volunteers-example-tech-help",
            "/meetup/pdxpython/": "meetup-pdxpython",
            "/luma/pdx-tech-nights": "lu-pdx-tech-nights",
            "/rust/": "rust-berlin-example",
        }[home_path]
    )
    assert f"added {name}: {chosen}\n" in done.stdout
    assert "read as ics, chosen because: iCal feed" in done.stdout
    assert "3 upcoming events" in done.stdout
    assert site.hits[feed_path] == 1


def test_add_then_crawl_stores_the_discovered_feeds_events(site: Site, tmp_path: Path) -> None:
    serve_tec_site(site)
    db = tmp_path / "t.db"
    done = techcal(site, db, "sources", "add", "https://plug.example.org/", "--name", "plug")
    assert done.returncode == 0, done.stderr
    assert "over the page's own 1 upcoming event" in done.stdout
    crawled = techcal(site, db, "crawl")
    assert crawled.returncode == 0, crawled.stderr
    with sqlite3.connect(db) as conn:
        count = conn.execute(
            "SELECT count(*) FROM events WHERE title LIKE 'PLUG meeting%'"
        ).fetchone()
    assert count == (4,)


def test_a_page_with_nothing_is_added_as_the_page(site: Site, tmp_path: Path) -> None:
    site.add("/hackerspace/", page("nothing-offered.html"))
    db = tmp_path / "t.db"
    done = techcal(site, db, "sources", "add", "https://hackerspace.example.org/")
    assert done.returncode == 0, done.stderr
    assert sources(db) == [("hackerspace-example", "https://hackerspace.example.org/", "html")]
    assert "found no feed and no event on the page; added the page itself (html)" in done.stdout
    found = discover(site, tmp_path / "t.db", "https://hackerspace.example.org/")
    assert [c["url"] for c in found["candidates"]] == ["https://hackerspace.example.org/"]


def test_a_broken_feed_leaves_the_pages_own_events(site: Site, tmp_path: Path) -> None:
    site.add("/plug/", page("wordpress-tec-home.html"))
    site.add("/plug/events/?ical=1", b"<html><body>Service unavailable</body></html>", status=404)
    site.add("/plug/feed/", blog("plug.example.org"), content_type=RSS)
    db = tmp_path / "t.db"
    found = discover(site, db, "https://plug.example.org/")
    by_url = {c["url"]: c for c in found["candidates"]}
    assert "HTTP 404" in by_url["https://plug.example.org/events/?ical=1"]["error"]
    assert found["choice"] == "https://plug.example.org/"
    done = techcal(site, db, "sources", "add", "https://plug.example.org/")
    assert done.returncode == 0, done.stderr
    assert sources(db) == [("plug-example", "https://plug.example.org/", "html")]
    assert "the page itself lists the most: 1 upcoming event" in done.stdout


def test_a_calendar_of_long_past_events_does_not_replace_the_page(
    site: Site, tmp_path: Path
) -> None:
    site.add(
        "/hackerspace/",
        b'<html><head><link rel="alternate" type="text/calendar" href="/cal.ics">'
        b"</head><body>Hi</body></html>",
    )
    site.add("/hackerspace/cal.ics", past_calendar("Hackerspace"), content_type=ICS)
    found = discover(site, tmp_path / "t.db", "https://hackerspace.example.org/")
    assert found["choice"] == "https://hackerspace.example.org/"
    assert "none of the 1 feed(s) it offers lists current events" in found["why"]


def test_a_calendar_between_meetings_beats_an_empty_page(site: Site, tmp_path: Path) -> None:
    site.add(
        "/hackerspace/",
        b'<html><head><link rel="alternate" type="text/calendar" href="/cal.ics">'
        b"</head><body>Hi</body></html>",
    )
    recent = monthly("hack", "Hack night", NOW - timedelta(days=100), 2)
    site.add("/hackerspace/cal.ics", meetup_ics("Hack", recent, stamp=NOW), content_type=ICS)
    found = discover(site, tmp_path / "t.db", "https://hackerspace.example.org/")
    assert found["choice"] == "https://hackerspace.example.org/cal.ics"
    assert found["candidates"][0]["upcoming"] == 0


def test_one_events_calendar_link_does_not_beat_a_page_of_events(
    site: Site, tmp_path: Path
) -> None:
    start = NOW + timedelta(days=5)
    items = ",".join(
        json.dumps(
            {
                "@context": "https://schema.org",
                "@type": "Event",
                "name": f"Meeting {n}",
                "url": f"https://plug.example.org/event/meeting-{n}/",
                "startDate": (start + timedelta(days=7 * n)).isoformat(),
                "location": {"@type": "Place", "name": "Library"},
            }
        )
        for n in range(6)
    )
    body = (
        f'<html><body><script type="application/ld+json">[{items}]</script>'
        '<a href="/event/meeting-0/ical/">Add to calendar</a></body></html>'
    )
    site.add("/plug/", body)
    one = monthly("one", "Meeting 0", NOW, 1)
    site.add("/plug/event/meeting-0/ical/", meetup_ics("PLUG", one, stamp=NOW), content_type=ICS)
    found = discover(site, tmp_path / "t.db", "https://plug.example.org/")
    assert found["choice"] == "https://plug.example.org/"
    assert [c["upcoming"] for c in found["candidates"]] == [6, 1]


def test_a_feed_on_another_site_is_listed_but_not_registered(site: Site, tmp_path: Path) -> None:
    # a registered URL is trusted by every crawl: a page must not choose one elsewhere
    site.add(
        "/plug/",
        b'<html><head><link rel="alternate" type="text/calendar"'
        b' href="https://volunteers.example.org/all.ics"></head><body>Hi</body></html>',
    )
    site.add("/volunteers/all.ics", calendar("Elsewhere", 3), content_type=ICS)
    db = tmp_path / "t.db"
    found = discover(site, db, "https://plug.example.org/")
    assert found["candidates"][0]["url"] == "https://volunteers.example.org/all.ics"
    assert found["choice"] == "https://plug.example.org/"
    done = techcal(site, db, "sources", "add", "https://plug.example.org/")
    assert done.returncode == 0, done.stderr
    assert sources(db) == [("plug-example", "https://plug.example.org/", "html")]
    assert "https://volunteers.example.org/all.ics on another site lists events" in done.stdout


def test_type_html_keeps_the_page_without_fetching(site: Site, tmp_path: Path) -> None:
    serve_tec_site(site)
    db = tmp_path / "t.db"
    done = techcal(site, db, "sources", "add", "https://plug.example.org/", "--type", "html")
    assert done.returncode == 0, done.stderr
    assert sources(db) == [("plug-example", "https://plug.example.org/", "html")]
    assert sum(site.hits.values()) == 0


def test_a_feed_address_is_added_as_it_is(site: Site, tmp_path: Path) -> None:
    site.add("/plug/calendar", calendar("PLUG"), content_type=ICS)
    db = tmp_path / "t.db"
    done = techcal(site, db, "sources", "add", "https://plug.example.org/calendar")
    assert done.returncode == 0, done.stderr
    assert sources(db) == [("plug-example", "https://plug.example.org/calendar", "ics")]
    assert "read as ics, chosen because: the address itself is an iCal feed" in done.stdout


def test_links_to_internal_addresses_are_not_followed(site: Site, tmp_path: Path) -> None:
    site.add(
        "/plug/",
        b"""<html><head>
        <link rel="alternate" type="text/calendar" href="http://10.1.2.3/private.ics">
        <link rel="alternate" type="text/calendar" href="http://[::1]:1/loop.ics">
        <link rel="alternate" type="text/calendar" href="/ok.ics">
        </head><body></body></html>""",
    )
    site.add("/plug/ok.ics", calendar("PLUG", 2), content_type=ICS)
    found = discover(site, tmp_path / "t.db", "https://plug.example.org/")
    by_url = {c["url"]: c for c in found["candidates"]}
    assert "private address" in by_url["http://10.1.2.3/private.ics"]["error"]
    assert "loopback address" in by_url["http://[::1]:1/loop.ics"]["error"]
    assert found["choice"] == "https://plug.example.org/ok.ics"


def test_an_unreachable_homepage_is_one_line_and_add_keeps_it(site: Site, tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    done = techcal(site, db, "sources", "discover", "https://plug.example.org/nowhere/")
    assert done.returncode == 1
    assert done.stdout.strip() == (
        "could not read it: https://plug.example.org/nowhere/: HTTP 404 Not Found"
    )
    assert "Traceback" not in done.stderr
    added = techcal(site, db, "sources", "add", "https://plug.example.org/nowhere/")
    assert added.returncode == 0, added.stderr
    assert sources(db) == [("plug-example-nowhere", "https://plug.example.org/nowhere/", "auto")]
    assert "could not read it" in added.stdout and "added as given" in added.stdout


def test_a_bad_host_map_is_refused_in_words(tmp_path: Path) -> None:
    import os

    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from techcal.cli import main; main()",
            "--db",
            str(tmp_path / "t.db"),
            "sources",
            "discover",
            "https://x.example.org/",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TECHCAL_HOST_MAP": "[1, 2]"},
    )
    assert done.returncode == 1
    assert "TECHCAL_HOST_MAP must be a JSON object" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_hostile_page_is_discovered_without_harm(site: Site, tmp_path: Path) -> None:
    links = "".join(f'<a href="/c{n}.ics">cal</a>' for n in range(3000))
    body = (
        '<html><head><link rel="alternate" type="text/calendar" href="/evil\x1b[2J\u202e.ics">'
        '<link rel="alternate" type="text/calendar" href="http://evil.example:99999/x.ics">'
        "</head><body><a href='javascript:alert(1)'>Subscribe</a><div><div><p>"
        f"{links}<a href='/sub\u009b.ics'>x</a></body>"
    ).encode()
    site.add("/plug/", body)
    db = tmp_path / "t.db"
    found = discover(site, db, "https://plug.example.org/")
    urls = [c["url"] for c in found["candidates"]]
    assert len(urls) == 13  # the page and twelve candidates, each read once
    assert all(ord(ch) < 128 and ch.isprintable() for url in urls for ch in url)
    done = techcal(site, db, "sources", "discover", "https://plug.example.org/")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\u202e" not in done.stdout
    assert "Traceback" not in done.stderr
