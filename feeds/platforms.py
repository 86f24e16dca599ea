"""What particular event platforms get wrong or hide on their pages, and the fixes.

:func:`techcal.feeds.html.read_page` gathers every schema.org Event on a
page into a :class:`Scan`; before the Events are built, each platform that
the page's host or markup names gets a fixer that edits the scan in place:

- Meetup: follow only the page's own group, take the group as organizer
  when the event names none, canonical ``/<group>/events/<id>/`` URLs.
- Eventbrite: JSON-LD hidden in ``window.__SERVER_DATA__``, date-only
  listing entries treated as links, recommendations not followed.
- Luma: the event data of ``__NEXT_DATA__`` (times in UTC plus the
  event's own IANA zone), calendar pages' entries.
- The Events Calendar (WordPress): HTML-escaped descriptions, the event's
  zone from the "Add to Google Calendar" link, the view's next page.
- Localist: calendar cards (``<em-local-time start=...>``) as events.

:func:`canonical_url` makes one URL per event on every platform it knows,
whatever page links to it.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

from techcal.event import zone_named
from techcal.feeds.jsonld import EVENT_TYPES


@dataclass
class Scan:
    """What :func:`~techcal.feeds.html.read_page` found on one page, before Events are built.

    ``items`` are schema.org Event objects in the JSON-LD shape
    (``events_from_jsonld`` input), in page order. Keys starting with ``_``
    are read_page's own: ``_syntax`` (where the item came from),
    ``_timezone`` (the IANA zone the event is shown in) and ``_fields``
    (Event fields set after conversion).
    """

    #: the page URL, canonical
    url: str
    #: the document's base URL, for relative links
    base: str
    #: the parsed page (lxml root element)
    tree: Any
    items: list[dict[str, Any]] = field(default_factory=list)
    #: candidate event detail links (absolute), in page order
    links: list[str] = field(default_factory=list)
    #: candidate pagination links (absolute), in page order
    next_pages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


Fixer = Callable[[Scan], None]

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
_LUMA_HOSTS = frozenset({"lu.ma", "luma.com", "luma.co"})
_DEFAULT_PORTS = {("http", 80), ("https", 443)}
_LUMA_PAGES = frozenset(
    {"discover", "home", "signin", "login", "create", "calendar", "user", "pricing", "explore",
     "settings", "about", "terms", "privacy", "ios", "android", "help", "api", "embed"}
)  # fmt: skip
_READ_MORE = re.compile(r"<a\b[^>]*excerpt-read-more[^>]*>.*?</a>", re.I | re.S)


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
    if bare in _LUMA_HOSTS and re.fullmatch(r"/[A-Za-z0-9_-]+/?", path):
        slug = path.strip("/")
        if slug.lower() not in _LUMA_PAGES:
            # lu.ma became luma.com in 2025; both serve the same events
            return f"https://luma.com/{slug}"
    return urlunsplit((parts.scheme.lower(), netloc, path, query, ""))


def is_event(value: Any) -> bool:
    """Return True when ``value`` is a schema.org Event (or subtype) object.

    Accepts ``@type`` as a name, an IRI (``http://schema.org/Event``), a
    prefixed name (``schema:Event``) or a list of them.
    """
    if not isinstance(value, dict):
        return False
    types = value.get("@type")
    names = types if isinstance(types, list) else [types]
    return any(isinstance(t, str) and short_type(t) in EVENT_TYPES for t in names)


def short_type(name: str) -> str:
    """Return a schema.org type name without its vocabulary (``schema:Event`` -> ``Event``)."""
    return name.rsplit("/", 1)[-1].rsplit(":", 1)[-1].rsplit("#", 1)[-1]


def event_dicts(values: list[Any], limit: int = 64) -> list[dict[str, Any]]:
    """Return the schema.org Event objects anywhere in ``values``, in document order.

    Looks into lists, ``@graph``, ``ItemList``/``ListItem``, other things'
    properties (a Place's or MusicGroup's ``event``) and events' own
    ``subEvent``. An event repeated under the same ``@id`` counts once;
    nesting deeper than ``limit`` is not followed.
    """
    found: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    stack: list[tuple[Any, int]] = [(v, 0) for v in reversed(values)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            continue
        if isinstance(value, list):
            stack.extend((v, depth + 1) for v in reversed(value))
            continue
        if not isinstance(value, dict):
            continue
        if is_event(value):
            key = value.get("@id")
            if isinstance(key, str):
                if key in seen_ids:
                    continue
                seen_ids.add(key)
            found.append(value)
            children = [value.get("subEvent"), value.get("subEvents")]
        else:
            children = [v for v in value.values() if isinstance(v, (dict, list))]
        stack.extend((c, depth + 1) for c in reversed(children) if c)
    return found


def fixers_for(url: str, tree: Any) -> list[tuple[str, Fixer]]:
    """Return the (name, fixer) pairs that apply to the page at ``url``, in the order to run."""
    host = host_of(url)
    chosen: list[tuple[str, Fixer]] = []
    if host.endswith("meetup.com"):
        chosen.append(("meetup", fix_meetup))
    if host.startswith("eventbrite.") or ".eventbrite." in host:
        chosen.append(("eventbrite", fix_eventbrite))
    if host in _LUMA_HOSTS:
        chosen.append(("luma", fix_luma))
    if _is_events_calendar(tree):
        chosen.append(("the-events-calendar", fix_events_calendar))
    if host.endswith("localist.com") or _is_localist(tree):
        chosen.append(("localist", fix_localist))
    return chosen


# --- Meetup ---------------------------------------------------------------


def fix_meetup(scan: Scan) -> None:
    """Keep a Meetup page to its own group and name the group as organizer.

    Meetup event pages link to other groups' events ("similar events"), so
    only links of the page's group are followed. Newer pages put the group
    in the JSON-LD ``@graph`` as an Organization beside an Event that
    names no organizer. Dates carry only an offset; the group's IANA zone
    is in the page's Apollo cache (``__NEXT_DATA__``), when there.
    """
    group = _meetup_group(scan.url)
    if group:
        scan.links = [link for link in scan.links if _meetup_group(link) == group]
        scan.next_pages = [link for link in scan.next_pages if _meetup_group(link) == group]
    groups = [
        node.get("name")
        for node in _graph_nodes(scan.tree)
        if short_type(str(node.get("@type") or "")) == "Organization"
        and isinstance(node.get("name"), str)
        and node.get("name") != "Meetup"
    ]
    if len(set(groups)) == 1:
        for item in scan.items:
            item.setdefault("organizer", {"@type": "Organization", "name": groups[0]})
    # JSON-LD gives offsets only; the page's Apollo cache names the group's zone
    state = _dig(_next_data(scan.tree), "props", "pageProps", "__APOLLO_STATE__")
    zones = {
        node.get("timezone")
        for node in (state.values() if isinstance(state, dict) else [])
        if isinstance(node, dict) and node.get("__typename") == "Group"
    }
    zone = zones.pop() if len(zones) == 1 else None
    if zone_named(zone):
        for item in scan.items:
            item.setdefault("_timezone", zone)


def _meetup_group(url: str) -> str | None:
    if not host_of(url).endswith("meetup.com"):
        return None
    try:
        first = urlsplit(url).path.strip("/").split("/")[0]
    except ValueError:
        return None
    return first.lower() if first and first.lower() not in _MEETUP_PAGES else None


# --- Eventbrite -----------------------------------------------------------


def fix_eventbrite(scan: Scan) -> None:
    """Read Eventbrite's hidden JSON-LD, and follow only what an organizer or search page lists.

    Organizer (``/o/``) and search (``/d/``) pages carry their ItemList of
    events in ``window.__SERVER_DATA__.jsonld`` rather than in a script
    tag; their entries may give only the date, which is no start time, so
    those become links to the event page. An event page (``/e/``) links to
    unrelated "events you may like", which are not followed.
    """
    for script in scan.tree.iter("script"):
        text = script.text or ""
        if "__SERVER_DATA__" not in text:
            continue
        data = _json_after(text, "__SERVER_DATA__")
        if isinstance(data, dict) and isinstance(data.get("jsonld"), list):
            for item in event_dicts(data["jsonld"]):
                item["_syntax"] = "json-ld"
                scan.items.append(item)
    on_event_page = urlsplit(scan.url).path.startswith("/e/")
    for item in scan.items:
        start = item.get("startDate")
        if not on_event_page and isinstance(start, str) and "T" not in start:
            del item["startDate"]
    if on_event_page:
        scan.links = []
        scan.next_pages = []


def _json_after(text: str, name: str) -> Any:
    """Return the JSON value assigned to ``name`` in a script (``window.NAME = {...};``)."""
    at = text.find(name)
    start = text.find("{", at)
    if at < 0 or start < 0:
        return None
    try:
        value, _ = json.JSONDecoder(strict=False).raw_decode(text, start)
    except (ValueError, RecursionError):
        return None
    return value


# --- Luma -----------------------------------------------------------------


def fix_luma(scan: Scan) -> None:
    """Read Luma's events from ``__NEXT_DATA__``, in each event's own time zone.

    Luma's Open Graph tags leave out date, time and place; the page's
    Next.js data has them: ``start_at``/``end_at`` in UTC, the event's
    IANA ``timezone``, ``geo_address_info`` (address, city, region,
    country; only the city when the address is for guests only),
    ``coordinate``, ``location_type`` (``offline``, or online kinds),
    hosts, calendar and ticket info. Event pages carry one event under
    ``initialData.data``; calendar pages a list of entries.
    """
    data = _next_data(scan.tree)
    page = _dig(data, "props", "pageProps", "initialData", "data")
    if not isinstance(page, dict):
        return
    entries = [page] if isinstance(page.get("event"), dict) else []
    for key in ("events", "featured_events", "items"):
        if isinstance(page.get(key), list):
            entries.extend(e for e in page[key] if isinstance(e, dict))
    known = set()
    for entry in entries:
        item = _luma_item(entry)
        if item is not None:
            known.add(item["url"])
            scan.items.append(item)
    zones = {
        entry["event"].get("timezone") for entry in entries if isinstance(entry.get("event"), dict)
    }
    zone = next(iter(zones)) if len(zones) == 1 else None
    for item in scan.items:
        # Luma's JSON-LD, when present, gives UTC; show it in the event's zone
        if item.get("_syntax") != "luma" and zone_named(zone):
            item.setdefault("_timezone", zone)
    # event cards whose data the page did not carry: single-slug pages, known only here
    for anchor in scan.tree.xpath("//a[@href][contains(@class, 'event')]"):
        try:
            link = canonical_url(urljoin(scan.base, anchor.get("href")))
        except ValueError:
            continue
        if link not in known and re.fullmatch(r"https://luma\.com/[A-Za-z0-9_-]+", link):
            scan.links.append(link)


def _luma_item(entry: dict[str, Any]) -> dict[str, Any] | None:
    event = entry.get("event")
    if not isinstance(event, dict) or not event.get("name") or not event.get("url"):
        return None
    item: dict[str, Any] = {
        "@type": "Event",
        "_syntax": "luma",
        "name": event["name"],
        "url": canonical_url(f"https://luma.com/{str(event['url']).strip('/')}"),
        "startDate": entry.get("start_at") or event.get("start_at"),
        "endDate": entry.get("end_at") or event.get("end_at"),
    }
    if zone_named(event.get("timezone")):
        item["_timezone"] = event["timezone"]
    description = entry.get("description") or event.get("description")
    if not isinstance(description, str):
        description = _prose_text(entry.get("description_mirror"))
    if description:
        item["description"] = description
    item["location"] = _luma_place(event)
    calendar = entry["calendar"] if isinstance(entry.get("calendar"), dict) else {}
    hosts = [h.get("name") for h in entry.get("hosts") or [] if isinstance(h, dict)]
    organizer = calendar.get("name") or ", ".join(n for n in hosts if n)
    if organizer:
        item["organizer"] = organizer
    ticket = entry.get("ticket_info") or event.get("ticket_info")
    if isinstance(ticket, dict):
        price = ticket["price"] if isinstance(ticket.get("price"), dict) else {}
        if ticket.get("is_free"):
            item["offers"] = {"@type": "Offer", "price": "0"}
        elif isinstance(price.get("cents"), int):
            currency = str(price.get("currency") or "").upper() or None
            item["offers"] = {"@type": "Offer", "price": f"{price['cents'] / 100:.2f}",
                              "priceCurrency": currency}  # fmt: skip
    geo = event.get("geo_address_info")
    if isinstance(geo, dict) and geo.get("full_address"):
        # the one-line address Luma shows; PostalAddress parts would repeat the city
        item["_fields"] = {"address": geo["full_address"]}
    return item


def _prose_text(doc: Any) -> str:
    """Return the text of a ProseMirror document (Luma's ``description_mirror``), by paragraph."""
    blocks: list[str] = []
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict) or depth > 32:
            continue
        content: list[Any] = node["content"] if isinstance(node.get("content"), list) else []
        if any(isinstance(c, dict) and c.get("type") == "text" for c in content):
            blocks.append("".join(str(c.get("text") or "") for c in content if isinstance(c, dict)))
        else:
            stack.extend((c, depth + 1) for c in reversed(content))
    return "\n\n".join(b for b in blocks if b.strip())


def _luma_place(event: dict[str, Any]) -> dict[str, Any]:
    kind = str(event.get("location_type") or "offline")
    if kind != "offline":
        return {"@type": "VirtualLocation"}
    geo = event["geo_address_info"] if isinstance(event.get("geo_address_info"), dict) else {}
    place: dict[str, Any] = {
        "@type": "Place",
        "name": geo.get("place_name") or geo.get("address"),
        "address": {
            "@type": "PostalAddress",
            "addressLocality": geo.get("city"),
            "addressRegion": geo.get("region"),
            "addressCountry": geo.get("country"),
        },
    }
    point = event.get("coordinate")
    if isinstance(point, dict) and point.get("latitude") is not None:
        place["geo"] = {"latitude": point.get("latitude"), "longitude": point.get("longitude")}
    return place


def _next_data(tree: Any) -> Any:
    for script in tree.iter("script"):
        if script.get("id") == "__NEXT_DATA__":
            try:
                return json.loads(script.text or "")
            except (ValueError, RecursionError):
                return None
    return None


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


# --- The Events Calendar (WordPress) ---------------------------------------


def _is_events_calendar(tree: Any) -> bool:
    return bool(
        tree.xpath(
            "//meta[@name='tec-api-version'] | //script[@data-js='tribe-events-view-data']"
            " | //body[contains(@class, 'tribe-events') or contains(@class, 'tribe_events')]"
        )
    )


def fix_events_calendar(scan: Scan) -> None:
    """Undo The Events Calendar's escaping and find its time zone and next page.

    TEC writes name and description through WordPress' ``esc_js``: the
    description is HTML escaped once more (``&lt;p&gt;``), newlines are a
    literal ``\\n``, and an excerpt ends in a "Read more" link. Dates carry
    only an offset; a single event page's "Add to Google Calendar" link
    names the event's zone (``ctz=``). A view's JSON (``data-js=
    "tribe-events-view-data"``) names its ``next_url``.
    """
    for item in scan.items:
        text = item.get("description")
        if isinstance(text, str) and "&lt;" in text:
            text = _READ_MORE.sub("", html.unescape(text))
            item["description"] = text.replace("\\n", "\n")
    links = scan.tree.xpath("//a[contains(@href, 'google.com/calendar')]/@href")
    zones = {zone for zone in (query_value(str(href), "ctz") for href in links) if zone}
    if len(zones) == 1 and len(scan.items) == 1:
        zone = zones.pop()
        if zone_named(zone):
            scan.items[0].setdefault("_timezone", zone)
    for script in scan.tree.xpath("//script[@data-js='tribe-events-view-data']"):
        try:
            view = json.loads(script.text or "")
        except (ValueError, RecursionError):
            continue
        if isinstance(view, dict) and isinstance(view.get("next_url"), str) and view["next_url"]:
            scan.next_pages.append(urljoin(scan.base, view["next_url"]))


# --- Localist ---------------------------------------------------------------


def _is_localist(tree: Any) -> bool:
    return bool(
        tree.xpath(
            "//em-local-time | //*[contains(@class, 'em-event-instance-')]"
            " | //a[contains(@href, 'localist.com')] | //*[contains(@src, 'localist')]"
        )
    )


def fix_localist(scan: Scan) -> None:
    """Read Localist calendar cards as events.

    Localist's listing pages (``/calendar``, widgets) show each event as a
    ``div.em-card`` whose ``<em-local-time start=... end=...>`` element
    carries ISO 8601 times with offset, the title link in
    ``.em-card_title``, and the place in a second ``.em-card_event-text``
    ("Virtual Event" for online ones). Cards that JSON-LD also describes
    merge with it.
    """
    for card in scan.tree.xpath("//div[contains(concat(' ', @class, ' '), ' em-card ')]"):
        link = card.xpath(".//*[contains(@class, 'em-card_title')]//a[@href]")
        when = card.xpath(".//em-local-time[@start]")
        if not link or not when:
            continue
        texts = card.xpath(".//*[contains(@class, 'em-card_event-text')]")
        place_text = " ".join(texts[-1].text_content().split()) if len(texts) > 1 else ""
        item: dict[str, Any] = {
            "@type": "Event",
            "_syntax": "localist",
            "name": " ".join(link[0].text_content().split()),
            "url": urljoin(scan.base, link[0].get("href")),
            "startDate": when[0].get("start"),
        }
        if when[0].get("end") and when[0].get("has-time") != "false":
            item["endDate"] = when[0].get("end")
        if re.match(r"^(virtual|online)\b", place_text, re.I):
            item["location"] = {"@type": "VirtualLocation"}
        elif place_text:
            item["location"] = {"@type": "Place", "name": place_text}
        scan.items.append(item)


# --- shared ------------------------------------------------------------------


def _graph_nodes(tree: Any) -> list[dict[str, Any]]:
    """Return the top-level and ``@graph`` objects of a page's JSON-LD blocks."""
    nodes: list[dict[str, Any]] = []
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            value = json.loads(script.text or "", strict=False)
        except (ValueError, RecursionError):
            continue
        for node in value if isinstance(value, list) else [value]:
            if isinstance(node, dict):
                nodes.append(node)
                graph = node.get("@graph")
                if isinstance(graph, list):
                    nodes.extend(n for n in graph if isinstance(n, dict))
    return nodes


def query_value(url: str, name: str) -> str | None:
    """Return the first value of query parameter ``name`` in ``url``, if any."""
    try:
        values = parse_qs(urlsplit(url).query).get(name)
    except ValueError:
        return None
    return values[0] if values else None
