"""One real event, one entry: matching a new source entry with stored events.

The same LUG meeting is on the group's Meetup feed, its own site, the
university calendar and a community calendar, under different titles,
slightly different times, venue spellings and UIDs. When a source lists an
entry techcal has not seen, :class:`Matcher` looks for a stored event from
another source that starts near the same time (within 3 hours; the same day
for all-day events) in the same place (or both online), and scores how alike
they are:

* canonical URLs equal (scheme, ``www.``, tracking parameters, trailing
  slash ignored): the same event;
* otherwise title similarity (the titles as sets of words, after dropping
  dates, numbering and filler words; plurals, prefixes and spellings within
  rapidfuzz ``ratio`` 85 count as one word; parts around ':' and ' - '
  compared too, and acronyms such as PLUG = Portland Linux/Unix Group
  understood), adjusted by venue similarity (rapidfuzz ``token_set_ratio``),
  distance, organizer and how far apart the start times are.

Within one source, distinct entries are never merged. A match links the
entry to the event as one more provenance row; :func:`merged_values` then
decides each field from all the event's sources (see its docstring).
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from techcal.normalise.gazetteer import distance_km, fold

#: two entries are one event when their score reaches this
THRESHOLD = 0.72
#: titles less alike than this are two events, whatever else they share
TITLE_FLOOR = 0.6
#: the farthest apart two timed entries of one event may start
MAX_START_GAP = 3 * 3600
#: query parameters that say where a click came from, not what the page is
_TRACKING = re.compile(r"^(utm_.*|fbclid|gclid|mc_[ce]id|ref|ref_src|_ga|igshid|s_cid|trk)$")
_MONTHS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "januar februar maerz marz mai juni juli oktober dezember"
).split()
_WEEKDAYS = (
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs "
    "fri sat sun montag dienstag mittwoch donnerstag freitag samstag sonntag"
).split()
# words that say what kind of gathering it is, not which one
_FILLER = set(
    (
        "the a an and of for at in on with to de der die das und im am zum zur mit von "
        "meetup meeting meetings monthly weekly night evening session edition event "
        "day days "
        "group user users usergroup ug chapter"
    ).split()
    + _MONTHS
    + _WEEKDAYS
)
_SPLITTERS = re.compile(r"\s*(?::|\s[-–—|]\s|\|)\s*|[\[\]()]")
_MONTH_WORDS = "|".join(sorted(_MONTHS, key=len, reverse=True))
# numbers that count or date an event, not name it: "#42", "No. 5", "3rd",
# "2027", "12/03", "18:30", "Dec 3", "3. Dezember" (a group called
# "Source 5" keeps its 5)
_NUMBERISH = re.compile(
    r"#\s*\d+|\bno\.?\s*\d+\b|\b\d+(?:st|nd|rd|th)\b|\b(?:19|20)\d\d\b"
    r"|\b\d{1,2}[./-]\d{1,2}(?:[./-]\d{2,4})?\b|\b\d{1,2}:\d{2}\b"
    rf"|\b\d{{1,2}}\.?\s+(?:{_MONTH_WORDS})\b|\b(?:{_MONTH_WORDS})\.?\s+\d{{1,2}}\b",
    re.IGNORECASE,
)


def _same_url(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    key = _canonical_cached(a)
    return key is not None and key == _canonical_cached(b)


@lru_cache(maxsize=8192)
def _canonical_cached(url: str) -> str | None:
    return canonical_url(url)


def canonical_url(url: str | None) -> str | None:
    """Return ``url`` without what varies between copies of one link.

    >>> canonical_url("http://www.Example.org/events/42/?utm_source=x&b=2#top")
    'example.org/events/42?b=2'
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    if not host:
        return None
    path = re.sub(r"/+$", "", parts.path) or ""
    query = [(k, v) for k, v in parse_qsl(parts.query) if not _TRACKING.match(k.lower())]
    text = host + path
    if query:
        text += "?" + urlencode(sorted(query))
    return text


@lru_cache(maxsize=16384)
def title_words(title: str) -> tuple[str, ...]:
    """Return the title's distinctive words: no dates, numbering or filler."""
    text = fold(_NUMBERISH.sub(" ", title))
    return tuple(w for w in text.split() if w not in _FILLER and (len(w) > 1 or w.isdigit()))


