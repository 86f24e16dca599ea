"""Make a record safe for every output before the store keeps it.

Every record passes :func:`clean_record` on its way into the store (see
``upsert_events``), so the writers can stay strict: no output meets a
character it may not carry or a field larger than a calendar needs.

- Characters that XML 1.0 forbids (C0 controls but tab, newline and carriage
  return; lone surrogates; U+FFFE, U+FFFF) or that RFC 5545 forbids in TEXT
  (every C0 control but tab; DEL), and the C1 controls a terminal obeys
  (U+0080-U+009F: CSI is U+009B), become a space; a lone surrogate, U+FFFE
  and U+FFFF become U+FFFD. Line breaks are kept, as ``\\n``, where a field
  may have several lines (the description) and become spaces elsewhere.
- Fields are capped (see :data:`LIMITS`): a longer text is cut at a word
  with "…", a longer link is dropped (half a link leads nowhere), a longer
  source uid keeps its start and a digest of the whole, so it stays the
  same entry on every read and apart from every other.
- Links (``url``, ``online_url``) are http(s) or nothing: ``javascript:``,
  ``data:`` and the like never reach a feed, a page or a script.

Each change is reported in one line, so nothing is altered without a word.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from techcal.event import Event

#: the most characters a field keeps; longer text is cut, longer links dropped
LIMITS = {
    "source_uid": 1_000,
    "title": 500,
    "description": 20_000,
    "url": 2_048,
    "online_url": 2_048,
    "venue": 300,
    "address": 500,
    "city": 200,
    "region": 200,
    "country": 200,
    "organizer": 300,
    "cost": 200,
    "timezone": 100,
}
#: the most categories a record keeps, and the most characters of each
MAX_CATEGORIES = 50
MAX_CATEGORY = 100

_ONE_LINE = ("title", "venue", "address", "city", "region", "country", "organizer", "cost",
             "timezone", "source_uid")  # fmt: skip
_LINKS = ("url", "online_url")
# what becomes a space: C0 controls but tab and newline (and CR, handled first), DEL, C1
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# what becomes U+FFFD: code points XML 1.0 has no place for (lone surrogates come
# from feeds decoded with surrogateescape or JSON "\ud800" escapes)
_NONCHARACTER = re.compile("[\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = re.compile("\r\n?|[\u2028\u2029\x85]")
_NEEDS_CLEANING = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u2028\u2029]")


def clean_text(text: str, *, lines: bool = False) -> str:
    r"""Return ``text`` with what outputs may not carry replaced.

    >>> clean_text("Meetup\x0bnight")
    'Meetup night'
    >>> clean_text("one\r\ntwo", lines=True), clean_text("one\ntwo")
    ('one\ntwo', 'one two')
    """
    if _NEEDS_CLEANING.search(text) is None and ("\n" not in text or lines):
        return text  # the common case: one scan, no copy
    text = _LINE_BREAKS.sub("\n", text)
    if not lines:
        text = text.replace("\n", " ")
    text = _CONTROL.sub(" ", text)
    return _NONCHARACTER.sub("\ufffd", text)


def _cut(text: str, limit: int) -> str:
    """Return ``text`` cut to ``limit`` characters at a word, ending in "…"."""
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit * 0.8:
        head = head[:space]
    return head.rstrip() + "…"


def _short_uid(uid: str, limit: int) -> str:
    digest = hashlib.sha256(uid.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{uid[: limit - len(digest) - 1]}#{digest}"


def _web_link(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def web_url(url: str | None) -> str | None:
    """Return ``url`` when it is an http(s) link; a ``javascript:`` or ``data:`` one is dropped.

    Every writer passes links through this, whatever the store holds (a store
    written before links were checked at normalisation may hold others).

    >>> web_url("https://pdxlinux.org/"), web_url("javascript:alert(1)"), web_url(" JavaScript:x")
    ('https://pdxlinux.org/', None, None)
    """
    if not url:
        return None
    scheme = url.split(":", 1)[0].strip().lower() if ":" in url else ""
    return url if scheme in ("http", "https") else None


def clean_uid(uid: str) -> str:
    """Return the source uid the store keeps for ``uid`` (as :func:`clean_record` makes it)."""
    text = clean_text(uid)
    limit = LIMITS["source_uid"]
    return _short_uid(text, limit) if len(text) > limit else text


def clean_record(record: Event) -> tuple[Event, list[str]]:
    """Return ``record`` as the store may keep it, and a line for each change made.

    The record is returned as it is (no copy) when nothing needed changing.
    """
    changes: dict[str, Any] = {}
    notes: list[str] = []
    for name, limit in LIMITS.items():
        value = getattr(record, name)
        if value is None:
            continue
        text = _clean_field(name, value, limit, notes)
        if text != value:
            changes[name] = text
    categories = [clean_text(c)[:MAX_CATEGORY] for c in record.categories[:MAX_CATEGORIES]]
    if len(record.categories) > MAX_CATEGORIES:
        notes.append(f"{len(record.categories) - MAX_CATEGORIES:,} categories over "
                     f"{MAX_CATEGORIES} dropped")  # fmt: skip
    if tuple(categories) != record.categories:
        changes["categories"] = tuple(categories)
    if not changes:
        return record, notes
    return replace(record, **changes), notes


def _clean_field(name: str, value: str, limit: int, notes: list[str]) -> str | None:
    """Return one text field cleaned and within ``limit`` (None: dropped), noting changes."""
    text = clean_text(value, lines=name not in _ONE_LINE)
    if name in _LINKS:
        text = text.strip()
        if len(text) > limit:
            notes.append(f"{name} dropped: longer than {limit:,} characters")
            return None
        if text and not _web_link(text):
            scheme = text.split(":", 1)[0][:20] if ":" in text else "no scheme"
            notes.append(f"{name} dropped: not an http(s) link ({scheme})")
            return None
        return text
    if len(text) <= limit:
        return text
    if name == "source_uid":
        return _short_uid(text, limit)
    if name == "timezone":
        notes.append(f"timezone dropped: longer than {limit} characters")
        return None
    notes.append(f"{name} cut to {limit:,} characters (it had {len(text):,})")
    return _cut(text, limit)
