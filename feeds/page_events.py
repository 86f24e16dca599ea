"""A page's schema.org Event objects -> Events: normalised, read, merged and identified."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC
from typing import Any

from techcal.event import Event
from techcal.feeds.base import SourceDefaults
from techcal.feeds.jsonld import event_from_object, hash_uid, parse_when
from techcal.feeds.page_links import canonical_page
from techcal.feeds.scan import SYNTAX_NAMES, Scan, short_type
from techcal.feeds.urls import absolute_url, canonical_url

# which syntax wins when two describe one event
_RANK = {"json-ld": 0}
_EVENT_FIELDS = frozenset(f.name for f in fields(Event))


def page_events(scan: Scan, defaults: SourceDefaults) -> tuple[list[Event], list[tuple[str, str]]]:
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
        syntax = SYNTAX_NAMES.get(str(item.get("_syntax")), "schema.org")
        item_defaults = replace(defaults, timezone=zone) if zone else defaults
        plain = {k: v for k, v in item.items() if not k.startswith("_")}
        if url and _start_text(item) is None:
            # an entry of a list without its date: its own page has it
            _, problems = event_from_object(plain, item_defaults, scan.base, syntax)
            problem = problems[0] if problems else f"{syntax} event without a readable startDate"
            why = f"{scan.url}: {problem}".removesuffix("; skipped")
            stubs.append((url, why))
            if item.get("startDate") not in (None, "", []):
                # a date that is there but unreadable is said even when its page is visited
                # (final_links may say it again, word for word: read_page keeps one)
                scan.warnings.append(f"{why}; skipped")
            continue
        event, problems = event_from_object(plain, item_defaults, scan.base, syntax)
        scan.warnings += [f"{scan.url}: {p}" for p in problems]
        if event is None:
            continue
        overrides = item.get("_fields")
        for key, value in overrides.items() if isinstance(overrides, dict) else ():
            if key in _EVENT_FIELDS:
                setattr(event, key, value)
        # only a declared identity counts here; _identify gives the rest theirs
        event.source_uid = _declared_id(item, scan)
        built.append((event, item))
    events = _merge(built)
    return _identify(events, scan), stubs


def _declared_id(item: dict[str, Any], scan: Scan) -> str:
    """Return the object's ``@id`` when it names the event apart from any page, else "".

    An absolute ``@id`` counts. One that is a page with a fragment, the
    event's own (``https://x.org/talk/#event``) or the page being read
    (``#meetup-42`` on a listing), says no more than a URL and is not kept
    when the same event, read from its own page, would be known by its URL.
    """
    value = item.get("@id")
    text = value.strip() if isinstance(value, str) else ""
    if not text.startswith(("http://", "https://")) or any(c.isspace() for c in text):
        return ""
    if canonical_url(text) in (item.get("url"), scan.url, canonical_page(scan)):
        return ""
    return text


def _start_text(item: dict[str, Any]) -> str | None:
    value = item.get("startDate")
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("@value")
    zone = item.get("_timezone") if isinstance(item.get("_timezone"), str) else None
    return value if isinstance(value, str) and parse_when(value, zone) is not None else None


def _normalise(item: dict[str, Any], scan: Scan) -> None:
    """Bring an Event object to what ``event_from_object`` reads: types, URL, places."""
    if isinstance(item.get("@type"), (str, list)):
        item["@type"] = _short_types(item["@type"])
    if not item.get("name") and isinstance(item.get("summary"), str):
        item["name"] = item["summary"]  # data-vocabulary.org's name for it
    url = _first_url(item.get("url"), scan.base)
    if url:
        item["url"] = canonical_url(url)
    else:
        item.pop("url", None)
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
    return absolute_url(base, value)


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
    kept.source_uid = kept.source_uid or other.source_uid


def _identify(events: list[Event], scan: Scan) -> list[Event]:
    """Give each event its ``source_uid``: its ``@id``, else URL, else the page's, else a hash.

    An ``@id`` (absolute) names the event itself, where a URL may be one page
    for several events (a series, a listing's sessions).
    """
    page = canonical_page(scan)
    uids = []
    for event in events:
        if event.source_uid:
            uids.append(event.source_uid)  # the event's JSON-LD @id or RDFa resource
            event.url = event.url or (page if len(events) == 1 else None)
        elif event.url:
            uids.append(event.url)
        elif len(events) == 1:
            event.url = page
            uids.append(page)
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
            scan.warnings.append(
                f"{scan.url}: event {uid} ({event.title!r}) has the identity of an earlier"
                " one on the page; skipped"
            )
            continue
        event.source_uid = uid
        problems = event.problems()
        if problems:
            scan.warnings.append(f"{scan.url}: event {uid} skipped ({'; '.join(problems)})")
            continue
        taken.add(uid)
        identified.append(event)
    return identified