@lru_cache(maxsize=16384)
def title_variants(title: str) -> list[str]:
    """Return the title, and its parts around ':' / ' - ' / brackets, as word strings."""
    variants = [" ".join(title_words(title))]
    for part in _SPLITTERS.split(title):
        if part and part.strip():
            words = " ".join(title_words(part))
            if words and words not in variants:
                variants.append(words)
    return [v for v in variants if v]


@lru_cache(maxsize=16384)
def _head(title: str) -> str:
    """Return the part before a title's first ':' or ' - ' (often the group's name)."""
    parts = _SPLITTERS.split(title, maxsplit=1)
    if len(parts) < 2 or not parts[0].strip():
        return ""
    return " ".join(fold(parts[0]).split())


@lru_cache(maxsize=16384)
def _label(title: str) -> str:
    """Return the part before a title's first colon ("PyCascades" in "PyCascades: ...")."""
    head, colon, _ = title.partition(":")
    return " ".join(fold(head).split()) if colon and head.strip() else ""


@lru_cache(maxsize=16384)
def _body_words(title: str) -> str:
    """Return the distinctive words after a title's colon label."""
    _, colon, body = title.partition(":")
    return " ".join(title_words(body)) if colon else ""


def _initials(words: str) -> str:
    return "".join(w[0] for w in fold(words).split() if w)


def _same_word(a: str, b: str, ratio: Any) -> bool:
    if a == b or a == b + "s" or b == a + "s":
        return True
    if len(a) >= 4 and len(b) >= 4 and (a.startswith(b) or b.startswith(a)):
        return True  # intro / introduction, meetup / meetups
    return len(a) >= 5 and len(b) >= 5 and ratio(a, b) >= 85  # typos, other spellings


def _word_similarity(x: str, y: str, ratio: Any) -> float:
    """Return how alike two word strings are, as sets of (fuzzily equal) words.

    When one title's words are all in the other's, 1.0 ("Intro to eBPF" and
    "PLUG: Intro to eBPF"); when each has words the other lacks, the share of
    words in common ("PDX Python hack night" and "PDX Ruby hack night": 0.5).
    """
    xs, ys = set(x.split()), set(y.split())
    if not xs or not ys:
        return 0.0
    if min(len(xs), len(ys)) == 1:
        # one word proves little ("Standup" and "... Last Stand ..."): it must
        # be the other title's word exactly, and that title short
        single, other = (xs, ys) if len(xs) == 1 else (ys, xs)
        if not single <= other:
            return 0.0
        return 1.0 if len(other) <= 2 else 0.7
    exact = xs & ys
    rest_x, rest_y = xs - exact, ys - exact
    matched_x = exact | {a for a in rest_x if any(_same_word(a, b, ratio) for b in rest_y)}
    matched_y = exact | {b for b in rest_y if any(_same_word(a, b, ratio) for a in rest_x)}
    common = min(len(matched_x), len(matched_y))
    only_x, only_y = len(xs) - len(matched_x), len(ys) - len(matched_y)
    if only_x and only_y:
        return common / (common + only_x + only_y)
    return common / min(len(xs), len(ys))


def title_similarity(a: str, b: str) -> float:
    """Return how alike two titles are, 0..1, forgiving prefixes, dates and acronyms."""
    from rapidfuzz import fuzz

    va, vb = title_variants(a), title_variants(b)
    head_a, head_b = _head(a), _head(b)
    label_a, label_b = _label(a), _label(b)
    if label_a and label_b and fuzz.ratio(label_a, label_b) >= 75:
        # one prefix on both ("PyCascades: ...", "PyCascades 2027: ..."): it is the
        # conference or group, and the talks are told apart by the rest
        va = [v for v in (_body_words(a),) if v] or va
        vb = [v for v in (_body_words(b),) if v] or vb
    if not va or not vb:
        return 0.0
    best, best_words = 0.0, 0
    for x in va:
        for y in vb:
            score = _word_similarity(x, y, fuzz.ratio)
            # a part alone (one or two words) proves less than a whole title
            if (x != va[0] or y != vb[0]) and min(len(x.split()), len(y.split())) < 2:
                score *= 0.85
            if score > best:
                best, best_words = score, min(len(x.split()), len(y.split()))
    # the same short title under two groups' names is two events ("PDX
    # Python: Holiday social", "PDX Ruby: Holiday social"); a long shared
    # title under two labels ("PSU talk: ...", "CS Colloquium: ...") is one
    if best_words < 3 and head_a and head_b and fuzz.ratio(head_a, head_b) < 75:
        words_a, words_b = set(fold(a).split()), set(fold(b).split())
        named_alike = (
            set(head_a.split()) <= words_b
            or set(head_b.split()) <= words_a
            or _initials(head_a) == head_b.replace(" ", "")
            or _initials(head_b) == head_a.replace(" ", "")
        )
        if not named_alike:
            best *= 0.6
    # "PLUG" and "Portland Linux/Unix Group", "KCD" and "Kubernetes Community Days"
    if _acronym_of(a, b) or _acronym_of(b, a):
        best = max(best, 0.8)
    return best


