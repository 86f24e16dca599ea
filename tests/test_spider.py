"""The spider's callbacks on saved responses, the pipelines, the crawl state: no network."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scrapy.exceptions import DownloadTimeoutError, IgnoreRequest
from scrapy.http import HtmlResponse, Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from sitegen import detail_html, listing_html, meetup_ics, monthly
from twisted.python.failure import Failure

from techcal.crawler.failures import describe_failure
from techcal.crawler.items import SourceResult
from techcal.crawler.middlewares import retry_after_seconds
from techcal.crawler.pipelines import StorePipeline, ValidationPipeline
from techcal.crawler.run import plan_crawl
from techcal.crawler.spiders.sources import SourcesSpider, fetch_url
from techcal.event import Event
from techcal.feeds.base import ReadResult
from techcal.store import Source, add_source
from techcal.store.crawl_state import (
    crawl_state,
    due_sources,
    next_try,
    record_failure,
    record_success,
)
from techcal.store.ingest import ReadOutcome

from conftest import NOW

BASE = "https://pdxlinux.org"


def spider_for(db, *sources: Source, **options) -> SourcesSpider:
    for source in sources:
        add_source(db, source)
    plans, _ = plan_crawl(db, now=NOW)
    return SourcesSpider(plans=plans, **options)


def start(spider: SourcesSpider, name: str) -> Request:
    plan = next(p for p in spider.plans if p.source.name == name)
    return spider.source_request(plan)


def respond(request: Request, body: bytes, *, status: int = 200, **headers: str) -> Response:
    cls = HtmlResponse if b"<html" in body[:200].lower() else TextResponse
    return cls(
        request.url,
        status=status,
        body=body,
        headers={k.replace("_", "-"): v for k, v in headers.items()},
        request=request,
        encoding="utf-8",
    )


def drive(output) -> list:
    """Return everything a callback yields (callbacks that read are async generators)."""
    if hasattr(output, "__aiter__"):

        async def collect() -> list:
            return [item async for item in output]

        return asyncio.run(collect())
    return list(output)


def split(output) -> tuple[list[Request], list[SourceResult]]:
    items = drive(output)
    return (
        [i for i in items if isinstance(i, Request)],
        [i for i in items if isinstance(i, SourceResult)],
    )


def lug_site(events) -> dict[str, bytes]:
    """Return a LUG site's pages: a listing of two pages and one page per meeting."""
    pages = {
        f"{BASE}/events/": listing_html(
            "Meetings",
            [(ev.title, f"/events/{ev.id}/") for ev in events[:2]],
            next_page="/events/?page=2",
        ),
        f"{BASE}/events/?page=2": listing_html(
            "Meetings", [(ev.title, f"/events/{ev.id}/") for ev in events[2:]]
        ),
    }
    for ev in events:
        url = f"{BASE}/events/{ev.id}/"
        pages[url] = detail_html(ev, url)
    return pages


def crawl_offline(spider: SourcesSpider, first: Request, pages: dict[str, bytes]):
    """Feed the spider the saved pages it asks for, in order; return (results, fetched URLs)."""
    queue = [first]
    results: list[SourceResult] = []
    fetched: list[str] = []
    while queue:
        request = queue.pop(0)
        fetched.append(request.url)
        if request.url in pages:
            output = request.callback(respond(request, pages[request.url]))
        else:
            failure = Failure(IgnoreRequest("Forbidden by robots.txt"))
            failure.request = request  # type: ignore[attr-defined]
            output = request.errback(failure)
        requests, done = split(output)
        for follow in requests:
            # as Scrapy's DepthMiddleware does: each new request gets its parent's depth + 1
            follow.meta["depth"] = request.meta.get("depth", 0) + 1
        queue.extend(requests)
        results.extend(done)
    return results, fetched


