"""Which reader a body needs: declared type, else content type, else the bytes themselves."""

from __future__ import annotations

import re

from techcal.feeds.base import ReadResult, SourceDefaults, Window

_ICS_TYPES = ("text/calendar", "application/ics", "text/x-vcalendar")
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
_JSON_TYPES = ("application/json", "application/ld+json", "text/json")
#: the start of a JSON array or object: what may follow the bracket. "[" alone
#: is not enough: a log line ("[Warning] ...") or an INI section can open a body
_JSON_START = re.compile(rb'\{[ \t\r\n]*["}]|\[[ \t\r\n]*(?:[\[{"\]\-0-9]|true|false|null)')
#: root elements of RSS 0.9x/2.0, Atom and RSS 1.0 (RDF), with or without a prefix
_FEED_ROOTS = frozenset({b"rss", b"feed", b"rdf"})
#: bytes looked at for the root element: a prolog (DTD, comments) longer than
#: this is not a feed worth reading, and a hostile one costs no more than this
PROLOG_LIMIT = 256 * 1024
_SPACE = re.compile(rb"[ \t\r\n]*")
_NAME = re.compile(rb"[A-Za-z_:][-A-Za-z0-9_:.]*")
# what may stand before the root element, each skipped whole; in the DTD's
# internal subset, quoted strings and comments may hold "]" and ">"
# (possessive "*+": nothing is ever given back, so a long DTD costs no memory)
_PROLOG_ITEM = re.compile(
    rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>\"']|\"[^\"]*\"|'[^']*')*+"
    rb"(?:\[(?:[^\]\"'<]|\"[^\"]*\"|'[^']*'|<!--.*?-->|<\?.*?\?>|<(?!!--|\?)"
    rb"(?:[^>\"']|\"[^\"]*\"|'[^']*')*+>)*+\][ \t\r\n]*)?>",
    re.S | re.I,
)


def detect_type(data: bytes, declared: str = "auto", content_type: str | None = None) -> str:
    """Return "ics", "rss", "json" or "html" for ``data``.

    Markup is told by its root element, after the prolog (XML declaration,
    comments, processing instructions, a DOCTYPE with its internal subset);
    JSON by an array or object at the start (GitHub serves raw JSON files as
    text/plain, so the content type alone would miss them).

    >>> detect_type(b"BEGIN:VCALENDAR\\r\\nVERSION:2.0\\r\\n")
    'ics'
    >>> detect_type(b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>')
    'rss'
    >>> detect_type(b"<!doctype html><html><body>Events</body></html>")
    'html'
    >>> detect_type(b"<!DOCTYPE html><!-- was <rss version='2.0'> --><html></html>")
    'html'
    >>> detect_type(b"anything", content_type="text/calendar; charset=utf-8")
    'ics'
    >>> detect_type(b'\\xef\\xbb\\xbf [{"name": "PyCon", "startDate": "2026-05-13"}]')
    'json'
    >>> detect_type(b"[Warning] cache miss\\n<html></html>")
    'html'
    """
    if declared in ("ics", "rss", "json", "html"):
        return declared
    if content_type:
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime in _ICS_TYPES:
            return "ics"
        if mime in _FEED_TYPES:
            return "rss"
        if mime in _JSON_TYPES or mime.endswith("+json"):
            return "json"
    head = _ascii_head(data)
    if _JSON_START.match(head):
        return "json"  # no calendar, feed or page starts with "{" or "["
    calendar = b"BEGIN:VCALENDAR" in head[:4096].upper()
    if calendar and not head.startswith(b"<"):
        return "ics"
    root = root_element(head)
    name = root.rpartition(b":")[2].lower() if root is not None else b""
    if name in _FEED_ROOTS:
        return "rss"
    if calendar and name != b"html":
        return "ics"  # a calendar after a PHP notice ("<br />\n<b>Warning</b>: ...")
    return "html"


def root_element(head: bytes) -> bytes | None:
    """Return the name of the first element after the prolog, or None when there is none.

    >>> root_element(b'<?xml version="1.0"?>\\n<!-- a <b>comment</b> -->\\n<rdf:RDF xmlns:rdf="">')
    b'rdf:RDF'
    >>> root_element(b'<!DOCTYPE rss [<!ENTITY nbsp "&#160;"><!-- ] > -->]><rss>')
    b'rss'
    >>> root_element(b"<!-- never closed <rss>") is None
    True
    """
    # text before the first "<" (a stray byte order mark, a PHP notice) is passed over
    position = head.find(b"<")
    while 0 <= position < len(head):
        space = _SPACE.match(head, position)  # always matches, maybe nothing
        position = space.end() if space else position
        item = _PROLOG_ITEM.match(head, position)
        if item is not None:
            position = item.end()
            continue
        if head.startswith(b"<", position):
            name = _NAME.match(head, position + 1)
            return name.group(0) if name else None
        return None
    return None


def _ascii_head(data: bytes) -> bytes:
    """Return the first PROLOG_LIMIT bytes as single-byte text, whitespace and BOM stripped."""
    head = data[: PROLOG_LIMIT * 2]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        # UTF-16 (Outlook can write it): look at it as ASCII
        head = head.decode("utf-16", errors="ignore").encode("ascii", errors="ignore")
    elif head[:2] in (b"<\x00", b"\x00<", b"[\x00", b"\x00[", b"{\x00", b"\x00{"):
        # UTF-16 without a byte order mark
        encoding = "utf-16-be" if head[:1] == b"\x00" else "utf-16-le"
        head = head.decode(encoding, errors="ignore").encode("ascii", errors="ignore")
    return head[:PROLOG_LIMIT].lstrip(b"\xef\xbb\xbf \t\r\n")


def read_body(
    data: bytes,
    source_type: str,
    defaults: SourceDefaults,
    *,
    window: Window | None = None,
    url: str | None = None,
) -> ReadResult:
    """Return the events in ``data`` read by the reader for ``source_type`` (ics, rss, json).

    ``url`` is where the body came from: JSON readers take the conference
    topic from its file name and resolve relative links against it.
    """
    if source_type == "ics":
        from techcal.feeds.ical import read_ical

        return read_ical(data, defaults, window=window)
    if source_type == "rss":
        from techcal.feeds.rss import read_feed

        return read_feed(data, defaults, window=window)
    if source_type == "json":
        from techcal.feeds.json_source import read_json

        return read_json(data, defaults, url=url)
    # not a calendar or feed: nothing here is the source's list of events
    return ReadResult(
        warnings=[f"{defaults.source}: web pages are read by the crawler (`techcal crawl`)"],
        recognised=False,
    )
