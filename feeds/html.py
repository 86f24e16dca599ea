"""Events from web pages: schema.org Event in JSON-LD, microdata or RDFa, and h-event / hCalendar.

:func:`read_page` is a pure function like the feed readers: the bytes of one
HTML page in, a :class:`Page` out (its events, what could not be used, the
event pages and next listing pages it links to). It never touches the
network and never raises on bad input.

The page is decoded once (HTTP charset, else the page's own, else UTF-8 with
replacement) and parsed once with lxml. Every syntax's events are turned
into schema.org Event objects in the JSON-LD shape and read by
:func:`techcal.feeds.jsonld.events_from_jsonld`, so a page's microdata says
exactly what the same JSON-LD would. Platform quirks are fixed on the way by
:mod:`techcal.feeds.platforms`.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, fields, replace
from datetime import UTC
from typing import Any
from urllib.parse import urljoin, urlsplit

import extruct
import lxml.etree
import lxml.html
import mf2py
from extruct.xmldom import XmlDomHTMLParser
from w3lib.encoding import html_to_unicode

from techcal.event import Event
from techcal.feeds.base import SourceDefaults
from techcal.feeds.jsonld import events_from_jsonld, hash_uid, jsonld_objects, parse_when
from techcal.feeds.platforms import (
    Scan,
    canonical_url,
    event_dicts,
    fixers_for,
    host_of,
    is_event,
    short_type,
)

#: libxml2 stops building the tree below this depth (without XML_PARSE_HUGE)
MAX_DEPTH = 256
# how each syntax is named in warnings, and which wins when two describe one event
_SYNTAX_NAMES = {
    "json-ld": "JSON-LD",
    "microdata": "microdata",
    "rdfa": "RDFa",
    "microformats": "h-event",
    "luma": "Luma",
    "localist": "Localist card",
}
_RANK = {"json-ld": 0}
_EVENT_FIELDS = frozenset(f.name for f in fields(Event))
_MF_ROOT = (
    "contains(concat(' ', normalize-space(@class), ' '), ' h-event ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' vevent ')"
)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_MARKUP = re.compile(r"<[a-zA-Z!?/]")

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


@dataclass
class Page:
    """What one web page says: its events, and where a crawl should look next."""

    #: events found on the page, one per ``source_uid``
    events: list[Event]
    #: one line each, naming the page URL and the problem
    warnings: list[str]
    #: same-site links that look like event pages not fully described here, in page order
    event_links: list[str]
    #: same-site pagination links of a listing, in page order
    next_pages: list[str]


def read_page(
    body: bytes, url: str, defaults: SourceDefaults, *, encoding: str | None = None
) -> Page:
    """Return the events on the HTML page ``body`` fetched from ``url``, and the links to follow.

    ``encoding`` is the HTTP charset, when the response named one. Events
    come from JSON-LD, microdata, RDFa and h-event/hCalendar; the same
    event told twice is one, JSON-LD first. Each event's ``source_uid`` is
    its canonical URL, else the page's when the page holds only that event,
    else its ``@id`` or a hash of title and start.
    """
    page_url = canonical_url(url)
    try:
        return _read(body, page_url, defaults, encoding)
    except Exception as error:  # noqa: BLE001 - a page that breaks the reader costs only itself
        return Page([], [f"{page_url}: page could not be read ({_reason(error)})"], [], [])


def _read(body: bytes, url: str, defaults: SourceDefaults, encoding: str | None) -> Page:
    warnings: list[str] = []
    text = _decode(body, url, encoding, warnings)
    if not text.strip():
        return Page([], warnings + [f"{url}: empty body"], [], [])
    if not _MARKUP.search(text, 0, 65536):
        return Page([], warnings + [f"{url}: not an HTML page (no markup)"], [], [])
    tree, truncated = _parse(text)
    if tree is None:
        return Page([], warnings + [f"{url}: not an HTML document"], [], [])
    base = _base_url(tree, url)
    scan = Scan(url=url, base=base, tree=tree, warnings=warnings)
    scan.items = _jsonld_items(tree, url, warnings)
    if truncated:
        warnings.append(
            f"{url}: HTML nested deeper than {MAX_DEPTH} elements; "
            "the rest of the page was read for JSON-LD only"
        )
        scan.items += _tagged(event_dicts(jsonld_objects(text)[0]), "json-ld")
    for syntax, read in (
        ("microdata", _microdata_items),
        ("rdfa", _rdfa_items),
        ("microformats", _microformat_items),
    ):
        try:
            scan.items += _tagged(read(tree, base), syntax)
        except Exception as error:  # noqa: BLE001 - one syntax failing costs only that syntax
            warnings.append(f"{url}: {_SYNTAX_NAMES[syntax]} skipped ({_reason(error)})")
    scan.links = _event_links(tree, base, url)
    scan.next_pages = _next_pages(tree, base, url)
    for name, fix in fixers_for(url, tree):
        try:
            fix(scan)
        except Exception as error:  # noqa: BLE001 - a platform's odd page keeps the generic reading
            warnings.append(f"{url}: {name} fixes skipped ({_reason(error)})")
    events, worth_a_visit = _events(scan, defaults)
    return Page(
        events=events,
        # one line each, whatever a page put in the names they quote
        warnings=[" ".join(w.split()) for w in warnings],
        event_links=_final_links(scan, events, worth_a_visit),
        next_pages=_final_next_pages(scan),
    )


def _reason(error: BaseException) -> str:
    text = str(error).splitlines()[0][:200] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _tagged(items: list[dict[str, Any]], syntax: str) -> list[dict[str, Any]]:
    for item in items:
        item["_syntax"] = syntax
    return items


# --- decoding and parsing ----------------------------------------------------


def _decode(body: bytes | str, url: str, encoding: str | None, warnings: list[str]) -> str:
    """Return ``body`` as text: the HTTP charset, else BOM or ``<meta charset>``, else UTF-8."""
    if isinstance(body, str):
        return body
    header = None
    if encoding:
        try:
            codecs.lookup(encoding)
            header = f"text/html; charset={encoding}"
        except LookupError:
            warnings.append(f"{url}: unknown charset {encoding!r}; the page's own was used")
    _, text = html_to_unicode(header, bytes(body))
    # libxml2 stops at a NUL byte
    return text.replace("\x00", "\ufffd")


def _parse(text: str) -> tuple[Any, bool]:
    """Return the page's root element (None when there is none) and whether it was cut short."""
    # extruct's DOM flavour of lxml's parser: RDFa needs it, everything else reads it as lxml
    parser = XmlDomHTMLParser(encoding="utf-8")
    try:
        root = lxml.etree.fromstring(text.encode("utf-8", "replace"), parser)
    except (lxml.etree.LxmlError, ValueError):
        return None, False
    truncated = any("Excessive depth" in entry.message for entry in parser.error_log)
    return root, truncated