def test_a_listing_leads_to_its_event_pages_and_the_next_page(db) -> None:
    meetings = monthly("m", "PLUG meeting", NOW, 3)
    spider = spider_for(db, Source(name="plug", url=f"{BASE}/events/", kind="lug", type="html"))
    results, fetched = crawl_offline(spider, start(spider, "plug"), lug_site(meetings))
    assert fetched[0] == f"{BASE}/events/"
    assert sorted(fetched[1:]) == sorted(
        [f"{BASE}/events/{ev.id}/" for ev in meetings] + [f"{BASE}/events/?page=2"]
    )
    (result,) = results
    assert (result.status, result.whole, result.pages, result.page_errors) == ("read", True, 5, [])
    assert result.outcome is not None and result.outcome.type == "html"
    events = sorted(result.outcome.read.events, key=lambda e: e.start)
    assert [e.title for e in events] == [ev.title for ev in meetings]
    assert [e.source_uid for e in events] == [f"{BASE}/events/{ev.id}/" for ev in meetings]
    assert events[0].start == meetings[0].start and events[0].kind == "lug"
    assert spider.runs == {}  # nothing left in flight


def test_the_page_budget_stops_a_listing_and_keeps_it_from_marking_removals(db) -> None:
    meetings = monthly("m", "PLUG meeting", NOW, 3)
    source = Source(name="plug", url=f"{BASE}/events/", type="html")
    spider = spider_for(db, source, max_pages=3)
    results, fetched = crawl_offline(spider, start(spider, "plug"), lug_site(meetings))
    assert len(fetched) == 3
    (result,) = results
    assert len(result.outcome.read.events) == 2
    # pages were left unread: nothing may be marked removed for them...
    assert result.outcome.read.complete is False
    # ...but what was read stays remembered (the budget would stop the next crawl alike)
    assert result.whole is True


def test_depth_zero_reads_only_the_source_page(db) -> None:
    meetings = monthly("m", "PLUG meeting", NOW, 3)
    spider = spider_for(db, Source(name="plug", url=f"{BASE}/events/", type="html"), max_depth=0)
    results, fetched = crawl_offline(spider, start(spider, "plug"), lug_site(meetings))
    # pagination is not depth: the second listing page is read, no event page is
    assert fetched == [f"{BASE}/events/", f"{BASE}/events/?page=2"]
    assert results[0].outcome.read.events == []


def test_a_failed_event_page_is_counted_and_the_rest_is_kept(db) -> None:
    meetings = monthly("m", "PLUG meeting", NOW, 3)
    pages = lug_site(meetings)
    del pages[f"{BASE}/events/{meetings[1].id}/"]
    spider = spider_for(db, Source(name="plug", url=f"{BASE}/events/", type="html"))
    (result,), _ = crawl_offline(spider, start(spider, "plug"), pages)
    assert result.status == "read" and result.whole is False
    assert result.page_errors == [
        f"{BASE}/events/{meetings[1].id}/: robots.txt does not allow fetching it"
    ]
    assert len(result.outcome.read.events) == 2


def test_an_ical_source_is_read_and_a_304_is_unchanged(db) -> None:
    body = meetup_ics("PLUG", monthly("m", "PLUG meeting", NOW, 2), stamp=NOW)
    spider = spider_for(db, Source(name="plug", url="webcal://pdxlinux.org/plug.ics"))
    request = start(spider, "plug")
    assert request.url == "https://pdxlinux.org/plug.ics"
    assert "If-None-Match" not in request.headers
    requests, (result,) = split(request.callback(respond(request, body, ETag='"abc"')))
    assert requests == []
    assert (result.status, result.etag, result.http_status) == ("read", '"abc"', 200)
    assert [e.title for e in result.outcome.read.events] == ["PLUG meeting #1", "PLUG meeting #2"]

    # stored, the next plan sends the validator; a 304 needs no reading
    StorePipeline.store_result(db, result)
    spider = spider_for(db)
    request = start(spider, "plug")
    assert request.headers["If-None-Match"] == b'"abc"'
    _, (result,) = split(request.callback(respond(request, b"", status=304)))
    assert (result.status, result.outcome, result.http_status) == ("unchanged", None, 304)


