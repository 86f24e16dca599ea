"""One real event, one entry: matching a new source entry with stored events.

The same LUG meeting is on the group's Meetup feed, its own site, the
university calendar and a community calendar, under different titles,
slightly different times, venue spellings and UIDs. When a source lists an
entry techcal has not seen, the store (``techcal.store.matching``) reads
the stored events from other sources that start near the same time (within
3 hours; the same day for all-day events) and around the same place, and
:func:`ranked_matches` keeps those in the same place (or both online) and
scores how alike they are:

* canonical URLs equal (scheme, ``www.``, tracking parameters, trailing
  slash ignored): the same event;
* otherwise title similarity (the titles as sets of distinctive words,
  acronyms such as PLUG = Portland Linux/Unix Group understood: see
  techcal.normalise.titles), adjusted by venue similarity (rapidfuzz
  ``token_set_ratio``), distance, organizer and how far apart the start
  times are;
* titles that share only a kind of gathering ("Hack Night" and "Rust ATX:
  Hack Night", two groups' "Monthly Meetup" in one coworking space) are
  one event only when their sources link them: the same organizer, or one
  title or organizer naming the other's organizer.

Within one source, distinct entries are never merged. A match links the
entry to the event as one more provenance row; techcal.normalise.merge
then decides each field from all the event's sources.
"""

from __future__ import annotations

import hashlib
import math
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import combinations
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from techcal.normalise.gazetteer import distance_km, fold
from techcal.normalise.titles import (
    TitleForm,
    decode_form,
    form_similarity,
    forms_share_names,
    initials,
    title_form,
    title_words,
    word_similarity,
)

#: two entries are one event when their score reaches this
THRESHOLD = 0.72
#: titles less alike than this are two events, whatever else they share
TITLE_FLOOR = 0.6
#: the farthest apart two timed entries of one event may start
MAX_START_GAP = 3 * 3600
#: query parameters that say where a click came from, not what the page is
_TRACKING = re.compile(r"^(utm_.*|fbclid|gclid|mc_[ce]id|ref|ref_src|_ga|igshid|s_cid|trk)$")


def _same_url(a: dict[str, Any], b: dict[str, Any]) -> bool:
    key = _link(a)
    return key is not None and key == _link(b)


def _link(event: dict[str, Any]) -> str | None:
    """Return the key of ``event``'s canonical URL (from its match form, when it has one)."""
    if "link" in event:
        return event["link"]
    return link_key(event["url"])


@lru_cache(maxsize=8192)
def link_key(url: str | None) -> str | None:
    """Return a short key of ``url``'s canonical form: equal keys, equal links."""
    canonical = canonical_url(url)
    if canonical is None:
        return None
    return hashlib.blake2b(canonical.encode(), digest_size=6).hexdigest()


def match_form(title: str, url: str | None, organizer: str | None = None) -> str:
    """Return what the matcher compares of an event's title, link and organizer, as one text.

    The store keeps it per event (m011_match_index) so that a busy
    evening's events are not worked out again for every new entry;
    :func:`read_match_form` reads it back, :func:`clue_keys` gives the keys
    the event is found by.
    """
    words = ("=" + " ".join(sorted(_org_words(organizer)))) if organizer else ""
    return _LINK.join((title_form(title).encode(), link_key(url) or "", words))


@lru_cache(maxsize=8192)
def read_match_form(text: str) -> tuple[TitleForm, str | None]:
    """Return the title form and link key of a :func:`match_form`; ValueError if damaged.

    Cached: a busy evening's events are candidates of every entry around
    them, and of the same group's entry every week (forms are never changed
    once made; a full cache holds about 25 MB).
    """
    form, link, _words = _parts(text)
    return form, link


def _parts(text: str) -> tuple[TitleForm, str | None, frozenset[str] | None]:
    """Return a match form's title form, link key and organizer words (None: no organizer)."""
    rest, sep, words = text.rpartition(_LINK)
    form, sep2, link = rest.rpartition(_LINK)
    if not sep or not sep2 or (words and not words.startswith("=")):
        raise ValueError("a damaged match form")
    return decode_form(form), link or None, frozenset(words[1:].split()) if words else None


#: what joins a match form's title form, link key and organizer words
_LINK = "\x1f"


#: the version of match_form, clue_keys and what they rest on (titles,
#: canonical_url, organizer words): a store whose forms and keys were worked
#: out by another one files every event again
FORM_VERSION = "1"
#: the place of an event with no coordinates, as keys have it (see place_cell)
NO_PLACE = "*"


def place_cell(lat: float | None, lon: float | None) -> str:
    """Return the whole-degree cell of a place, as keys name it (NO_PLACE without one).

    >>> place_cell(45.51, -122.68), place_cell(None, None)
    ('45,-123', '*')
    """
    if lat is None or lon is None:
        return NO_PLACE
    return f"{math.floor(lat)},{math.floor(lon)}"


