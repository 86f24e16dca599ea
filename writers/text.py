"""Search results as text: a table that fits the terminal, JSON, CSV, iCalendar.

JSON carries DESIGN.md's fields (``id``, ``uid``, ``title``, ``start``,
``end``, ``all_day``, ``timezone``, ``url``, ``venue``, ``city``, ``lat``,
``lon``, ``online``, ``topics``, ``kind``, ``status``, ``sources``) and a few
more; times are ISO 8601 with their offset: the event's own, or ``--tz``'s
when given. The table shows times in the user's zone (``--tz``, else the
machine's).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from techcal.event import Rhythm, StoredEvent, zone_named
from techcal.normalise.clean import web_url
from techcal.store.query import Query, local_zone, zone

if TYPE_CHECKING:
    from techcal.store.upcoming import TopicCount

#: the JSON fields of an event, in order
JSON_FIELDS = (
    "id", "uid", "title", "start", "end", "all_day", "timezone", "url", "venue", "address",
    "city", "region", "country", "lat", "lon", "geo_precision", "online", "online_url",
    "topics", "kind", "status", "organizer", "cost", "sequence", "description",
)  # fmt: skip
CSV_FIELDS = (
    "id", "uid", "start", "end", "all_day", "timezone", "title", "url", "venue", "address",
    "city", "region", "country", "lat", "lon", "online", "kind", "status", "topics", "sources",
    "distance_km",
)  # fmt: skip


def _moment(text: str | None, tz: tzinfo | None, all_day: bool) -> str | None:
    if text is None:
        return None
    if tz is None or all_day:
        return text  # all-day dates are the same day everywhere
    return datetime.fromisoformat(text).astimezone(tz).isoformat()


def event_to_json(event: StoredEvent, tz: tzinfo | None = None) -> dict[str, Any]:
    """Return the JSON object of one event (``search --format json``, ``show --json``)."""
    data = {name: getattr(event, name) for name in JSON_FIELDS}
    # writers stay strict whatever the store holds: only http(s) links go out
    data["url"] = web_url(event.url)
    data["online_url"] = web_url(event.online_url)
    data["start"] = _moment(event.start, tz, event.all_day)
    data["end"] = _moment(event.end, tz, event.all_day)
    data["topics"] = list(event.topics)
    data["sources"] = [{**s.to_dict(), "url": web_url(s.url)} for s in event.sources]
    data["series"] = event.series.to_dict() if event.series is not None else None
    if event.distance_km is not None:
        data["distance_km"] = round(event.distance_km, 2)
    return data


def to_json(events: Iterable[StoredEvent], tz: tzinfo | None = None) -> str:
    """Return the results as a JSON array."""
    return json.dumps([event_to_json(e, tz) for e in events], indent=2, ensure_ascii=False)


def to_csv(events: Iterable[StoredEvent], tz: tzinfo | None = None) -> str:
    """Return the results as CSV with a header row (lists joined with ';')."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for event in events:
        data = event_to_json(event, tz)
        data["topics"] = ";".join(event.topics)
        data["sources"] = ";".join(s.name for s in event.sources)
        data["distance_km"] = data.get("distance_km", "")
        writer.writerow(["" if data.get(f) is None else data[f] for f in CSV_FIELDS])
    return out.getvalue()


def when(event: StoredEvent, tz: tzinfo, *, now: datetime) -> str:
    """Return ``Thu 03 Dec 18:00`` (with the year when it is not this year's)."""
    start = event.start_at
    if not event.all_day:
        start = start.astimezone(tz)
    year = "" if start.year == now.astimezone(tz).year else f" {start.year}"
    day = f"{start:%a %d %b}{year}"
    return f"{day} all day" if event.all_day else f"{day} {start:%H:%M}"


def event_when(event: StoredEvent, moment: str | None = None) -> str:
    """Return "Thu 3 Dec 2026, 18:30 PST" in the event's own zone (its start, or ``moment``)."""
    value = datetime.fromisoformat(moment or event.start)
    if event.all_day:
        day: date = value.date()
        return f"{day:%a} {day.day} {day:%b %Y} (all day)"
    zone: tzinfo | None = zone_named(event.timezone)
    if zone is None:
        # no zone name: the source's own offset, as stored (UTC when it gave UTC)
        local = value if value.utcoffset() is not None else value.replace(tzinfo=UTC)
        offset = local.strftime("%z")
        label = "UTC" if offset in ("+0000", "") else f"UTC{offset[:3]}:{offset[3:]}"
        return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {label}"
    local = value.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname() or ''}".strip()


