"""The crawl goes only where a source's owner sent it (issue 16, item 2).

A source's registered URL may point anywhere (these tests register
loopback sources), and so may requests to its own host and port. What the
crawl reaches from it (feed entries, listing pages, redirects) never goes
to a loopback, private, link-local, multicast or unspecified address:
real crawls against two servers on 127.0.0.1, the second counting every
request it gets, and the address rules and the middleware's decisions on
their own.
"""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer, Site
from scrapy import Request
from sitegen import detail_html, listing_html, monthly, wordpress_rss
from test_crawl import NOW, RSS, add, by_source, crawl_json, titles
from twisted.internet import defer

from techcal.crawler import middlewares
from techcal.crawler.addresses import (
    NonPublicAddress,
    PublicAddressResolver,
    address_kind,
    host_port,
    is_public,
)
from techcal.crawler.middlewares import ORIGIN_KEY, PublicAddressMiddleware, RefusedAddress


@pytest.fixture
def site():
    site = Site()
    with LoopbackServer(site):
        yield site


@pytest.fixture
def second():
    """Another server on loopback, on another port: nothing a source leads to may reach it."""
    site = Site()
    with LoopbackServer(site):
        yield site


def port(site: Site) -> int:
    return int(site.base.rsplit(":", 1)[1])


def loopback_name() -> tuple[str, str] | None:
    """Return a name /etc/hosts gives a loopback address, other than localhost, and the address.

    Read from the file rather than asked of the resolver, so looking for
    one sends no DNS query off the machine.
    """
    try:
        lines = Path("/etc/hosts").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2 or not fields[0].startswith("127."):
            continue
        for name in fields[1:]:
            if "localhost" not in name and "." not in name:
                return name, fields[0]
    return None


def warnings_of(line: dict[str, Any]) -> list[str]:
    return [w for w in line["warnings"] if "not fetched" in w]


# ------------------------------------------------------------------ crawls


def test_feed_entries_leading_to_other_loopback_hosts_are_not_fetched(
    site: Site, second: Site, tmp_path: Path
) -> None:
    db = tmp_path / "techcal.db"
    own, internal, aliased, numeric, named = monthly("ev", "Meeting", NOW, 5)
    second.add("/internal.html", detail_html(internal, second.url("/internal.html")))
    second.add("/numeric.html", detail_html(numeric, second.url("/numeric.html")))
    second.add("/named.html", detail_html(named, second.url("/named.html")))
    site.add("/talks/own/", detail_html(own, site.url("/talks/own/")))
    # the source's own server, but by another name than the registered one
    site.add("/talks/aliased/", detail_html(aliased, site.url("/talks/aliased/")))
    posts = [
        (own.title, site.url("/talks/own/")),
        (internal.title, second.url("/internal.html")),
        (aliased.title, f"http://localhost:{port(site)}/talks/aliased/"),
        # 2130706433 is 127.0.0.1 written as one number: a name to ipaddress,
        # an address to the system's resolver
        (numeric.title, f"http://2130706433:{port(second)}/numeric.html"),
    ]
    aliased_host = loopback_name()
    if aliased_host is not None:
        name, address = aliased_host
        posts.append((named.title, f"http://{name}:{port(second)}/named.html"))
    site.add("/blog/feed/", wordpress_rss(site.url("/"), posts, built=NOW), content_type=RSS)
    add(db, site.url("/blog/feed/"), "blog")

    line = by_source(crawl_json(db))["blog"]

    assert second.hits == {}  # not the pages, not even a robots.txt
    assert site.hits["/talks/aliased/"] == 0
    assert site.hits["/talks/own/"] == 1
    assert titles(db, "blog") == [own.title]
    # each refused link is one warning on the source, never an error
    assert (line["status"], line["errors"], line["error"]) == ("ok", 0, None)
    expected = [
        f"{second.url('/internal.html')}: not fetched: 127.0.0.1 is a loopback address",
        f"http://localhost:{port(site)}/talks/aliased/: not fetched:"
        " localhost resolves to 127.0.0.1, a loopback address",
        f"http://2130706433:{port(second)}/numeric.html: not fetched:"
        " 2130706433 resolves to 127.0.0.1, a loopback address",
    ]
    if aliased_host is not None:
        expected.append(
            f"http://{name}:{port(second)}/named.html: not fetched:"
            f" {name} resolves to {address}, a loopback address"
        )
    assert sorted(warnings_of(line)) == sorted(expected)


