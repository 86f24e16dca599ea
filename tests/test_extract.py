"""Events from web pages: feeds/html.py and the platform fixes of feeds/platforms.py.

The pages in fixtures/html/ are written for these tests, each named after its
case and modelled on how that kind of site publishes (no real people). The
real-world pages of ../shared/fixtures/html are read too, when present: the
counts, names and times their upstream projects expect must come out here.
"""

from __future__ import annotations

import doctest
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from techcal.event import Event
from techcal.feeds import hevent, page_links, platforms, urls
from techcal.feeds.base import SourceDefaults
from techcal.feeds.html import Page, read_page
from techcal.feeds.platforms import canonical_url

from conftest import FIXTURES, SHARED_FIXTURES

HTML = FIXTURES / "html"
SHARED = Path(os.environ.get("TECHCAL_SHARED_FIXTURES", SHARED_FIXTURES)) / "html"
REFS = SHARED.parent / "refs"
SHARED_PAGES = sorted(SHARED.glob("*.html")) if SHARED.exists() else []
PACIFIC = SourceDefaults(source="pdx", timezone="America/Los_Angeles", city="Portland")
BARE = SourceDefaults(source="page")


def read(name: str, url: str, defaults: SourceDefaults = BARE, **kw: str) -> Page:
    return read_page((HTML / name).read_bytes(), url, defaults, **kw)


def only(page: Page) -> Event:
    assert len(page.events) == 1, [e.title for e in page.events]
    return page.events[0]


def titled(page: Page) -> dict[str, Event]:
    return {e.title: e for e in page.events}


# --- the syntaxes -------------------------------------------------------------


def test_jsonld_event_in_a_graph_with_referenced_place_and_organizer():
    url = "https://pdxpython.org/events/2026-12-holiday-lightning-talks/"
    page = read("jsonld-single-event.html", url, PACIFIC)
    event = only(page)
    assert event.title == "Holiday Lightning Talks"
    assert event.start.isoformat() == "2026-12-09T18:30:00-08:00"
    assert event.end is not None and event.end.isoformat() == "2026-12-09T21:00:00-08:00"
    assert event.timezone == "America/Los_Angeles"
    assert (event.venue, event.city, event.region, event.country) == (
        "Collective Agency Downtown",
        "Portland",
        "OR",
        "US",
    )
    assert (event.lat, event.lon) == (45.5205, -122.6818)
    assert event.organizer == "Portland Python User Group"  # {"@id"} resolved in the @graph
    assert event.cost == "free"
    assert event.categories == ("python", "lightning talks")
    assert event.description == "Five-minute talks about anything Python. Sign up at the door."
    assert event.source_uid == event.url == url
    assert page.warnings == []
    # previous/next event pages; not the page itself (#rsvp), its iCal, the nav or mailto
    assert page.event_links == [
        "https://pdxpython.org/events/2026-11-project-night/",
        "https://pdxpython.org/events/2027-01-new-year-dojo/",
    ]
    assert page.next_pages == []


def test_without_a_source_zone_the_offset_names_the_zone():
    url = "https://pdxpython.org/events/2026-12-holiday-lightning-talks/"
    event = only(read("jsonld-single-event.html", url))
    assert event.start.isoformat() == "2026-12-09T18:30:00-08:00"
    assert event.timezone == "UTC-08:00"


def test_microdata_event_without_url_takes_the_canonical_page_url():
    page = read(
        "microdata-event.html",
        "https://www.pdx.edu/computer-science/events/colloquium-verified-compilers?utm_source=news",
    )
    event = only(page)
    assert event.title == "PSU CS Colloquium: Verified Compilers for Everyone"
    assert event.start.isoformat() == "2026-11-20T15:00:00-08:00"
    assert event.end is not None and event.end.isoformat() == "2026-11-20T16:00:00-08:00"
    assert event.venue == "Fourth Avenue Building, Room FAB 10"
    assert event.address == "1900 SW 4th Ave, Portland, OR 97201"
    assert event.city == "Portland"
    assert event.organizer == "PSU Computer Science"
    assert event.cost == "free"  # isAccessibleForFree
    canonical = "https://www.pdx.edu/computer-science/events/colloquium-verified-compilers"
    assert event.source_uid == event.url == canonical
    assert event.description.startswith("Compilers that come with a proof")