def box_cells(box: tuple[float, float, float, float]) -> list[str]:
    """Return the cells a box (lat min, lat max, lon min, lon max) touches, and NO_PLACE."""
    return [
        f"{lat},{lon}"
        for lat in range(math.floor(box[0]), math.floor(box[1]) + 1)
        for lon in range(math.floor(box[2]), math.floor(box[3]) + 1)
    ] + [NO_PLACE]


def clue_keys(text: str, cell: str) -> set[int]:
    """Return the keys the event of match form ``text`` in ``cell`` is found by.

    Its title's words, the acronym-like words that are not among them, the
    initials of its title's parts, its organizer's words and their whole
    set (an empty one for an organizer with no words), each in its place's
    cell (place_cell), and its link anywhere: each a way :class:`_Clues`
    lets a candidate through (see :func:`lookup_keys`).
    """
    form, link, organizer = _parts(text)
    keys = {_key("w", cell, w) for w in form.all_words}
    keys |= {_key("a", cell, w) for w in form.acronyms - form.all_words}
    keys |= {_key("i", cell, w) for w in form.initials}
    if organizer is not None:
        keys |= {_key("o", cell, w) for w in organizer}
        keys.add(_key("s", cell, " ".join(sorted(organizer))))
    if link:
        keys.add(_key("u", "", link))
    return keys


#: an organizer of more words than this is looked up by each word, not each set of them
_SUBSETS_UP_TO = 4


@dataclass
class Lookup:
    """The keys a new entry's candidates share one of, if _Clues lets them through.

    Every candidate in one of the entry's ``cells`` that _Clues.shared
    accepts has among its :func:`clue_keys` one of ``words`` (the entry's
    title words, each by its keys in those cells: those most of a busy
    evening's events share are left out, see common_words), one of
    ``others``, or every word of the entry's organizer: for that, one word
    of ``organizer`` (by its keys in the cells) is enough to look up, the
    least common.
    """

    words: dict[str, list[int]]
    organizer: dict[str, list[int]]
    others: set[int]


def lookup_keys(
    form: TitleForm, link: str | None, organizer: str | None, cells: list[str]
) -> Lookup:
    """Return the :class:`Lookup` of a new entry of title form ``form``, around ``cells``."""

    def keys(kind: str, token: str) -> list[int]:
        return [_key(kind, cell, token) for cell in cells]

    words = {w: keys("w", w) for w in form.all_words}
    others = {key for w in form.acronyms for key in keys("i", w)}
    others |= {key for w in form.initials for ns in ("w", "a") for key in keys(ns, w)}
    mine = sorted(_org_words(organizer)) if organizer else []
    if link:
        others.add(_key("u", "", link))
    if not mine:
        return Lookup(words, {}, others)
    # an organizer whose words are all the entry's organizer's: one of its subsets
    if len(mine) <= _SUBSETS_UP_TO:
        others |= {
            key
            for size in range(len(mine) + 1)
            for subset in combinations(mine, size)
            for key in keys("s", " ".join(subset))
        }
    else:
        others |= {key for w in mine for key in keys("o", w)} | set(keys("s", ""))
    return Lookup(words, {w: keys("o", w) for w in mine}, others)


def _key(kind: str, cell: str, token: str) -> int:
    """Return a key as the store keeps it: a signed 32-bit hash (equal tokens, equal keys)."""
    return zlib.crc32(f"{kind}:{cell}:{token}".encode()) - 2**31


def _form(event: dict[str, Any]) -> TitleForm:
    """Return ``event``'s title form: its own (from the store or the worker) or worked out."""
    form = event.get("form")
    return form if form is not None else title_form(event["title"])


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
def _venue_similarity(a: str, b: str) -> float:
    from rapidfuzz import fuzz

    return fuzz.token_set_ratio(fold(a), fold(b)) / 100


@lru_cache(maxsize=16384)
def _organizer_similarity(a: str, b: str) -> float:
    """Return how alike two organizers are, as word sets ("Group 3" and "Group 4" are two)."""
    from rapidfuzz import fuzz

    return word_similarity(fold(a), fold(b), fuzz.ratio)


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
    letters = initials(re.split(r"[–—(,]| e\.v\.", organizer)[0])
    if len(letters) >= 4:
        names.add(letters)
    return {fold(n) for n in names}


def _generic(event: dict[str, Any]) -> bool:
    """Return True when a title says no more than who meets ("PLUG Monthly Meeting")."""
    words = set(_form(event).words) - {"online", "regular", "general", "open"}
    organizer = event.get("organizer") or ""
    return words <= (set(fold(organizer).split()) | _org_tokens(organizer))


