"""What :func:`techcal.feeds.html.read_page` gathers from one page before Events are built.

A :class:`Scan` holds a page's schema.org Event objects (in the JSON-LD
shape) and its candidate links; the syntaxes of :mod:`techcal.feeds.html`
fill it and the platform fixers of :mod:`techcal.feeds.platforms` edit it.
The helpers here find Event objects in JSON values and read the data pages
carry in scripts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: schema.org types that are events (Event and its subtypes, plus ones sites invent)
EVENT_TYPES = frozenset(
    {
        "Event",
        "BusinessEvent",
        "ChildrensEvent",
        "ComedyEvent",
        "CourseInstance",
        "DanceEvent",
        "DeliveryEvent",
        "EducationEvent",
        "EventSeries",
        "ExhibitionEvent",
        "Festival",
        "FoodEvent",
        "Hackathon",
        "LiteraryEvent",
        "MusicEvent",
        "PublicationEvent",
        "SaleEvent",
        "ScreeningEvent",
        "SocialEvent",
        "SportsEvent",
        "TheaterEvent",
        "VisualArtsEvent",
    }
)
# sites write "event" and "EVENT" too; a type named so is still meant as one
_EVENT_NAMES = frozenset(name.casefold() for name in EVENT_TYPES)
#: how each syntax (an item's ``_syntax``) is named in warnings
SYNTAX_NAMES = {
    "json-ld": "JSON-LD",
    "microdata": "microdata",
    "rdfa": "RDFa",
    "microformats": "h-event",
    "luma": "Luma",
    "localist": "Localist card",
    "opengraph": "Open Graph",
}


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


def tagged(items: list[dict[str, Any]], syntax: str) -> list[dict[str, Any]]:
    """Return ``items``, each marked as read from ``syntax`` (a key of :data:`SYNTAX_NAMES`)."""
    for item in items:
        item["_syntax"] = syntax
    return items


def is_event(value: Any) -> bool:
    """Return True when ``value`` is a schema.org Event (or subtype) object.

    Accepts ``@type`` as a name in any case, an IRI (``http://schema.org/Event``),
    a prefixed name (``schema:Event``) or a list of them.

    >>> is_event({"@type": ["Thing", "schema:Hackathon"]}), is_event({"@type": "event"})
    (True, True)
    >>> is_event({"@type": "Place"})
    False
    """
    if not isinstance(value, dict):
        return False
    types = value.get("@type")
    names = types if isinstance(types, list) else [types]
    return any(isinstance(t, str) and short_type(t).casefold() in _EVENT_NAMES for t in names)


def short_type(name: str) -> str:
    """Return a schema.org type name without its vocabulary (``schema:Event`` -> ``Event``)."""
    return name.strip().rsplit("/", 1)[-1].rsplit(":", 1)[-1].rsplit("#", 1)[-1]


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


def next_data(tree: Any) -> Any:
    """Return the page's Next.js data (``__NEXT_DATA__``), or None."""
    for script in tree.iter("script"):
        if script.get("id") == "__NEXT_DATA__":
            try:
                return json.loads(script.text or "")
            except (ValueError, RecursionError):
                return None
    return None


def dig(value: Any, *keys: str) -> Any:
    """Return ``value[keys[0]][keys[1]]...``, or None where a step is not a dict."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
