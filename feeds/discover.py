"""What a group's homepage offers to subscribe to: its feeds, found from the page alone.

People know a group's homepage, not its feed's URL. :func:`feed_candidates`
reads a page and returns every place its events may be read from, each
with the type it is expected to be and how it was found:

- ``<link rel="alternate">`` of type text/calendar, RSS, Atom or JSON;
- ``webcal:`` links, links to ``.ics`` files and calendar exports
  (``?ical=1`` of The Events Calendar, ``/events/ical/``);
- links labelled "subscribe", "iCal", "add to calendar" and the like;
- the public feeds of calendars the page embeds or links to: Google
  Calendar (``embed?src=ID`` has ``/calendar/ical/ID/public/basic.ics``),
  Outlook / Office 365 published calendars (``calendar.html`` has a
  ``calendar.ics`` beside it), Teamup (``teamup.com/KEY`` has
  ``ics.teamup.com/feed/KEY/0.ics``);
- on a platform's own page: a Meetup group's ``/events/ical/``, a Luma
  calendar's ``api.lu.ma/ics/get?entity=calendar&id=cal-...``.

The page's own event markup is one more candidate, added by whoever reads
the page (it is the page, not a link). Which candidate is best is decided
by :func:`best_first` once each has been read: one that lists upcoming
events before one that does not, a calendar feed over a JSON or news feed,
and any feed over the page's marked-up events.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urljoin, urlsplit, urlunsplit

from w3lib.url import safe_url_string

from techcal.feeds.page_links import looks_like_event
from techcal.feeds.urls import LUMA_HOSTS, host_of, meetup_group, same_site

#: candidates read per page at most (a hostile page can link a thousand "calendars")
MAX_CANDIDATES = 12
#: links looked at per page at most
MAX_SEEN = 2000
#: a calendar whose last event ended longer ago than this is not worth choosing
RECENT_DAYS = 180
#: hosts that serve calendars for others, whose feeds may stand for a group's page
PLATFORM_HOSTS = frozenset(
    {"calendar.google.com", "outlook.office365.com", "outlook.live.com", "outlook.office.com",
     "ics.teamup.com", "www.meetup.com", "meetup.com", "api.lu.ma"}
)  # fmt: skip
#: how each type is preferred once read: a calendar keeps times, zones and series
TYPE_RANK = {"ics": 0, "json": 1, "rss": 2, "html": 3, "auto": 4}

_ALTERNATE_TYPES = {
    "text/calendar": "ics",
    "application/ics": "ics",
    "text/x-vcalendar": "ics",
    "application/rss+xml": "rss",
    "application/atom+xml": "rss",
    "application/rdf+xml": "rss",
    "application/json": "json",
    "application/ld+json": "json",
}
_CALENDAR_PATH = re.compile(r"\.(ics|ical|ifb|vcs)$|/ical/?$|/ics/?$", re.I)
_CALENDAR_QUERY = re.compile(r"(^|&)(ical=1|outlook-ical=1|format=(ics|ical)|ical)(&|$)", re.I)
_SUBSCRIBE_TEXT = re.compile(
    r"\b(subscribe|i-?cal(endar)?|ics|webcal|add to (your |my )?calendar|calendar feed"
    r"|export (the )?calendar|abonnieren|kalender abonnieren)\b",
    re.I,
)
_GOOGLE_EMBED = re.compile(r"^/calendar(/u/\d+)?(/(embed|htmlembed|r|render))?/?$")
_OUTLOOK_HOSTS = frozenset({"outlook.office365.com", "outlook.live.com", "outlook.office.com"})
_OUTLOOK_HTML = re.compile(r"^(/owa/calendar/.+/)(reach)?calendar\.html$", re.I)
_TEAMUP_KEY = re.compile(r"^/(ks[a-z0-9]{6,})(/|$)", re.I)
_LOCALE = re.compile(r"^[a-z]{2}-[A-Za-z]{2}$")
_LUMA_CALENDAR = re.compile(r"^cal-[A-Za-z0-9]{6,40}$")


@dataclass
class Candidate:
    """One place a page's events may be read from."""

    url: str
    #: the type it is expected to be: ics, rss, json, html, or auto (not known before reading)
    type: str
    #: how it was found, in words ("<link rel=alternate> text/calendar")
    how: str
    #: once read: the type it turned out to be, and what it holds
    read_type: str | None = None
    upcoming: int | None = None
    events: int | None = None
    #: event pages a listing page leads to (the crawl reads them; discovery does not)
    links: int = 0
    #: past events that ended within RECENT_DAYS (a group between meetings)
    recent: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def holds_events(self) -> bool:
        return bool(self.upcoming)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape of ``sources discover --json``."""
        return {
            "url": self.url,
            "type": self.read_type or self.type,
            "how": self.how,
            "upcoming": self.upcoming,
            "events": self.events,
            "links": self.links,
            "error": self.error,
        }


#: how the page's own marked-up events are named among the candidates
ON_THE_PAGE = "events marked up on the page"
#: how the address itself is named when it is a feed, not a page
THE_ADDRESS = "the address itself"


@dataclass
class Discovery:
    """What a homepage offers, each candidate read once."""

    url: str
    #: what the address itself turned out to be (ics, rss, json, html), None when it failed
    type: str | None = None
    candidates: list[Candidate] = field(default_factory=list)
    #: why the address itself could not be read
    error: str | None = None

    def ranked(self) -> list[Candidate]:
        """Return the candidates best first (see :func:`techcal.feeds.discover.best_first`)."""
        return best_first(self.candidates)

    def choice(self) -> tuple[Candidate | None, str]:
        """Return the candidate to register as the source, and why it was chosen.

        The best one that lists events (a calendar feed over marked-up
        pages); the page itself when nothing does; None when the address
        could not be read at all.
        """
        if self.error is not None or self.type is None:
            return None, f"could not read it ({self.error})"
        ranked = self.ranked()
        page = next((c for c in ranked if c.how == ON_THE_PAGE), None)
        if self.type != "html":
            own = ranked[0] if ranked else None
            return own, f"the address itself is {_a(type_name(self.type))}"
        home = self.url
        usable = [c for c in ranked if c is page or may_stand_for(c.url, home)]
        elsewhere = [c for c in ranked if c not in usable and (c.upcoming or c.recent)]
        best = usable[0] if usable else None
        failed = [c for c in ranked if c.error is not None]
        if (
            best is None
            or best.error is not None
            or not (best.upcoming or best.recent or best.links)
        ):
            others = len([c for c in ranked if c is not page])
            why = (
                "found no feed and no event on the page"
                if not others
                else f"none of the {others} feed(s) it offers lists current events"
            )
            if failed:
                why += f" ({len(failed)} could not be read now: {failed[0].error})"
            if elsewhere:
                why += (
                    f"; {elsewhere[0].url} on another site lists events: add it yourself"
                    " if you trust it"
                )
            return page, f"{why}; added the page itself (html)"
        if best is page:
            return page, f"the page itself lists the most: {_holding(best)}"
        why = f"{type_name(best.read_type or best.type)} ({best.how}) with {_holding(best)}"
        if page is not None and (page.events or page.links):
            why += f", over the page's own {_holding(page)}"
        return best, why


def may_stand_for(url: str, homepage: str) -> bool:
    """Return True when a feed at ``url`` may be registered in place of ``homepage``.

    A registered URL is trusted by the crawl (its owner may point it
    anywhere), so only a feed on the homepage's own site (or a subdomain of
    it, or it of the feed's) or on a calendar platform is registered without
    the user naming it: any other host named by a page could later resolve
    to an internal address.

    >>> may_stand_for("https://cal.plug.org/a.ics", "https://plug.org/")
    True
    >>> may_stand_for("https://calendar.google.com/calendar/ical/x/public/basic.ics", "https://plug.org/")
    True
    >>> may_stand_for("https://attacker.example/a.ics", "https://plug.org/")
    False
    """
    feed, home = host_of(url), host_of(homepage)
    if not feed or not home:
        return False
    if feed == home or feed.endswith("." + home) or home.endswith("." + feed):
        return True
    return (urlsplit(url).hostname or "").lower() in PLATFORM_HOSTS and urlsplit(
        url
    ).scheme == "https"


def type_name(kind: str | None) -> str:
    return {
        "ics": "iCal feed",
        "rss": "RSS/Atom feed",
        "json": "JSON document",
        "html": "web page",
    }.get(kind or "", "file")


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiouAEIOR' else 'a'} {noun}"


def _holding(candidate: Candidate) -> str:
    upcoming = candidate.upcoming or 0
    text = f"{upcoming} upcoming event{'s' if upcoming != 1 else ''}"
    if (candidate.events or 0) != upcoming:
        text += f" ({candidate.events} in all)"
    if candidate.links:
        text += f", links to {candidate.links} event page(s)"
    return text


def best_first(candidates: list[Candidate]) -> list[Candidate]:
    """Return ``candidates`` best first: upcoming events, then the type, then how many.

    >>> page = Candidate("https://lug.org/", "html", "page", "html", upcoming=3, events=3)
    >>> feed = Candidate("https://lug.org/cal.ics", "ics", "link", "ics", upcoming=2, events=9)
    >>> blog = Candidate("https://lug.org/feed/", "rss", "link", "rss", upcoming=0, events=0)
    >>> [c.url for c in best_first([blog, page, feed])]
    ['https://lug.org/cal.ics', 'https://lug.org/', 'https://lug.org/feed/']
    """

    most = max((c.upcoming or 0 for c in candidates if c.error is None), default=0)

    def key(candidate: Candidate) -> tuple[int, int, int, int, int]:
        if candidate.error is not None:
            state = 3
        elif candidate.upcoming:
            state = 0
        elif candidate.recent or candidate.links:
            state = 1
        else:
            state = 2
        # a calendar of one event (an "add to calendar" link) is not the group's:
        # the type decides only among candidates listing a like number of events
        few = int(state == 0 and (candidate.upcoming or 0) * 2 < most)
        kind = TYPE_RANK.get(candidate.read_type or candidate.type, 4)
        return state, few, kind, -(candidate.upcoming or 0), -(candidate.events or 0)

    return sorted(candidates, key=key)


def feed_candidates(tree: Any, page_url: str, base: str | None = None) -> list[Candidate]:
    """Return the feeds the page at ``page_url`` (its lxml tree) offers, in the order found.

    Each URL appears once, under the first (most telling) way it was found;
    at most :data:`MAX_CANDIDATES`.
    """
    base = base or page_url
    # (priority, order found, candidate): what names a whole calendar comes
    # first, so a page of a hundred "add this event to your calendar" links
    # cannot push the group's own feed out of the few that are read
    found: dict[str, tuple[int, int, Candidate]] = {}

    def add(url: str | None, kind: str, how: str, priority: int) -> None:
        if url and url != page_url and len(found) < MAX_SEEN:
            if url not in found or found[url][0] > priority:
                order = found[url][1] if url in found else len(found)
                found[url] = (priority, order, Candidate(url, kind, how))

    for url, kind, how in _platform_feeds(tree, page_url):
        add(url, kind, how, 0)
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        mime = (link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" in rel and mime in _ALTERNATE_TYPES:
            href = _absolute(base, link.get("href"))
            add(href, _ALTERNATE_TYPES[mime], f"<link rel=alternate> {mime}", 0)
    for element in tree.iter("a", "iframe", "area"):
        href = element.get("href") if element.tag != "iframe" else element.get("src")
        target = _absolute(base, href)
        if target is None:
            continue
        url = target
        embedded = _embedded_calendar(url)
        one_event = looks_like_event(url)
        if embedded is not None:
            for ics, how in embedded:
                add(ics, "ics", how, 1)
        elif href and href.strip().lower().startswith("webcal:"):
            add(url, "ics", "webcal: link", 3 if one_event else 1)
        elif _looks_like_calendar(url):
            add(url, "ics", "link to a calendar file", 3 if one_event else 2)
        elif (
            element.tag != "iframe"
            and same_site(url, page_url)
            and _SUBSCRIBE_TEXT.search(_label(element))
        ):
            # a "Subscribe" link elsewhere is a newsletter or a video channel
            add(url, "auto", f'link "{_label(element)[:40]}"', 4)
    kept = sorted(found.values(), key=lambda entry: (entry[0], entry[1]))[:MAX_CANDIDATES]
    return [candidate for _, _, candidate in sorted(kept, key=lambda entry: entry[1])]


def _absolute(base: str, href: str | None) -> str | None:
    """Return ``href`` as an absolute http(s) URL (``webcal:`` as https), or None."""
    if not href or not href.strip():
        return None
    href = href.strip()
    if href.lower().startswith("webcal://"):
        href = "https://" + href[len("webcal://") :]
    try:
        url = urljoin(base, href)
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    # as it is requested: what a page wrote raw (controls, spaces) percent-encoded
    return str(safe_url_string(urlunsplit(parts._replace(fragment=""))))


def _label(element: Any) -> str:
    words = " ".join((element.text_content() or "").split())
    return words or element.get("title") or element.get("aria-label") or ""


def _looks_like_calendar(url: str) -> bool:
    parts = urlsplit(url)
    return bool(_CALENDAR_PATH.search(parts.path) or _CALENDAR_QUERY.search(parts.query))


def _embedded_calendar(url: str) -> list[tuple[str, str]] | None:
    """Return [(public iCal URL, how)] for a link to or embed of a hosted calendar's page.

    None when ``url`` is not a hosted calendar's page at all.
    """
    parts = urlsplit(url)
    host = host_of(url)
    if host in ("calendar.google.com", "google.com") and _GOOGLE_EMBED.match(parts.path):
        # "Add to Google Calendar" of a whole feed: cid names the feed itself
        feeds = [
            (_absolute(url, cid), "feed named by a Google Calendar link")
            for cid in parse_qs(parts.query).get("cid", [])
            if cid.strip().lower().startswith(("http://", "https://", "webcal://"))
        ]
        return [(feed, how) for feed, how in feeds if feed] + [
            (
                f"https://calendar.google.com/calendar/ical/{quote(calendar, safe='')}"
                "/public/basic.ics",
                "Google Calendar embed",
            )
            for calendar in google_calendar_ids(parts.query)
        ]
    if host in _OUTLOOK_HOSTS:
        match = _OUTLOOK_HTML.match(parts.path)
        if match:
            name = f"{match.group(2) or ''}calendar.ics"
            ics = urlunsplit(("https", parts.netloc, f"{match.group(1)}{name}", "", ""))
            return [(ics, "Outlook published calendar")]
        return None
    if host == "teamup.com":
        key = _TEAMUP_KEY.match(parts.path)
        if key:
            return [(f"https://ics.teamup.com/feed/{key.group(1)}/0.ics", "Teamup calendar")]
    return None


def google_calendar_ids(query: str) -> list[str]:
    """Return the calendars a Google Calendar page shows: ``src=`` and ``cid=``, as given or base64.

    Google's own calendars an embed adds (holidays, week numbers) are left out.

    >>> google_calendar_ids("src=plug%40group.calendar.google.com&ctz=America%2FLos_Angeles")
    ['plug@group.calendar.google.com']
    >>> google_calendar_ids("src=cGx1Z0Bncm91cC5jYWxlbmRhci5nb29nbGUuY29t"
    ...                     "&src=en.usa%23holiday%40group.v.calendar.google.com")
    ['plug@group.calendar.google.com']
    """
    values = parse_qs(query)
    found: list[str] = []
    for given in [*values.get("src", []), *values.get("cid", [])]:
        calendar = given.strip() if "@" in given else _base64_text(given.strip())
        if (
            calendar
            and "@" in calendar
            and not calendar.endswith("group.v.calendar.google.com")
            and calendar not in found
        ):
            found.append(calendar)
    return found


def _base64_text(text: str) -> str | None:
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        decoded = data.decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded if decoded.isprintable() else None


def _platform_feeds(tree: Any, page_url: str) -> list[tuple[str, str, str]]:
    """Return the feeds a platform's own page has: a Meetup group's, a Luma calendar's."""
    found: list[tuple[str, str, str]] = []
    group = meetup_group(page_url)
    parts = urlsplit(page_url)
    segments = [s for s in parts.path.split("/") if s]
    if group and _LOCALE.match(segments[0]) and len(segments) > 1:
        group = segments[1].lower()  # a localised page: /fr-FR/<group>/
    if group:
        parts = urlsplit(page_url)
        ics = urlunsplit((parts.scheme, parts.netloc, f"/{group}/events/ical/", "", ""))
        found.append((ics, "ics", "Meetup group calendar"))
    if host_of(page_url) in LUMA_HOSTS:
        calendar = _luma_calendar(tree)
        if calendar:
            ics = f"https://api.lu.ma/ics/get?entity=calendar&id={calendar}"
            found.append((ics, "ics", "Luma calendar"))
    return found