def where(event: StoredEvent) -> str:
    """Return the shortest useful place text of an event."""
    parts = [p for p in (event.venue, event.city) if p]
    if not parts and event.address:
        parts = [event.address]
    place = ", ".join(dict.fromkeys(parts))
    if event.online:
        return f"{place} + online" if place else "online"
    return place or "?"


#: characters a terminal acts on instead of showing: C0 and C1 controls, DEL, and
#: the bidirectional embeddings, overrides and isolates that make text read
#: differently than it is stored (the plain direction marks that Arabic and
#: Hebrew titles need are left alone)
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    r"""Return ``text`` with what a terminal would act on escaped, so it is shown, not obeyed.

    >>> visible("Meetup\x1b[2Jnight")
    'Meetup\\x1b[2Jnight'
    """
    return _UNSHOWABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _cell(text: str) -> str:
    """Return a table cell: one line, whitespace runs collapsed, controls escaped."""
    return visible(" ".join(text.split()))


def _cut(text: str, width: int | None) -> str:
    if width is None or len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"


def terminal_width() -> int | None:
    """Return the width of the terminal standard output goes to, or None when it is not one.

    A pipe or a file gets whole cells (as khal and sqlite-utils do): cutting
    titles to fit a screen nobody looks at would lose them for ``grep``.
    ``TECHCAL_COLUMNS`` asks for a width anyway: the demo, which shows its
    children's output on its own terminal through a pipe, sets it.
    """
    asked = os.environ.get("TECHCAL_COLUMNS", "")
    if asked.isdigit() and int(asked) > 0:
        return int(asked)
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size((100, 24)).columns


