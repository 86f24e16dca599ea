"""What particular event platforms get wrong or hide on their pages, and the fixes.

:func:`techcal.feeds.html.read_page` gathers every schema.org Event on a
page into a :class:`~techcal.feeds.scan.Scan`; before the Events are built, each platform that
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

:func:`canonical_url` (:mod:`techcal.feeds.urls`) makes one URL per event on
every platform it knows, whatever page links to it.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from techcal.event import zone_named
from techcal.feeds.luma import fix_luma
from techcal.feeds.scan import Fixer, Scan, dig, event_dicts, next_data, short_type, tagged
from techcal.feeds.urls import LUMA_HOSTS, canonical_url, host_of, meetup_group, query_value

# canonical_url is known by this module's name too
__all__ = [
    "canonical_url",
    "fix_eventbrite",
    "fix_events_calendar",
    "fix_localist",
    "fix_luma",
    "fix_meetup",
    "fixers_for",
]

_READ_MORE = re.compile(r"<a\b[^>]*excerpt-read-more[^>]*>.*?</a>", re.I | re.S)


def fixers_for(url: str, tree: Any) -> list[tuple[str, Fixer]]:
    """Return the (name, fixer) pairs that apply to the page at ``url``, in the order to run."""
    host = host_of(url)
    chosen: list[tuple[str, Fixer]] = []
    if host.endswith("meetup.com"):
        chosen.append(("meetup", fix_meetup))
    if host.startswith("eventbrite.") or ".eventbrite." in host:
        chosen.append(("eventbrite", fix_eventbrite))
    if host in LUMA_HOSTS:
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
    group = meetup_group(scan.url)
    if group:
        scan.links = [link for link in scan.links if meetup_group(link) == group]
        scan.next_pages = [link for link in scan.next_pages if meetup_group(link) == group]
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
    state = dig(next_data(scan.tree), "props", "pageProps", "__APOLLO_STATE__")
    zones = {
        node.get("timezone")
        for node in (state.values() if isinstance(state, dict) else [])
        if isinstance(node, dict) and node.get("__typename") == "Group"
    }
    zone = zones.pop() if len(zones) == 1 else None
    if zone_named(zone):
        for item in scan.items:
            item.setdefault("_timezone", zone)


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
            scan.items += tagged(event_dicts(data["jsonld"]), "json-ld")
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