def test_rdfa_lite_event():
    berlin = SourceDefaults(source="rust-berlin", timezone="Europe/Berlin")
    event = only(read("rdfa-event.html", "https://rust.berlin/meetups/", berlin))
    assert event.title == "Rust Berlin Meetup #42: Embedded Async"
    assert event.start.isoformat() == "2026-12-03T19:00:00+01:00"
    assert event.timezone == "Europe/Berlin"
    assert (event.venue, event.city, event.country) == ("c-base", "Berlin", "DE")
    assert (event.lat, event.lon) == (52.5129, 13.4201)
    assert event.organizer == "Rust Berlin"
    assert event.source_uid == "https://rust.berlin/meetups/42-embedded-async/"


def test_h_events_with_h_card_location_and_an_online_one():
    page = read("h-event.html", "https://codeforpdx.org/hack-nights/")
    events = titled(page)
    night = events["Code for Portland Hack Night: Transit Data"]
    assert night.start.isoformat() == "2026-12-02T18:00:00-08:00"
    assert night.end is not None and night.end.isoformat() == "2026-12-02T20:30:00-08:00"
    assert (night.venue, night.address) == ("Ziba Design", "810 NW Marshall St, Portland, OR")
    assert (night.city, night.region, night.country) == ("Portland", "OR", "USA")
    assert (night.lat, night.lon) == (45.5302, -122.679)
    assert night.categories == ("civic tech", "open data")
    assert night.description == "Cleaning up TriMet GTFS feeds for the bus-stop accessibility map."
    assert night.source_uid == "https://codeforpdx.org/hack-nights/2026-12-02/"
    remote = events["Code for Portland Hack Night (online)"]
    assert remote.online and remote.online_url == "https://meet.jit.si/codeforpdx-hacknight"
    assert len(page.events) == 2


def test_hcalendar_v1_vevent():
    event = only(read("hcalendar-v1.html", "http://pdxlinux.org/meetings/"))
    assert event.title == "PLUG: Intro to eBPF"
    assert event.start.isoformat() == "2026-12-03T19:00:00-08:00"
    assert event.end is not None and event.end.isoformat() == "2026-12-03T21:00:00-08:00"
    assert event.venue == "Portland State University"
    assert event.address == "Engineering Building, Room 327"
    assert event.description == "Tracing the kernel without recompiling it. Beginners welcome."
    assert event.source_uid == "http://pdxlinux.org/meetings/2026-12-03-ebpf/"


def test_nested_events_sub_events_place_events_and_item_list():
    page = read("nested.html", "https://devopsdays.example/portland-2027/", PACIFIC)
    assert sorted(e.title for e in page.events) == [
        "DevOpsDays Evening Social",
        "DevOpsDays Portland 2027",
        "Infra Hack Day",
        "Keynote: Boring Deploys",
        "Open Spaces",
    ]
    conference = titled(page)["DevOpsDays Portland 2027"]
    assert conference.all_day and conference.start.isoformat() == "2027-03-10T00:00:00-08:00"
    assert conference.end is not None and conference.end.date().isoformat() == "2027-03-12"
    social = titled(page)["DevOpsDays Evening Social"]
    assert social.venue == "Spirit of 77"  # a Place's own "event"


# --- links and pagination ------------------------------------------------------


def test_listing_follows_event_pages_and_pagination_not_navigation():
    page = read("listing.html", "https://pdxpython.org/events/", PACIFIC)
    # the ItemList's full event is read here, so its page is not visited
    assert [e.title for e in page.events] == ["Holiday Lightning Talks"]
    assert page.event_links == [
        "https://pdxpython.org/events/2027-01-project-night/",  # tracking query dropped
        "https://pdxpython.org/talks/intro-to-polars/",
        "https://www.pdxpython.org/events/2027-01-new-year-dojo/",
        "https://pdxpython.org/events/2027-01-pyladies-study-group/",  # ItemList stub
    ]
    assert page.next_pages == ["https://pdxpython.org/events/page/2/"]
    assert page.warnings == []