def _online_only(event: dict[str, Any]) -> bool:
    return bool(event["online"]) and event["lat"] is None and not event["venue"]


def local_date(event: dict[str, Any], zone_of: dict[str, Any]) -> str:
    """Return the date ``event`` starts on, in the offset of ``zone_of``'s start.

    (Two copies of an all-day event are on one day in the zone its source gave.)
    """
    offset = datetime.fromisoformat(zone_of["start"]).tzinfo
    return datetime.fromtimestamp(event["start_utc"], offset).date().isoformat()


def match_score(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Return how alike two entries are as one event (THRESHOLD decides; 1+ is certain)."""
    gap = _start_gap(a, b)
    if gap is None:
        return 0.0
    if _online_only(a) != _online_only(b):
        # a talk and its separately listed stream are two events
        return 1.0 if _same_url(a, b) else 0.0
    distance = None
    exact = a.get("geo_precision") == "exact" and b.get("geo_precision") == "exact"
    if a["lat"] is not None and b["lat"] is not None:
        distance = distance_km(a["lat"], a["lon"], b["lat"], b["lon"])
        if distance > (3.0 if exact else 30.0):
            return 0.0
    elif a["city"] and b["city"]:
        if fold(a["city"].split(",")[0]) != fold(b["city"].split(",")[0]):
            return 0.0
    if _same_url(a, b):
        return 1.0
    return _likeness(a, b, gap, distance if exact else None)


def _start_gap(a: dict[str, Any], b: dict[str, Any]) -> int | None:
    """Return the seconds between two entries' starts (0 for an all-day one's day), or None.

    None when they are too far apart to be one event.
    """
    if a["all_day"] or b["all_day"]:
        # an all-day entry's day, in its own zone, must hold the other's start
        day = a if a["all_day"] else b
        return 0 if local_date(a, day) == local_date(b, day) else None
    gap = abs(a["start_utc"] - b["start_utc"])
    return gap if gap <= MAX_START_GAP else None


def _likeness(a: dict[str, Any], b: dict[str, Any], gap: int, exact_km: float | None) -> float:
    """Return match_score for two entries near in time and place, with no shared link.

    ``exact_km`` is the distance between them when both have exact coordinates.
    """

    placeless = not any(e["lat"] is not None or e["city"] or e["venue"] for e in (a, b))
    form_a, form_b = _form(a), _form(b)
    fold_a, fold_b = form_a.folded, form_b.folded
    if bool(_STREAM.search(fold_a)) != bool(_STREAM.search(fold_b)):
        # a watch party or livestream of a talk is an event of its own
        return 0.0
    venue = None
    venue_a = " ".join(p for p in (a["venue"], a["address"]) if p)
    venue_b = " ".join(p for p in (b["venue"], b["address"]) if p)
    if venue_a and venue_b:
        venue = _venue_similarity(venue_a, venue_b)
    if exact_km is not None and exact_km > 0.5 and (venue is None or venue < 0.5):
        return 0.0  # two buildings
    organizer = None
    if a["organizer"] and b["organizer"]:
        # as word sets: "Group 3 meetup" and "Group 4 meetup" are two groups
        organizer = _organizer_similarity(a["organizer"], b["organizer"])
    same_place = (
        (venue is not None and venue >= 0.8)
        or (exact_km is not None and exact_km <= 0.3)
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
    score = form_similarity(form_a, form_b)
    if placeless and (score < 0.9 or gap > 0):
        return 0.0  # nothing but a similar title and hour: not enough
    if score < TITLE_FLOOR:
        # parallel talks of one conference share organizer, room and hour
        return 0.0
    if not forms_share_names(form_a, form_b) and not _same_group(a, b, organizer):
        # a coworking space's Wednesday: several groups' "Hack Night"
        return 0.0
    return _adjusted(score, gap, venue, organizer, exact_km)


def _same_group(a: dict[str, Any], b: dict[str, Any], organizer: float | None) -> bool:
    """Return True when the sources say two entries are one group's gathering.

    ``organizer`` is how alike their organizers are (None: one has none).
    """
    if organizer is not None and organizer >= 0.85:
        return True
    return any(
        _names_group(one["organizer"], text)
        for one, other in ((a, b), (b, a))
        for text in (other["title"], other["organizer"] or "")
    )


def _names_group(organizer: str | None, text: str) -> bool:
    """Return True when ``text`` names ``organizer``: by its short name or all its words.

    >>> _names_group("Toronto Linux Users Group", "TLUG Hack Night")
    True
    >>> _names_group("Rust ATX", "Rust ATX: Hack Night"), _names_group("ATX Hackers", "Hack Night")
    (True, False)
    """
    if not organizer or not text:
        return False
    words = set(fold(text).split())
    if _org_tokens(organizer) & words:
        return True
    own = set(title_words(organizer))
    return bool(own) and own <= words


def _adjusted(
    score: float, gap: int, venue: float | None, organizer: float | None, exact_km: float | None
) -> float:
    """Return a title score raised or lowered by how alike venue, organizer and time are."""
    if venue is not None:
        if venue >= 0.8:
            score += 0.1
        elif venue < 0.45 and not (exact_km is not None and exact_km <= 0.3):
            score -= 0.2
    if exact_km is not None and exact_km < 0.3:
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


#: the columns of a stored event the matcher compares (see ranked_matches):
#: the last two are its title's form and its link's key (read_match_form)
CANDIDATE_COLUMNS = (
    "id", "uid", "title", "url", "start", "start_utc", "all_day", "venue", "address", "city",
    "lat", "lon", "geo_precision", "online", "organizer", "form", "link",
)  # fmt: skip
_TITLE, _ORGANIZER, _FORM, _LINK_AT = 2, 14, 15, 16


class _Clues:
    """What a candidate must share with an entry to be worth scoring at all.

    A word of the title (or an acronym of one), the canonical URL, or a word
    of the organizer's name: without any of them match_score is below the
    threshold whatever else agrees.
    """

    def __init__(self, form: TitleForm, link: str | None, organizer: str | None) -> None:
        self.words = form.all_words
        self.short = form.acronyms
        self.initials = form.initials
        self.link = link
        self.organizer = _org_words(organizer) if organizer else frozenset()

    def shared(
        self,
        form: TitleForm,
        link: str | None,
        organizer: str | None,
        common: frozenset[str] | set[str] = frozenset(),
    ) -> bool:
        if (self.words & form.all_words) - common:
            return True
        if self.short & form.initials or form.acronyms & self.initials:
            return True  # "PLUG" and "Portland Linux/Unix Group"
        if organizer and self.organizer:
            theirs = _org_words(organizer)
            if self.organizer <= theirs or theirs <= self.organizer:
                return True  # one organizer (the shortcut for titles naming only it)
        return self.link is not None and self.link == link


@lru_cache(maxsize=16384)
def _org_words(organizer: str) -> frozenset[str]:
    return frozenset(title_words(organizer)) | frozenset(_org_tokens(organizer))


def ranked_matches(
    entry: dict[str, Any],
    rows: list[tuple[Any, ...]],
    *,
    avoid: Iterable[str] = (),
    taken: set[int] | frozenset[int] = frozenset(),
    common: set[str] | None = None,
) -> list[tuple[int, str]]:
    """Return (event id, uid) of the stored events ``entry`` may be a copy of, best first.

    ``rows`` are the candidates, in CANDIDATE_COLUMNS order (the events that
    start near it); ``avoid`` holds event uids this entry must not join (a
    user's split), ``taken`` the events another entry of the same source
    just joined. Only those scoring THRESHOLD or more are returned.
    ``common`` holds the words most events near the entry share, which
    tell none of them apart (by default: worked out from ``rows``, see
    :func:`common_words`).
    """
    avoided = set(avoid)
    scored: list[tuple[float, int, str]] = []
    clue = _Clues(_form(entry), _link(entry), entry["organizer"])
    if common is None:
        common = common_words(rows)
    for row in rows:
        # most candidates share nothing with the entry: tell them apart on
        # the raw row before scoring (a city's busy evening has hundreds)
        if not clue.shared(row[_FORM], row[_LINK_AT], row[_ORGANIZER], common):
            continue
        candidate = dict(zip(CANDIDATE_COLUMNS, row, strict=True))
        if candidate["uid"] in avoided or candidate["id"] in taken:
            continue
        score = match_score(entry, candidate)
        if score >= THRESHOLD:
            scored.append((score, candidate["id"], candidate["uid"]))
    return [(event_id, uid) for _score, event_id, uid in sorted(scored, key=lambda s: -s[0])]


#: how many events near an entry make its busy evening, and the share of
#: them a word must be in to tell none of them apart (see common_words)
BUSY, COMMON_SHARE = 50, 5


def common_words(rows: list[tuple[Any, ...]]) -> set[str]:
    """Return the title words more than a fifth of ``rows`` share, when they are a busy evening.

    (A word most of a busy evening's events share, "meetup" or a city,
    tells none of them apart.)
    """
    if len(rows) <= BUSY:
        return set()
    counts: dict[str, int] = {}
    for row in rows:
        for word in row[_FORM].all_words:
            counts[word] = counts.get(word, 0) + 1
    return {w for w, n in counts.items() if n > len(rows) // COMMON_SHARE}
