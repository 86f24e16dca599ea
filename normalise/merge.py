"""One event from several sources' copies: which source's value wins.

When techcal.normalise.dedupe finds that a new entry is another source's
copy of a stored event, the store keeps every source's record, and the
event's columns are :func:`merged_values` of them all.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from techcal.normalise.dedupe import local_date
from techcal.normalise.gazetteer import distance_km, fold


def _authority(source_kind: str, record: dict[str, Any], source_url: str) -> int:
    """Lower is more authoritative: the organizer's own site, then groups, then aggregators."""
    own = (urlsplit(record.get("url") or "").hostname or "x").removeprefix("www.") == (
        urlsplit(source_url).hostname or "y"
    ).removeprefix("www.")
    if source_kind != "other" and own:
        return 0
    return 1 if source_kind != "other" else 2


_PRECISION_RANK = {"exact": 0, "city": 1, "source": 2, None: 3}


def _same_place(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Return True when ``b``'s place does not contradict ``a``'s."""
    from rapidfuzz import fuzz

    venue_a = " ".join(p for p in (a.get("venue"), a.get("address")) if p)
    venue_b = " ".join(p for p in (b.get("venue"), b.get("address")) if p)
    if not venue_a:
        return True  # the authority says nothing about where
    if venue_b and fuzz.token_set_ratio(fold(venue_a), fold(venue_b)) >= 80:
        return True
    if a.get("lat") is not None and b.get("lat") is not None:
        # exact coordinates must agree; a city's only say "in that city"
        limit = 0.5 if a.get("geo_precision") == "exact" else 30.0
        return distance_km(a["lat"], a["lon"], b["lat"], b["lon"]) <= limit
    return False


def merged_values(entries: list[tuple[dict[str, Any], str, str, str]]) -> dict[str, Any]:
    """Return an event's columns from what each of its sources says.

    ``entries`` are (record, source kind, source url, first seen). The rules:
    the most authoritative source (the organizer's own site, then a group's
    or college's feed, then aggregators; earliest first among equals) gives
    the title, URL, kind, status, organizer, cost, venue and address; a timed
    copy on its day makes an all-day start precise; the most precise
    coordinates (exact, then city, then source) that agree with its place
    win; the longest description wins; topics and categories are the union.
    """
    ranked = sorted(entries, key=lambda e: (_authority(e[1], e[0], e[2]), e[3]))
    first = ranked[0][0]
    merged = dict(first)

    def first_set(name: str) -> Any:
        return next((r[name] for r, *_ in ranked if r.get(name) not in (None, "")), None)

    for name in ("url", "organizer", "cost", "online_url"):
        merged[name] = first_set(name)
    # the time: the most authoritative source's, made precise by a timed copy
    # of the same day (an aggregator's 18:30 does not move the group's day)
    when = first
    if first.get("all_day"):
        day = str(first.get("start") or "")[:10]
        when = next(
            (r for r, *_ in ranked if not r.get("all_day") and local_date(r, first) == day),
            first,
        )
    for name in ("start", "end", "start_utc", "end_utc", "all_day", "timezone"):
        merged[name] = when.get(name)
    if merged["end"] is None:
        same = next(
            (r for r, *_ in ranked if r.get("start_utc") == when.get("start_utc") and r.get("end")),
            None,
        )
        if same is not None:
            merged["end"], merged["end_utc"] = same["end"], same["end_utc"]
    # the place: the authoritative source's venue and address; coordinates
    # from the most precise copy that agrees with it
    for name in ("venue", "address", "city", "region", "country"):
        merged[name] = first.get(name) or first_set(name)
    placed = first
    for r, *_ in ranked:
        better = _PRECISION_RANK.get(r.get("geo_precision"), 3) < _PRECISION_RANK.get(
            placed.get("geo_precision"), 3
        )
        if better and _same_place(first, r):
            placed = r
    for name in ("lat", "lon", "geo_precision"):
        merged[name] = placed.get(name)
    merged["online"] = first.get("online")
    merged["description"] = max((r.get("description") or "" for r, *_ in ranked), key=len)
    for name in ("topics", "categories"):
        values: set[str] = set()
        for r, *_ in ranked:
            values.update(json.loads(r.get(name) or "[]"))
        merged[name] = json.dumps(sorted(values), ensure_ascii=False) if values else "[]"
    return merged