def test_an_event_without_a_place_is_kept_and_its_page_visited():
    page = read("tec-list.html", "https://bsidespdx.org/events/list/")
    mixer = titled(page)["Speakers & Volunteers Mixer"]
    assert mixer.venue is None and mixer.start.isoformat() == "2026-11-15T17:00:00-08:00"
    assert page.event_links == ["https://bsidespdx.org/event/bsides-pdx-2026-speakers-mixer/"]


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://meetup.com/rust-berlin/events/301234567?recId=x&recSource=y#top",
         "https://www.meetup.com/rust-berlin/events/301234567/"),
        ("https://www.meetup.com/Machine-Learning-Utah/events/tmnwdsyccgblc/?eventOrigin=a",
         "https://www.meetup.com/Machine-Learning-Utah/events/tmnwdsyccgblc/"),
        ("https://eventbrite.com/e/intro-tickets-987654321098?aff=ebdssbdestsearch",
         "https://www.eventbrite.com/e/intro-tickets-987654321098"),
        ("https://www.eventbrite.ca/e/hack-night-tickets-1234?aff=erelexpmlt",
         "https://www.eventbrite.ca/e/hack-night-tickets-1234"),
        ("https://lu.ma/pdx-ai-dec26?tk=AbC123", "https://luma.com/pdx-ai-dec26"),
        ("https://lu.ma/discover", "https://lu.ma/discover"),
        ("https://Example.org/events/a?utm_source=x&id=3&fbclid=y#map",
         "https://example.org/events/a?id=3"),
    ],
)  # fmt: skip
def test_canonical_event_urls(url, expected):
    assert canonical_url(url) == expected


# --- bad input -----------------------------------------------------------------


def test_same_event_in_jsonld_and_microdata_is_one_filled_from_both():
    for defaults in (PACIFIC, BARE):  # microdata's times are floating: same wall clock
        page = read("jsonld-and-microdata.html", "https://bsidespdx.org/2026/conference/", defaults)
        event = only(page)
        assert event.start.isoformat() == "2026-11-14T09:00:00-08:00"  # JSON-LD's, with offset
        assert event.address == "1825 SW Broadway, Portland, OR 97201"  # only JSON-LD has it
        assert event.organizer == "BSides PDX"  # only microdata has these
        assert event.cost == "25.00 USD"
        assert event.description == "Two tracks of talks, a lockpick village and a CTF."


def test_a_broken_json_ld_block_costs_only_itself():
    page = read("broken-jsonld.html", "https://pdxlinux.org/meetings/")
    assert sorted(e.title for e in page.events) == ["PLUG Installfest", "PLUG: Intro to eBPF"]
    assert page.warnings == [
        "https://pdxlinux.org/meetings/: JSON-LD block 1 is not valid JSON "
        "(Expecting ',' delimiter at line 5 column 3); skipped"
    ]


def test_charset_declared_in_the_page():
    event = only(read("latin1-meta.html", "https://lug-kreuzberg.example/termine/"))
    assert event.title == "Linux-Stammtisch im Café Größenwahn"
    assert (event.venue, event.address) == ("Café Größenwahn", "Oranienstraße 5, Berlin")


def test_charset_from_http_and_when_unknown():
    url = "https://montrealpython.example/rencontres/"
    event = only(read("latin1-undeclared.html", url, encoding="iso-8859-1"))
    assert event.title == "Rencontre Python à Montréal : déploiements sans stress"
    assert event.city == "Montréal"
    # an unknown HTTP charset: the page says none, so UTF-8 with replacement; never a crash
    page = read("latin1-undeclared.html", url, encoding="no-such-charset")
    assert page.warnings[0] == f"{url}: unknown charset 'no-such-charset'; the page's own was used"
    assert (
        only(page).title == "Rencontre Python \ufffd Montr\ufffdal : d\ufffdploiements sans stress"
    )


