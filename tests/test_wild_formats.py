"""Formats seen in the wild that used to lose events (issue 19, part 3).

Each fixture is modelled on what the plugin or site really writes:
fixtures/html/eventon-listing.html on EventON's ``get_schema`` (its JSON-LD and
microdata dates are ``Y-n-j`` + ``TH:i`` + the site's hour offset + ``:00``),
fixtures/rss/wp-event-manager.xml on WP Event Manager's
``templates/rss-event-feed.php``, fixtures/html/opengraph-event.html on pages
that carry only Open Graph event tags, fixtures/html/jsonld-shapes.html and
fixtures/rss/jsonld-item-list.xml on schema plugins' graphs and lists.
"""

from __future__ import annotations

import doctest

import pytest

import techcal.feeds.jsonld
import techcal.feeds.scan
from techcal.feeds.base import SourceDefaults
from techcal.feeds.html import read_page
from techcal.feeds.jsonld import events_from_jsonld, parse_when
from techcal.feeds.rss import read_feed

from conftest import FIXTURES

PACIFIC = SourceDefaults(source="plug", timezone="America/Los_Angeles", city="Portland")
PLUG = SourceDefaults(source="plug")


def page(name: str, url: str, defaults: SourceDefaults = PACIFIC):
    return read_page((FIXTURES / "html" / name).read_bytes(), url, defaults)


def titled(events) -> dict:
    return {e.title: e for e in events}


# --- near-ISO dates -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-5-28T16:30+0:00", "2024-05-28T16:30:00+00:00"),  # EventON, a UTC site
        ("2024-5-28T16:30-7:00", "2024-05-28T16:30:00-07:00"),
        ("2024-05-28T9:05+5:30", "2024-05-28T09:05:00+05:30"),
        ("2024-05-28T09:05+05:30:00", "2024-05-28T09:05:00+05:30"),  # EventON, zone "5:30"
        ("2024-05-28 16:30 +0200", "2024-05-28T16:30:00+02:00"),
        ("2024-05-2816:30Z", "2024-05-28T16:30:00+00:00"),  # no T at all
        ("2024-05-28t16:30:15.5z", "2024-05-28T16:30:15.500000+00:00"),
        ("2024-5-8 7:00", "2024-05-08T07:00:00+00:00"),  # floating: UTC, flagged
    ],
)
def test_near_iso_dates_are_read(text, expected):
    when = parse_when(text, None)
    assert when is not None and when.value.isoformat() == expected


def test_unpadded_dates_are_days():
    when = parse_when("2027-1-9", "America/Los_Angeles")
    assert when is not None and when.all_day
    assert when.value.isoformat() == "2027-01-09T00:00:00-08:00"


@pytest.mark.parametrize(
    "text",
    [
        "2024-13-99",
        "2024-2-30",
        "2024-13-28T16:30+0:00",
        "2024-05-28T24:30",
        "2024-05-28T16:61",
        "2024-05-28T16:30+31:00",
        "2024-05-28T16:30+5:75",
        "2024-5-28T16:30 in the evening",
        "2024-05-216:30",
        "28/05/2024 16:30",
        "next Tuesday",
        "2026",
    ],
)
def test_garbage_is_not_a_date(text):
    assert parse_when(text, "America/Los_Angeles") is None


# --- no event lost without a word ---------------------------------------------------


def test_an_unreadable_start_is_one_warning_naming_the_event():
    item = {"@type": "Event", "name": "Monthly meeting", "startDate": "2024-13-99"}
    events, warnings = events_from_jsonld([item], PLUG, None)
    assert events == []
    assert warnings == [
        'JSON-LD event "Monthly meeting": startDate "2024-13-99" is not a date; skipped'
    ]


@pytest.mark.parametrize(
    ("item", "said"),
    [
        ({"@type": "Event", "name": "A"}, 'event "A" has no startDate; skipped'),
        ({"@type": "Event", "name": "A", "startDate": 1716912000}, "startDate 1716912000 is not"),
        ({"@type": "Event", "name": "A", "startDate": {"x": 1}}, 'startDate {"x": 1} is not'),
        ({"@type": "Event", "startDate": "2026-12-01"}, 'without a name (startDate "2026-12-01")'),
        ({"@type": "event", "name": "lower", "startDate": "soon"}, 'startDate "soon" is not'),
        ({"@type": "schema:Event", "name": "B", "startDate": ""}, 'event "B" has no startDate'),
    ],
)
def test_every_event_object_not_read_says_why(item, said):
    events, warnings = events_from_jsonld([{"@graph": [item]}], PLUG, None)
    assert events == [] and len(warnings) == 1 and said in warnings[0], warnings


