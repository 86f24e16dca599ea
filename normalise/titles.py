"""How alike two event titles are, as people write them.

Titles are compared as sets of distinctive words: dates, numbering and
filler words ("monthly meeting") dropped; plurals, prefixes and spellings
within rapidfuzz ``ratio`` 85 count as one word; the parts around ':' and
' - ' are compared too, and acronyms are understood (PLUG = Portland
Linux/Unix Group). Words that name a kind of gathering many groups hold
("Hack Night", "Coffee & Code") are told from words that name a group or a
subject (:func:`names_shared`). techcal.normalise.dedupe weighs this with
time and place.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from techcal.normalise.gazetteer import fold

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
# words that say what kind of gathering it is that many groups hold under
# the same title ("Hack Night", "Coffee & Code", "Open Lab", "Office Hours",
# "Stammtisch"): a title of these words alone names no group
_GATHERING = set(
    (
        "hack hacking hackers hacknight coffee code coding open lab labs office hours hour "
        "social socials drinks beers pub happy study help clinic project projects demo demos "
        "lightning talks talk show tell ama networking coworking jam dojo learn house party "
        "breakfast brunch lunch dinner games workshop stammtisch treff treffen offener offene"
    ).split()
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


@lru_cache(maxsize=16384)
def title_words(title: str) -> tuple[str, ...]:
    """Return the title's distinctive words: no dates, numbering or filler."""
    text = fold(_NUMBERISH.sub(" ", title))
    return tuple(w for w in text.split() if w not in _FILLER and (len(w) > 1 or w.isdigit()))


def title_variants(title: str) -> list[str]:
    """Return the title, and its parts around ':' / ' - ' / brackets, as word strings."""
    variants = [" ".join(title_words(title))]
    for part in _SPLITTERS.split(title):
        if part and part.strip():
            words = " ".join(title_words(part))
            if words and words not in variants:
                variants.append(words)
    return [v for v in variants if v]


def _head(title: str) -> str:
    """Return the part before a title's first ':' or ' - ' (often the group's name)."""
    parts = _SPLITTERS.split(title, maxsplit=1)
    if len(parts) < 2 or not parts[0].strip():
        return ""
    return " ".join(fold(parts[0]).split())


def _label(title: str) -> str:
    """Return the part before a title's first colon ("PyCascades" in "PyCascades: ...")."""
    head, colon, _ = title.partition(":")
    return " ".join(fold(head).split()) if colon and head.strip() else ""


def _body_words(title: str) -> str:
    """Return the distinctive words after a title's colon label."""
    _, colon, body = title.partition(":")
    return " ".join(title_words(body)) if colon else ""


def initials(words: str) -> str:
    """Return the first letters of ``words``, folded ("Portland Linux User Group": "plug")."""
    return "".join(w[0] for w in fold(words).split() if w)


def _same_word(a: str, b: str, ratio: Any) -> bool:
    if a == b or a == b + "s" or b == a + "s":
        return True
    if len(a) >= 4 and len(b) >= 4 and (a.startswith(b) or b.startswith(a)):
        return True  # intro / introduction, meetup / meetups
    return len(a) >= 5 and len(b) >= 5 and ratio(a, b) >= 85  # typos, other spellings


def word_similarity(x: str, y: str, ratio: Any) -> float:
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
    return form_similarity(title_form(a), title_form(b))


def form_similarity(a: TitleForm, b: TitleForm) -> float:
    """Return title_similarity of two titles' forms."""
    from rapidfuzz import fuzz

    va, vb = a.variants, b.variants
    if a.label and b.label and fuzz.ratio(a.label, b.label) >= 75:
        # one prefix on both ("PyCascades: ...", "PyCascades 2027: ..."): it is the
        # conference or group, and the talks are told apart by the rest. So
        # are two groups of one kind ("Group 3: ...", "Group 23: ..."): their
        # names are not compared as words of the talk (below, a short talk
        # title under two names is two events)
        va = (a.body,) if a.body else va
        vb = (b.body,) if b.body else vb
    if not va or not vb:
        return 0.0
    best, best_words = 0.0, 0
    for x in va:
        for y in vb:
            score = word_similarity(x, y, fuzz.ratio)
            # a part alone (one or two words) proves less than a whole title
            if (x != va[0] or y != vb[0]) and min(len(x.split()), len(y.split())) < 2:
                score *= 0.85
            if score > best:
                best, best_words = score, min(len(x.split()), len(y.split()))
    # the same short title under two groups' names is two events ("PDX
    # Python: Holiday social", "PDX Ruby: Holiday social"); a long shared
    # title under two labels ("PSU talk: ...", "CS Colloquium: ...") is one
    head_a, head_b = a.head, b.head
    if best_words < 3 and head_a and head_b and not _same_name(head_a, head_b):
        words_a, words_b = set(a.folded.split()), set(b.folded.split())
        named_alike = (
            set(head_a.split()) <= words_b
            or set(head_b.split()) <= words_a
            or initials(head_a) == head_b.replace(" ", "")
            or initials(head_b) == head_a.replace(" ", "")
        )
        if not named_alike:
            best *= 0.6
    # "PLUG" and "Portland Linux/Unix Group", "KCD" and "Kubernetes Community Days"
    if a.acronyms & b.initials or b.acronyms & a.initials:
        best = max(best, 0.8)
    return best


