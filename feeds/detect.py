"""Which reader a body needs: declared type, else content type, else the bytes themselves."""

from __future__ import annotations

import re

from techcal.feeds.base import ReadResult, SourceDefaults, Window

_ICS_TYPES = ("text/calendar", "application/ics", "text/x-vcalendar")
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
_FEED_ROOT = re.compile(rb"<(?:rss|feed|rdf:RDF)[\s>]", re.I)


def detect_type(data: bytes, declared: str = "auto", content_type: str | None = None) -> str:
    """Return "ics", "rss" or "html" for ``data``.

    >>> detect_type(b"BEGIN:VCALENDAR\\r\\nVERSION:2.0\\r\\n")
    'ics'
    >>> detect_type(b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>')
    'rss'
    >>> detect_type(b"<!doctype html><html><body>Events</body></html>")
    'html'
    >>> detect_type(b"anything", content_type="text/calendar; charset=utf-8")
    'ics'
    """
    if declared in ("ics", "rss", "html"):
        return declared
    if content_type:
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime in _ICS_TYPES:
            return "ics"
        if mime in _FEED_TYPES:
            return "rss"
    head = _decode_head(data)
    if b"BEGIN:VCALENDAR" in head.upper():
        return "ics"
    if _FEED_ROOT.search(head):
        return "rss"
    return "html"


def _decode_head(data: bytes) -> bytes:
    head = data[:4096]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        # UTF-16 (Outlook can write it): look at it as ASCII
        encoding = "utf-16"
        return head.decode(encoding, errors="ignore").encode("ascii", errors="ignore")
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")


def read_body(
    data: bytes,
    source_type: str,
    defaults: SourceDefaults,
    *,
    window: Window | None = None,
) -> ReadResult:
    """Return the events in ``data`` read by the reader for ``source_type`` ("ics"/"rss")."""
    if source_type == "ics":
        from techcal.feeds.ical import read_ical

        return read_ical(data, defaults, window=window)
    if source_type == "rss":
        from techcal.feeds.rss import read_feed

        return read_feed(data, defaults, window=window)
    # not a calendar or feed: nothing here is the source's list of events
    return ReadResult(
        warnings=[f"{defaults.source}: web pages are read by the crawler (`techcal crawl`)"],
        recognised=False,
    )
