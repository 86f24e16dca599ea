"""The text of each message: a short title and a plain body that fits any channel.

Times are in the event's own zone ("Thu 3 Dec 2026, 18:30 PST"), places
come with their distance from the subscription's place, and every message
ends with the event's link and the subscription's name. Messages are
written when they are sent, from the event as it is then.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from techcal.event import StoredEvent
from techcal.normalise.gazetteer import distance_km
from techcal.notifier.subscriptions import Subscription
from techcal.notifier.told import place_text
from techcal.store.notified import events_by_id
from techcal.store.outbox import outbox_messages
from techcal.writers.text import event_when, visible, where

#: events a summary or a digest lists in full; the rest are counted
LIST_MAX = 10
#: a title longer than this is cut (many services show about one line)
TITLE_MAX = 120
#: said at the top of a message sent again after an interrupted delivery
RESENT = "(Sent again: techcal was stopped while sending this, so you may have it twice.)"


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def _cut(text: str, size: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"


def distance_text(km: float) -> str:
    """Return "12 km", or "under 1 km"."""
    return f"{km:.0f} km" if km >= 1 else "under 1 km"


def _event_lines(event: StoredEvent, distance: float | None) -> list[str]:
    lines = [event_when(event)]
    place = where(event)
    if place and place != "?":
        if distance is not None:
            place += f" ({distance_text(distance)} away)"
        lines.append(place)
    if event.topics:
        lines.append("Topics: " + ", ".join(event.topics))
    link = event.url or (event.online_url if event.online else None)
    if link:
        lines.append(link)
    return lines


def _footer(sub: Subscription) -> str:
    return f"— techcal subscription {sub.name!r}"


def _distance(event: StoredEvent, sub: Subscription, detail: dict[str, Any]) -> float | None:
    if "distance_km" in detail:
        return float(detail["distance_km"])
    near = sub.filters.near
    if near is not None and event.lat is not None and event.lon is not None:
        return distance_km(near.lat, near.lon, event.lat, event.lon)
    return None


def _short(event: StoredEvent, moment: str | None = None) -> str:
    """Return "Tue 1 Dec 18:00" in the event's zone."""
    text = event_when(event, moment)
    # "Tue 1 Dec 2026, 18:00 PST" -> "Tue 1 Dec 18:00"
    parts = text.replace(",", "").split()
    if event.all_day:
        return " ".join(parts[:3])
    return " ".join(parts[:3] + parts[4:5])


def render(
    kind: str,
    sub: Subscription,
    event: StoredEvent | None,
    detail: dict[str, Any],
    *,
    conn: sqlite3.Connection | None = None,
) -> Message:
    """Return the message of one outbox row."""
    if kind == "summary":
        return _summary(sub, detail, conn)
    if kind == "digest":
        return _digest(sub, detail, conn)
    if kind == "quiet":
        return _quiet(sub, detail)
    if kind == "watching":
        count = int(detail.get("series", 0))
        return Message(
            f"techcal: {sub.name!r} watches {count} series",
            f"You will hear when one of them goes quiet: its next meeting due within"
            f" a week and not listed.\n{_footer(sub)}",
        )
    if kind == "test":
        return Message(
            f"techcal: test message for {sub.name!r}",
            f"This target will get messages about: {sub.describe()}.\n{_footer(sub)}",
        )
    if event is None:
        return Message(
            f"techcal: an event of {sub.name!r} is gone",
            f"The event this message was about is no longer in the store.\n{_footer(sub)}",
        )
    title = event.title
    distance = _distance(event, sub, detail)
    lines = _event_lines(event, distance)
    if kind == "new":
        head = f"New: {title} ({_short(event)})"
    elif kind == "cancelled":
        head = f"Cancelled: {title} ({_short(event)})"
        if detail.get("removed"):
            lines.insert(0, "No longer listed by its sources: it may have been called off.")
        else:
            lines.insert(0, "Cancelled by the organisers.")
    elif kind == "changed":
        changes = describe_change(event, detail)
        head = f"{'Moved' if detail.get('start') else 'Changed'}: {title}"
        lines.insert(0, changes[0].upper() + changes[1:] + ".")
    elif kind == "reminder":
        left = int(detail.get("left", detail.get("before", 0)))
        head = f"In {_rounded(left)}: {title} ({_short(event)})"
    else:  # pragma: no cover - kinds are written by match() only
        head = f"{kind}: {title}"
    return Message(_cut(head, TITLE_MAX), "\n".join([*lines, _footer(sub)]))


def _rounded(seconds: int) -> str:
    """Return the time left as people say it: 50 min, 2h, 1d 3h."""
    if seconds < 3600:
        return f"{max(5, round(seconds / 300) * 5)} min"
    if seconds < 86400:
        hours = round(seconds / 1800) / 2
        return f"{hours:g}h"
    days, rest = divmod(round(seconds / 3600), 24)
    return f"{days}d" + (f" {rest}h" if rest else "")