def to_table(
    events: list[StoredEvent], tz: tzinfo, *, now: datetime, width: int | None = None
) -> str:
    """Return the results as an aligned table that fits ``width`` columns (None: whole cells)."""
    show_km = any(e.distance_km is not None for e in events)
    rows = []
    for event in events:
        title = event.title
        if event.status == "cancelled":
            title = f"CANCELLED: {title}"
        km = f"{event.distance_km:.0f}" if event.distance_km is not None else ""
        rows.append(
            [
                str(event.id),
                when(event, tz, now=now),
                _cell(title),
                _cell(where(event)),
                km,
                _cell(",".join(event.topics)),
            ]
        )
    headers = ["id", "when", "title", "where", "km", "topics"]
    if not show_km:
        headers.pop(4)
        for row in rows:
            row.pop(4)
    # fixed columns keep their width; title, where and topics share the rest
    fixed = [0, 1] + ([4] if show_km else [])
    widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) for i in range(len(headers))]
    if width is not None:
        _fit(widths, headers, rows, fixed, width)
    lines = []
    for row in [headers, *rows]:
        cells = [_cut(cell, widths[i]) for i, cell in enumerate(row)]
        cells = [
            cell.rjust(widths[i]) if i == 0 or (show_km and i == 4) else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _fit(
    widths: list[int], headers: list[str], rows: list[list[str]], fixed: list[int], width: int
) -> None:
    """Shrink the flexible columns of ``widths`` so a row fits ``width`` columns."""
    flexible = [i for i in range(len(headers)) if i not in fixed]
    spare = width - sum(widths[i] for i in fixed) - 2 * (len(headers) - 1)
    shares = {flexible[0]: 0.5, flexible[1]: 0.3, flexible[2]: 0.2}
    for i in flexible:
        widths[i] = max(min(widths[i], int(spare * shares[i])), len(headers[i]))
    # give what a narrow column leaves unused to the title
    used = sum(widths) + 2 * (len(headers) - 1)
    if used < width:
        natural = max(len(headers[flexible[0]]), *(len(r[flexible[0]]) for r in rows))
        widths[flexible[0]] = min(natural, widths[flexible[0]] + width - used)


def day_text(day: date, today: date) -> str:
    """Return ``Sat 9 Jan``, with the year when it is not ``today``'s."""
    text = f"{day:%a} {day.day} {day:%b}"
    return text if day.year == today.year else f"{text} {day.year}"


def since_text(day: date) -> str:
    return f"since {day:%b %Y}"


def rhythm_text(rhythm: Rhythm, today: date) -> str:
    """Return the series line of an event ("every 2nd Saturday, 19:00, since Mar 2024, ...")."""
    parts = [rhythm.text, since_text(rhythm.since)]
    if rhythm.next_expected is not None:
        parts.append(f"next expected {day_text(rhythm.next_expected, today)}")
    return visible(", ".join(parts) + f" ({rhythm.title})")


def to_text(event: StoredEvent, tz: tzinfo, *, now: datetime) -> str:
    """Return one event in full, with every source that lists it (``techcal show``)."""
    title = _cell(event.title)
    lines = [title, "=" * min(len(title), 78)]

    def add(label: str, value: object) -> None:
        if value not in (None, "", []):
            lines.append(f"{label + ':':<12}{_cell(str(value))}")

    for label, value in _times(event, tz, now=now):
        add(label, value)
    status = event.status
    if event.removed_at:
        status += f", no longer listed by any source (since {event.removed_at})"
    add("status", status)
    add("where", where(event))
    if event.series is not None:
        add("series", rhythm_text(event.series, now.astimezone(tz).date()))
    add("address", event.address)
    if event.lat is not None:
        add("coordinates", f"{event.lat:.5f},{event.lon:.5f} ({event.geo_precision})")
    add("online", event.online_url)
    add("url", event.url)
    add("kind", event.kind)
    add("topics", ", ".join(event.topics))
    add("organizer", event.organizer)
    add("cost", event.cost)
    add("id", f"{event.id}  uid {event.uid}  sequence {event.sequence}")
    if event.description:
        lines.append("")
        for paragraph in event.description.splitlines():
            lines.extend(textwrap.wrap(visible(paragraph), 78) or [""])
    lines.append("")
    lines.append(f"sources ({len(event.sources)}):")
    for source in event.sources:
        gone = " [no longer listed]" if source.removed else ""
        lines.append(f"  {_cell(source.name)} ({source.kind}){gone}")
        lines.append(f"    title: {_cell(source.title or '')}")
        lines.append(f"    start: {source.start}")
        if source.url:
            lines.append(f"    url:   {_cell(source.url)}")
        entry = _cell(source.source_uid)
        lines.append(f"    entry: {entry}  (first seen {source.first_seen})")
    return "\n".join(lines)


def _times(event: StoredEvent, tz: tzinfo, *, now: datetime) -> list[tuple[str, str]]:
    """Return the "when" of ``show`` in ``tz``, and the local time where the event is."""
    start = when(event, tz, now=now)
    end = event.end_at
    if end is not None and not event.all_day:
        local_end = end.astimezone(tz)
        same_day = local_end.date() == event.start_at.astimezone(tz).date()
        start += f" - {local_end:%H:%M}" if same_day else f" - {local_end:%a %d %b %H:%M}"
    zone_name = getattr(tz, "key", None) or str(tz)
    if event.all_day:
        return [("when", start)]
    times = [("when", f"{start} ({zone_name})")]
    there = zone_named(event.timezone) if event.timezone != zone_name else None
    if there is not None:
        local = event.start_at.astimezone(there)
        times.append(("local time", f"{local:%a %d %b %H:%M} ({event.timezone})"))
    return times


def results(
    events: list[StoredEvent], fmt: str, query: Query, *, now: datetime, width: int | None = None
) -> str:
    """Return search results as ``fmt`` (table, json, csv, ics) prints them, ending in a newline.

    Times are in the query's zone (``--tz``): the table's always (else this
    machine's), JSON's and CSV's only when one was given (else each
    event's own offset).
    """
    shown_tz = zone(query.tz)
    given_tz = shown_tz if query.tz else None
    if fmt == "json":
        return to_json(events, given_tz) + "\n"
    if fmt == "csv":
        return to_csv(events, given_tz)
    if fmt == "ics":
        from techcal.writers.ical import calendar, feed_name

        body = calendar(((e, e.source_names()) for e in events), name=feed_name(query))
        return body.decode("utf-8").replace("\r\n", "\n")
    return to_table(events, shown_tz, now=now, width=width) + "\n"


def show_text(event: StoredEvent, tz: tzinfo | None, *, as_json: bool, now: datetime) -> str:
    """Return ``techcal show``'s text of one event: in full, or as JSON.

    ``tz`` is ``--tz``'s zone: None shows the text in this machine's zone,
    and JSON in the event's own offsets.
    """
    if as_json:
        return json.dumps(event_to_json(event, tz), indent=2, ensure_ascii=False)
    return to_text(event, tz or local_zone(), now=now)


def topics_text(rows: Sequence[TopicCount], *, as_json: bool = False) -> str:
    """Return ``techcal topics``' list: aligned lines, or a JSON array."""
    if as_json:
        return json.dumps([row._asdict() for row in rows], indent=2, ensure_ascii=False) + "\n"
    width = max((len(r.topic) for r in rows), default=5)
    return "".join(f"{r.topic:<{width}}  {r.upcoming:>6}  {r.label}\n" for r in rows)