def _base_url(tree: Any, url: str) -> str:
    for href in tree.xpath("//base/@href")[:1]:
        try:
            return urljoin(url, str(href).strip())
        except ValueError:
            break
    return url


# --- the syntaxes ------------------------------------------------------------


def _jsonld_items(tree: Any, url: str, warnings: list[str]) -> list[dict[str, Any]]:
    """Return the Event objects of every JSON-LD block; a broken block costs only itself."""
    items: list[dict[str, Any]] = []
    number = 0
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        number += 1
        values, problem = _json_values(script.text or "")
        if problem:
            warnings.append(f"{url}: JSON-LD block {number} is not valid JSON ({problem}); skipped")
            continue
        items += _tagged(event_dicts([_resolve_ids(v) for v in values]), "json-ld")
    return items


def _json_values(text: str) -> tuple[list[Any], str | None]:
    """Return the JSON values in a script's text (several when a site runs them together)."""
    cleaned = _unwrapped(text)
    if not cleaned:
        return [], None
    try:
        return [json.loads(cleaned, strict=False)], None
    except RecursionError:
        return [], "nested too deeply"
    except json.JSONDecodeError as error:
        first = error
    decoder = json.JSONDecoder(strict=False)
    try:
        if first.msg == "Extra data":
            values, at = [], 0
            while at < len(cleaned):
                value, at = decoder.raw_decode(cleaned, at)
                values.append(value)
                while at < len(cleaned) and cleaned[at] in " \t\r\n,;":
                    at += 1
            return values, None
        # the commonest hand-written slip; browsers' search engines forgive it too
        return [json.loads(_TRAILING_COMMA.sub(r"\1", cleaned), strict=False)], None
    except (ValueError, RecursionError):
        return [], f"{first.msg} at line {first.lineno} column {first.colno}"


