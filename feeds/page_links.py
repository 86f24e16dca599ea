"""The links a web page leads a crawl to: event pages, and a listing's next pages."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from techcal.event import Event
from techcal.feeds.scan import Scan
from techcal.feeds.urls import absolute_url, canonical_url, same_site

# Path words that name one event's page when a slug follows them ...
_EVENT_WORDS = frozenset(
    {"event", "events", "talk", "talks", "meeting", "meetings", "meetup", "meetups",
     "workshop", "workshops", "hackathon", "hackathons", "webinar", "webinars"}
)  # fmt: skip
# ... unless what follows is a view of many events
_LISTING_WORDS = frozenset(
    {"list", "month", "week", "day", "today", "upcoming", "past", "calendar", "page", "map",
     "photo", "search", "archive", "archives", "all", "venue", "venues", "organizer",
     "organizers", "series", "new", "create", "submit", "add", "edit", "find", "index.html"}
)  # fmt: skip
# Segments of pages that are never an event's own page
_SKIP_WORDS = frozenset(
    {"feed", "rss", "atom", "ical", "ics", "export", "subscribe", "login", "log-in", "signin",
     "sign-in", "signup", "sign-up", "register", "share", "tag", "tags", "category",
     "categories", "print", "attendees", "photos", "comments", "wp-admin", "wp-json",
     "wp-login.php", "cdn-cgi"}
)  # fmt: skip
_SKIP_QUERY = re.compile(
    r"(^|&)(ical|outlook-ical|ics|export|share|replytocom|action=template|format=(ics|ical|rss))",
    re.I,
)
_ASSET = re.compile(
    r"\.(css|js|mjs|json|xml|rss|atom|ics|ical|vcs|png|jpe?g|gif|svg|webp|avif|ico|bmp|tiff?"
    r"|pdf|docx?|xlsx?|pptx?|odt|zip|gz|tgz|mp3|mp4|m4a|mov|avi|webm|woff2?|ttf|eot)$",
    re.I,
)
_DATE_PART = re.compile(r"^\d{4}(-\d{1,2}(-\d{1,2})?)?$")
_PAGE_QUERY = re.compile(r"(^|&)(page|paged|pg)=(\d+)(?=&|$)", re.I)
_PAGE_PATH = re.compile(r"/page/(\d+)/?$", re.I)
# "next", "nav-next", "pagination__next", "next-page", WP-PageNavi's "nextpostslink"
_NEXT_CLASS = re.compile(r"(^|[-_])next($|[-_]|page|postslink)")
_NEXT_TEXT = re.compile(
    r"^(?:(?:next|older|more|load more|show more|weiter|nächste|suivant|suivante"
    r"|page suivante|nächste seite)(?:\s+(?:page|events?|posts|entries|results|seite"
    r"|termine|veranstaltungen|événements))?\s*[»›→>]*|[»›→>])$",
    re.I,
)


def looks_like_event(link: str) -> bool:
    """Return True when ``link``'s path names one event's page (``/events/<slug>``, ``/e/<id>``).

    >>> looks_like_event("https://pdxpython.org/events/2026-12-holiday-social/")
    True
    >>> looks_like_event("https://pdxpython.org/events/list/?tribe-bar-date=2026-12-01")
    False
    """
    try:
        parts = urlsplit(link)
    except ValueError:
        return False
    segments = [s for s in parts.path.lower().split("/") if s]
    if not segments or _ASSET.search(segments[-1]) or _SKIP_QUERY.search(parts.query):
        return False
    if any(s in _SKIP_WORDS for s in segments):
        return False
    if segments[0] == "e" and len(segments) > 1:
        return True  # Eventbrite: /e/<slug>-tickets-<id>
    if re.fullmatch(r"events?\.(php|aspx?|html?|cfm|jsp)", segments[-1]) and parts.query:
        return True
    for at, segment in enumerate(segments):
        if segment in _EVENT_WORDS and _names_one(segments[at + 1 :]):
            return True
    return False


def _names_one(rest: list[str]) -> bool:
    """Return True when path segments after an event word hold a slug or id, not a view."""
    skip_next = after_date = False
    for segment in rest:
        if skip_next:
            skip_next = False
        elif segment in _LISTING_WORDS:
            skip_next = segment == "page"
        elif _DATE_PART.match(segment) or (after_date and re.fullmatch(r"\d{1,2}", segment)):
            after_date = True
        else:
            return True
    return False


def event_links(tree: Any, base: str, page: str) -> list[str]:
    """Return the same-site links that look like one event's page, in page order."""
    links = []
    for anchor in tree.iter("a", "area"):
        link = absolute_url(base, anchor.get("href"))
        if link and same_site(link, page) and looks_like_event(link):
            links.append(link)
    return links


