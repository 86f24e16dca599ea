"""The URLs of event pages: one canonical URL per event, hosts, links made absolute."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

# Query parameters that only say how a visitor arrived; one event must have one URL.
_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|_ga|_gl|igshid|yclid)$",
    re.I,
)
_MEETUP_EVENT = re.compile(r"^/([^/]+)/events/([A-Za-z0-9]+)(?:/|$)")
# first path segments of meetup.com that are not groups
_MEETUP_PAGES = frozenset(
    {"find", "topics", "login", "register", "apps", "lp", "cities", "pro", "help", "blog", "media"}
)
#: Luma's hosts
LUMA_HOSTS = frozenset({"lu.ma", "luma.com", "luma.co"})
_DEFAULT_PORTS = {("http", 80), ("https", 443)}
_LUMA_PAGES = frozenset(
    {"discover", "home", "signin", "login", "create", "calendar", "user", "pricing", "explore",
     "settings", "about", "terms", "privacy", "ios", "android", "help", "api", "embed"}
)  # fmt: skip


def host_of(url: str) -> str:
    """Return the lower-case host of ``url`` without ``www.`` (empty when there is none)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


def canonical_url(url: str) -> str:
    """Return the one URL an event page is known by: no fragment, no tracking parameters.

    Meetup, Eventbrite and Luma event URLs lose their whole query (``?recId=``,
    ``?aff=``, ``?tk=``) and get the platform's own host spelling.

    >>> canonical_url("https://meetup.com/rust-berlin/events/301234567?recId=x#top")
    'https://www.meetup.com/rust-berlin/events/301234567/'
    >>> canonical_url("https://Example.org/events/a?utm_source=x&id=3")
    'https://example.org/events/a?id=3'
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url
    host = (parts.hostname or "").lower()
    netloc = f"{host}:{port}" if port and (parts.scheme, port) not in _DEFAULT_PORTS else host
    query = "&".join(
        pair for pair in parts.query.split("&") if pair and not _TRACKING.match(pair.split("=")[0])
    )
    path = parts.path or "/"
    bare = host.removeprefix("www.")
    meetup = _MEETUP_EVENT.match(path) if bare.endswith("meetup.com") else None
    if meetup:
        return f"https://www.meetup.com/{meetup.group(1)}/events/{meetup.group(2)}/"
    if bare.startswith("eventbrite.") and path.startswith("/e/"):
        return f"https://www.{bare}{path}"
    if bare in LUMA_HOSTS and re.fullmatch(r"/[A-Za-z0-9_-]+/?", path):
        slug = path.strip("/")
        if slug.lower() not in _LUMA_PAGES:
            # lu.ma became luma.com in 2025; both serve the same events
            return f"https://luma.com/{slug}"
    return urlunsplit((parts.scheme.lower(), netloc, path, query, ""))


def meetup_group(url: str) -> str | None:
    """Return the Meetup group a meetup.com URL belongs to (lower case), or None."""
    if not host_of(url).endswith("meetup.com"):
        return None
    try:
        first = urlsplit(url).path.strip("/").split("/")[0]
    except ValueError:
        return None
    return first.lower() if first and first.lower() not in _MEETUP_PAGES else None


def absolute_url(base: str, href: str | None) -> str | None:
    """Return ``href`` as an absolute http(s) URL without fragment, or None."""
    if not href or not href.strip():
        return None
    try:
        link = urljoin(base, href.strip())
        scheme = urlsplit(link).scheme.lower()
    except ValueError:
        return None
    return link.split("#", 1)[0] if scheme in ("http", "https") else None


def same_site(link: str, page: str) -> bool:
    """Return True when ``link`` is on the host of ``page`` (``www.`` aside)."""
    host = host_of(link)
    return bool(host) and host == host_of(page)


def query_value(url: str, name: str) -> str | None:
    """Return the first value of query parameter ``name`` in ``url``, if any."""
    try:
        values = parse_qs(urlsplit(url).query).get(name)
    except ValueError:
        return None
    return values[0] if values else None
