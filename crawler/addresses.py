"""Which addresses the crawl may reach from a source: public ones only.

A source's owner chooses its URL, which may point anywhere (a LUG's
calendar on the intranet, a test server on loopback). What the crawl
reaches *from* it (feed entries, listing pages, their next pages,
redirects) is chosen by whoever writes the feed or the page: it may go to
other public hosts, never to this machine or its network (loopback,
private, link-local and cloud metadata, multicast, unspecified, reserved
and shared addresses), so an event read from an internal page can never
end up in a public feed.

Two places hold the line (see :class:`~techcal.crawler.middlewares.PublicAddressMiddleware`
for the first): a downloader middleware checks every request against the
rule of its source, and :class:`PublicAddressResolver`, the crawl's DNS
resolver, refuses to hand a non-public address to the connection for any
name that is not a registered source's own host. The connection resolves
through the same resolver and cache as the check, so a name that answers
a public address to the check and 127.0.0.1 to the connection (DNS
rebinding) is refused either way.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from scrapy.resolver import CachingThreadedResolver, dnscache
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError

from techcal.crawler.freshness import DNS_MAX_AGE, Freshness

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: the NAT64 prefix (RFC 6052): on an IPv6-only network 64:ff9b::a00:1 is 10.0.0.1
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv6 address reaches through (mapped, NAT64, 6to4), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def address_kind(ip: IPAddress) -> str | None:
    """Return what kind of non-public address ``ip`` is, or None for a public one.

    ``ipaddress``'s ``is_global`` alone is not enough: it calls multicast
    global, and on Python 3.11 it judges ``::ffff:8.8.8.8`` by its IPv6
    form. So the IPv4 address an IPv6 one stands for is judged instead, and
    multicast, reserved and site-local are refused by name.

    >>> address_kind(ipaddress.ip_address("8.8.8.8")) is None
    True
    >>> address_kind(ipaddress.ip_address("::ffff:127.0.0.1"))
    'loopback'
    >>> address_kind(ipaddress.ip_address("169.254.169.254"))
    'link-local'
    """
    ip = _embedded_ipv4(ip) or ip
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        # 100.64.0.0/10, shared by carriers' NAT (neither private nor global)
        return "shared"
    return None


def is_public(address: str | IPAddress) -> bool:
    """Return True when the crawl may connect to ``address`` from a link.

    >>> is_public("2001:4860::8888"), is_public("10.0.0.1"), is_public("::")
    (True, False, False)
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    return address_kind(ip) is None


def ip_literal(host: str) -> IPAddress | None:
    """Return ``host`` as an IP address when it is written as one, else None (a name).

    Only the standard forms count: ``2130706433`` or ``127.1`` are names
    here, and resolving them gives the address they stand for.

    >>> ip_literal("127.0.0.1"), ip_literal("example.org"), ip_literal("127.1")
    (IPv4Address('127.0.0.1'), None, None)
    """
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def host_port(url: str) -> tuple[str, int] | None:
    """Return the lowercased host and the port an http(s) URL connects to, else None.

    >>> host_port("https://Example.org/events")
    ('example.org', 443)
    >>> host_port("http://[::1]:8080/"), host_port("file:///tmp/x.ics")
    (('::1', 8080), None)
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.hostname, port or _DEFAULT_PORTS[scheme]


class NonPublicAddress(DNSLookupError):
    """A name resolved to an address the crawl may not connect to.

    A DNS lookup error to Twisted, so a connection refused here fails
    quietly like a name that does not exist.
    """

    def __init__(self, name: str, address: str, kind: str) -> None:
        #: what is wrong, in words (Twisted's own message says "DNS lookup failed")
        self.reason = f"{name} resolves to {address}, a {kind} address"
        super().__init__(self.reason)
        self.name = name
        self.address = address
        self.kind = kind


class PublicAddressResolver(CachingThreadedResolver):
    """Scrapy's default resolver (cached, IPv4) that answers only public addresses.

    A name answering a non-public address is refused unless it is
    :meth:`trust`-ed: the host of a registered source URL, whose owner may
    point it anywhere. Which port and which source may use a trusted name
    is the middleware's to check; here the answer the connection will use
    is checked, so the check and the connection cannot see two answers.
    The connection asks ``getHostByName`` for one IPv4 address (Twisted
    adapts this simple resolver to its endpoints), so that one address is
    the whole answer to check.
    """

    def __init__(
        self, reactor: Any, cache_size: int, timeout: float, max_age: float = DNS_MAX_AGE
    ) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.trusted: set[str] = set()
        #: Scrapy's cache keeps an answer for as long as the process runs: here
        #: for ``max_age`` (TECHCAL_DNS_MAX_AGE), as a worker runs for weeks
        self.freshness = Freshness(max_age)

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> PublicAddressResolver:
        settings = crawler.settings
        size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        max_age = settings.getfloat("TECHCAL_DNS_MAX_AGE", DNS_MAX_AGE)
        return cls(reactor, size, settings.getfloat("DNS_TIMEOUT"), max_age)

    def trust(self, name: str) -> None:
        """Let ``name`` resolve to any address (a registered source's own host)."""
        self.trusted.add(name.lower())

    def getHostByName(  # noqa: N802 - Twisted's interface
        self, name: str, timeout: Sequence[int] = ()
    ) -> Deferred[str]:
        if self.freshness.stale(name):
            dnscache.pop(name, None)
        found = super().getHostByName(name, timeout)
        found.addCallback(self._checked, name)
        return found

    def _checked(self, address: str, name: str) -> str:
        if name.lower() in self.trusted:
            return address
        ip = ip_literal(address)
        kind = address_kind(ip) if ip is not None else "unreadable"
        if kind is not None:
            raise NonPublicAddress(name, address, kind)
        return address