def _unwrapped(text: str) -> str:
    """Return a script's text without the ``<!-- -->`` or CDATA wrapper old pages put around it."""
    cleaned = text.strip()
    for opening, closing in (("<!--", "-->"), ("//<![CDATA[", "//]]>"), ("<![CDATA[", "]]>")):
        if cleaned.startswith(opening):
            cleaned = cleaned[len(opening) :].lstrip()
        if cleaned.endswith(closing):
            cleaned = cleaned[: -len(closing)].rstrip()
    return cleaned


def _resolve_ids(value: Any) -> Any:
    """Return ``value`` with lone ``{"@id": x}`` references replaced by the node named ``x``."""
    nodes: dict[str, dict[str, Any]] = {}
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > 64:
            continue
        if isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
        elif isinstance(node, dict):
            key = node.get("@id")
            if isinstance(key, str) and len(node) > 1:
                nodes.setdefault(key, node)
            stack.extend((v, depth + 1) for v in node.values())
    if not nodes:
        return value
    budget = [20_000]  # copies made; a graph that references itself in a fan stops here

    def substitute(node: Any, trail: tuple[str, ...]) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or len(trail) > 32:
            return node
        if isinstance(node, list):
            return [substitute(v, trail) for v in node]
        if not isinstance(node, dict):
            return node
        key = node.get("@id")
        if len(node) == 1 and isinstance(key, str) and key in nodes and key not in trail:
            return substitute(nodes[key], (*trail, key))
        inner = (*trail, key) if isinstance(key, str) else trail
        return {k: substitute(v, inner) for k, v in node.items()}

    return substitute(value, ())


def _microdata_items(tree: Any, base: str) -> list[dict[str, Any]]:
    if not tree.xpath("boolean(//*[@itemscope])"):
        return []
    found = extruct.extract(tree, base_url=base, syntaxes=["microdata"], uniform=True)
    return event_dicts(found.get("microdata") or [])


def _rdfa_items(tree: Any, base: str) -> list[dict[str, Any]]:
    # every RDFa event is typed; pages without @typeof skip the slow RDF parser
    if not tree.xpath("boolean(//*[@typeof])"):
        return []
    # HTML+RDFa reads <time datetime>; pyRdfa 3.6 reads only its text
    for time in tree.xpath("//time[@property][@datetime][not(@content)]"):
        time.set("content", time.get("datetime"))
    found = extruct.extract(tree, base_url=base, syntaxes=["rdfa"])
    return event_dicts(_rdfa_as_jsonld(found.get("rdfa") or []))


