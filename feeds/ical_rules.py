"""Recurrence rules that must not be expanded: they would walk for minutes, or forever."""

from __future__ import annotations

from typing import Any

from icalendar.cal import Component

_SUB_DAILY = frozenset({"SECONDLY", "MINUTELY", "HOURLY"})
_MONTH_DAYS = {2: 29, 4: 30, 6: 30, 9: 30, 11: 30}
# RFC 5545 3.3.10 value ranges (absolute values; negative ones count from the end)
_RULE_RANGES = {
    "BYMONTH": (1, 12),
    "BYMONTHDAY": (1, 31),
    "BYYEARDAY": (1, 366),
    "BYWEEKNO": (1, 53),
    "BYHOUR": (0, 23),
    "BYMINUTE": (0, 59),
    "BYSECOND": (0, 60),
    "BYSETPOS": (1, 366),
}


def bad_rule(entries: list[tuple[Component, int | None]]) -> str | None:
    """Return why a series must not be expanded, or None.

    dateutil walks a rule from its DTSTART until it has what was asked for:
    a rule that repeats every second since 1970, or one that can never match
    (INTERVAL=0, BYMONTH=13, a BYSETPOS with nothing to select from) walks
    for minutes, up to the year 9999. No real event series needs either.
    """
    for event, _ in entries:
        rules = event.get("RRULE")
        for rule in rules if isinstance(rules, list) else [rules]:
            if not rule or not hasattr(rule, "get"):
                continue
            for freq in rule.get("FREQ", []):
                if str(freq).upper() in _SUB_DAILY:
                    return f"repeats {str(freq).lower()}"
            for interval in rule.get("INTERVAL", []):
                if not isinstance(interval, int) or interval < 1:
                    return f"INTERVAL={interval} in RRULE"
            for part, (low, high) in _RULE_RANGES.items():
                for value in rule.get(part, []):
                    if isinstance(value, int) and not (low <= abs(value) <= high):
                        return f"{part}={value} in RRULE"
            positions = [abs(p) for p in rule.get("BYSETPOS", []) if isinstance(p, int)]
            if positions and min(positions) > _set_size_bound(rule):
                return "BYSETPOS beyond what each period can hold"
            months, days = rule.get("BYMONTH", []), rule.get("BYMONTHDAY", [])
            if (
                months
                and days
                and not any(
                    abs(day) <= _MONTH_DAYS.get(month, 31) for month in months for day in days
                )
            ):
                return "RRULE can never match (no such day in those months)"
    return None


def _set_size_bound(rule: Any) -> int:
    """Return an upper bound on the occurrences one period of ``rule`` holds (for BYSETPOS)."""
    freq = str((rule.get("FREQ") or ["YEARLY"])[0]).upper()
    days = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 31}.get(freq, 366)
    weekdays = len(rule.get("BYDAY", []))
    if weekdays:
        days = min(days, weekdays * {"DAILY": 1, "WEEKLY": 1, "MONTHLY": 5}.get(freq, 53))
    if rule.get("BYMONTHDAY"):
        months = 1 if freq in ("DAILY", "WEEKLY", "MONTHLY") else 12
        days = min(days, len(rule["BYMONTHDAY"]) * months)
    times = 1
    for part in ("BYHOUR", "BYMINUTE", "BYSECOND"):
        times *= max(1, len(rule.get(part, [])))
    return days * times


def recurs(event: Component) -> bool:
    """Return True when a VEVENT repeats (an empty ``RRULE:`` line does not count)."""
    return bool(event.get("RRULE")) or "RDATE" in event
