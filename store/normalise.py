"""Normalising as the store does it: topics and coordinates for each record.

:class:`Normaliser` works out what the store adds to every record before
keeping it (upsert_events calls it; the taxonomy is techcal.normalise.topics',
the place index techcal.store.places'); :func:`renormalise` does it again
for the stored events when the taxonomy changed.

Coordinates come, in this order, from the record's own GEO / JSON-LD geo
(``exact``), from its city or the city in its address via the gazetteer
(``city``), or from the source's city (``source``); ``geo_precision`` keeps
which. Online-only events get none: they are not anywhere.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from typing import Any

from techcal.normalise.gazetteer import Place, fold
from techcal.normalise.topics import Taxonomy, taxonomy
from techcal.store.places import Gazetteer, gazetteer

_POSTCODE_RE = re.compile(r"\b[\w-]*\d[\w-]*\b")
_META_TOPICS_DIGEST = "topics_digest"


class Normaliser:
    """Tags and places records; one per batch (it caches lookups)."""

    def __init__(self, topics: Taxonomy | None = None, places: Gazetteer | None = None) -> None:
        self.taxonomy = topics or taxonomy()
        self._places = places
        self._address_cache: dict[tuple[str, str, str], Place | None] = {}
        # a series' occurrences share their texts: each is tagged once
        self._topics_cache: dict[tuple[object, ...], tuple[str, ...]] = {}

    @property
    def places(self) -> Gazetteer:
        if self._places is None:
            self._places = gazetteer()
        return self._places

    def topics(
        self,
        title: str,
        description: str,
        categories: Iterable[str],
        extra: Iterable[str] = (),
    ) -> tuple[str, ...]:
        """Return the topics of an event (its text, its categories and ``extra``)."""
        joined = " ; ".join(categories)
        extra = tuple(extra)
        key = (title, description, joined, extra)
        found = self._topics_cache.get(key)
        if found is None:
            if len(self._topics_cache) >= 4096:
                self._topics_cache.clear()
            found = self._topics_cache[key] = self.taxonomy.tag(
                title, description, joined, extra=extra
            )
        return found

    def locate(
        self,
        *,
        lat: float | None,
        lon: float | None,
        venue: str | None,
        address: str | None,
        city: str | None,
        region: str | None,
        country: str | None,
        online: bool,
        source_city: str | None,
    ) -> tuple[float | None, float | None, str | None]:
        """Return (lat, lon, geo_precision) for an event."""
        if lat is not None and lon is not None:
            return lat, lon, "exact"
        own_city = city if city and (not source_city or fold(city) != fold(source_city)) else None
        if online and not (venue or address or own_city):
            return None, None, None
        if own_city:
            place = self._city(own_city, region, country)
            if place is not None:
                return place.lat, place.lon, "city"
        if address:
            place = self._address_city(address, region, country)
            if place is not None:
                return place.lat, place.lon, "city"
        if source_city:
            place = self._city(source_city, None, None)
            if place is not None:
                return place.lat, place.lon, "source"
        return None, None, None

    def _city(self, text: str, region: str | None, country: str | None) -> Place | None:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts:
            return None
        qualifiers = parts[1:3]
        if len(qualifiers) < 2 and region:
            qualifiers.append(region)
        if len(qualifiers) < 2 and country:
            qualifiers.append(country)
        return self.places.city(parts[0], *qualifiers[:2])

    def _address_city(self, address: str, region: str | None, country: str | None) -> Place | None:
        """Return the city an address names: the rightmost part that is a known city."""
        key = (address, region or "", country or "")
        if key in self._address_cache:
            return self._address_cache[key]
        parts = [_POSTCODE_RE.sub(" ", p).strip(" .") for p in re.split(r"[,\n]", address)]
        parts = [" ".join(p.split()) for p in parts]
        found = None
        for index in range(len(parts) - 1, -1, -1):
            candidate = parts[index]
            if not candidate or self.places.is_region_or_country(candidate):
                continue
            qualifiers = [q for q in parts[index + 1 : index + 3] if q]
            qualifiers += [q for q in (region, country) if q]
            # "Seattle WA US" (Calagator, many US exports): the region and
            # country follow the city without commas
            words = candidate.split()
            trailing: list[str] = []
            while len(words) > 1 and len(trailing) < 2:
                if not self.places.is_region_or_country(words[-1]):
                    break
                trailing.insert(0, words.pop())
            if trailing:
                candidate = " ".join(words)
                qualifiers = trailing + qualifiers
            place = self.places.city(candidate, *qualifiers[:2])
            if place is not None and not (
                qualifiers and place.ignored == ", ".join(qualifiers[:2])
            ):
                found = place
                break
        if len(self._address_cache) > 10_000:
            self._address_cache.clear()
        self._address_cache[key] = found
        return found


def tags_are_current(conn: sqlite3.Connection, topics: Taxonomy | None = None) -> bool:
    """Return True when stored topics were computed with the taxonomy in use."""
    digest = (topics or taxonomy()).digest
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_META_TOPICS_DIGEST,)).fetchone()
    return row is not None and row[0] == digest


def renormalise(
    conn: sqlite3.Connection,
    *,
    topics: Taxonomy | None = None,
    batch: int = 5000,
    commit: bool = True,
) -> int:
    """Re-tag and re-place every stored event; return how many changed.

    Run after the taxonomy changed (``techcal topics --retag``, or
    automatically before a crawl), and by the migration that added topics
    and places to older databases (inside its transaction: ``commit=False``).
    Otherwise commits in batches: safe to interrupt, the next run redoes it.
    """
    normaliser = Normaliser(topics)
    changed = 0
    last_id = 0
    while True:
        rows = conn.execute(_STORED_EVENTS, (last_id, batch)).fetchall()
        if not rows:
            break
        updates = [u for u in (_renormalised(normaliser, row) for row in rows) if u is not None]
        conn.executemany(
            "UPDATE events SET topics = ?, lat = ?, lon = ?, geo_precision = ? WHERE id = ?",
            updates,
        )
        if commit:
            conn.commit()
        changed += len(updates)
        last_id = rows[-1][0]
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        (_META_TOPICS_DIGEST, normaliser.taxonomy.digest),
    )
    if commit:
        conn.commit()
    return changed


# Stored events with ids above ?, at most ? of them, with what their topics
# and place were worked out from: the first source's city and the topics of
# every source that lists them.
_STORED_EVENTS = (
    "SELECT e.id, e.title, e.description, e.categories, e.topics, e.venue, e.address,"
    " e.city, e.region, e.country, e.online, e.lat, e.lon, e.geo_precision,"
    " s.city, (SELECT json_group_array(j.value) FROM provenance q"
    " JOIN sources t ON t.id = q.source_id, json_each(t.topics) j"
    " WHERE q.event_id = e.id AND q.removed_at IS NULL) FROM events e"
    " LEFT JOIN provenance p"
    " ON p.id = (SELECT min(id) FROM provenance WHERE event_id = e.id)"
    " LEFT JOIN sources s ON s.id = p.source_id"
    " WHERE e.id > ? ORDER BY e.id LIMIT ?"
)


def _renormalised(normaliser: Normaliser, row: tuple[Any, ...]) -> tuple[object, ...] | None:
    """Return the update (topics, lat, lon, precision, id) of a _STORED_EVENTS row, if any."""
    (
        event_id, title, description, categories, old_topics, venue, address, city,
        region, country, online, lat, lon, precision, source_city, source_topics,
    ) = row  # fmt: skip
    new_topics = normaliser.topics(
        title,
        description,
        json.loads(categories or "[]"),
        json.loads(source_topics or "[]"),
    )
    exact = precision == "exact" or (precision is None and lat is not None)
    new_lat, new_lon, new_precision = normaliser.locate(
        lat=lat if exact else None,
        lon=lon if exact else None,
        venue=venue,
        address=address,
        city=city,
        region=region,
        country=country,
        online=bool(online),
        source_city=source_city,
    )
    topics_json = json.dumps(list(new_topics), ensure_ascii=False) if new_topics else "[]"
    if (topics_json, new_lat, new_lon, new_precision) == (old_topics, lat, lon, precision):
        return None
    return topics_json, new_lat, new_lon, new_precision, event_id


def ensure_tags_current(conn: sqlite3.Connection) -> int:
    """Re-tag stored events if the taxonomy changed since they were tagged."""
    topics = taxonomy()
    if tags_are_current(conn, topics):
        return 0
    return renormalise(conn, topics=topics)