def _luma_calendar(tree: Any) -> str | None:
    """Return the ``cal-...`` id of the calendar a Luma page shows (its ``__NEXT_DATA__``)."""
    for script in tree.iter("script"):
        if script.get("id") != "__NEXT_DATA__":
            continue
        try:
            data = json.loads(script.text or "")
        except (ValueError, RecursionError):
            return None
        stack: list[tuple[Any, int]] = [(data, 0)]
        while stack:
            value, depth = stack.pop()
            if depth > 12:
                continue
            if isinstance(value, dict):
                calendar = value.get("calendar")
                if isinstance(calendar, dict):
                    api_id = calendar.get("api_id")
                    if isinstance(api_id, str) and _LUMA_CALENDAR.match(api_id):
                        return api_id
                stack.extend((v, depth + 1) for v in value.values() if isinstance(v, dict | list))
            elif isinstance(value, list):
                stack.extend((v, depth + 1) for v in value[:200])
        return None
    return None


def page_candidates(body: bytes, url: str, encoding: str | None = None) -> list[Candidate]:
    """Return the feeds the HTML page ``body`` from ``url`` offers (none when unreadable)."""
    import lxml.etree
    import lxml.html
    from w3lib.encoding import html_to_unicode

    header = f"text/html; charset={encoding}" if encoding else None
    try:
        _, text = html_to_unicode(header, bytes(body))
        tree = lxml.html.document_fromstring(text.replace("\x00", "\ufffd"))
    except (lxml.etree.LxmlError, ValueError, LookupError):
        return []
    base = url
    for href in tree.xpath("//base/@href")[:1]:
        base = _absolute(url, str(href)) or url
    return feed_candidates(tree, url, base)


_FEED_PATH = re.compile(
    r"\.(ics|ical|ifb|vcs|rss|atom|rdf|xml|json|jsonld)$|/(ical|ics|feed|rss|atom)/?$", re.I
)


def looks_like_feed(url: str) -> bool:
    """Return True when ``url`` plainly names a feed or calendar file, not a homepage.

    >>> looks_like_feed("https://calagator.org/events.ics"), looks_like_feed("webcal://x.org/c")
    (True, True)
    >>> looks_like_feed("https://www.meetup.com/pdxpython/events/ical/")
    True
    >>> looks_like_feed("https://pdxpython.org/"), looks_like_feed("https://lug.org/events/")
    (False, False)
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme.lower() in ("webcal", "file"):
        return True
    return bool(_FEED_PATH.search(parts.path) or _CALENDAR_QUERY.search(parts.query))
