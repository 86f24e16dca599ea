"""Series and health out: `techcal series`, `techcal sources health`, the series line of `show`.

Text is one line per series or source, in the words people use ("every
2nd Saturday, 19:00, since Mar 2024, next expected Sat 9 Jan"); JSON
carries the same as fields, dates in ISO 8601, for scripts.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from techcal.normalise.health import ATTENTION_STATES
from techcal.store.health import SeriesStatus, SourceStatus
from techcal.writers.text import day_text, since_text, visible


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = max((now - moment).total_seconds(), 0)
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h ago"
    return f"{int(seconds // 86400)}d ago"


def series_state_text(status: SeriesStatus, today: date) -> str:
    """Return a series' state in words: "quiet: nothing listed for Sat 9 Jan"."""
    health = status.health
    if health.state == "quiet":
        if health.missed:
            return f"quiet: nothing listed since {day_text(health.missed[0], today)}"
        if health.next_expected is not None:
            return f"quiet: nothing listed for {day_text(health.next_expected, today)}"
    if health.state == "over":
        return f"over: {len(health.missed)} missed since {day_text(health.missed[0], today)}"
    if health.state == "cancelled" and health.next_expected is not None:
        return f"cancelled on {day_text(health.next_expected, today)}"
    return health.state


def series_line(status: SeriesStatus, today: date) -> str:
    record = status.record
    last = record.last
    parts = [
        f"{record.title}: {record.describe()}",
        since_text(record.first),
        f"last {day_text(last, today)}",
    ]
    if status.health.next_expected is not None and status.health.state != "over":
        parts.append(f"next expected {day_text(status.health.next_expected, today)}")
    parts.append(series_state_text(status, today))
    parts.append("(" + ", ".join(record.sources) + ")")
    return visible(", ".join(parts[:-2]) + f"  [{parts[-2]}]  {parts[-1]}")


def series_dict(status: SeriesStatus) -> dict[str, Any]:
    record, health = status.record, status.health
    return {
        "id": record.id,
        "title": record.title,
        "sources": list(record.sources),
        "rule": record.rule.rrule(),
        "text": record.describe(),
        "time": record.time.strftime("%H:%M"),
        "timezone": record.timezone,
        "place": record.place,
        "first": record.first.isoformat(),
        "last": record.last.isoformat(),
        "events": len(record.members),
        "next_expected": health.next_expected.isoformat() if health.next_expected else None,
        "state": health.state,
        "missed": [d.isoformat() for d in health.missed],
    }


def series_text(statuses: list[SeriesStatus], today: date, *, as_json: bool) -> str:
    """Return `techcal series`: one line per series, or a JSON array."""
    if as_json:
        return json.dumps([series_dict(s) for s in statuses], indent=2, ensure_ascii=False)
    if not statuses:
        return "no series found yet (a group needs 3 meetings on one rhythm)"
    return "\n".join(series_line(s, today) for s in statuses)


def health_dict(status: SourceStatus) -> dict[str, Any]:
    def stamp(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "source": status.name,
        "url": status.url,
        "state": status.state,
        "attention": status.attention,
        "problems": list(status.problems),
        "last_success": stamp(status.last_ok),
        "last_change": stamp(status.changed_at),
        "last_new_event": stamp(status.last_new),
        "upcoming": status.upcoming,
        "series": [series_dict(s) for s in status.series],
        "advice": status.advice,
    }


def health_line(status: SourceStatus, now: datetime, today: date) -> str:
    """Return one source's line of `techcal sources health`."""
    if status.state in ATTENTION_STATES:
        mark = status.state.upper()
    elif any(s.attention for s in status.series):
        mark = "QUIET"
    else:
        mark = status.state
    parts = [
        f"ok {_ago(status.last_ok, now)}",
        f"new event {_ago(status.last_new, now)}",
        f"{status.upcoming} upcoming",
    ]
    if status.series:
        parts.append(
            "series: "
            + "; ".join(
                f"{s.record.title} {s.record.rule.describe()} ({series_state_text(s, today)})"
                for s in status.series
            )
        )
    else:
        parts.append("no series")
    parts.extend(status.problems)
    line = f"{status.name}  {mark}  " + " · ".join(parts)
    if status.advice:
        line += f" · {status.advice}"
    return visible(line)


def health_text(statuses: list[SourceStatus], now: datetime, *, as_json: bool) -> str:
    """Return `techcal sources health`: one line per source, or a JSON array."""
    if as_json:
        return json.dumps([health_dict(s) for s in statuses], indent=2, ensure_ascii=False)
    if not statuses:
        return "no sources (add one with `techcal sources add URL`)"
    today = now.date()
    lines = [health_line(s, now, today) for s in statuses]
    needing = sum(s.attention for s in statuses)
    lines.append(
        f"{needing} of {len(statuses)} source(s) need attention"
        if needing
        else f"all {len(statuses)} source(s) healthy"
    )
    return "\n".join(lines)