def next_pages(tree: Any, base: str, page: str) -> list[str]:
    """Return the links that lead to a listing's next page, ``rel="next"`` first."""
    found = [
        absolute_url(base, link.get("href"))
        for link in tree.iter("link")
        if "next" in (link.get("rel") or "").lower().split()
    ]
    current = _page_number(page)
    for anchor in tree.iter("a"):
        link = absolute_url(base, anchor.get("href"))
        if not link:
            continue
        rel = (anchor.get("rel") or "").lower().split()
        classes = (anchor.get("class") or "").lower().split()
        label = anchor.get("aria-label") or anchor.get("title") or ""
        words = " ".join(anchor.text_content().split()) or label
        if (
            "next" in rel
            or any(_NEXT_CLASS.search(c) for c in classes)
            or _NEXT_TEXT.match(words)
            or _NEXT_TEXT.match(label.strip())
            or (current and _page_number(link) == (current[0], current[1] + 1))
        ):
            found.append(link)
    return [link for link in found if link]


def _page_number(url: str) -> tuple[str, int] | None:
    """Return (the URL without its page number, the number) for ``?page=N`` or ``/page/N/``.

    A URL without one is page 1 of itself.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    query = _PAGE_QUERY.search(parts.query)
    path = _PAGE_PATH.search(parts.path)
    number = int(query.group(3)) if query else int(path.group(1)) if path else 1
    bare_query = _PAGE_QUERY.sub("", parts.query).strip("&")
    bare_path = _PAGE_PATH.sub("/", parts.path) if path else parts.path
    return f"{parts.netloc}{bare_path.rstrip('/')}?{bare_query}", number


def canonical_page(scan: Scan) -> str:
    """Return the page's own canonical URL (its same-site ``rel=canonical``), else its URL."""
    for href in scan.tree.xpath(
        "//link[@href][contains(concat(' ', @rel, ' '), ' canonical ')]/@href"
    ):
        link = absolute_url(scan.base, str(href))
        if link and same_site(link, scan.url):
            return canonical_url(link)
    return scan.url


def _has_place(event: Event) -> bool:
    return bool(event.venue or event.address or event.lat is not None or event.online)


def final_links(scan: Scan, events: list[Event], stubs: list[tuple[str, str]]) -> list[str]:
    """Return the event links worth a visit: same site, not this page, not told in full here."""
    told = {e.url for e in events if e.url and _has_place(e)}
    unplaced = [e.url for e in events if e.url and not _has_place(e)]
    pages = {scan.url, canonical_page(scan)}
    skip = told | pages
    for url, why in stubs:
        if url not in told and (url in pages or not same_site(url, scan.url)):
            scan.warnings.append(f"{why}; skipped")  # nowhere else to learn its date
    links: list[str] = []
    for link in [*scan.links, *(url for url, _ in stubs), *unplaced]:
        link = canonical_url(link)
        if link not in skip and same_site(link, scan.url):
            skip.add(link)
            links.append(link)
    return links


def final_next_pages(scan: Scan) -> list[str]:
    """Return the listing pages worth a visit: same site, not this page, not an event."""
    skip = {scan.url, canonical_page(scan)}
    pages: list[str] = []
    for link in scan.next_pages:
        link = canonical_url(link)
        if link in skip or not same_site(link, scan.url) or looks_like_event(link):
            continue
        if _ASSET.search(urlsplit(link).path) or _SKIP_QUERY.search(urlsplit(link).query):
            continue
        skip.add(link)
        pages.append(link)
    return pages