@lru_cache(maxsize=16384)
def _venue_similarity(a: str, b: str) -> float:
    from rapidfuzz import fuzz

    return fuzz.token_set_ratio(fold(a), fold(b)) / 100


@lru_cache(maxsize=16384)
def _acronyms(text: str) -> set[str]:
    return {w for w in fold(text).split() if 3 <= len(w) <= 6}


def _acronym_of(short: str, long: str) -> bool:
    """Return True when a word of ``short`` is the initials of the first 3+ words of ``long``."""
    return bool(_acronyms(short) & _initial_sets(long))


#: words that make an entry a separate viewing of another event
_STREAM = re.compile(
    r"\b(watch party|livestream|live stream|stream|public viewing|viewing party|"
    r"übertragung|uebertragung)\b"
)


@lru_cache(maxsize=16384)
def _org_tokens(organizer: str | None) -> set[str]:
    """Return the short names an organizer goes by: "BeLUG", "SeaPIG", initials."""
    if not organizer:
        return set()
    # four letters or more: "LUG" or "ACM" alone names no particular group
    names = {w.lower() for w in re.findall(r"\b\w*[A-Z]\w*[A-Z]\w*\b", organizer) if len(w) >= 4}
    initials = _initials(re.split(r"[–—(,]| e\.v\.", organizer)[0])
    if len(initials) >= 4:
        names.add(initials)
    return {fold(n) for n in names}


def _generic(event: dict[str, Any]) -> bool:
    """Return True when a title says no more than who meets ("PLUG Monthly Meeting")."""
    words = set(title_words(event["title"])) - {"online", "regular", "general", "open"}
    organizer = event.get("organizer") or ""
    return words <= (set(fold(organizer).split()) | _org_tokens(organizer))


def _online_only(event: dict[str, Any]) -> bool:
    return bool(event["online"]) and event["lat"] is None and not event["venue"]


def _local_date(event: dict[str, Any], zone_of: dict[str, Any]) -> str:
    """Return the date ``event`` starts on, in the offset of ``zone_of``'s start."""
    offset = datetime.fromisoformat(zone_of["start"]).tzinfo
    return datetime.fromtimestamp(event["start_utc"], offset).date().isoformat()


