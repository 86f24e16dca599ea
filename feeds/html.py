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
:mod:`techcal.feeds.platforms`. A page with none of these but Open Graph event
tags (``og:type`` event, ``event:start_time``) is read from those, last.

The syntaxes are read by :mod:`~techcal.feeds.schema_org` (JSON-LD,
microdata, RDFa) and :mod:`~techcal.feeds.hevent`, the links by
:mod:`~techcal.feeds.page_links`; :mod:`~techcal.feeds.page_events` turns
what they found into Events.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import lxml.etree
from extruct.xmldom import XmlDomHTMLParser
from w3lib.encoding import html_to_unicode

from techcal.event import Event
from techcal.feeds.base import SourceDefaults
from techcal.feeds.hevent import microformat_items
from techcal.feeds.jsonld import jsonld_objects
from techcal.feeds.page_events import page_events
from techcal.feeds.page_links import event_links, final_links, final_next_pages, next_pages
from techcal.feeds.platforms import fixers_for
from techcal.feeds.scan import SYNTAX_NAMES, Scan, event_dicts, tagged
from techcal.feeds.schema_org import jsonld_items, microdata_items, opengraph_items, rdfa_items
from techcal.feeds.urls import canonical_url

#: libxml2 stops building the tree below this depth (without XML_PARSE_HUGE)
MAX_DEPTH = 256
_MARKUP = re.compile(r"<[a-zA-Z!?/]")


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
    come from JSON-LD, microdata, RDFa and h-event/hCalendar, else Open
    Graph tags; the same event told twice is one, JSON-LD first. Each
    event's ``source_uid`` is its ``@id`` when that names it apart from any
    page, else its canonical URL, else the page's when the page holds only
    that event, else a hash of title and start. An event found but not read
    is one warning naming it and why.
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
    scan.items = jsonld_items(tree, url, warnings)
    if truncated:
        warnings.append(
            f"{url}: HTML nested deeper than {MAX_DEPTH} elements; "
            "the rest of the page was read for JSON-LD only"
        )
        objects, broken = jsonld_objects(text)
        scan.items += tagged(event_dicts(objects), "json-ld")
        told = sum("JSON-LD block" in w and "not valid JSON" in w for w in warnings)
        if len(broken) > told:
            warnings.append(
                f"{url}: {len(broken) - told} JSON-LD block(s) past the cut are not valid JSON;"
                " skipped"
            )
    for syntax, read in (
        ("microdata", microdata_items),
        ("rdfa", rdfa_items),
        ("microformats", microformat_items),
    ):
        try:
            scan.items += tagged(read(tree, base), syntax)
        except Exception as error:  # noqa: BLE001 - one syntax failing costs only that syntax
            warnings.append(f"{url}: {SYNTAX_NAMES[syntax]} skipped ({_reason(error)})")
    scan.links = event_links(tree, base, url)
    scan.next_pages = next_pages(tree, base, url)
    for name, fix in fixers_for(url, tree):
        try:
            fix(scan)
        except Exception as error:  # noqa: BLE001 - a platform's odd page keeps the generic reading
            warnings.append(f"{url}: {name} fixes skipped ({_reason(error)})")
    if not scan.items:
        try:
            scan.items = tagged(opengraph_items(tree, base), "opengraph")
        except Exception as error:  # noqa: BLE001 - like any syntax, it costs only itself
            warnings.append(f"{url}: {SYNTAX_NAMES['opengraph']} skipped ({_reason(error)})")
    events, worth_a_visit = page_events(scan, defaults)
    return Page(
        events=events,
        # one line each, whatever a page put in the names they quote; each said once
        warnings=list(dict.fromkeys(" ".join(w.split()) for w in warnings)),
        event_links=final_links(scan, events, worth_a_visit),
        next_pages=final_next_pages(scan),
    )


def _reason(error: BaseException) -> str:
    text = str(error).splitlines()[0][:200] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


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
