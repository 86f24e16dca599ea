"""schema.org Events in a page's JSON-LD, microdata, RDFa and Open Graph, as JSON-LD objects."""

from __future__ import annotations

import json
import re
from typing import Any

import extruct

from techcal.feeds.place import says_online
from techcal.feeds.scan import event_dicts, is_event, short_type, tagged

_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def jsonld_items(tree: Any, url: str, warnings: list[str]) -> list[dict[str, Any]]:
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
        items += tagged(event_dicts([_resolve_ids(v) for v in values]), "json-ld")
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


def microdata_items(tree: Any, base: str) -> list[dict[str, Any]]:
    """Return the page's microdata Events (extruct's uniform JSON-LD shape)."""
    if not tree.xpath("boolean(//*[@itemscope])"):
        return []
    found = extruct.extract(tree, base_url=base, syntaxes=["microdata"], uniform=True)
    return event_dicts(found.get("microdata") or [])


def rdfa_items(tree: Any, base: str) -> list[dict[str, Any]]:
    """Return the page's RDFa Events as JSON-LD objects (schema.org terms only)."""
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


# --- Open Graph: the last resort of a page with no other event markup -------------

#: where Open Graph pages put a place's parts: Facebook's event and place objects
_OG_PLACE = ("event:location:", "place:location:", "business:contact_data:")
_OG_ADDRESS = {
    "street_address": "streetAddress",
    "locality": "addressLocality",
    "region": "addressRegion",
    "postal_code": "postalCode",
    "country_name": "addressCountry",
}


def opengraph_items(tree: Any, base: str) -> list[dict[str, Any]]:
    """Return the page's Open Graph event (``og:type`` event, ``event:start_time``...), if any.

    A page is an event when its ``og:type`` is one (``event``,
    ``events.event``) or it has an ``event:start_time``; the event is the
    page's ``og:title`` (else its ``<title>``), ``og:url``, ``og:description``,
    ``event:start_time``/``event:end_time`` and ``event:location`` with the
    coordinates and address parts of :data:`_OG_PLACE`.
    """
    tags: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or "").strip().lower()
        content = (meta.get("content") or "").strip()
        if key and content and key.startswith(("og:", "event:", "place:", "business:")):
            tags.setdefault(key, content)
    kind = tags.get("og:type", "").lower()
    if not (kind.endswith("event") or "event:start_time" in tags):
        return []
    title = tags.get("og:title") or _page_title(tree)
    item: dict[str, Any] = {"@type": "Event", "name": title}
    for key, target in (
        ("event:start_time", "startDate"),
        ("event:end_time", "endDate"),
        ("og:url", "url"),
        ("og:description", "description"),
    ):
        if key in tags:
            item[target] = tags[key]
    place = _og_place(tags)
    if place:
        item["location"] = place
    return [item]


def _og_place(tags: dict[str, str]) -> Any:
    """Return an Open Graph event's place: its ``event:location`` text and a Place, or None."""
    parts = {k.removeprefix(p): v for p in _OG_PLACE for k, v in tags.items() if k.startswith(p)}
    place: dict[str, Any] = {"@type": "Place"}
    if "latitude" in parts and "longitude" in parts:
        place["geo"] = {"latitude": parts["latitude"], "longitude": parts["longitude"]}
    address = {target: parts[key] for key, target in _OG_ADDRESS.items() if key in parts}
    if address:
        place["address"] = {"@type": "PostalAddress", **address}
    text = tags.get("event:location")
    if text and text.startswith(("http://", "https://")) and not says_online(text):
        text = None  # Facebook's event:location is the place object's URL, not its name
    if len(place) == 1:
        return text
    return [text, place] if text else place


def _page_title(tree: Any) -> str | None:
    for title in tree.iter("title"):
        return " ".join((title.text or "").split()) or None
    return None