def match_score(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Return how alike two entries are as one event (THRESHOLD decides; 1+ is certain)."""
    from rapidfuzz import fuzz

    if a["all_day"] or b["all_day"]:
        # an all-day entry's day, in its own zone, must hold the other's start
        day = a if a["all_day"] else b
        if _local_date(a, day) != _local_date(b, day):
            return 0.0
        gap = 0
    else:
        gap = abs(a["start_utc"] - b["start_utc"])
        if gap > MAX_START_GAP:
            return 0.0
    if _online_only(a) != _online_only(b):
        # a talk and its separately listed stream are two events
        return 1.0 if _same_url(a["url"], b["url"]) else 0.0
    distance = None
    exact = a.get("geo_precision") == "exact" and b.get("geo_precision") == "exact"
    if a["lat"] is not None and b["lat"] is not None:
        distance = distance_km(a["lat"], a["lon"], b["lat"], b["lon"])
        if distance > (3.0 if exact else 30.0):
            return 0.0
    elif a["city"] and b["city"]:
        if fold(a["city"].split(",")[0]) != fold(b["city"].split(",")[0]):
            return 0.0
    if _same_url(a["url"], b["url"]):
        return 1.0
    placeless = not any(e["lat"] is not None or e["city"] or e["venue"] for e in (a, b))
    fold_a, fold_b = fold(a["title"]), fold(b["title"])
    if bool(_STREAM.search(fold_a)) != bool(_STREAM.search(fold_b)):
        # a watch party or livestream of a talk is an event of its own
        return 0.0
    venue = None
    venue_a = " ".join(p for p in (a["venue"], a["address"]) if p)
    venue_b = " ".join(p for p in (b["venue"], b["address"]) if p)
    if venue_a and venue_b:
        venue = _venue_similarity(venue_a, venue_b)
    if exact and distance is not None and distance > 0.5 and (venue is None or venue < 0.5):
        return 0.0  # two buildings
    organizer = None
    if a["organizer"] and b["organizer"]:
        # as word sets: "Group 3 meetup" and "Group 4 meetup" are two groups
        organizer = _word_similarity(fold(a["organizer"]), fold(b["organizer"]), fuzz.ratio)
    same_place = (
        (venue is not None and venue >= 0.8)
        or (exact and distance is not None and distance <= 0.3)
        or (_online_only(a) and _online_only(b))
    )
    if gap <= 3600 and same_place and (_generic(a) or _generic(b)):
        # A title that names only its group ("PLUG Monthly Meeting") and a
        # calendar's title of the same evening ("December Meeting: Intro to
        # eBPF"): one organizer, one place, one hour. Two specific titles
        # (parallel talks of one conference) are not merged this way.
        if organizer is not None and organizer >= 0.85:
            return 0.9
        words_a, words_b = set(fold_a.split()), set(fold_b.split())
        if (_org_tokens(a["organizer"]) & words_b) or (_org_tokens(b["organizer"]) & words_a):
            return 0.85
    score = title_similarity(a["title"], b["title"])
    if placeless and (score < 0.9 or gap > 0):
        return 0.0  # nothing but a similar title and hour: not enough
    if score < TITLE_FLOOR:
        # parallel talks of one conference share organizer, room and hour
        return 0.0
    if venue is not None:
        if venue >= 0.8:
            score += 0.1
        elif venue < 0.45 and not (exact and distance is not None and distance <= 0.3):
            score -= 0.2
    if distance is not None and distance < 0.3 and exact:
        score += 0.05
    if organizer is not None:
        score += 0.1 if organizer >= 0.85 else (-0.3 if organizer < 0.5 else 0.0)
    if gap == 0:
        score += 0.05
    elif gap > 3600:
        score -= 0.1
    # not capped at 1: the best of several candidates must win on what sets
    # it apart ("Arbeitseinsatz" at 10:00 over "Arbeitseinsatz Part2" at 11:00)
    return max(0.0, score - gap / 1e6)


#: the columns of a stored event the matcher compares
_CANDIDATE_COLUMNS = (
    "id", "uid", "title", "url", "start", "start_utc", "all_day", "venue", "address", "city",
    "lat", "lon", "geo_precision", "online", "organizer",
)  # fmt: skip


class _Clues:
    """What a candidate must share with an entry to be worth scoring at all.

    A word of the title (or an acronym of one), the canonical URL, or a word
    of the organizer's name: without any of them match_score is below the
    threshold whatever else agrees.
    """

    def __init__(self, title: str, url: str | None, organizer: str | None) -> None:
        self.words = _all_words(title)
        self.short = _acronyms(title)
        self.initials = _initial_sets(title)
        self.url = url
        self.organizer = _org_words(organizer) if organizer else frozenset()

    def shared(
        self,
        title: str,
        url: str | None,
        organizer: str | None,
        common: frozenset[str] | set[str] = frozenset(),
    ) -> bool:
        words = _all_words(title)
        if (self.words & words) - common:
            return True
        if self.short & _initial_sets(title) or _acronyms(title) & self.initials:
            return True  # "PLUG" and "Portland Linux/Unix Group"
        if organizer and self.organizer:
            theirs = _org_words(organizer)
            if self.organizer <= theirs or theirs <= self.organizer:
                return True  # one organizer (the shortcut for titles naming only it)
        return _same_url(self.url, url)


@lru_cache(maxsize=16384)
def _org_words(organizer: str) -> frozenset[str]:
    return frozenset(title_words(organizer)) | frozenset(_org_tokens(organizer))


@lru_cache(maxsize=16384)
def _initial_sets(title: str) -> frozenset[str]:
    """Return the initials of the first 3-6 words of each part of ``title``."""
    found = set()
    for part in _SPLITTERS.split(title):
        words = fold(part or "").split()
        for k in range(3, min(len(words), 6) + 1):
            found.add("".join(w[0] for w in words[:k]))
    return frozenset(found)


@lru_cache(maxsize=16384)
def _all_words(title: str) -> frozenset[str]:
    return frozenset(w for variant in title_variants(title) for w in variant.split())


@dataclass
class Matcher:
    """Finds, for one source's new entries, the stored event each is another copy of."""

    conn: sqlite3.Connection
    source_id: int

    def find(
        self,
        entry: dict[str, Any],
        *,
        avoid: Iterable[str] = (),
        taken: set[int] | frozenset[int] = frozenset(),
    ) -> tuple[int, str] | None:
        """Return (event id, uid) of the best match for ``entry``, or None.

        ``avoid`` holds event uids this entry must not join (a user's split);
        ``taken`` the events another entry of the same source just joined.
        """
        start = entry["start_utc"]
        columns = ", ".join("e." + c for c in _CANDIDATE_COLUMNS)
        # (whether this source lists a candidate already is checked on the
        # few that score, not in SQL for every row of a busy evening)
        others = " AND e.removed_at IS NULL"
        box: tuple[float, ...] = ()
        if entry["lat"] is not None:
            # nothing more than 30 km away can be the same event (match_score's
            # widest radius); events with no coordinates are judged by city
            dlat = 0.28
            dlon = min(180.0, 0.28 / max(0.05, math.cos(math.radians(entry["lat"]))))
            lat, lon = entry["lat"], entry["lon"]
            if -180 < lon - dlon and lon + dlon < 180:
                others += (
                    " AND (e.lat IS NULL OR (e.lat BETWEEN ? AND ? AND e.lon BETWEEN ? AND ?))"
                )
                box = (lat - dlat, lat + dlat, lon - dlon, lon + dlon)
        if entry["all_day"]:
            # anything starting on that day, wherever it is (offsets up to 14 h)
            rows = self.conn.execute(
                f"SELECT {columns} FROM events e WHERE e.start_utc BETWEEN ? AND ?{others}",
                (start - 14 * 3600, start + 38 * 3600, *box),
            ).fetchall()
        else:
            rows = self.conn.execute(
                f"SELECT {columns} FROM events e WHERE e.start_utc BETWEEN ? AND ?"
                f" AND e.all_day = 0{others}",
                (start - MAX_START_GAP, start + MAX_START_GAP, *box),
            ).fetchall()
            # all-day entries of the same day (a small partial index)
            rows += self.conn.execute(
                f"SELECT {columns} FROM events e INDEXED BY events_all_day_start"
                f" WHERE e.all_day = 1 AND e.start_utc BETWEEN ? AND ?{others}",
                (start - 38 * 3600, start + 14 * 3600, *box),
            ).fetchall()
        avoided = set(avoid)
        scored: list[tuple[float, int, str]] = []
        clue = _Clues(entry["title"], entry["url"], entry["organizer"])
        common: set[str] = set()
        if len(rows) > 50:
            # a word most of a busy evening's events share ("meetup", a city)
            # tells none of them apart
            counts: dict[str, int] = {}
            for row in rows:
                for word in _all_words(row[2]):
                    counts[word] = counts.get(word, 0) + 1
            common = {w for w, n in counts.items() if n > len(rows) // 5}
        for row in rows:
            # most candidates share nothing with the entry: tell them apart on
            # the raw row before scoring (a city's busy evening has hundreds)
            if not clue.shared(row[2], row[3], row[14], common):
                continue
            candidate = dict(zip(_CANDIDATE_COLUMNS, row, strict=True))
            if candidate["uid"] in avoided or candidate["id"] in taken:
                continue
            score = match_score(entry, candidate)
            if score >= THRESHOLD:
                scored.append((score, candidate["id"], candidate["uid"]))
        for _score, event_id, uid in sorted(scored, key=lambda s: -s[0]):
            mine = self.conn.execute(
                "SELECT 1 FROM provenance WHERE event_id = ? AND source_id = ?"
                " AND removed_at IS NULL",
                (event_id, self.source_id),
            ).fetchone()
            if mine is None:  # one source's entries are never merged
                return event_id, uid
        return None


# -- which source's value wins ---------------------------------------------


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
            (r for r, *_ in ranked if not r.get("all_day") and _local_date(r, first) == day),
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