def test_same_content_is_unchanged_without_validators(db) -> None:
    body = meetup_ics("PLUG", monthly("m", "PLUG meeting", NOW, 2), stamp=NOW)
    spider = spider_for(db, Source(name="plug", url=f"{BASE}/plug.ics"))
    request = start(spider, "plug")
    _, (result,) = split(request.callback(respond(request, body)))
    StorePipeline.store_result(db, result)
    later = meetup_ics("PLUG", monthly("m", "PLUG meeting", NOW, 2), stamp=NOW + timedelta(hours=3))
    spider = spider_for(db)
    request = start(spider, "plug")
    _, (result,) = split(request.callback(respond(request, later)))
    assert result.status == "unchanged" and result.outcome.skipped


def test_a_feed_entry_without_event_data_leads_to_its_page(db) -> None:
    from sitegen import wordpress_rss

    ev = monthly("talk", "Hack Night", NOW, 1)[0]
    page = f"{BASE}/talks/{ev.id}/"
    feed = wordpress_rss(BASE, [(ev.title, page)], built=NOW)
    spider = spider_for(db, Source(name="blog", url=f"{BASE}/feed/"))
    (result,), fetched = crawl_offline(
        spider, start(spider, "blog"), {f"{BASE}/feed/": feed, page: detail_html(ev, page)}
    )
    assert fetched == [f"{BASE}/feed/", page]
    assert result.outcome.type == "rss"
    assert [(e.title, e.source_uid) for e in result.outcome.read.events] == [(ev.title, page)]


def test_a_body_that_is_not_what_the_source_says_is_an_error(db) -> None:
    spider = spider_for(db, Source(name="cal", url=f"{BASE}/cal.ics", type="ics"))
    request = start(spider, "cal")
    _, (result,) = split(request.callback(respond(request, b"<html><body>Moved</body></html>")))
    assert result.status == "error"
    assert result.error.startswith(f"{BASE}/cal.ics: not an iCalendar file")


def test_a_failed_source_says_why() -> None:
    request = Request("https://example.org/cal.ics")
    response = Response(request.url, status=503, headers={"Retry-After": "7200"}, request=request)
    assert describe_failure(Failure(HttpError(response)), request.url) == (
        "https://example.org/cal.ics: HTTP 503 Service Unavailable (the server asks to wait 2.0 h)"
    )
    assert "timeout" in describe_failure(Failure(DownloadTimeoutError("took long")), request.url)
    assert "robots.txt" in describe_failure(
        Failure(IgnoreRequest("Forbidden by robots.txt")), request.url
    )
    assert fetch_url("WEBCAL://example.org/a.ics") == "https://example.org/a.ics"
    assert retry_after_seconds(b" 30 ") == 30.0


def test_validation_drops_records_without_title_or_start(db) -> None:
    good = Event(source="s", source_uid="a", title="PLUG", start=NOW)
    untitled = Event(source="s", source_uid="b", title="  ", start=NOW)
    floating = Event(source="s", source_uid="c", title="Naive", start=NOW.replace(tzinfo=None))
    outcome = ReadOutcome("rss", False, ReadResult(events=[good, untitled, floating]), None)
    item = SourceResult(Source(name="s", url="https://x.org/"), "read", outcome=outcome)
    ValidationPipeline().process_item(item)
    assert outcome.read.events == [good]
    assert item.dropped == {"no title": 1, "no start time": 1}
    assert outcome.read.failed_entries == 2  # nothing is marked removed for them


# ------------------------------------------------------------- crawl state