@lru_cache(maxsize=16384)
def _same_name(x: str, y: str) -> bool:
    """Return True when two title labels name one thing, not two of a kind.

    >>> _same_name("pycascades", "pycascades 2027")
    True
    >>> _same_name("philadelphia deno developers", "philadelphia elixir developers")
    False
    """
    from rapidfuzz import fuzz

    if fuzz.ratio(x, y) < 75:
        return False
    # spelled alike, but a word apart: two groups of one city and kind
    words_x, words_y = " ".join(title_words(x)), " ".join(title_words(y))
    return not words_x or not words_y or word_similarity(words_x, words_y, fuzz.ratio) == 1.0


def names_shared(a: str, b: str) -> bool:
    """Return True when two titles share a name (or an acronym of one), not only a kind.

    >>> names_shared("PLUG Hack Night", "Portland Linux/Unix Group: Hack Night")
    True
    >>> names_shared("Hack Night", "Rust ATX: Hack Night")
    False
    """
    return forms_share_names(title_form(a), title_form(b))


def forms_share_names(a: TitleForm, b: TitleForm) -> bool:
    """Return names_shared of two titles' forms."""
    from rapidfuzz import fuzz

    words_a, words_b = a.named, b.named
    if words_a & words_b or any(_same_word(x, y, fuzz.ratio) for x in words_a for y in words_b):
        return True
    return bool(a.acronyms & b.initials or b.acronyms & a.initials)


def initial_sets(title: str) -> frozenset[str]:
    """Return the initials of the first 3-6 words of each part of ``title``."""
    found = set()
    for part in _SPLITTERS.split(title):
        words = fold(part or "").split()
        for k in range(3, min(len(words), 6) + 1):
            found.add("".join(w[0] for w in words[:k]))
    return frozenset(found)


class TitleForm:
    """What the matcher compares of one title, worked out once (:func:`title_form`).

    Every text in it is folded (:func:`techcal.normalise.gazetteer.fold`:
    word characters and single spaces), which is what lets :meth:`encode`
    join them with control characters.
    """

    __slots__ = (
        "folded", "words", "variants", "head", "label", "body", "initials",
        "all_words", "acronyms", "named",
    )  # fmt: skip

    def __init__(
        self,
        folded: str,
        words: tuple[str, ...],
        variants: tuple[str, ...],
        head: str,
        label: str,
        body: str,
        initials: frozenset[str],
    ) -> None:
        self.folded, self.words, self.variants = folded, words, variants
        self.head, self.label, self.body, self.initials = head, label, body, initials
        # (cheap to derive, so not kept in the encoded form)
        self.all_words = frozenset(w for variant in variants for w in variant.split())
        self.acronyms = frozenset(w for w in folded.split() if 3 <= len(w) <= 6)
        self.named = self.all_words - _GATHERING

    def encode(self) -> str:
        """Return the form as one short text (:func:`decode_form` reads it back)."""
        words = " ".join(self.words)
        return _FIELD.join(
            (
                self.folded,
                _SAME if self.variants[:1] == (words,) else words,
                _PART.join(self.variants),
                self.head,
                _SAME if self.label == self.head and self.label else self.label,
                self.body,
                # (each part's initials of its first 3 to 6 words are the
                # prefixes of its longest: only those are kept)
                " ".join(sorted(i for i in self.initials if not _extended(i, self.initials))),
            )
        )


#: what joins the fields of an encoded form, and the variants within one;
#: "=" stands for a field equal to another (no folded text holds any of them)
_FIELD, _PART, _SAME = "\x1f", "\x1e", "="


def _extended(initials: str, found: frozenset[str]) -> bool:
    """Return True when one of ``found`` is ``initials`` and more."""
    return any(len(other) > len(initials) and other.startswith(initials) for other in found)


def decode_form(text: str) -> TitleForm:
    """Return the TitleForm ``text`` (from TitleForm.encode) holds; ValueError if damaged."""
    fields = text.split(_FIELD)
    if len(fields) != 7:
        raise ValueError("a damaged title form")
    folded, words, variants, head, label, body, found = fields
    parts = tuple(variants.split(_PART)) if variants else ()
    if words == _SAME:
        if not parts:
            raise ValueError("a damaged title form")
        words = parts[0]
    return TitleForm(
        folded,
        tuple(words.split()),
        parts,
        head,
        head if label == _SAME else label,
        body,
        frozenset(i[:k] for i in found.split() for k in range(3, len(i) + 1)),
    )


@lru_cache(maxsize=4096)
def title_form(title: str) -> TitleForm:
    """Return what the matcher compares of ``title``.

    >>> form = title_form("PLUG: Intro to eBPF (Dec 3)")
    >>> form.variants, form.label, sorted(form.acronyms)
    (('plug intro ebpf', 'plug', 'intro ebpf'), 'plug', ['dec', 'ebpf', 'intro', 'plug'])
    >>> decode_form(form.encode()).variants == form.variants
    True
    """
    return TitleForm(
        fold(title),
        title_words(title),
        tuple(title_variants(title)),
        _head(title),
        _label(title),
        _body_words(title),
        initial_sets(title),
    )