def test_an_unreadable_end_is_said_and_the_event_kept():
    item = {"@type": "Event", "name": "A", "startDate": "2026-12-01T18:00Z", "endDate": "late"}
    event, problems = techcal.feeds.jsonld.event_from_object(item, PLUG, None)
    assert event is not None and event.end is None
    assert problems == ['JSON-LD event "A": endDate "late" is not a date; end left open']


def test_a_listing_entry_with_a_broken_date_is_said_and_its_page_still_visited():
    html = b"""<html><head><script type="application/ld+json">
    [{"@type": "Event", "name": "Monthly meeting", "url": "/events/monthly/",
      "startDate": "2024-13-99"},
     {"@type": "Event", "name": "Install fest", "url": "/events/fest/"}]
    </script></head><body></body></html>"""
    result = read_page(html, "https://plug.example.org/events/", PLUG)
    assert result.events == []
    assert result.warnings == [
        "https://plug.example.org/events/: https://plug.example.org/events/monthly/: "
        'JSON-LD event "Monthly meeting": startDate "2024-13-99" is not a date; skipped'
    ]  # the entry without any date is a plain listing entry: its page has the date
    assert result.event_links == [
        "https://plug.example.org/events/monthly/",
        "https://plug.example.org/events/fest/",
    ]


def test_an_event_page_with_a_broken_date_says_so_once():
    html = b"""<html><head><script type="application/ld+json">
    {"@type": "Event", "name": "Monthly meeting", "url": "https://plug.example.org/m/",
     "startDate": "2024-13-99"}</script></head><body></body></html>"""
    result = read_page(html, "https://plug.example.org/m/", PLUG)
    assert result.events == [] and len(result.warnings) == 1
    assert 'startDate "2024-13-99" is not a date; skipped' in result.warnings[0]