def test_failures_back_off_and_success_resets(db, plug) -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    for n in range(1, 5):
        assert record_failure(db, "plug", error="HTTP 500", http_status=500, now=now) == n
        assert crawl_state(db, "plug").next_due is None  # still tried at every crawl
    assert record_failure(db, "plug", error="HTTP 500", http_status=500, now=now) == 5
    assert crawl_state(db, "plug").next_due == "2026-11-22T13:00:00+00:00"
    assert due_sources(db, now=now) == ([], [plug_source(db)])
    # asked for by name, it is crawled anyway
    assert [s.name for s in due_sources(db, ["plug"], now=now)[0]] == ["plug"]
    later = now + timedelta(hours=2)
    assert [s.name for s in due_sources(db, now=later)[0]] == ["plug"]

    record_success(db, "plug", status="ok", http_status=200, etag='"x"', last_modified=None)
    state = crawl_state(db, "plug")
    assert (state.failures, state.next_due, state.etag) == (0, None, '"x"')
    # a 304 carries no validators: the stored ones stay
    record_success(db, "plug", status="unchanged", http_status=304, etag=None, last_modified=None)
    assert crawl_state(db, "plug").etag == '"x"'


def test_retry_after_is_respected_even_before_backing_off() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert next_try(1, now, retry_after=600) == now + timedelta(minutes=10)
    assert next_try(6, now, retry_after=60) == now + timedelta(hours=2)


def plug_source(db) -> Source:
    from techcal.store import get_source

    return get_source(db, "plug")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """These tests feed saved responses: nothing may open a socket."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("a test in this file tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_event_pages_of_an_unchanged_listing_wait_for_the_revisit_time(db) -> None:
    meetings = monthly("m", "PLUG meeting", NOW, 3)
    listing_pages = [f"{BASE}/events/", f"{BASE}/events/?page=2"]
    spider = spider_for(db, Source(name="plug", url=f"{BASE}/events/", type="html"))
    (result,), fetched = crawl_offline(spider, start(spider, "plug"), lug_site(meetings))
    assert result.full_read and len(fetched) == 5
    assert StorePipeline.store_result(db, result).new == 3

    # the listing says the same: its event pages are not read again
    spider = spider_for(db)
    (result,), fetched = crawl_offline(spider, start(spider, "plug"), lug_site(meetings))
    assert fetched == listing_pages
    assert (result.status, result.full_read) == ("unchanged", False)
    assert StorePipeline.store_result(db, result).status == "unchanged"

    # a fourth meeting appears on the listing: every event page is read
    more = monthly("m", "PLUG meeting", NOW, 4)
    spider = spider_for(db)
    (result,), fetched = crawl_offline(spider, start(spider, "plug"), lug_site(more))
    assert len(fetched) == 2 + 4 and result.full_read
    report = StorePipeline.store_result(db, result)
    assert (report.new, report.unchanged) == (1, 3)

    # --revisit 0: every page, every crawl
    spider = spider_for(db, revisit_hours=0)
    (result,), fetched = crawl_offline(spider, start(spider, "plug"), lug_site(more))
    assert len(fetched) == 6 and result.status == "unchanged"  # read, and the same events


def test_callbacks_on_saved_files(db) -> None:
    """Responses built from the project's fixture files, as real servers sent them."""
    from conftest import FIXTURES

    listing_url = "https://pdxpython.org/events/"
    spider = spider_for(
        db,
        Source(name="pdxpython", url=listing_url, type="html", kind="user-group"),
        Source(name="meetup", url="https://www.meetup.com/pdxpython/events/ical/"),
    )
    request = start(spider, "pdxpython")
    body = (FIXTURES / "html" / "listing.html").read_bytes()
    requests, results = split(request.callback(respond(request, body)))
    assert results == []  # its event pages are still to be read
    assert [r.url for r in requests] == [
        "https://pdxpython.org/events/2027-01-project-night/",
        "https://pdxpython.org/talks/intro-to-polars/",
        "https://www.pdxpython.org/events/2027-01-new-year-dojo/",
        "https://pdxpython.org/events/2027-01-pyladies-study-group/",
        "https://pdxpython.org/events/page/2/",
    ]
    assert [r.priority for r in requests] == [1, 1, 1, 1, 0]  # event pages first
    # every page of the source fails: the one event of the listing is what it has
    for follow in requests:
        failure = Failure(IgnoreRequest("Forbidden by robots.txt"))
        failure.request = follow  # type: ignore[attr-defined]
        _, done = split(follow.errback(failure))
    (result,) = done
    assert [e.title for e in result.outcome.read.events] == ["Holiday Lightning Talks"]
    assert result.whole is False and len(result.page_errors) == 5

    request = start(spider, "meetup")
    body = (FIXTURES / "ical" / "meetup.ics").read_bytes()
    _, (result,) = split(request.callback(respond(request, body, Content_Type="text/calendar")))
    assert result.status == "read" and result.outcome.type == "ics"
    events = result.outcome.read.events
    assert sorted(e.source_uid for e in events) == [
        "event_312345678@meetup.com",
        "event_312345999@meetup.com",
        "event_312346000@meetup.com",
    ]
    assert {e.source for e in events} == {"meetup"}
    assert result.outcome.read.warnings == [
        "VEVENT event_312346000@meetup.com (line 59): GEO 140.7,-73.98 out of range; ignored"
    ]


