"""h-event and hCalendar (``vevent``) events in a parsed page, as schema.org Event objects."""

from __future__ import annotations

import re
from typing import Any

import lxml.html
import mf2py

_MF_ROOT = (
    "contains(concat(' ', normalize-space(@class), ' '), ' h-event ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' vevent ')"
)


def microformat_items(tree: Any, base: str) -> list[dict[str, Any]]:
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
    """Return the h-event items among mf2py's items, nested ones too, in page order."""
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
    """Return one h-event as a schema.org Event object."""
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