def test_deep_nesting_is_cut_with_a_warning_and_json_ld_still_read():
    depth = 100_000
    tail = (
        b'<script type="application/ld+json">{"@type": "Event", "name": "After the deep part",'
        b' "startDate": "2026-12-01T18:00:00Z", "location": "Hall A"}</script>'
    )
    body = b"<html><body>" + b"<div>" * depth + b"x" + b"</div>" * depth + tail + b"</body></html>"
    page = read_page(body, "https://example.org/deep", BARE)
    assert [e.title for e in page.events] == ["After the deep part"]
    assert page.warnings == [
        "https://example.org/deep: HTML nested deeper than 256 elements; "
        "the rest of the page was read for JSON-LD only"
    ]


def test_json_nested_too_deeply_is_a_warning():
    body = b'<script type="application/ld+json">' + b"[" * 50_000 + b"]" * 50_000 + b"</script>"
    page = read_page(body, "https://example.org/json", BARE)
    assert page.events == []
    assert page.warnings == [
        "https://example.org/json: JSON-LD block 1 is not valid JSON (nested too deeply); skipped"
    ]


@pytest.mark.parametrize(
    "body, warning",
    [
        (b"", "empty body"),
        (b" \r\n\t ", "empty body"),
        (b"\x00" * 64, "not an HTML page (no markup)"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16, "not an HTML page (no markup)"),
        (bytes(range(256)) * 16, None),
        (b"<<<<>>>></<!--", None),
    ],
    ids=["empty", "blank", "nul", "png", "bytes", "brackets"],
)
def test_empty_and_garbage_bodies_give_no_events(body, warning):
    page = read_page(body, "https://example.org/x", BARE)
    assert (page.events, page.event_links, page.next_pages) == ([], [], [])
    if warning:
        assert page.warnings == [f"https://example.org/x: {warning}"]