def test_a_registered_url_redirecting_to_another_loopback_port_is_not_followed(
    site: Site, second: Site, tmp_path: Path
) -> None:
    db = tmp_path / "techcal.db"
    second.add("/cal.ics", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", content_type="text/calendar")
    moved = site.add("/cal.ics", status=302, headers={"Location": second.url("/cal.ics")})
    # a redirect within the source's own host and port is followed as before
    site.add("/old/feed/", status=301, headers={"Location": "/blog/feed/"})
    site.add("/blog/feed/", wordpress_rss(site.url("/"), [], built=NOW), content_type=RSS)
    add(db, moved, "moved")
    add(db, site.url("/old/feed/"), "renamed")

    lines = by_source(crawl_json(db))

    assert second.hits == {}
    assert lines["moved"]["status"] == "error"
    assert lines["moved"]["error"] == (
        f"{moved}: not fetched: it redirects to {second.url('/cal.ics')},"
        " and 127.0.0.1 is a loopback address"
    )
    assert lines["renamed"]["status"] == "ok"
    assert site.hits["/blog/feed/"] == 1


def test_pages_a_listing_leads_to_stay_on_its_own_host_and_port(
    site: Site, second: Site, tmp_path: Path
) -> None:
    db = tmp_path / "techcal.db"
    own, internal, bounced = monthly("ev", "Meeting", NOW, 3)
    site.add("/events/own/", detail_html(own, site.url("/events/own/")))
    # the same host name as the listing on another port: one site to the page reader
    second.add("/events/internal/", detail_html(internal, second.url("/events/internal/")))
    second.add("/bounced/", detail_html(bounced, second.url("/bounced/")))
    # an event page of the source's own that redirects elsewhere
    site.add("/events/bounce/", status=302, headers={"Location": second.url("/bounced/")})
    links = [
        (own.title, "/events/own/"),
        (internal.title, second.url("/events/internal/")),
        (bounced.title, "/events/bounce/"),
    ]
    site.add("/events/", listing_html("Events", links, next_page=second.url("/events/?page=2")))
    add(db, site.url("/events/"), "lug", "--type", "html")

    line = by_source(crawl_json(db))["lug"]

    assert second.hits == {}
    assert site.hits["/events/own/"] == site.hits["/events/bounce/"] == 1
    assert titles(db, "lug") == [own.title]
    assert (line["status"], line["errors"]) == ("ok", 0)
    refused = warnings_of(line)
    assert len(refused) == 3
    assert (
        f"{site.url('/events/bounce/')}: not fetched: it redirects to {second.url('/bounced/')},"
        " and 127.0.0.1 is a loopback address"
    ) in refused


def test_a_feed_read_from_a_file_leads_to_no_loopback_page(second: Site, tmp_path: Path) -> None:
    db = tmp_path / "techcal.db"
    (event,) = monthly("ev", "Meeting", NOW, 1)
    second.add("/internal/", detail_html(event, second.url("/internal/")))
    feed = tmp_path / "feed.xml"
    feed.write_bytes(wordpress_rss("file", [(event.title, second.url("/internal/"))], built=NOW))
    add(db, feed.as_uri(), "local")

    line = by_source(crawl_json(db))["local"]

    assert second.hits == {}
    assert line["status"] == "ok" and line["errors"] == 0
    assert warnings_of(line) == [
        f"{second.url('/internal/')}: not fetched: 127.0.0.1 is a loopback address"
    ]


# ------------------------------------------------------------------ addresses


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "shared"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.1.2.3", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 for 169.254.169.254
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "private"),
    ],
)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind
    assert not is_public(address)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.215.14", "2001:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_kind(ipaddress.ip_address(address)) is None
    assert is_public(address)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://Example.org/x", ("example.org", 80)),
        ("https://example.org:8443/x", ("example.org", 8443)),
        ("http://[::ffff:127.0.0.1]:81/", ("::ffff:127.0.0.1", 81)),
        ("file:///tmp/feed.xml", None),
        ("ftp://example.org/", None),
        ("http://example.org:99999/", None),
    ],
)
def test_host_port(url: str, expected: tuple[str, int] | None) -> None:
    assert host_port(url) == expected