def test_a_feed_entry_whose_json_ld_events_are_all_unreadable_is_not_read_whole():
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>x</title><link>https://plug.example.org/p/1</link><guid>p1</guid>
    <description><![CDATA[<script type="application/ld+json">
    {"@type": "Event", "name": "Monthly meeting", "startDate": "2024-13-99"}
    </script>]]></description></item></channel></rss>"""
    result = read_feed(body, PLUG)
    assert result.events == [] and result.pages == ["https://plug.example.org/p/1"]
    assert result.warnings == [
        'p1: JSON-LD event "Monthly meeting": startDate "2024-13-99" is not a date; skipped'
    ]
    assert result.failed_entries == 1 and not result.complete


# --- EventON ------------------------------------------------------------------------------


def test_eventon_listing_reads_every_event():
    result = page("eventon-listing.html", "https://pdxlinux.example.org/meetings/")
    assert result.warnings == []
    events = titled(result.events)
    assert sorted(events) == [
        "Monthly meeting: eBPF for the curious",
        "Rust in the kernel (with Bangalore LUG)",
        "Winter Install Fest",
    ]
    meeting = events["Monthly meeting: eBPF for the curious"]
    assert meeting.start.isoformat() == "2026-12-03T18:30:00-08:00"
    assert meeting.end is not None and meeting.end.isoformat() == "2026-12-03T20:30:00-08:00"
    assert meeting.timezone == "America/Los_Angeles"  # "-8:00" agrees with the source's zone
    assert (meeting.venue, meeting.address) == (
        "Portland State University",
        "1825 SW Broadway, Portland, OR 97201",
    )
    assert meeting.organizer == "Portland Linux/Unix Group"
    # EventON's "@id" ("event_4512_0") is no address: the event is known by its page
    assert meeting.source_uid == "https://pdxlinux.example.org/events/monthly-meeting-ebpf/"
    fest = events["Winter Install Fest"]
    assert fest.all_day and fest.start.isoformat() == "2027-01-09T00:00:00-08:00"
    assert fest.end is not None and fest.end.isoformat() == "2027-01-10T00:00:00-08:00"
    assert fest.cost == "free"
    rust = events["Rust in the kernel (with Bangalore LUG)"]
    assert rust.start.isoformat() == "2027-01-14T05:30:00+05:30"
    assert rust.online and rust.online_url == "https://meet.jit.si/plug-blug-rust"
    assert result.event_links == []  # every event is told in full here


# --- WP Event Manager ------------------------------------------------------------------------


def test_wp_event_manager_feed_gives_dated_events_with_their_place():
    body = (FIXTURES / "rss" / "wp-event-manager.xml").read_bytes()
    result = read_feed(body, PACIFIC)
    events = titled(result.events)
    fest = events["Linux Install Fest"]
    assert fest.start.isoformat() == "2026-12-05T10:00:00-08:00"
    assert fest.end is not None and fest.end.isoformat() == "2026-12-05T16:00:00-08:00"
    assert (fest.venue, fest.address) == ("Lucky Lab Brew Pub", "915 SE Hawthorne Blvd, Portland")
    assert fest.organizer == "Portland Linux/Unix Group"
    assert fest.categories == ("Workshop",) and fest.cost == "free"
    online = events["Kernel hacking night (online)"]
    assert online.venue is None and online.address is None  # "-": the plugin's "no place"
    assert online.online_url == "https://meet.jit.si/plug-kernel-night"
    # the pubDate is when the listing was posted, never the event's date
    assert all(e.start.month == 12 and e.start.day in (5, 10) for e in result.events)
    assert result.warnings == [
        "https://pdxlinux.example.org/?post_type=event_listing&p=833: "
        "unreadable WP Event Manager start '17/12/2026 18:00:00'"
    ]
    assert result.pages == ["https://pdxlinux.example.org/event/holiday-social/"]


def test_wp_event_manager_without_a_zone_is_utc_with_a_warning():
    body = (FIXTURES / "rss" / "wp-event-manager.xml").read_bytes()
    result = read_feed(body, PLUG)
    assert result.events[0].start.isoformat() == "2026-12-05T10:00:00+00:00"
    assert any("p=812: WP Event Manager start has no time zone" in w for w in result.warnings)


# --- Open Graph ------------------------------------------------------------------------------


def test_open_graph_event_tags_are_read_when_nothing_else_is_there():
    url = "https://codeforpdx.example.org/events/civic-data-day/"
    result = page("opengraph-event.html", url)
    assert result.warnings == []
    (event,) = result.events
    assert event.title == "Hack for Good: Civic Data Day"
    assert event.start.isoformat() == "2027-02-06T10:00:00-08:00"
    assert event.end is not None and event.end.isoformat() == "2027-02-06T17:00:00-08:00"
    assert (event.venue, event.address) == ("Central Library", "801 SW 10th Ave, Portland")
    assert (event.lat, event.lon) == (45.5193, -122.683)
    assert event.url == event.source_uid == url
    assert event.description.startswith("A Saturday of civic data projects")


def test_open_graph_is_only_the_last_resort():
    html = b"""<html><head>
    <meta property="og:type" content="event"><meta property="og:title" content="Stale title">
    <meta property="event:start_time" content="2027-02-06T10:00:00-08:00">
    <script type="application/ld+json">{"@type": "Event", "name": "Civic Data Day",
      "startDate": "2027-02-06T10:00:00-08:00"}</script></head></html>"""
    result = read_page(html, "https://codeforpdx.example.org/e/", PACIFIC)
    assert [e.title for e in result.events] == ["Civic Data Day"]


def test_open_graph_event_without_a_start_is_said():
    html = b"""<html><head><meta property="og:type" content="event">
    <meta property="og:title" content="Civic Data Day"></head></html>"""
    result = read_page(html, "https://codeforpdx.example.org/e/", PACIFIC)
    assert result.events == []
    assert result.warnings == [
        'https://codeforpdx.example.org/e/: Open Graph event "Civic Data Day" has no startDate;'
        " skipped"
    ]


def test_a_page_that_is_no_event_stays_none():
    html = b"""<html><head><meta property="og:type" content="article">
    <meta property="og:title" content="Our year"></head></html>"""
    result = read_page(html, "https://codeforpdx.example.org/blog/", PACIFIC)
    assert result.events == [] and result.warnings == []


# --- JSON-LD shapes: type lists, graphs, lists, series, @id, offers ---------------------


def test_jsonld_shapes_on_a_page():
    result = page("jsonld-shapes.html", "https://pdxwit.example.org/workshops/")
    assert result.warnings == []
    events = titled(result.events)
    assert sorted(events) == [
        "Intro to Git",  # in an @graph, typed ["Event", "EducationEvent"]
        "Mentoring Circle",  # an EventSeries...
        "Mentoring Circle: February",  # ...and its subEvents
        "Mentoring Circle: January",
        "Resume Review Night",  # an ItemList entry typed "event"
        "Winter Hack Day",  # an ItemList entry typed ["Thing", "schema:Hackathon"]
    ]
    git = events["Intro to Git"]
    # its @id names the event itself; its url stays its link
    assert git.source_uid == "https://pdxwit.example.org/#/schema/event/1201"
    assert git.url == "https://pdxwit.example.org/workshops/intro-to-git/"
    assert git.organizer == "PDX Women in Tech"
    assert git.cost == "0–25.00 USD"  # a free Offer and an AggregateOffer of 10-25
    assert events["Resume Review Night"].cost == "free"  # AggregateOffer 0 to 0
    assert events["Winter Hack Day"].cost == "5–15 USD"
    january = events["Mentoring Circle: January"]
    assert january.start.isoformat() == "2027-01-07T18:00:00-08:00"
    assert january.source_uid == "https://pdxwit.example.org/workshops/mentoring-circle/january/"


def test_jsonld_item_lists_and_sub_events_in_a_feed_entry():
    body = (FIXTURES / "rss" / "jsonld-item-list.xml").read_bytes()
    result = read_feed(body, PACIFIC)
    events = titled(result.events)
    assert sorted(events) == ["Holiday sprint", "Holiday sprint: kickoff", "Lightning talks"]
    assert events["Lightning talks"].cost == "0–10 USD"  # a priceless Offer and a range
    kickoff = events["Holiday sprint: kickoff"]
    assert kickoff.start.isoformat() == "2026-12-19T10:00:00-08:00"  # "10:00 -8:00"
    assert kickoff.online
    assert len(result.warnings) == 1 and "Board meeting" in result.warnings[0]
    assert result.failed_entries == 1


@pytest.mark.parametrize(
    ("offers", "free", "cost"),
    [
        (
            {"@type": "AggregateOffer", "lowPrice": 10, "highPrice": 25, "priceCurrency": "EUR"},
            None,
            "10–25 EUR",
        ),
        (
            {"@type": "AggregateOffer", "lowPrice": "12.50", "priceCurrency": "GBP"},
            None,
            "12.50 GBP",
        ),
        (
            [
                {"@type": "Offer", "price": "15", "priceCurrency": "USD"},
                {
                    "@type": "AggregateOffer",
                    "lowPrice": "5",
                    "highPrice": "40",
                    "priceCurrency": "USD",
                },
            ],
            None,
            "5–40 USD",
        ),
        (
            [
                {"@type": "Offer", "price": "15", "priceCurrency": "USD"},
                {
                    "@type": "AggregateOffer",
                    "lowPrice": "5",
                    "highPrice": "40",
                    "priceCurrency": "EUR",
                },
            ],
            None,
            "15 USD",
        ),  # one currency to a range: the first
        ([{"@type": "Offer", "price": "Donation"}], None, "Donation"),
        ([{"@type": "Offer", "price": "-3"}, "junk", None], None, None),
        ([], True, "free"),
        ({"@type": "Offer", "price": "0.00", "priceCurrency": "USD"}, None, "free"),
    ],
)
def test_cost_from_offers(offers, free, cost):
    assert techcal.feeds.jsonld.cost_of(offers, free) == cost


@pytest.mark.parametrize("module", [techcal.feeds.jsonld, techcal.feeds.scan])
def test_docstring_examples(module):
    failures, tried = doctest.testmod(module, verbose=False)
    assert tried > 0 and failures == 0
