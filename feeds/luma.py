"""Luma's event pages: the event data of ``__NEXT_DATA__``, in each event's own zone."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

from techcal.event import zone_named
from techcal.feeds.scan import Scan, dig, next_data
from techcal.feeds.urls import canonical_url


def fix_luma(scan: Scan) -> None:
    """Read Luma's events from ``__NEXT_DATA__``, in each event's own time zone.

    Luma's Open Graph tags leave out date, time and place; the page's
    Next.js data has them: ``start_at``/``end_at`` in UTC, the event's
    IANA ``timezone``, ``geo_address_info`` (address, city, region,
    country; only the city when the address is for guests only),
    ``coordinate``, ``location_type`` (``offline``, or online kinds),
    hosts, calendar and ticket info. Event pages carry one event under
    ``initialData.data``; calendar pages a list of entries.
    """
    data = next_data(scan.tree)
    page = dig(data, "props", "pageProps", "initialData", "data")
    if not isinstance(page, dict):
        return
    entries = [page] if isinstance(page.get("event"), dict) else []
    for key in ("events", "featured_events", "items"):
        if isinstance(page.get(key), list):
            entries.extend(e for e in page[key] if isinstance(e, dict))
    known = set()
    for entry in entries:
        item = _luma_item(entry)
        if item is not None:
            known.add(item["url"])
            scan.items.append(item)
    zones = {
        entry["event"].get("timezone") for entry in entries if isinstance(entry.get("event"), dict)
    }
    zone = next(iter(zones)) if len(zones) == 1 else None
    for item in scan.items:
        # Luma's JSON-LD, when present, gives UTC; show it in the event's zone
        if item.get("_syntax") != "luma" and zone_named(zone):
            item.setdefault("_timezone", zone)
    # event cards whose data the page did not carry: single-slug pages, known only here
    for anchor in scan.tree.xpath("//a[@href][contains(@class, 'event')]"):
        try:
            link = canonical_url(urljoin(scan.base, anchor.get("href")))
        except ValueError:
            continue
        if link not in known and re.fullmatch(r"https://luma\.com/[A-Za-z0-9_-]+", link):
            scan.links.append(link)


def _luma_item(entry: dict[str, Any]) -> dict[str, Any] | None:
    event = entry.get("event")
    if not isinstance(event, dict) or not event.get("name") or not event.get("url"):
        return None
    item: dict[str, Any] = {
        "@type": "Event",
        "_syntax": "luma",
        "name": event["name"],
        "url": canonical_url(f"https://luma.com/{str(event['url']).strip('/')}"),
        "startDate": entry.get("start_at") or event.get("start_at"),
        "endDate": entry.get("end_at") or event.get("end_at"),
    }
    if zone_named(event.get("timezone")):
        item["_timezone"] = event["timezone"]
    description = entry.get("description") or event.get("description")
    if not isinstance(description, str):
        description = _prose_text(entry.get("description_mirror"))
    if description:
        item["description"] = description
    item["location"] = _luma_place(event)
    calendar = entry["calendar"] if isinstance(entry.get("calendar"), dict) else {}
    hosts = [h.get("name") for h in entry.get("hosts") or [] if isinstance(h, dict)]
    organizer = calendar.get("name") or ", ".join(n for n in hosts if n)
    if organizer:
        item["organizer"] = organizer
    ticket = entry.get("ticket_info") or event.get("ticket_info")
    if isinstance(ticket, dict):
        price = ticket["price"] if isinstance(ticket.get("price"), dict) else {}
        if ticket.get("is_free"):
            item["offers"] = {"@type": "Offer", "price": "0"}
        elif isinstance(price.get("cents"), int):
            currency = str(price.get("currency") or "").upper() or None
            item["offers"] = {"@type": "Offer", "price": f"{price['cents'] / 100:.2f}",
                              "priceCurrency": currency}  # fmt: skip
    geo = event.get("geo_address_info")
    if isinstance(geo, dict) and geo.get("full_address"):
        # the one-line address Luma shows; PostalAddress parts would repeat the city
        item["_fields"] = {"address": geo["full_address"]}
    return item


def _prose_text(doc: Any) -> str:
    """Return the text of a ProseMirror document (Luma's ``description_mirror``), by paragraph."""
    blocks: list[str] = []
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict) or depth > 32:
            continue
        content: list[Any] = node["content"] if isinstance(node.get("content"), list) else []
        if any(isinstance(c, dict) and c.get("type") == "text" for c in content):
            blocks.append("".join(str(c.get("text") or "") for c in content if isinstance(c, dict)))
        else:
            stack.extend((c, depth + 1) for c in reversed(content))
    return "\n\n".join(b for b in blocks if b.strip())


def _luma_place(event: dict[str, Any]) -> dict[str, Any]:
    kind = str(event.get("location_type") or "offline")
    if kind != "offline":
        return {"@type": "VirtualLocation"}
    geo = event["geo_address_info"] if isinstance(event.get("geo_address_info"), dict) else {}
    place: dict[str, Any] = {
        "@type": "Place",
        "name": geo.get("place_name") or geo.get("address"),
        "address": {
            "@type": "PostalAddress",
            "addressLocality": geo.get("city"),
            "addressRegion": geo.get("region"),
            "addressCountry": geo.get("country"),
        },
    }
    point = event.get("coordinate")
    if isinstance(point, dict) and point.get("latitude") is not None:
        place["geo"] = {"latitude": point.get("latitude"), "longitude": point.get("longitude")}
    return place