def test_the_resolver_refuses_non_public_answers_for_names_it_does_not_trust() -> None:
    resolver = PublicAddressResolver(object(), 10000, 5.0)  # type: ignore[arg-type]
    assert resolver._checked("93.184.215.14", "example.org") == "93.184.215.14"
    with pytest.raises(NonPublicAddress, match="rebind.example resolves to 127.0.0.1"):
        resolver._checked("127.0.0.1", "rebind.example")
    resolver.trust("Intranet.Example")
    assert resolver._checked("10.0.0.5", "intranet.example") == "10.0.0.5"


# ----------------------------------------------------------------- the middleware


class FakeResolver:
    """Answers from a table, refusing as the crawl's resolver does (no DNS query at all)."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.real = PublicAddressResolver(object(), 10000, 5.0)  # type: ignore[arg-type]
        self.answers = answers

    def trust(self, name: str) -> None:
        self.real.trust(name)

    def getHostByName(self, name: str) -> defer.Deferred[str]:  # noqa: N802
        return defer.maybeDeferred(self.real._checked, self.answers[name], name)


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> FakeResolver:
    fake = FakeResolver(
        {
            "events.example": "93.184.215.14",
            "rebind.example": "127.0.0.1",
            "lan.example": "10.0.0.7",
        }
    )
    monkeypatch.setattr(middlewares, "_resolver", lambda: fake)
    monkeypatch.setattr(middlewares, "PublicAddressResolver", FakeResolver)
    return fake


def decide(middleware: PublicAddressMiddleware, url: str, origin: str | None, **meta: Any) -> str:
    """Return "fetched" or the refusal the middleware gives for ``url`` from ``origin``."""
    if origin is not None:
        meta[ORIGIN_KEY] = origin
    try:
        asyncio.run(middleware.process_request(Request(url, meta=meta)))
    except RefusedAddress as exc:
        return str(exc)
    return "fetched"


def test_the_middleware_judges_by_source_host_port_and_resolved_address(
    resolver: FakeResolver,
) -> None:
    mw = PublicAddressMiddleware()
    lan = "http://lan.example:8080/cal.ics"
    # a registered URL may point anywhere, and its own host and port too
    assert decide(mw, lan, lan) == "fetched"
    assert decide(mw, "http://lan.example:8080/events/1", lan) == "fetched"
    assert decide(mw, "http://lan.example:8080/robots.txt", None) == "fetched"
    # but not another port of it, nor the same host from another source
    assert decide(mw, "http://lan.example:8081/", lan) == (
        "http://lan.example:8081/: not fetched: lan.example resolves to 10.0.0.7, a private address"
    )
    feed = "https://events.example/feed"
    assert decide(mw, "http://lan.example:8080/events/1", feed).endswith("a private address")
    # public names and addresses are fine; names are judged by their address
    assert decide(mw, "https://events.example/e/1", feed) == "fetched"
    assert decide(mw, "http://8.8.8.8/", feed) == "fetched"
    assert decide(mw, "http://rebind.example/", feed).endswith(
        "rebind.example resolves to 127.0.0.1, a loopback address"
    )
    assert decide(mw, "http://[::ffff:127.0.0.1]/", feed).endswith(
        "::ffff:127.0.0.1 is a loopback address"
    )
    assert decide(mw, "http://169.254.169.254/latest/meta-data/", feed).endswith(
        "169.254.169.254 is a link-local address"
    )
    # a redirect of the registered URL itself is a new request, judged like a link
    assert decide(mw, "http://10.0.0.1/", feed, redirect_urls=[feed]) == (
        f"{feed}: not fetched: it redirects to http://10.0.0.1/, and 10.0.0.1 is a private address"
    )
    assert decide(mw, "file:///etc/passwd", feed, redirect_urls=[feed]).endswith(
        "only http and https links are followed"
    )
    # robots.txt of a host no source registered is judged like a link
    assert decide(mw, "http://127.0.0.1:9/robots.txt", None).endswith("a loopback address")
    assert resolver.real.trusted == {"lan.example"}