def test_a_failing_syntax_is_skipped_with_a_warning(monkeypatch):
    def explode(**kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(hevent.mf2py, "parse", explode)
    page = read("h-event.html", "https://codeforpdx.org/hack-nights/")
    assert page.events == []
    assert page.warnings == [
        "https://codeforpdx.org/hack-nights/: h-event skipped "
        "(RecursionError: maximum recursion depth exceeded)"
    ]


def test_a_failing_platform_fix_keeps_the_generic_reading(monkeypatch):
    def explode(scan):
        raise KeyError("next_url")

    monkeypatch.setattr(platforms, "fix_events_calendar", explode)
    page = read("tec-list.html", "https://bsidespdx.org/events/list/")
    assert len(page.events) == 3
    assert page.warnings == [
        "https://bsidespdx.org/events/list/: "
        "the-events-calendar fixes skipped (KeyError: 'next_url')"
    ]


# --- what schema.org says ---------------------------------------------------------


def test_cancelled_and_postponed():
    events = titled(read("cancelled-postponed.html", "https://pdxruby.org/meetings/"))
    assert events["Ruby Brigade: Hotwire in Practice"].status == "cancelled"
    postponed = events["Ruby Brigade: Year-End Social"]
    assert postponed.status == "tentative"
    assert postponed.start.isoformat() == "2026-12-15T19:00:00-08:00"
    assert (postponed.venue, postponed.address) == (
        "Lucky Lab Brew Pub",
        "915 SE Hawthorne Blvd, Portland, OR 97214",
    )


def test_online_event_with_virtual_location():
    event = only(read("online-event.html", "https://codeforpdx.org/office-hours/2026-12-08/"))
    assert event.online
    assert event.online_url == "https://us06web.zoom.us/j/84512345678?pwd=b2ZmaWNlaG91cnM"
    assert event.venue is None and event.lat is None
    assert event.organizer == "Code for Portland"


def test_offers_free_paid_and_ranges():
    costs = {e.title: e.cost for e in read("offers.html", "https://pdxwit.org/workshops/").events}
    assert costs == {
        "Resume Review Night": "free",  # isAccessibleForFree
        "Intro to SQL": "15.00 USD",
        "Cloud Certification Bootcamp": "10.00–25.00 USD",  # AggregateOffer
        "Mentoring Circle": "free",  # AggregateOffer 0 to 0
    }


def test_a_series_page_gives_each_date_its_own_uid():
    url = "https://events.pdx.edu/event/code-for-portland-civic-hack-night"
    page = read("localist-event.html", f"{url}#instance-47117789012999")
    assert [e.source_uid for e in page.events] == [
        f"{url}#20261203T020000Z",
        f"{url}#20261217T020000Z",
    ]
    assert all(e.url == url and e.status == "confirmed" for e in page.events)
    assert page.event_links == []  # its .ics and register pages are not events


# --- platforms -----------------------------------------------------------------------


def test_meetup_event_page():
    page = read(
        "meetup-event.html",
        "https://www.meetup.com/portland-python/events/312345678/?recId=3f2&recSource=home-page",
    )
    event = only(page)
    assert event.source_uid == "https://www.meetup.com/portland-python/events/312345678/"
    assert event.start.isoformat() == "2026-12-15T18:00:00-08:00"
    assert event.timezone == "America/Los_Angeles"  # the group's zone, from the Apollo cache
    assert event.organizer == "Portland Python User Group"  # the @graph's Organization
    # VirtualLocation names the event page itself; the meeting link is in the description
    assert (
        event.online
        and event.online_url == "https://us02web.zoom.us/j/81234567890?pwd=UHlQcm9qZWN0"
    )
    assert event.cost == "free"
    # this group's other event; not other groups' "similar events", attendees or comments
    assert page.event_links == ["https://www.meetup.com/portland-python/events/312345999/"]


def test_meetup_group_events_page_links_its_events_only():
    page = read("meetup-group-events.html", "https://www.meetup.com/portland-python/events/")
    assert page.events == []
    assert page.event_links == [
        "https://www.meetup.com/portland-python/events/312345999/",
        "https://www.meetup.com/portland-python/events/312345678/",
        "https://www.meetup.com/portland-python/events/rtcxdsyfcdbtb/",
    ]


def test_eventbrite_event_page():
    page = read(
        "eventbrite-event.html",
        "https://www.eventbrite.com/e/intro-to-kubernetes-workshop-tickets-987654321098"
        "?aff=ebdssbdestsearch&keep_tld=1",
    )
    event = only(page)  # JSON-LD and __SERVER_DATA__ tell it twice
    assert event.title == "Intro to Kubernetes Workshop"  # an EducationEvent
    assert event.source_uid == (
        "https://www.eventbrite.com/e/intro-to-kubernetes-workshop-tickets-987654321098"
    )
    assert event.cost == "free"  # AggregateOffer 0.00 to 0.00
    assert event.address == "12000 SW 49th Ave, Portland, OR 97219"  # not doubled
    assert (event.lat, event.lon) == (45.4369, -122.7268)
    assert event.organizer == "Code for Portland"
    assert page.event_links == []  # "other events you may like" are not this source's


def test_eventbrite_organizer_page_reads_server_data():
    page = read(
        "eventbrite-organizer.html", "https://www.eventbrite.com/o/code-for-portland-12345678901"
    )
    costs = {e.title: e.cost for e in page.events}
    assert costs == {
        "Civic Hack Night: Transit Data": "10.00–25.00 USD",
        "Open Data Day 2027": "free",
    }
    hack = titled(page)["Civic Hack Night: Transit Data"]
    assert hack.source_uid == (
        "https://www.eventbrite.com/e/civic-hack-night-transit-data-tickets-555000111222"
    )
    assert hack.start.isoformat() == "2026-12-10T18:00:00-08:00"
    # a date without a time is no start: its page is visited instead
    assert page.event_links == [
        "https://www.eventbrite.com/e/civic-hack-night-housing-tickets-555000333444"
    ]


def test_luma_event_page_in_the_events_own_zone():
    page = read("luma-event.html", "https://lu.ma/pdx-ai-dec26")
    event = only(page)
    assert event.title == "Portland AI Tinkerers: December Demos"
    assert event.start.isoformat() == "2026-12-10T18:00:00-08:00"  # 02:00Z, in its zone
    assert event.end is not None and event.end.isoformat() == "2026-12-10T20:30:00-08:00"
    assert event.timezone == "America/Los_Angeles"
    assert (event.venue, event.city) == ("Holocene", "Portland")
    assert event.address == "Holocene, 1001 SE Morrison St, Portland, OR 97214, USA"
    assert (event.lat, event.lon) == (45.5171, -122.6559)
    assert event.organizer == "Portland AI Tinkerers"
    assert event.cost == "free"
    assert event.description == "Five demos of things people actually built, then pizza."
    assert event.source_uid == "https://luma.com/pdx-ai-dec26"
    assert page.event_links == ["https://luma.com/pdx-ai-jan27-social"]


def test_luma_calendar_page():
    page = read("luma-calendar.html", "https://lu.ma/pdx-ai")
    events = titled(page)
    assert events["Portland AI Tinkerers: December Demos"].cost == "15.00 USD"
    office = events["AI Office Hours (online)"]
    assert office.online and office.venue is None
    assert office.start.isoformat() == "2026-12-17T12:00:00-08:00"
    assert office.source_uid == "https://luma.com/pdx-ai-office-hours-dec"
    assert len(page.events) == 2
    assert page.event_links == ["https://luma.com/pdx-ai-jan27-social"]


def test_events_calendar_single_event_page():
    url = "https://bsidespdx.org/event/bsides-pdx-2026-workshop-day/"
    page = read("tec-single-event.html", url)
    event = only(page)
    assert event.title == "BSides PDX 2026 – Workshop Day & Social"
    # esc_js'd HTML, literal "\n" and the excerpt's "Read more" link, undone
    assert (
        event.description
        == "Hands-on workshops: lock picking, Ghidra and CTF practice.\n\nSocial from 6pm."
    )
    assert event.start.isoformat() == "2026-11-13T09:00:00-08:00"
    assert event.timezone == "America/Los_Angeles"  # ctz= of "Add to Google Calendar"
    assert event.cost == "25 USD"
    assert (event.venue, event.city) == ("Smith Memorial Student Union", "Portland")
    assert event.source_uid == url
    # previous/next event: visited; iCal, Outlook, webcal exports and categories: not
    assert page.event_links == [
        "https://bsidespdx.org/event/bsides-pdx-2026-ctf-night/",
        "https://bsidespdx.org/event/bsides-pdx-2026-conference-day/",
    ]
    assert page.next_pages == []


def test_events_calendar_list_view():
    page = read("tec-list.html", "https://bsidespdx.org/events/list/")
    assert [e.title for e in page.events] == [
        "BSides PDX 2026 CTF Night",
        "BSides PDX 2026 – Workshop Day & Social",
        "Speakers & Volunteers Mixer",
    ]
    assert page.events[0].description == "Capture the flag, teams of up to four."
    assert page.next_pages == ["https://bsidespdx.org/events/list/page/2/"]
    assert page.warnings == []


def test_events_calendar_next_page_from_its_view_data_alone():
    body = (HTML / "tec-list.html").read_bytes().replace(b'rel="next" ', b"")
    body = body.replace(b"tribe-events-c-nav__next ", b"").replace(b"Next Events", b"")
    body = body.replace(b">Next <", b"><")
    page = read_page(body, "https://bsidespdx.org/events/list/", BARE)
    assert page.next_pages == ["https://bsidespdx.org/events/list/page/2/"]


def test_localist_calendar_cards():
    page = read("localist-calendar.html", "https://events.pdx.edu/calendar")
    talk, open_house = page.events
    assert talk.title == "PSU CS Colloquium: Verified Compilers for Everyone"
    assert talk.source_uid == "https://events.pdx.edu/event/psu-cs-colloquium-verified-compilers"
    assert talk.start.isoformat() == "2026-11-20T15:00:00-08:00"
    assert talk.end is not None and talk.end.isoformat() == "2026-11-20T16:00:00-08:00"
    assert talk.venue == "Fourth Avenue Building"
    assert open_house.online and open_house.venue is None
    assert page.event_links == []  # every card told in full
    assert page.next_pages == ["https://events.pdx.edu/calendar?page=2"]  # aria-label "Next page"


# --- real-world pages (../shared/fixtures), when present ---------------------------


def _ref(page: Path) -> object:
    for suffix in (".json", ".jsonld"):
        path = REFS / f"{page.stem}{suffix}"
        if path.exists():
            return json.loads(path.read_text())
    return None


def _ref_events(value: object) -> list[dict]:
    """Return the Event objects of an extruct or mf2 reference output."""
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            kinds = item.get("@type") or item.get("type")
            names = [
                n for n in (kinds if isinstance(kinds, list) else [kinds]) if isinstance(n, str)
            ]
            if any(n.rsplit("/", 1)[-1].endswith("Event") or n == "h-event" for n in names):
                found.append(item)
            stack.extend(item.values())
    return found


EXTRUCT_PAGES = [p for p in SHARED_PAGES if p.name.startswith("extruct__")]
MF_PAGES = [p for p in SHARED_PAGES if p.name.startswith("mftests__")]


@pytest.mark.parametrize("path", SHARED_PAGES, ids=lambda p: p.name)
def test_every_real_page_reads_into_valid_events(path):
    page = read_page(path.read_bytes(), "https://www.songkick.com/x", BARE)
    for event in page.events:
        assert event.problems() == [], (event.source_uid, event.problems())
    assert len({e.source_uid for e in page.events}) == len(page.events)


@pytest.mark.parametrize("path", EXTRUCT_PAGES, ids=lambda p: p.name)
def test_extruct_samples_give_the_events_extruct_expects(path):
    expected = _ref_events(_ref(path))
    page = read_page(
        path.read_bytes(), "http://www.songkick.com/artists/236156-elysian-fields", BARE
    )
    names = []
    for item in expected:
        name = item.get("name") or (item.get("properties") or {}).get("name")
        names.append(" ".join(str(name).split()))
    assert sorted(" ".join(e.title.split()) for e in page.events) == sorted(names)


@pytest.mark.parametrize("path", MF_PAGES, ids=lambda p: p.name)
def test_microformats_tests_give_their_name_and_first_start(path):
    (expected,) = _ref_events(_ref(path))
    properties = expected["properties"]
    page = read_page(path.read_bytes(), "https://example.org/mf", BARE)
    if "start" not in properties:
        assert page.events == [] and "has no startDate; skipped" in page.warnings[0]
        return
    event = only(page)
    assert event.title == properties["name"][0]
    start = datetime.fromisoformat(properties["start"][0].replace(" ", "T"))
    # a time without a zone is read as UTC when the source names none
    assert event.start == (start if start.tzinfo else start.replace(tzinfo=UTC))


@pytest.mark.skipif(not EXTRUCT_PAGES, reason="../shared/fixtures is not on this machine")
def test_songkick_counts_match_the_manifest():
    counts = {
        "extruct__songkick_maximo_park_gigography.html": 49,
        "extruct__songkick_years_and_years.html": 13,
        "extruct__songkick_elysianfields.html": 4,
        "extruct__songkick_tovestyrke.html": 1,
    }
    for name, count in counts.items():
        page = read_page((SHARED / name).read_bytes(), "https://www.songkick.com/", BARE)
        assert len(page.events) == count, name


@pytest.mark.parametrize("module", [page_links, urls], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    failures, tried = doctest.testmod(module, verbose=False)
    assert tried > 0 and failures == 0