def test_a_web_source_read_whole_marks_what_it_no_longer_lists(db) -> None:
    # dated from the clock: the pipeline stores on it, and only upcoming events are marked
    meetings = monthly("m", "PLUG meeting", datetime.now(UTC), 3)
    spider = spider_for(db, Source(name="plug", url=f"{BASE}/events/", type="html"))
    (result,), _ = crawl_offline(spider, start(spider, "plug"), lug_site(meetings))
    assert StorePipeline.store_result(db, result).new == 3

    # one meeting's page fails to load: nothing is marked removed
    pages = lug_site(meetings[:2])
    del pages[f"{BASE}/events/{meetings[0].id}/"]
    spider = spider_for(db)
    (result,), _ = crawl_offline(spider, start(spider, "plug"), pages)
    assert result.whole is False
    assert StorePipeline.store_result(db, result).removed == 0

    # read whole, the listing no longer has the third meeting: it is marked removed
    spider = spider_for(db)
    (result,), _ = crawl_offline(spider, start(spider, "plug"), lug_site(meetings[:2]))
    report = StorePipeline.store_result(db, result)
    assert (report.removed, report.unchanged) == (1, 2)


def test_a_page_with_no_events_never_empties_a_source(db) -> None:
    body = meetup_ics("PLUG", monthly("m", "PLUG meeting", NOW, 2), stamp=NOW)
    spider = spider_for(db, Source(name="plug", url=f"{BASE}/plug.ics"))
    request = start(spider, "plug")
    _, (result,) = split(request.callback(respond(request, body)))
    assert StorePipeline.store_result(db, result).new == 2
    # the server now answers 200 with a maintenance page (or nothing at all)
    for page in (b"<html><body><h1>Down for maintenance</h1></body></html>", b""):
        spider = spider_for(db)
        request = start(spider, "plug")
        _, (result,) = split(request.callback(respond(request, page)))
        report = StorePipeline.store_result(db, result)
        assert (report.status, report.removed) == ("ok", 0)
        assert f"{BASE}/plug.ics: no events found on its pages" in report.warnings
    assert plug_source(db).events == 2


# ------------------------------------------------- found in review, kept fixed