def describe_change(event: StoredEvent, detail: dict[str, Any]) -> str:
    """Return "moved from Tue 1 Dec 18:00 to Wed 2 Dec 18:30; place: A -> B"."""
    parts = []
    if detail.get("start"):
        parts.append(f"moved from {_short(event, detail['start'])} to {_short(event)}")
    elif detail.get("end"):
        parts.append(f"now ends {_short(event, event.end) if event.end else 'open'}")
    if detail.get("place") is not None:
        old = detail["place"] or "no place given"
        new = place_text(event) or "no place given"
        parts.append(f"place changed from {old} to {new}")
    if detail.get("status") == "cancelled":
        parts.append("it is on again")
    return "; ".join(parts) or "details changed"


def _load(conn: sqlite3.Connection | None, ids: list[int]) -> dict[int, StoredEvent]:
    if conn is None or not ids:
        return {}
    return {e.id: e for e in events_by_id(conn, ids)}


def _summary(sub: Subscription, detail: dict[str, Any], conn: sqlite3.Connection | None) -> Message:
    count = int(detail.get("count", 0))
    events = _load(conn, list(detail.get("next", [])))
    lines = [f"Subscribed to events: {sub.describe()}."]
    if count:
        lines.append(
            f"{count} upcoming event{'s' if count != 1 else ''} already match"
            f"{'es' if count == 1 else ''}; from now on you hear about new ones, changes and"
            " cancellations."
        )
        lines.append("Next:")
        for eid in detail.get("next", []):
            event = events.get(eid)
            if event is not None:
                lines.append(f"- {_short(event)}: {_cut(event.title, 100)}")
    else:
        lines.append("Nothing matches yet; you will hear about new events as they appear.")
    lines.append(_footer(sub))
    title = f"techcal: {sub.name!r} is on ({count} upcoming)"
    return Message(_cut(title, TITLE_MAX), "\n".join(lines))


def _digest(sub: Subscription, detail: dict[str, Any], conn: sqlite3.Connection | None) -> Message:
    items = list(detail.get("items", []))
    rows = outbox_messages(conn, items) if conn is not None else []
    events = _load(conn, [r[1] for r in rows])
    sections: dict[str, list[str]] = {"new": [], "changed": [], "cancelled": []}
    cancelled = {event_id for _, event_id, kind, _ in rows if kind == "cancelled"}
    for _, event_id, kind, raw in rows:
        if kind != "cancelled" and event_id in cancelled:
            continue  # announced and called off within the period: said once
        event = events.get(event_id)
        if event is None:
            continue
        line = f"- {_short(event)}: {_cut(event.title, 100)}"
        if kind == "changed":
            line += f" ({describe_change(event, json.loads(raw))})"
        distance = _distance(event, sub, json.loads(raw))
        if distance is not None and kind == "new":
            line += f" ({distance_text(distance)})"
        sections.setdefault(kind, []).append(line)
    lines = []
    for kind, label in (("new", "New"), ("changed", "Changed"), ("cancelled", "Cancelled")):
        entries = sections.get(kind) or []
        if entries:
            lines.append(f"{label} ({len(entries)}):")
            lines.extend(entries[:LIST_MAX])
            if len(entries) > LIST_MAX:
                lines.append(f"  … and {len(entries) - LIST_MAX} more")
    total = sum(len(v) for v in sections.values())
    since = detail.get("since")
    period = f" since {datetime.fromisoformat(since):%a %d %b %H:%M} UTC" if since else ""
    lines.append(_footer(sub))
    title = (
        f"techcal {sub.digest} digest for {sub.name!r}: {total} update{'s' if total != 1 else ''}"
    )
    return Message(title + period if len(title + period) <= TITLE_MAX else title, "\n".join(lines))


def _quiet(sub: Subscription, detail: dict[str, Any]) -> Message:
    """Return the message of a series gone quiet (all it says is in ``detail``)."""
    title = str(detail.get("title") or "a group")
    rule = str(detail.get("rule") or "")
    day = _day(detail.get("date"))
    head = f"{title}'s meeting ({rule}) is not listed for {day}"
    lines = [f"{title} meets {rule}, {detail.get('time', '')}".rstrip(", ")]
    if detail.get("place"):
        lines[0] += f", at {detail['place']}"
    lines[0] += "."
    said = f"Nothing is listed for {day}"
    if detail.get("last"):
        said += f"; the last meeting listed was {_day(detail['last'])}"
    lines.append(said + ".")
    sources = ", ".join(str(s) for s in detail.get("sources") or [])
    if sources:
        lines.append(f"Watched in: {sources}.")
    page = detail.get("homepage")
    if page:
        lines.append(f"The group may have moved: try `techcal sources discover {page}`.")
    body = "\n".join(visible(line) for line in [*lines, _footer(sub)])
    return Message(_cut(visible(head), TITLE_MAX), body)


def _day(text: object) -> str:
    try:
        day = date.fromisoformat(str(text))
    except ValueError:
        return str(text)
    return f"{day:%a} {day.day} {day:%b %Y}"