def _rdfa_as_jsonld(nodes: list[Any]) -> list[dict[str, Any]]:
    """Return the Event nodes of extruct's flattened RDFa graph, nested and in JSON-LD terms.

    extruct gives expanded JSON-LD: full IRIs as keys
    (``http://schema.org/startDate``), every value a list of ``{"@value"}``
    or ``{"@id"}`` pointing to another node.
    """
    by_id = {n["@id"]: n for n in nodes if isinstance(n, dict) and isinstance(n.get("@id"), str)}

    def convert(node: dict[str, Any], trail: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, values in node.items():
            listed = values if isinstance(values, list) else [values]
            if key == "@id":
                out[key] = values
            elif key == "@type":
                types = [short_type(t) for t in listed if isinstance(t, str)]
                out[key] = types[0] if len(types) == 1 else types
            elif (name := _schema_term(key)) is not None:
                converted = [value_of(v, trail) for v in listed]
                out[name] = converted[0] if len(converted) == 1 else converted
        return out

    def value_of(value: Any, trail: tuple[str, ...]) -> Any:
        if not isinstance(value, dict):
            return value
        if "@value" in value:
            return value["@value"]
        ref = value.get("@id")
        if isinstance(ref, str) and ref in by_id and ref not in trail and len(trail) < 8:
            return convert(by_id[ref], (*trail, ref))
        return ref

    events = [n for n in nodes if is_event(n)]
    return [convert(n, (str(n.get("@id")),)) for n in events]


def _schema_term(iri: str) -> str | None:
    for prefix in ("http://schema.org/", "https://schema.org/"):
        if iri.startswith(prefix):
            return iri[len(prefix) :]
    return None


def _microformat_items(tree: Any, base: str) -> list[dict[str, Any]]:
    """Return h-event and hCalendar (``vevent``) events as schema.org Event objects."""
    roots = tree.xpath(f"//*[{_MF_ROOT}][not(ancestor::*[{_MF_ROOT}])]")
    if not roots:
        return []
    # mf2py parses its own copy; giving it only the events keeps that copy small
    fragment = "".join(_mf_markup(r) for r in roots)
    parsed = mf2py.parse(doc=fragment, url=base, html_parser="lxml")
    return [_hevent_item(mf) for mf in _hevents(parsed.get("items") or [])]


def _mf_markup(root: Any) -> str:
    """Return an h-event's markup for mf2py, ``value-title`` dates made plain ``<data>``."""
    titled = root.xpath(".//*[contains(@class, 'value-title')][@title]")
    if not titled:
        return str(lxml.html.tostring(root, encoding="unicode", with_tail=False))
    # mf2py 2.0 reads a dt-* value-title from the property's element, not the value's
    copy = lxml.html.fromstring(lxml.html.tostring(root, encoding="unicode", with_tail=False))
    for element in copy.xpath(".//*[contains(@class, 'value-title')][@title]"):
        parent = element.getparent()
        if parent is not None and re.search(r"\b(dt-\w+|dtstart|dtend)\b", parent.get("class", "")):
            data = lxml.html.Element("data", {"class": "value", "value": element.get("title")})
            data.tail = element.tail
            parent.replace(element, data)
    return str(lxml.html.tostring(copy, encoding="unicode", with_tail=False))


def _hevents(items: list[Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack: list[tuple[Any, int]] = [(i, 0) for i in reversed(items)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict) or depth > 32:
            continue
        if "h-event" in (item.get("type") or []):
            found.append(item)
        nested = list(item.get("children") or [])
        for values in (item.get("properties") or {}).values():
            nested.extend(v for v in values if isinstance(v, dict) and "type" in v)
        stack.extend((n, depth + 1) for n in reversed(nested))
    return found


def _hevent_item(mf: dict[str, Any]) -> dict[str, Any]:
    props = mf.get("properties") or {}
    name = _mf_text(props.get("name"))
    summary = _mf_text(props.get("summary"))
    item: dict[str, Any] = {"@type": "Event", "name": name or summary}
    for key, target in (("start", "startDate"), ("end", "endDate")):
        value = _mf_text(props.get(key))
        if value:
            item[target] = _mf_datetime(value)
    for key, target in (("url", "url"), ("organizer", "organizer")):
        value = _mf_text(props.get(key))
        if value:
            item[target] = value
    description = _mf_text(props.get("description")) or _mf_text(props.get("content"))
    if not description and summary and summary != item["name"]:
        description = summary
    if description:
        item["description"] = description
    places = [p for p in props.get("location") or [] if p]
    if places:
        item["location"] = _mf_place(places[0])
    categories = [c for c in (_mf_text([v]) for v in props.get("category") or []) if c]
    if categories:
        item["keywords"] = categories
    return item


def _mf_text(values: Any) -> str | None:
    """Return the text of a microformats property's first value (plain, h-card or e-content)."""
    if not isinstance(values, list) or not values:
        return None
    value = values[0]
    if isinstance(value, dict):
        value = value.get("value") or _mf_text((value.get("properties") or {}).get("name"))
    return value.strip() if isinstance(value, str) and value.strip() else None


def _mf_datetime(value: str) -> str:
    """Return an mf2 date-time (``2009-06-26 19:00-0800``, ``t`` or ``z`` in lower case) in ISO."""
    text = value.strip()
    if len(text) > 10 and text[10] in " tT":
        text = f"{text[:10]}T{text[11:]}"
    return text[:-1] + "Z" if text.endswith("z") else text


def _mf_place(value: Any) -> Any:
    """Return an h-event location (text, h-card, h-adr or h-geo) as a schema.org Place."""
    if not isinstance(value, dict):
        return value
    props = value.get("properties") or {}
    adr = props.get("adr")
    if isinstance(adr, list) and adr and isinstance(adr[0], dict):
        props = {**(adr[0].get("properties") or {}), **props}
    place: dict[str, Any] = {"@type": "Place", "name": _mf_text(props.get("name"))}
    if "h-adr" in (value.get("type") or []) and place["name"] == value.get("value"):
        place["name"] = None  # an h-adr's implied name is its whole text
    address = {
        target: _mf_text(props.get(key))
        for key, target in (
            ("street-address", "streetAddress"),
            ("locality", "addressLocality"),
            ("region", "addressRegion"),
            ("postal-code", "postalCode"),
            ("country-name", "addressCountry"),
        )
    }
    if any(address.values()):
        place["address"] = {"@type": "PostalAddress", **address}
    geo = props.get("geo")
    if isinstance(geo, list) and geo and isinstance(geo[0], dict):
        props = {**props, **(geo[0].get("properties") or {})}
    elif isinstance(geo, list) and geo and isinstance(geo[0], str) and ";" in geo[0]:
        lat, _, lon = geo[0].partition(";")
        props = {**props, "latitude": [lat], "longitude": [lon]}
    if props.get("latitude") and props.get("longitude"):
        place["geo"] = {
            "latitude": _mf_text(props["latitude"]),
            "longitude": _mf_text(props["longitude"]),
        }
    return place


# --- links -------------------------------------------------------------------


def _absolute(base: str, href: str | None) -> str | None:
    """Return ``href`` as an absolute http(s) URL without fragment, or None."""
    if not href or not href.strip():
        return None
    try:
        link = urljoin(base, href.strip())
        scheme = urlsplit(link).scheme.lower()
    except ValueError:
        return None
    return link.split("#", 1)[0] if scheme in ("http", "https") else None


def _same_site(link: str, page: str) -> bool:
    host = host_of(link)
    return bool(host) and host == host_of(page)


def _looks_like_event(link: str) -> bool:
    """Return True when ``link``'s path names one event's page (``/events/<slug>``, ``/e/<id>``).

    >>> _looks_like_event("https://pdxpython.org/events/2026-12-holiday-social/")
    True
    >>> _looks_like_event("https://pdxpython.org/events/list/?tribe-bar-date=2026-12-01")
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


def _event_links(tree: Any, base: str, page: str) -> list[str]:
    links = []
    for anchor in tree.iter("a", "area"):
        link = _absolute(base, anchor.get("href"))
        if link and _same_site(link, page) and _looks_like_event(link):
            links.append(link)
    return links


def _next_pages(tree: Any, base: str, page: str) -> list[str]:
    """Return the links that lead to a listing's next page, ``rel="next"`` first."""
    found = [
        _absolute(base, link.get("href"))
        for link in tree.iter("link")
        if "next" in (link.get("rel") or "").lower().split()
    ]
    current = _page_number(page)
    for anchor in tree.iter("a"):
        link = _absolute(base, anchor.get("href"))
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


# --- from items to Events ----------------------------------------------------


def _events(scan: Scan, defaults: SourceDefaults) -> tuple[list[Event], list[tuple[str, str]]]:
    """Return the page's Events (merged and identified), and the stubs: events without a start.

    A stub is (its URL, what to warn when that URL is not worth a visit).
    """
    stubs: list[tuple[str, str]] = []
    built: list[tuple[Event, dict[str, Any]]] = []
    for item in scan.items:
        _normalise(item, scan)
    for item in scan.items:
        zone = item.get("_timezone") if isinstance(item.get("_timezone"), str) else None
        url = item.get("url") if isinstance(item.get("url"), str) else None
        if url and _start_text(item) is None:
            # an entry of a list without its date: its own page has it
            syntax = _SYNTAX_NAMES.get(str(item.get("_syntax")), "schema.org")
            start = item.get("startDate")
            why = f"{scan.url}: {url}: {syntax} Event without a readable startDate ({start!r})"
            stubs.append((url, why))
            continue
        item_defaults = replace(defaults, timezone=zone) if zone else defaults
        plain = {k: v for k, v in item.items() if not k.startswith("_")}
        found, problems = events_from_jsonld([plain], item_defaults, scan.base)
        syntax = _SYNTAX_NAMES.get(str(item.get("_syntax")), "schema.org")
        scan.warnings += [  # events_from_jsonld names what it skipped JSON-LD
            f"{scan.url}: {p.replace('JSON-LD Event', f'{syntax} Event')}" for p in problems
        ]
        for event in found:
            overrides = item.get("_fields") if isinstance(item.get("_fields"), dict) else {}
            for key, value in overrides.items():
                if key in _EVENT_FIELDS:
                    setattr(event, key, value)
            built.append((event, item))
    events = _merge(built)
    return _identify(events, scan), stubs


def _start_text(item: dict[str, Any]) -> str | None:
    value = item.get("startDate")
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("@value")
    zone = item.get("_timezone") if isinstance(item.get("_timezone"), str) else None
    return value if isinstance(value, str) and parse_when(value, zone) is not None else None


def _normalise(item: dict[str, Any], scan: Scan) -> None:
    """Bring an Event object to what ``events_from_jsonld`` reads: types, URL, offers, places."""
    if isinstance(item.get("@type"), (str, list)):
        item["@type"] = _short_types(item["@type"])
    if not item.get("name") and isinstance(item.get("summary"), str):
        item["name"] = item["summary"]  # data-vocabulary.org's name for it
    url = _first_url(item.get("url"), scan.base)
    if url:
        item["url"] = canonical_url(url)
    else:
        item.pop("url", None)
    _normalise_offers(item)
    places = item.get("location")
    for number, place in enumerate(places if isinstance(places, list) else [places]):
        if not isinstance(place, dict):
            continue
        address = place.get("address")
        street = address.get("streetAddress") if isinstance(address, dict) else None
        city = address.get("addressLocality") if isinstance(address, dict) else None
        if number == 0 and isinstance(street, str) and isinstance(city, str):
            # Meetup and Eventbrite write the whole address as the street: keep it whole, once
            if city.strip() and city.strip().casefold() in street.casefold():
                fixed = item.setdefault("_fields", {})
                if isinstance(fixed, dict):
                    fixed.setdefault("address", " ".join(street.split()))
        if isinstance(place.get("@type"), (str, list)):
            place["@type"] = _short_types(place["@type"])
        own = _first_url(place.get("url"), scan.base)
        if place.get("@type") == "VirtualLocation" and own:
            # Meetup and Localist name the event's own page here, not a meeting link
            if canonical_url(own) in (item.get("url"), scan.url):
                del place["url"]


def _short_types(value: str | list[Any]) -> str | list[str]:
    names = [short_type(t) for t in (value if isinstance(value, list) else [value]) if t]
    virtual = [n for n in names if n == "VirtualLocation"]
    if virtual or len(names) == 1:
        return (virtual or names)[0]
    return names


def _first_url(value: Any, base: str) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if v), None)
    if isinstance(value, dict):
        value = value.get("@id") or value.get("url")
    if not isinstance(value, str) or not value.strip():
        return None
    return _absolute(base, value)


def _normalise_offers(item: dict[str, Any]) -> None:
    """Give AggregateOffers a ``price`` (a range) and free events a zero price."""
    offers = item.get("offers")
    listed = [o for o in (offers if isinstance(offers, list) else [offers]) if isinstance(o, dict)]
    for offer in listed:
        if offer.get("price") not in (None, ""):
            continue
        low, high = _number(offer.get("lowPrice")), _number(offer.get("highPrice"))
        if low is None:
            continue
        if low == 0 and not high:
            offer["price"] = "0"
        elif high is None or high == low:
            offer["price"] = str(offer["lowPrice"])
        else:
            offer["price"] = f"{offer['lowPrice']}–{offer['highPrice']}"
    priced = any(o.get("price") not in (None, "") for o in listed)
    free = str(item.get("isAccessibleForFree")).rsplit("/", 1)[-1].lower() == "true"
    if free and not priced:
        item["offers"] = [{"@type": "Offer", "price": "0"}, *listed]


def _number(value: Any) -> float | None:
    try:
        return float(str(value).replace(",", "").lstrip("$€£")) if value not in (None, "") else None
    except ValueError:
        return None


def _merge(built: list[tuple[Event, dict[str, Any]]]) -> list[Event]:
    """Return one Event per real event: the first told (JSON-LD first), filled in by the others."""
    kept: list[Event] = []
    index: dict[tuple[Any, ...], int] = {}
    ordered = sorted(built, key=lambda pair: _RANK.get(str(pair[1].get("_syntax")), 1))
    for event, _ in ordered:
        match = None
        for key in _keys(event):
            at = index.get(key)
            if at is None:
                continue
            if key[0] == "title" and event.url and kept[at].url and event.url != kept[at].url:
                continue  # two events of one name at one time, on two pages
            match = at
            break
        if match is None:
            match = len(kept)
            kept.append(event)
        else:
            _fill(kept[match], event)
        for key in _keys(event):
            index.setdefault(key, match)
    return kept


def _keys(event: Event) -> list[tuple[Any, ...]]:
    # the same moment, or the same wall-clock time when one syntax left the zone out
    moments = (event.start.astimezone(UTC), event.start.replace(tzinfo=None))
    keys = [("title", " ".join(event.title.casefold().split()), m) for m in moments]
    if event.url:
        keys += [("url", event.url, m) for m in moments]
    return keys


def _fill(kept: Event, other: Event) -> None:
    for name in _EVENT_FIELDS - {"source", "source_uid"}:
        if getattr(kept, name) in (None, "", ()) and getattr(other, name) not in (None, "", ()):
            setattr(kept, name, getattr(other, name))
    if other.online and not kept.online:
        kept.online = True


def _identify(events: list[Event], scan: Scan) -> list[Event]:
    """Give each event its ``source_uid``: URL, else the page's, else ``@id`` or the hash."""
    page = _canonical_page(scan)
    uids = []
    for event in events:
        if event.url:
            uids.append(event.url)
        elif len(events) == 1:
            event.url = page
            uids.append(page)
        elif event.source_uid.startswith(("http://", "https://")):
            uids.append(event.source_uid)  # the event's JSON-LD @id or RDFa resource
        else:
            uids.append(hash_uid(event.title, event.start))
    shared = {uid for uid in uids if uids.count(uid) > 1}
    taken: set[str] = set()
    identified = []
    for event, uid in zip(events, uids, strict=True):
        if uid in shared:
            # one page for several dates (a series): every date gets its own uid, the first too,
            # so that uids stay put when the first date drops off the page
            stamp = "%Y%m%d" if event.all_day else "%Y%m%dT%H%M%SZ"
            uid = f"{uid}#{event.start.astimezone(UTC).strftime(stamp)}"
        if uid in taken:
            continue
        event.source_uid = uid
        problems = event.problems()
        if problems:
            scan.warnings.append(f"{scan.url}: event {uid} skipped ({'; '.join(problems)})")
            continue
        taken.add(uid)
        identified.append(event)
    return identified


def _canonical_page(scan: Scan) -> str:
    for href in scan.tree.xpath(
        "//link[@href][contains(concat(' ', @rel, ' '), ' canonical ')]/@href"
    ):
        link = _absolute(scan.base, str(href))
        if link and _same_site(link, scan.url):
            return canonical_url(link)
    return scan.url


def _has_place(event: Event) -> bool:
    return bool(event.venue or event.address or event.lat is not None or event.online)


def _final_links(scan: Scan, events: list[Event], stubs: list[tuple[str, str]]) -> list[str]:
    """Return the event links worth a visit: same site, not this page, not told in full here."""
    told = {e.url for e in events if e.url and _has_place(e)}
    unplaced = [e.url for e in events if e.url and not _has_place(e)]
    pages = {scan.url, _canonical_page(scan)}
    skip = told | pages
    for url, why in stubs:
        if url not in told and (url in pages or not _same_site(url, scan.url)):
            scan.warnings.append(f"{why}; skipped")  # nowhere else to learn its date
    links: list[str] = []
    for link in [*scan.links, *(url for url, _ in stubs), *unplaced]:
        link = canonical_url(link)
        if link not in skip and _same_site(link, scan.url):
            skip.add(link)
            links.append(link)
    return links


def _final_next_pages(scan: Scan) -> list[str]:
    skip = {scan.url, _canonical_page(scan)}
    pages: list[str] = []
    for link in scan.next_pages:
        link = canonical_url(link)
        if link in skip or not _same_site(link, scan.url) or _looks_like_event(link):
            continue
        if _ASSET.search(urlsplit(link).path) or _SKIP_QUERY.search(urlsplit(link).query):
            continue
        skip.add(link)
        pages.append(link)
    return pages