def test_every_page_of_a_long_listing_is_read(db) -> None:
    """Scrapy's own depth counts a listing's next pages; the spider's must not."""
    meetings = monthly("m", "PLUG meeting", NOW, 8)
    pages: dict[str, bytes] = {}
    for number in range(4):
        url = f"{BASE}/events/" + (f"?page={number + 1}" if number else "")
        following = f"/events/?page={number + 2}" if number < 3 else None
        chunk = meetings[2 * number : 2 * number + 2]
        links = [(ev.title, f"/events/{ev.id}/") for ev in chunk]
        pages[url] = listing_html("Meetings", links, next_page=following)
        for ev in chunk:
            pages[f"{BASE}/events/{ev.id}/"] = detail_html(ev, f"{BASE}/events/{ev.id}/")
    spider = spider_for(db, Source(name="plug", url=f"{BASE}/events/", type="html"))
    results, _ = crawl_offline(spider, start(spider, "plug"), pages)
    (result,) = results
    assert len(result.outcome.read.events) == 8 and result.pages == 12


def test_a_recurring_calendar_is_fetched_unconditionally_when_its_window_moved(db) -> None:
    from techcal.crawler.run import plan_crawl

    weekly = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        b"UID:weekly@pdxlinux.org\r\nSUMMARY:PLUG hack night\r\n"
        b"DTSTART:20261125T020000Z\r\nDTEND:20261125T040000Z\r\nRRULE:FREQ=WEEKLY\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    spider = spider_for(db, Source(name="plug", url=f"{BASE}/plug.ics"))
    request = start(spider, "plug")
    _, (result,) = split(request.callback(respond(request, weekly, ETag='"w1"')))
    StorePipeline.store_result(db, result)
    same_day, _ = plan_crawl(db, now=NOW)
    assert same_day[0].etag == '"w1"'
    two_months_on, _ = plan_crawl(db, now=NOW + timedelta(days=60))
    assert two_months_on[0].etag is None  # the server's 304 would hide new occurrences


def test_pages_a_feed_leads_to_are_read_again_after_the_revisit_time(db) -> None:
    from sitegen import wordpress_rss

    from techcal.crawler.run import plan_crawl

    ev = monthly("talk", "Hack Night", NOW, 1)[0]
    page = f"{BASE}/talks/{ev.id}/"
    feed = wordpress_rss(BASE, [(ev.title, page)], built=NOW)
    spider = spider_for(db, Source(name="blog", url=f"{BASE}/feed/"))
    (result,), _ = crawl_offline(
        spider, start(spider, "blog"), {f"{BASE}/feed/": feed, page: detail_html(ev, page)}
    )
    StorePipeline.store_result(db, result)
    soon, _ = plan_crawl(db, now=datetime.now(UTC) + timedelta(hours=1))
    assert soon[0].previous is not None  # an unchanged feed is skipped, pages and all
    later, _ = plan_crawl(db, now=datetime.now(UTC) + timedelta(hours=13))
    assert later[0].previous is None and later[0].etag is None  # read in full, pages too


def test_validators_are_kept_only_with_a_body_stored_whole(db) -> None:
    body = meetup_ics("PLUG", monthly("m", "PLUG meeting", NOW, 2), stamp=NOW)
    spider = spider_for(db, Source(name="plug", url=f"{BASE}/plug.ics"))
    request = start(spider, "plug")
    _, (result,) = split(request.callback(respond(request, body, ETag='"v1"')))
    StorePipeline.store_result(db, result)
    assert crawl_state(db, "plug").etag == '"v1"'
    # the calendar URL now serves a login page with validators of its own
    spider = spider_for(db)
    request = start(spider, "plug")
    login = b"<html><body><form>Sign in</form></body></html>"
    _, (result,) = split(
        request.callback(respond(request, login, Last_Modified="Fri, 01 Jan 2100"))
    )
    StorePipeline.store_result(db, result)
    state = crawl_state(db, "plug")
    assert (state.etag, state.last_modified) == (None, None)
    assert "no events found" in plug_source(db).last_error
    assert plug_source(db).events == 2


def test_a_huge_retry_after_is_capped() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert next_try(1, now, retry_after=99999999999999) == now + timedelta(days=7)
    assert next_try(1, now, retry_after=31536000) == now + timedelta(days=7)
