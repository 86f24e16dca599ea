"""What a feed URL asks for: its parameters (``?topic=python&near=...``) as a Query.

The server's routes and the links the page and the site give share these,
so one filter has one URL (and one cache entry) whatever order its
parameters came in.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import partial

from techcal.errors import QueryError
from techcal.store.query import Query, build_query
from techcal.store.upcoming import topic_used

#: the filters a feed URL may carry, and their search option names
PARAMETERS = ("q", "topic", "kind", "near", "within", "from", "to", "days", "online")


def query_from_params(
    params: Mapping[str, Sequence[str]],
    *,
    now: datetime,
    conn: sqlite3.Connection | None = None,
) -> Query:
    """Return the Query of a feed URL's parameters (``?topic=python&near=...``).

    Parameters repeat like the options do (``topic=python&topic=rust``);
    unknown parameters are ignored (cache-busters such as ``?t=123``). Raises
    :class:`techcal.errors.QueryError` naming the bad one.
    """

    def one(name: str) -> str | None:
        values = [v for v in params.get(name, ()) if v.strip()]
        if len(values) > 1:
            raise QueryError(name, "give it once")
        return values[0] if values else None

    days = _days(one("days"))
    online = _online(one("online"))
    return build_query(
        text=one("q"),
        topics=[t for t in params.get("topic", ()) if t.strip()],
        kinds=[k for k in params.get("kind", ()) if k.strip()],
        near=one("near"),
        within=one("within"),
        date_from=one("from"),
        date_to=one("to"),
        days=days,
        online=online,
        limit=None,
        now=now,
        topic_in_store=partial(topic_used, conn) if conn is not None else _no_topic,
    )


def _days(text: str | None) -> int | None:
    if text is None:
        return None
    if not re.fullmatch(r"[0-9]{1,6}", text.strip()) or int(text) < 1:
        raise QueryError("days", f"{text!r} is not a number of days (1 or more)")
    return int(text)


def _online(text: str | None) -> bool | None:
    if text is None:
        return None
    flag = text.strip().lower()
    if flag in ("1", "true", "yes", "online"):
        return True
    if flag in ("0", "false", "no", "in-person"):
        return False
    raise QueryError("online", f"{text!r} is not yes or no")


def _no_topic(slug: str) -> bool:
    return False


def canonical_params(params: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """Return the known, non-empty parameters in a stable order (for links and cache keys)."""
    pairs: list[tuple[str, str]] = []
    for name in PARAMETERS:
        values = [v.strip() for v in params.get(name, ()) if v.strip()]
        if name in ("topic", "kind"):
            values = sorted(dict.fromkeys(values))
        pairs.extend((name, value) for value in values)
    return pairs


def pairs_to_lists(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Return (name, value) pairs as the lists of values of each name."""
    lists: dict[str, list[str]] = {}
    for name, value in pairs:
        lists.setdefault(name, []).append(value)
    return lists
