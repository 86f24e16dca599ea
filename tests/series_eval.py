"""The labelled set of series, and scoring techcal's series detection against it.

Each :class:`History` is what one source lists: a group's own calendar (two
years of it, or only the few upcoming meetings a Meetup feed shows), an
aggregator mixing several groups with one-off specials and conferences, or a
calendar with no series at all. They are made here, from a seeded
``random.Random``, after the shapes real exports have: talk titles behind
the group's name ("PLUG: Intro to Nix"), numbered and dated titles ("Rust
Berlin Meetup #42", "... - October 2025"), German month names, times given
in UTC so the local time shifts an hour across DST, meetings skipped,
cancelled, moved for Thanksgiving or December, a summer break, a new venue,
the expanded occurrences of an iCal RRULE with its overrides.

The true dates come from dateutil's RRULE expansion, not from the code under
test. Every labelled series names the source_uids that belong to it (its
cancelled and moved meetings too, not the specials) and its true rule.
:func:`score` matches detected series to labelled ones: same rule (BYMONTH
aside) and member sets alike (Jaccard >= 0.8).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from techcal.event import Event
from techcal.normalise.series import Occurrence, detect

LA, NYC, BERLIN = "America/Los_Angeles", "America/New_York", "Europe/Berlin"
#: a detected series is a labelled one when their members are this alike
MIN_JACCARD = 0.8

TALKS = [
    "Intro to Nix", "Kubernetes the hard way", "eBPF for mortals", "Writing a shell in Rust",
    "ZFS on Linux", "Home Assistant deep dive", "Ansible for beginners", "systemd timers",
    "Wayland in 2025", "Packaging Python apps", "Postgres internals", "Self-hosting email",
    "WireGuard VPNs", "GPG and you", "Building a homelab", "Emacs vs Vim, the rematch",
    "Btrfs snapshots", "Raspberry Pi clusters", "Lightning talks", "Open source licensing 101",
    "Git internals", "Mesh networking", "The Linux boot process", "Containers without Docker",
    "Flatpak and Snap", "Intro to Guix", "Debugging with gdb", "Terraform state",
    "Prometheus & Grafana", "Rust for Pythonistas", "Async Python", "Type hints at scale",
    "What's new in Django 5", "Data pipelines with DuckDB", "Web scraping ethically",
    "Property-based testing", "FastAPI in production", "Jupyter tips and tricks",
    "Pandas vs Polars", "WebAssembly outside the browser", "htmx in anger",
    "Accessibility audits", "Svelte 5 runes", "Node streams", "TypeScript generics",
    "Go generics in practice", "gRPC without tears", "Fuzzing Go code",
    "Embedded Rust on the RP2040", "The Bevy game engine", "Tokio internals", "Unsafe Rust",
    "Writing kernel modules", "RISC-V boards", "OpenStreetMap editing", "3D printing workflows",
    "KiCad for PCB design", "Password managers", "Threat modelling", "Privacy on Android",
    "LineageOS", "Mastodon admin stories", "Observability on a budget", "SQLite is enough",
    "Nushell", "Zig for C programmers", "Elixir LiveView", "Phoenix at scale",
]  # fmt: skip
SPEAKERS = [
    "Ada Ruiz", "Bo Chen", "Carla Osei", "Dmitri Volkov", "Erin Walsh", "Farah Haddad",
    "Gus Lindqvist", "Hana Sato", "Ines Moreau", "Jamal Price", "Kirsten Vogel", "Luis Ortega",
    "Mei Tanaka", "Nia Brooks", "Omar Farouk", "Priya Natarajan", "Quinn Adler", "Rosa Silva",
]  # fmt: skip
MONTHS_DE = (
    "", "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
    "Oktober", "November", "Dezember",
)  # fmt: skip


@dataclass
class Label:
    name: str
    rrule: str
    uids: set[str] = field(default_factory=set)


@dataclass
class History:
    name: str
    category: str
    events: list[Event]
    labels: list[Label]
    #: an iCal feed whose recurring sets arrive expanded: "UID#RECURRENCE-ID" source_uids
    rrule_feed: bool = False


@dataclass
class Score:
    labelled: int = 0
    detected: int = 0
    matched: int = 0
    #: category: [labelled, matched labelled, detected, matched detected]
    by_category: dict[str, list[int]] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.matched / self.detected if self.detected else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.labelled if self.labelled else 1.0


class _Calendar:
    """One source's events being made, and its labels."""

    def __init__(self, name: str, category: str, zone: str = LA, *, rrule_feed: bool = False):
        self.name, self.category, self.zone = name, category, zone
        self.tz = ZoneInfo(zone)
        self.rng = random.Random(f"series-{name}")
        self.events: list[Event] = []
        self.labels: dict[str, Label] = {}
        self.rrule_feed = rrule_feed
        self.talks = self.rng.sample(TALKS, len(TALKS))

    def talk(self) -> str:
        self.talks.append(self.talks.pop(0))
        return self.talks[-1]

    def add(
        self,
        title: str,
        day: date,
        at: time,
        venue: str = "",
        *,
        status: str = "confirmed",
        label: str | None = None,
        utc: bool = False,
        uid: str | None = None,
        hours: float = 2,
    ) -> str:
        local = datetime.combine(day, at)
        if utc:
            # a feed with one UTC time all year: the summer offset fixes it, so
            # the local time is an hour earlier in winter
            summer = datetime(day.year, 7, 1, tzinfo=self.tz).utcoffset() or timedelta()
            start = (local - summer).replace(tzinfo=UTC).astimezone(self.tz)
        else:
            start = local.replace(tzinfo=self.tz)
        uid = uid or f"{self.name}-{len(self.events)}@example.org"
        self.events.append(
            Event(
                source=self.name,
                source_uid=uid,
                title=title,
                start=start,
                end=start + timedelta(hours=hours),
                timezone=self.zone,
                venue=venue or None,
                city="Berlin" if self.zone == BERLIN else None,
                status=status,
            )
        )
        if label is not None:
            self.labels[label].uids.add(uid)
        return uid

    def meet(
        self,
        label: str,
        rrule: str,
        span: tuple[date, date],
        at: time,
        title: str,
        venue: str | list[tuple[date, str]] = "",
        *,
        skip: float = 0.05,
        cancel: float = 0.03,
        jitter: tuple[int, ...] = (0, 0, 0, 0, 15, -15, 30),
        off: tuple[int, ...] = (),
        gaps: tuple[tuple[date, date], ...] = (),
        move: Callable[[date], date | None] | None = None,
        utc: bool = False,
        uid: str | None = None,
        number: int = 0,
    ) -> None:
        """Add a group's meetings on ``rrule`` dates in ``span``; label them ``label``.

        ``title`` is formatted with {talk}, {n} (a running number from
        ``number``), {month}, {monat} (German) and {year}; ``venue`` may be a
        list of (from date, venue) for a group that moved.
        """
        self.labels[label] = Label(label, rrule)
        start, end = span
        rule = rrulestr(rrule, dtstart=datetime.combine(start, time()))
        days = [
            d.date()
            for d in rule.between(
                datetime.combine(start, time()), datetime.combine(end, time(23, 59)), inc=True
            )
        ]
        for day in days:
            if day.month in off or any(a <= day <= b for a, b in gaps):
                continue
            if self.rng.random() < skip:
                continue
            number += 1
            status = "cancelled" if self.rng.random() < cancel else "confirmed"
            when = (move(day) if move else None) or day
            minutes = at.hour * 60 + at.minute + self.rng.choice(jitter)
            text = title.format(
                talk=self.talk(),
                n=number,
                month=when.strftime("%B"),
                monat=MONTHS_DE[when.month],
                year=when.year,
                speaker=self.rng.choice(SPEAKERS),
            )
            place = venue if isinstance(venue, str) else [v for d, v in venue if d <= day][-1]
            self.add(
                text,
                when,
                time(minutes // 60, minutes % 60),
                place,
                status=status,
                label=label,
                utc=utc,
                uid=f"{uid}#{day:%Y%m%dT%H%M%S}" if uid else None,
            )

    def history(self) -> History:
        events = sorted(self.events, key=lambda e: (e.start, e.source_uid))
        # two meetings are no series (a group with one meeting left in a short span)
        labels = [label for label in self.labels.values() if len(label.uids) >= 3]
        return History(self.name, self.category, events, labels, self.rrule_feed)


# -- the rules' helpers -----------------------------------------------------------------


def _d(text: str) -> date:
    return date.fromisoformat(text)


TWO_YEARS = (_d("2024-09-01"), _d("2026-08-31"))
ONE_YEAR = (_d("2025-09-01"), _d("2026-08-31"))
UPCOMING = (_d("2026-06-01"), _d("2026-08-31"))
CHRISTMAS = ((_d("2024-12-20"), _d("2025-01-05")), (_d("2025-12-20"), _d("2026-01-05")))


def _thanksgiving_and_december(day: date) -> date | None:
    """Return the date a 4th-Thursday meeting moved to: a week earlier in November and December."""
    return day - timedelta(days=7) if day.month in (11, 12) else None


def _december_up(day: date) -> date | None:
    return day - timedelta(days=7) if day.month == 12 else None


def _saturdays(rng: random.Random, start: date, end: date, count: int) -> list[date]:
    first = start + timedelta(days=(5 - start.weekday()) % 7)
    every = [first + timedelta(days=7 * k) for k in range((end - first).days // 7 + 1)]
    return sorted(rng.sample(every, count))


def _random_days(rng: random.Random, start: date, end: date, count: int, weekdays=range(5)):
    days = [start + timedelta(days=k) for k in range((end - start).days + 1)]
    return sorted(rng.sample([d for d in days if d.weekday() in weekdays], count))


# -- single groups ------------------------------------------------------------------------


def _plug() -> History:
    cal = _Calendar("plug", "lug")
    venues = [(TWO_YEARS[0], "Free Geek"), (_d("2025-09-01"), "PSU Fourth Avenue Building")]
    cal.meet("PLUG", "FREQ=MONTHLY;BYDAY=3TH", TWO_YEARS, time(19), "PLUG: {talk}", venues)
    cal.meet(
        "PLUG Advanced Topics",
        "FREQ=MONTHLY;BYDAY=1WE",
        ONE_YEAR,
        time(19),
        "PLUG Advanced Topics: {talk}",
        "Free Geek",
    )
    cal.add("PLUG Holiday Party", _d("2024-12-14"), time(15), "Lucky Lab")
    # the December meeting gave way to a party the next evening: a special, not the meeting
    cal.events = [e for e in cal.events if e.start.date() != _d("2025-12-18")]
    cal.labels["PLUG"].uids &= {e.source_uid for e in cal.events}
    cal.add("PLUG Holiday Party", _d("2025-12-19"), time(18, 30), "Lucky Lab")
    cal.add("PLUG Summer Picnic", _d("2025-07-20"), time(12), "Laurelhurst Park")
    cal.add("PLUG at SeaGL", _d("2025-11-07"), time(9), "Seattle Central College", hours=8)
    cal.add("Intro to Linux Installfest", _d("2026-03-28"), time(10), "Free Geek", hours=5)
    return cal.history()


def _belug() -> History:
    cal = _Calendar("belug", "lug", BERLIN)
    cal.meet(
        "BeLUG",
        "FREQ=MONTHLY;BYDAY=-1WE",
        TWO_YEARS,
        time(19, 30),
        "BeLUG Treffen {monat} {year}",
        "c-base",
        off=(8,),
    )
    cal.add("BeLUG Sommerfest", _d("2025-08-23"), time(16), "Tempelhofer Feld")
    cal.add("BeLUG Sommerfest", _d("2026-08-22"), time(16), "Tempelhofer Feld")
    cal.add("Linux Presentation Day", _d("2025-11-15"), time(11), "c-base", hours=6)
    return cal.history()


def _seattle_go() -> History:
    cal = _Calendar("seattle-go", "user-group")
    cal.meet(
        "Seattle Go",
        "FREQ=MONTHLY;BYDAY=4TH",
        TWO_YEARS,
        time(18, 30),
        "Seattle Go User Group - {talk}",
        "Tableau",
        move=_thanksgiving_and_december,
    )
    cal.add("GopherCon watch party", _d("2025-08-27"), time(17), "Tableau")
    return cal.history()


def _pdx_rust() -> History:
    cal = _Calendar("pdx-rust", "user-group")
    venues = [(_d("2025-01-01"), "Thorn Tech"), (_d("2025-10-01"), "Puppet HQ")]
    cal.meet(
        "PDX Rust",
        "FREQ=MONTHLY;BYDAY=-1WE",
        (_d("2025-01-01"), _d("2026-08-31")),
        time(18),
        "PDX Rust Meetup #{n}",
        venues,
        number=40,
    )
    # some months the organiser dated the title instead of numbering it
    for event in cal.events[::3]:
        event.title = f"PDX Rust Meetup - {event.start:%B %Y}"
    cal.add("RustConf 2025 recap", _d("2025-09-12"), time(18), "Puppet HQ")
    return cal.history()


def _code_and_coffee() -> History:
    cal = _Calendar("code-and-coffee", "user-group")
    # every other Tuesday, started again after the holidays on the "wrong" week
    cal.meet(
        "Code & Coffee",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
        (_d("2025-03-04"), _d("2025-12-16")),
        time(7, 30),
        "Code & Coffee",
        "Ristretto Roasters",
        skip=0.1,
    )
    cal.meet(
        "Code & Coffee 2026",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
        (_d("2026-01-06"), ONE_YEAR[1]),
        time(7, 30),
        "Code & Coffee",
        "Ristretto Roasters",
        skip=0.1,
    )
    again = cal.labels.pop("Code & Coffee 2026")
    cal.labels["Code & Coffee"].uids |= again.uids
    return cal.history()


def _hack_night_utc() -> History:
    cal = _Calendar("pdx-hack-night", "user-group")
    cal.meet(
        "PDX Hack Night",
        "FREQ=WEEKLY;BYDAY=TU",
        (_d("2025-09-01"), _d("2026-06-30")),
        time(19),
        "PDX Hack Night",
        "Vacasa HQ",
        skip=0.08,
        gaps=CHRISTMAS,
        utc=True,
        jitter=(0,),
    )
    cal.add("PDX Hack Night: Summer BBQ", _d("2026-06-27"), time(14), "Vacasa HQ")
    return cal.history()


def _time_change() -> History:
    cal = _Calendar("pdx-devs", "user-group")
    cal.meet(
        "PDX Devs",
        "FREQ=MONTHLY;BYDAY=1TU",
        (TWO_YEARS[0], _d("2025-08-31")),
        time(19),
        "PDXDevs: {talk}",
        "Lucky Lab",
    )
    # a new venue that closes early: two hours earlier, still the first Tuesday
    cal.meet(
        "PDX Devs later",
        "FREQ=MONTHLY;BYDAY=1TU",
        ONE_YEAR,
        time(17),
        "PDX Devs: {talk}",
        "Ziba Design",
    )
    later = cal.labels.pop("PDX Devs later")
    cal.labels["PDX Devs"].uids |= later.uids
    # a second posting of one meeting by another organiser, with the time wrong
    cal.add(
        "PDX Devs: Lightning talks (repost)",
        _d("2026-03-03"),
        time(17, 30),
        "Ziba Design",
        label="PDX Devs",
    )
    cal.meet(
        "Sparse weekly",
        "FREQ=WEEKLY;BYDAY=SU",
        ONE_YEAR,
        time(14),
        "PDX Devs Open Lab",
        "Ziba Design",
        skip=0.3,
        gaps=CHRISTMAS,
    )
    return cal.history()


def _monthdays() -> History:
    cal = _Calendar("library-tech", "charity")
    cal.meet(
        "Open Source Clinic",
        "FREQ=MONTHLY;BYMONTHDAY=15",
        ONE_YEAR,
        time(18),
        "Open Source Clinic",
        "Multnomah County Library",
    )
    cal.meet(
        "PDX Lightning Talks",
        "FREQ=MONTHLY;BYMONTHDAY=1",
        ONE_YEAR,
        time(18, 30),
        "PDX Lightning Talks: {talk}",
        "Multnomah County Library",
        skip=0.1,
    )
    cal.add("Digital Literacy Day", _d("2026-02-07"), time(10), "Multnomah County Library")
    return cal.history()


def _upcoming(
    name: str,
    label: str,
    rrule: str,
    title: str,
    venue: str,
    at: time,
    span: tuple[date, date] = UPCOMING,
    special: str = "",
) -> History:
    cal = _Calendar(name, "meetup-upcoming")
    cal.meet(label, rrule, span, at, title, venue, skip=0, cancel=0, jitter=(0,), utc=True)
    if special:  # a one-off of the group's among the upcoming meetings, on a Saturday
        cal.add(
            special,
            span[0] + timedelta(days=(5 - span[0].weekday()) % 7 + 14),
            time(13),
            "Laurelhurst Park",
        )
    return cal.history()


def _puppy_rrule() -> History:
    cal = _Calendar("puppy-google", "rrule-feed", rrule_feed=True)
    cal.meet(
        "PuPPy",
        "FREQ=MONTHLY;BYDAY=2TU",
        ONE_YEAR,
        time(18, 30),
        "PuPPy Monthly Meetup",
        "Microsoft Reactor",
        skip=0,
        cancel=0,
        jitter=(0,),
        uid="puppy-monthly",
    )
    cal.meet(
        "PuPPy Study Group",
        "FREQ=WEEKLY;BYDAY=SA",
        ONE_YEAR,
        time(10),
        "PuPPy Study Group",
        "Capitol Hill Library",
        skip=0,
        cancel=0,
        jitter=(0,),
        gaps=CHRISTMAS,
        uid="puppy-study",
    )
    monthly = [e for e in cal.events if e.source_uid.startswith("puppy-monthly")]
    monthly[2].title = "PuPPy Monthly Meetup: Lightning talks"  # an override's own title
    monthly[4].start += timedelta(days=1)  # moved to Wednesday (RECURRENCE-ID kept)
    monthly[4].end = monthly[4].start + timedelta(hours=2)
    monthly[7].status = "cancelled"
    study = [e for e in cal.events if e.source_uid.startswith("puppy-study")]
    study[10].status = "cancelled"
    cal.add("PuPPy Holiday Social", _d("2025-12-12"), time(18), "Optimism Brewing")
    cal.add("PyCascades 2026", _d("2026-03-21"), time(9), "Seattle Center", hours=9)
    return cal.history()


def _talks_only_lug() -> History:
    cal = _Calendar("talks-only-lug", "lug")
    cal.meet(
        "Free Geek LUG",
        "FREQ=MONTHLY;BYDAY=2TU",
        (_d("2025-03-01"), _d("2026-08-31")),
        time(19),
        "{talk}",
        "Free Geek",
    )
    for day in ("2025-04-26", "2025-10-18", "2026-04-25"):
        cal.add("Installfest", _d(day), time(10), "Free Geek", hours=5)
    cal.add("Holiday potluck", _d("2025-12-19"), time(18), "Free Geek")
    return cal.history()


def _pdx_pm() -> History:
    cal = _Calendar("pdx-pm", "user-group")
    cal.meet(
        "PDX.pm 1st",
        "FREQ=MONTHLY;BYDAY=1MO",
        ONE_YEAR,
        time(18, 30),
        "PDX.pm: {talk}",
        "Collective Agency",
    )
    cal.meet(
        "PDX.pm 3rd",
        "FREQ=MONTHLY;BYDAY=3MO",
        ONE_YEAR,
        time(18, 30),
        "PDX.pm: hack night",
        "Collective Agency",
    )
    return cal.history()


def _stammtisch_weekly() -> History:
    cal = _Calendar("linux-stammtisch", "lug", BERLIN)
    cal.meet(
        "Linux-Stammtisch",
        "FREQ=WEEKLY;BYDAY=TH",
        TWO_YEARS,
        time(20),
        "Linux-Stammtisch Kreuzberg",
        "Max und Moritz",
        skip=0.06,
        off=(8,),
        gaps=CHRISTMAS,
    )
    cal.add(
        "Linux-Stammtisch Kreuzberg: Jubiläumsfeier", _d("2025-05-17"), time(18), "Max und Moritz"
    )
    return cal.history()


def _repair_cafe_utc() -> History:
    cal = _Calendar("repair-cafe", "charity", BERLIN)
    cal.meet(
        "Repair Café",
        "FREQ=MONTHLY;BYDAY=-1SU",
        TWO_YEARS,
        time(15),
        "Repair Café",
        "Nachbarschaftshaus Urbanstraße",
        utc=True,
        jitter=(0,),
    )
    cal.add("Repair Café Spezial: Fahrräder", _d("2025-05-10"), time(11), "Tempelhofer Feld")
    return cal.history()


def _nblug() -> History:
    cal = _Calendar("nblug", "lug")
    cal.meet(
        "NBLUG",
        "FREQ=MONTHLY;BYDAY=2SA",
        ONE_YEAR,
        time(10),
        "NBLUG: {talk}",
        "Santa Rosa Junior College",
        skip=0.1,
    )
    for day in ("2025-10-25", "2026-01-24", "2026-04-25"):  # 4th Saturdays, same time
        cal.add("NBLUG Installfest", _d(day), time(10), "Santa Rosa Junior College", hours=5)
    cal.add("NBLUG booth at LinuxFest Northwest", _d("2026-04-25"), time(9), "Bellingham")
    return cal.history()


def _colloquium() -> History:
    cal = _Calendar("cs-colloquium", "college")
    terms = []
    for year in (2024, 2025):
        terms += [
            (date(year, 9, 27), date(year, 12, 5)),
            (date(year + 1, 1, 6), date(year + 1, 3, 13)),
            (date(year + 1, 3, 30), date(year + 1, 6, 5)),
        ]
    breaks = tuple(zip([b for _, b in terms], [a for a, _ in terms[1:]], strict=False))
    cal.meet(
        "CS Colloquium",
        "FREQ=WEEKLY;BYDAY=FR",
        TWO_YEARS,
        time(15, 30),
        "CS Colloquium: {speaker}, {talk}",
        "Fariborz Maseeh Hall",
        skip=0.12,
        jitter=(0,),
        gaps=breaks + ((_d("2025-06-06"), _d("2025-09-26")),),
    )
    cal.add("Graduate Research Showcase", _d("2025-05-16"), time(13), "Fariborz Maseeh Hall")
    return cal.history()


def _paused_group() -> History:
    cal = _Calendar("go-pause", "user-group")
    cal.meet(
        "PDX Go",
        "FREQ=MONTHLY;BYDAY=2WE",
        (_d("2024-09-01"), _d("2025-05-31")),
        time(18),
        "PDX Go: {talk}",
        "Jive",
    )
    cal.meet(
        "PDX Go (again)",
        "FREQ=MONTHLY;BYDAY=2WE",
        (_d("2026-01-01"), _d("2026-08-31")),
        time(18),
        "PDX Go: {talk}",
        "Thorn Tech",
    )
    # one group, one rhythm, a pause between: one series
    again = cal.labels.pop("PDX Go (again)")
    cal.labels["PDX Go"].uids |= again.uids
    return cal.history()


def _elixir_changed() -> History:
    cal = _Calendar("elixir", "user-group")
    cal.meet(
        "PDX Elixir (Thursdays)",
        "FREQ=MONTHLY;BYDAY=1TH",
        (TWO_YEARS[0], _d("2025-06-30")),
        time(18, 30),
        "PDX Elixir - {talk}",
        "New Relic",
    )
    cal.meet(
        "PDX Elixir (Tuesdays)",
        "FREQ=MONTHLY;BYDAY=3TU",
        ONE_YEAR,
        time(18, 30),
        "PDX Elixir - {talk}",
        "New Relic",
    )
    return cal.history()


# -- no series ----------------------------------------------------------------------------


def _conferences() -> History:
    cal = _Calendar("conferences", "negative")
    confs = [
        ("PyCascades", 3, 21, 2, "Seattle Center"),
        ("SeaGL", 11, 7, 2, "Seattle Central College"),
        ("DevOpsDays Portland", 9, 17, 2, "Oregon Convention Center"),
        ("LinuxFest Northwest", 4, 25, 2, "Bellingham Technical College"),
        ("RustConf", 9, 9, 3, "Montréal"),
        ("GopherCon", 8, 26, 3, "New York"),
        ("Open Source Summit North America", 6, 23, 3, "Denver"),
        ("KubeCon + CloudNativeCon", 11, 10, 4, "Atlanta"),
        ("PyCon US", 5, 14, 5, "Long Beach"),
        ("Write the Docs Portland", 5, 4, 3, "Revolution Hall"),
        ("Cascadia JS", 6, 12, 2, "Seattle"),
        ("SCALE", 3, 6, 4, "Pasadena"),
        ("All Things Open", 10, 12, 3, "Raleigh"),
        ("Strange Loop", 9, 20, 2, "St. Louis"),
        ("FOSDEM", 2, 1, 2, "Brussels"),
    ]
    for year in (2025, 2026):
        for name, month, day, days, venue in confs:
            begin = date(year, month, day) + timedelta(days=cal.rng.randint(-6, 6))
            if cal.rng.random() < 0.5:
                for k in range(days):  # each day its own entry, as some sites list them
                    cal.add(
                        f"{name} {year} (day {k + 1})",
                        begin + timedelta(days=k),
                        time(9),
                        venue,
                        hours=8,
                    )
            else:
                cal.add(f"{name} {year}", begin, time(9), venue, hours=8 * days)
    return cal.history()


def _university_talks() -> History:
    cal = _Calendar("university-events", "negative", NYC)
    kinds = [
        "Distinguished Speaker Series: {speaker}",
        "Guest Lecture: {talk}",
        "Thesis Defense: {speaker}",
        "Industry Panel: {talk}",
    ]
    for day in _random_days(cal.rng, _d("2025-09-01"), _d("2026-05-15"), 36):
        text = cal.rng.choice(kinds).format(speaker=cal.rng.choice(SPEAKERS), talk=cal.talk())
        cal.add(
            text,
            day,
            time(cal.rng.choice((11, 12, 13, 14, 15, 16, 17)), cal.rng.choice((0, 30))),
            cal.rng.choice(("Davis Auditorium", "Mudd 833", "CSB 451")),
        )
    cal.add("Fall Career Fair", _d("2025-09-24"), time(10), "Lerner Hall", hours=6)
    cal.add("Spring Career Fair", _d("2026-02-11"), time(10), "Lerner Hall", hours=6)
    return cal.history()


def _charity_days() -> History:
    cal = _Calendar("tech-help-days", "negative")
    for day in _saturdays(cal.rng, _d("2025-09-01"), _d("2026-08-31"), 9):
        cal.add("Tech Help Day", day, time(10), "Midland Library", hours=4)
    for day in _saturdays(cal.rng, _d("2025-09-01"), _d("2026-08-31"), 3):
        cal.add("Computer Donation Drive", day, time(9), "Free Geek", hours=6)
    return cal.history()


def _hackerspace_classes() -> History:
    cal = _Calendar("hackerspace-classes", "negative")
    classes = [
        "Soldering 101",
        "Intro to the Laser Cutter",
        "Lockpicking Village",
        "Arduino Basics",
        "CNC Router Safety",
        "Sewing Machine Checkout",
        "Resin Casting",
        "Intro to Welding",
        "Screen Printing",
        "Woodshop Safety",
        "Raspberry Pi Camera",
        "3D Printer Orientation",
        "Leather Tooling",
        "Kombucha Brewing",
    ]
    for n, day in enumerate(
        _random_days(cal.rng, _d("2025-09-01"), _d("2026-08-31"), 42, range(7))
    ):
        cal.add(f"{classes[n % len(classes)]}", day, time(18, 30), "ADX Portland")
    return cal.history()


# -- aggregators ---------------------------------------------------------------------------


def _calagator() -> History:
    cal = _Calendar("calagator", "aggregator")
    cal.meet("PLUG", "FREQ=MONTHLY;BYDAY=3TH", TWO_YEARS, time(19), "PLUG: {talk}", "Free Geek")
    # posted by several people: some spell the group's name out
    for event in cal.events[1::3]:
        event.title = event.title.replace("PLUG:", "Portland Linux/Unix Group -")
    cal.meet(
        "Talks at Collective Agency",
        "FREQ=MONTHLY;BYDAY=2TH",
        ONE_YEAR,
        time(18),
        "{talk}",
        "Collective Agency",
        skip=0.1,
    )
    for n, day in enumerate(_random_days(cal.rng, ONE_YEAR[0], ONE_YEAR[1], 10)):
        cal.add(f"Coworking open house {n + 1}", day, time(18), "Collective Agency")
    cal.meet(
        "PDX Python",
        "FREQ=MONTHLY;BYDAY=2TU",
        TWO_YEARS,
        time(18, 30),
        "PDX Python - {talk}",
        "Puppet HQ",
        move=_december_up,
    )
    cal.meet(
        "PDX Rust",
        "FREQ=MONTHLY;BYDAY=-1WE",
        TWO_YEARS,
        time(18),
        "PDX Rust Meetup #{n}",
        "Thorn Tech",
        number=20,
    )
    cal.meet(
        "Code & Coffee",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
        (_d("2024-09-03"), TWO_YEARS[1]),
        time(7, 30),
        "Code & Coffee",
        "Ristretto Roasters",
        skip=0.1,
        gaps=CHRISTMAS,
    )
    cal.meet(
        "PDX Hack Night",
        "FREQ=WEEKLY;BYDAY=WE",
        ONE_YEAR,
        time(18),
        "PDX Hack Night",
        "Vacasa HQ",
        skip=0.1,
        gaps=CHRISTMAS,
    )
    cal.meet(
        "Portland JS",
        "FREQ=MONTHLY;BYDAY=4WE",
        TWO_YEARS,
        time(19),
        "Portland JavaScript Admirers: {talk}",
        "Urban Airship",
    )
    cal.meet(
        "Ubuntu Hour",
        "FREQ=MONTHLY;BYDAY=1FR",
        ONE_YEAR,
        time(17),
        "Ubuntu Hour",
        "Backspace Cafe",
        skip=0.12,
    )
    specials = [
        ("SeaGL 2025", "2025-11-07", 9, "Seattle Central College"),
        ("Intro to Git Workshop", "2025-02-08", 13, "Free Geek"),
        ("PLUG Holiday Party", "2025-12-12", 18, "Lucky Lab"),
        ("PDX Python Holiday Social", "2025-12-05", 18, "Rogue Eastside"),
        ("DevOpsDays Portland", "2025-09-17", 9, "Oregon Convention Center"),
        ("DevOpsDays Portland", "2025-09-18", 9, "Oregon Convention Center"),
        ("Hackathon for Good", "2026-02-28", 9, "Puppet HQ"),
        ("Hackathon for Good", "2026-03-01", 9, "Puppet HQ"),
        ("CTF Night", "2025-10-14", 19, "Free Geek"),
        ("Open Source Bridge reunion", "2026-06-19", 17, "The Eliot Center"),
        ("PDX Rust Meetup: RustConf watch party", "2025-09-03", 9, "Thorn Tech"),
        ("Portland JavaScript Admirers: summer picnic", "2026-07-11", 12, "Laurelhurst Park"),
    ]
    for title, day, hour, venue in specials:
        cal.add(title, _d(day), time(hour), venue)
    return cal.history()


def _hackerspace() -> History:
    cal = _Calendar("hackerspace", "aggregator", NYC)
    room = "NYC Resistor, 87 3rd Ave"
    cal.meet(
        "Python",
        "FREQ=MONTHLY;BYDAY=1TU",
        ONE_YEAR,
        time(19),
        "Python Meetup @ Hackerspace: {talk}",
        room,
    )
    cal.meet(
        "Rust",
        "FREQ=MONTHLY;BYDAY=3TU",
        ONE_YEAR,
        time(19),
        "Rust Meetup @ Hackerspace: {talk}",
        room,
    )
    cal.meet(
        "Open Hack Night",
        "FREQ=WEEKLY;BYDAY=TH",
        ONE_YEAR,
        time(19),
        "Open Hack Night",
        room,
        skip=0.08,
        gaps=CHRISTMAS,
    )
    cal.meet(
        "Electronics", "FREQ=MONTHLY;BYDAY=2SA", ONE_YEAR, time(13), "Electronics Workshop", room
    )
    cal.meet("Members", "FREQ=MONTHLY;BYDAY=-1SU", ONE_YEAR, time(16), "Members Meeting", room)
    one_offs = [
        "Soldering 101",
        "Intro to the Laser Cutter",
        "Lockpicking Village",
        "Arduino Day",
        "Synth Building",
        "Open House",
    ]
    for n, day in enumerate(_random_days(cal.rng, ONE_YEAR[0], ONE_YEAR[1], 12, range(7))):
        cal.add(one_offs[n % len(one_offs)], day, time(19), room)
    return cal.history()


def _university() -> History:
    cal = _Calendar("state-university", "aggregator", NYC)
    semesters = (
        (_d("2025-12-11"), _d("2026-01-19")),
        (_d("2026-03-09"), _d("2026-03-15")),
        (_d("2026-05-02"), _d("2026-08-31")),
    )
    year = (_d("2025-09-02"), _d("2026-08-31"))
    cal.meet(
        "ACM",
        "FREQ=WEEKLY;BYDAY=WE",
        year,
        time(17),
        "ACM Chapter Meeting",
        "Engineering Hall 101",
        gaps=semesters,
    )
    cal.meet(
        "WiC",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH",
        (_d("2025-09-04"), year[1]),
        time(12),
        "Women in Computing Social",
        "Student Union",
        gaps=semesters,
    )
    cal.meet(
        "Theory Seminar",
        "FREQ=WEEKLY;BYDAY=MO",
        year,
        time(14),
        "Theory Seminar: {talk}",
        "CS 302",
        skip=0.1,
        gaps=semesters,
    )
    cal.meet(
        "LUG",
        "FREQ=MONTHLY;BYDAY=2TH",
        year,
        time(18),
        "Linux Users Group at State: {talk}",
        "Engineering Hall 204",
        off=(6, 7, 8),
    )
    acm = sorted(
        (e for e in cal.events if e.source_uid in cal.labels["ACM"].uids), key=lambda e: e.start
    )
    acm[9].start += timedelta(days=1)  # the room was booked: Thursday that week
    acm[9].end = acm[9].start + timedelta(hours=2)
    for title, day, hour in [
        ("Career Fair", "2025-09-24", 10),
        ("HackState 2026", "2026-02-21", 9),
        ("HackState 2026", "2026-02-22", 9),
        ("Guest Lecture: Quantum Networking", "2025-10-08", 17),
        ("Study Break: Therapy Dogs", "2025-12-10", 12),
        ("ACM Chapter Meeting: Holiday Party", "2025-12-05", 18),
        ("Graduation Reception", "2026-05-15", 16),
    ]:
        cal.add(title, _d(day), time(hour), "Student Union")
    return cal.history()


def _meetup_network() -> History:
    cal = _Calendar("meetup-network", "aggregator")
    span = (_d("2026-09-01"), _d("2026-12-31"))
    groups = [
        (
            "Kubernetes",
            "FREQ=MONTHLY;BYDAY=2TH",
            time(18),
            "Portland Kubernetes Meetup - {talk}",
            "New Relic",
        ),
        (
            "Women in Tech",
            "FREQ=MONTHLY;BYDAY=1WE",
            time(18, 30),
            "PDX Women in Tech: {talk}",
            "Puppet HQ",
        ),
        ("Go monthly", "FREQ=MONTHLY;BYDAY=3TU", time(18), "Monthly Meetup", "Collective Agency"),
        ("JS monthly", "FREQ=MONTHLY;BYDAY=1TH", time(19), "Monthly Meetup", "Thorn Tech"),
        ("Code Review Club", "FREQ=WEEKLY;BYDAY=MO", time(12), "Code Review Club", "Online"),
        (
            "Data Engineering",
            "FREQ=MONTHLY;BYDAY=-1TU",
            time(17, 30),
            "PDX Data Engineering: {talk}",
            "Vacasa HQ",
        ),
        (
            "Hack Oregon",
            "FREQ=WEEKLY;BYDAY=TU",
            time(18, 30),
            "Hack Oregon Project Night",
            "PSU Karl Miller Center",
        ),
        (
            "Kernel",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=SA",
            time(10),
            "Portland Linux Kernel Hacking",
            "Free Geek",
        ),
    ]
    for label, rrule, at, title, venue in groups:
        cal.meet(
            label,
            rrule,
            span,
            at,
            title,
            venue,
            skip=0.04,
            cancel=0.02,
            jitter=(0,),
            utc=True,
            gaps=((_d("2026-11-24"), _d("2026-11-28")),),
        )
    cal.add(
        "Portland Kubernetes Meetup - KubeCon recap party",
        _d("2026-11-20"),
        time(17),
        "Bit House Saloon",
    )
    cal.add("Hacktoberfest kickoff", _d("2026-10-01"), time(18), "Puppet HQ")
    cal.add("Portland Tech Crawl", _d("2026-09-17"), time(17), "Pearl District")
    return cal.history()


def _berlin() -> History:
    cal = _Calendar("berlin-community", "aggregator", BERLIN)
    span = (_d("2025-03-01"), _d("2026-08-31"))
    cal.meet(
        "Rust Berlin",
        "FREQ=MONTHLY;BYDAY=3TH",
        span,
        time(19),
        "Rust Berlin Meetup #{n}",
        "Mozilla Berlin",
        number=80,
    )
    for event in cal.events[1::2]:
        event.title = f"Rust Berlin Meetup - {event.start:%B %Y}"
    cal.meet(
        "Go Berlin",
        "FREQ=MONTHLY;BYDAY=2WE",
        span,
        time(19),
        "Berlin Golang Meetup: {talk}",
        "Zalando",
    )
    cal.meet(
        "Stammtisch",
        "FREQ=MONTHLY;BYDAY=1FR",
        span,
        time(20),
        "Linux-Stammtisch Friedrichshain",
        "Zum Schusterjungen",
    )
    cal.meet(
        "Repair Café",
        "FREQ=MONTHLY;BYDAY=-1SA",
        span,
        time(14),
        "Repair Café Neukölln",
        "Werkstatt Neukölln",
        off=(8,),
    )
    cal.meet(
        "Berlin.JS", "FREQ=MONTHLY;BYDAY=3TH", span, time(19, 30), "Berlin.JS: {talk}", "co.up"
    )
    cal.meet(
        "Python Berlin",
        "FREQ=MONTHLY;BYDAY=2WE",
        span,
        time(18, 30),
        "Python Usergroup Berlin - {talk}",
        "Wooga",
    )
    for k, day in enumerate(("2025-12-27", "2025-12-28", "2025-12-29", "2025-12-30")):
        cal.add(f"39C3 Chaos Communication Congress (Tag {k + 1})", _d(day), time(10), "Hamburg")
    for day in ("2025-06-15", "2025-06-16", "2025-06-17"):
        cal.add("Berlin Buzzwords 2025", _d(day), time(9), "Kulturbrauerei")
    cal.add("Rust Berlin Sommerfest", _d("2025-07-12"), time(15), "Prinzessinnengarten")
    cal.add("FOSSGIS 2026", _d("2026-03-25"), time(9), "Universität Göttingen")
    cal.add("Berlin.JS: JSConf EU party", _d("2025-06-05"), time(21), "Arena Club")
    return cal.history()


def _seattle() -> History:
    cal = _Calendar("seattle-tech", "aggregator")
    cal.meet(
        "PuPPy",
        "FREQ=MONTHLY;BYDAY=2TU",
        TWO_YEARS,
        time(18, 30),
        "Seattle Python (PuPPy): {talk}",
        "Microsoft Reactor",
        off=(7, 8),
    )
    cal.meet(
        "Seattle Rust",
        "FREQ=MONTHLY;BYDAY=3WE",
        TWO_YEARS,
        time(18),
        "Seattle Rust User Group - {talk}",
        "Amazon Doppler",
        move=_december_up,
    )
    cal.meet(
        "SeaGL Social",
        "FREQ=MONTHLY;BYDAY=1TH",
        TWO_YEARS,
        time(18),
        "SeaGL Monthly Social",
        "Optimism Brewing",
        skip=0.1,
    )
    cal.meet(
        "SLUG",
        "FREQ=MONTHLY;BYDAY=4MO",
        TWO_YEARS,
        time(19),
        "SLUG: {talk}",
        "Seattle Public Library",
    )
    venues = [(TWO_YEARS[0], "Galvanize"), (_d("2025-07-01"), "Expedia Campus")]
    cal.meet(
        "SeattleJS", "FREQ=MONTHLY;BYDAY=2TH", TWO_YEARS, time(18), "SeattleJS: {talk}", venues
    )
    cal.meet(
        "Hack Night",
        "FREQ=WEEKLY;BYDAY=MO",
        ONE_YEAR,
        time(18),
        "Hack Night @ Substantial",
        "Substantial",
        skip=0.15,
        gaps=CHRISTMAS,
    )
    cal.meet(
        "Scalability",
        "FREQ=MONTHLY;BYDAY=-1TU",
        TWO_YEARS,
        time(18, 30),
        "Seattle Scalability Meetup",
        "Google Fremont",
        skip=0.1,
    )
    cal.meet(
        "WWCode Coffee",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=SA",
        (_d("2025-09-06"), ONE_YEAR[1]),
        time(10),
        "Women Who Code Seattle Coffee",
        "Victrola Coffee",
        skip=0.1,
    )
    for k in range(5):
        cal.add("Seattle Tech Week", _d("2025-10-20") + timedelta(days=k), time(9), "Various")
    for title, day, hour, venue in [
        ("PyCascades 2025", "2025-03-29", 9, "Seattle Center"),
        ("PyCascades 2026", "2026-03-21", 9, "Seattle Center"),
        ("Ada Developers Academy Demo Day", "2025-06-12", 17, "Ada Academy"),
        ("Ada Developers Academy Demo Day", "2025-12-11", 17, "Ada Academy"),
        ("Seattle Rust User Group - Holiday party", "2025-12-05", 18, "Optimism Brewing"),
        ("SLUG: Summer BBQ", "2025-07-19", 12, "Gas Works Park"),
        ("Hackathon: Civic Tech", "2025-04-12", 9, "Impact Hub"),
        ("SeattleJS: Conference", "2025-08-09", 9, "Bell Harbor"),
    ]:
        cal.add(title, _d(day), time(hour), venue)
    return cal.history()


def _new_york() -> History:
    cal = _Calendar("nyc-tech", "aggregator", NYC)
    cal.meet(
        "NYC Python",
        "FREQ=MONTHLY;BYDAY=3TU",
        ONE_YEAR,
        time(18, 30),
        "NYC Python Meetup: {talk}",
        "Bloomberg",
    )
    cal.meet(
        "NY Linux Users",
        "FREQ=MONTHLY;BYDAY=3WE",
        ONE_YEAR,
        time(18, 30),
        "NYLUG: {talk}",
        "Suspenders",
    )
    cal.meet(
        "Rust NYC", "FREQ=MONTHLY;BYDAY=-1TH", ONE_YEAR, time(18), "Rust NYC - {talk}", "Datadog"
    )
    cal.meet(
        "BrooklynJS",
        "FREQ=MONTHLY;BYDAY=3TH",
        ONE_YEAR,
        time(19),
        "BrooklynJS",
        "Brooklyn Bowl",
        off=(8,),
    )
    cal.meet(
        "Hack Night",
        "FREQ=WEEKLY;BYDAY=TU",
        ONE_YEAR,
        time(19),
        "Recurse Center Hack Night",
        "Recurse Center",
        skip=0.1,
        gaps=CHRISTMAS,
    )
    cal.meet(
        "Postgres",
        "FREQ=MONTHLY;BYMONTHDAY=10",
        ONE_YEAR,
        time(18),
        "NYC PostgreSQL User Group",
        "Crunchy Data",
        skip=0.1,
    )
    for title, day in [
        ("NYC Tech Week", "2026-06-01"),
        ("NYC Tech Week", "2026-06-02"),
        ("Open Source Summit", "2025-10-14"),
        ("NYC Python holiday party", "2025-12-11"),
        ("Rust NYC - RustConf recap", "2025-09-18"),
        ("Google I/O Extended", "2026-05-27"),
    ]:
        cal.add(title, _d(day), time(18), "Various")
    return cal.history()


def histories() -> list[History]:
    """Return every history of the labelled set, made afresh (the same each time)."""
    made = [
        _plug(),
        _belug(),
        _seattle_go(),
        _pdx_rust(),
        _code_and_coffee(),
        _hack_night_utc(),
        _monthdays(),
        _puppy_rrule(),
        _talks_only_lug(),
        _pdx_pm(),
        _stammtisch_weekly(),
        _repair_cafe_utc(),
        _nblug(),
        _colloquium(),
        _paused_group(),
        _elixir_changed(),
        _upcoming(
            "pdxjs",
            "PDXJS",
            "FREQ=MONTHLY;BYDAY=2WE",
            "PDXJS: {talk}",
            "Urban Airship",
            time(18),
            special="PDXJS: Summer social",
        ),
        _upcoming(
            "ruby-brigade",
            "Ruby Brigade",
            "FREQ=WEEKLY;BYDAY=TU",
            "Portland Ruby Brigade Hack Night",
            "Puppet HQ",
            time(18),
            (_d("2026-06-01"), _d("2026-07-05")),
        ),
        _upcoming(
            "data-science-pdx",
            "Data Science PDX",
            "FREQ=MONTHLY;BYDAY=-1TH",
            "Data Science PDX - {talk}",
            "Vacasa HQ",
            time(17, 30),
        ),
        _upcoming(
            "wwcode-pdx",
            "WWCode",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH",
            "Women Who Code Portland: {talk}",
            "New Relic",
            time(18),
            (_d("2026-06-04"), _d("2026-07-20")),
        ),
        _upcoming(
            "monthly-meetup",
            "Monthly Meetup",
            "FREQ=MONTHLY;BYDAY=1MO",
            "Monthly Meetup: {talk}",
            "Collective Agency",
            time(18),
            (_d("2026-06-01"), _d("2026-09-30")),
        ),
        _upcoming(
            "devops-pdx",
            "DevOps Portland",
            "FREQ=MONTHLY;BYDAY=4TU",
            "DevOps Portland - {talk}",
            "Puppet HQ",
            time(18),
        ),
        _upcoming(
            "elixir-upcoming",
            "Portland Elixir",
            "FREQ=MONTHLY;BYDAY=-1WE",
            "Portland Elixir: {talk}",
            "New Relic",
            time(18),
            (_d("2026-01-01"), _d("2026-03-31")),
        ),  # every month has four Wednesdays
        _upcoming(
            "talks-upcoming",
            "Talk-titled group",
            "FREQ=MONTHLY;BYDAY=3WE",
            "{talk}",
            "PSU Engineering Building",
            time(18, 30),
        ),
        _upcoming(
            "talks-upcoming-weekly",
            "Talk-titled weekly",
            "FREQ=WEEKLY;BYDAY=WE",
            "{talk}",
            "Online",
            time(12),
            (_d("2026-06-01"), _d("2026-07-12")),
        ),
        _time_change(),
        _conferences(),
        _university_talks(),
        _charity_days(),
        _hackerspace_classes(),
        _calagator(),
        _hackerspace(),
        _university(),
        _meetup_network(),
        _berlin(),
        _seattle(),
        _new_york(),
    ]
    return made


# -- running and scoring ------------------------------------------------------------------


def occurrences(history: History) -> list[Occurrence]:
    """Return the history's events as the detector gets them (key: index into events)."""
    found = []
    for n, event in enumerate(history.events):
        zone = ZoneInfo(event.timezone) if event.timezone else None
        series_uid = ""
        if history.rrule_feed and "#" in event.source_uid:
            series_uid = event.source_uid.split("#", 1)[0]
        found.append(
            Occurrence(
                key=n,
                start=event.start.astimezone(zone) if zone else event.start,
                title=event.title,
                place=event.venue or event.city or "",
                status=event.status,
                series_uid=series_uid,
            )
        )
    return found


Found = dict[str, list[tuple[str, set[str]]]]


def detect_pure(made: list[History] | None = None) -> Found:
    """Return, per history, the series techcal.normalise.series.detect finds: (rrule, uids)."""
    found: Found = {}
    for history in made or histories():
        uids = [e.source_uid for e in history.events]
        found[history.name] = [
            (s.rule.rrule(), {uids[k] for k in s.members}) for s in detect(occurrences(history))
        ]
    return found


def same_rule(a: str, b: str) -> bool:
    """Return True when two RRULE values agree but for BYMONTH (learned months)."""

    def core(rrule: str) -> frozenset[str]:
        return frozenset(p for p in rrule.split(";") if not p.startswith("BYMONTH="))

    return core(a) == core(b)


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def score(found: Found, made: list[History] | None = None) -> Score:
    """Return how the detected series (per history name) compare with the labels."""
    result = Score()
    for history in made or histories():
        counts = result.by_category.setdefault(history.category, [0, 0, 0, 0])
        labels = list(history.labels)
        detected = found.get(history.name, [])
        result.labelled += len(labels)
        result.detected += len(detected)
        counts[0] += len(labels)
        counts[2] += len(detected)
        unmatched = set(range(len(labels)))
        for rrule, uids in detected:
            options = [
                (jaccard(uids, labels[n].uids), n)
                for n in unmatched
                if same_rule(rrule, labels[n].rrule)
            ]
            best = max(options, default=(0.0, -1))
            if best[0] >= MIN_JACCARD:
                unmatched.discard(best[1])
                result.matched += 1
                counts[1] += 1
                counts[3] += 1
            else:
                near = max(((jaccard(uids, lab.uids), lab.name) for lab in labels), default=None)
                hint = f", nearest {near[1]!r} J={near[0]:.2f}" if near and near[0] else ""
                result.wrong.append(f"{history.name}: {rrule} ({len(uids)} members{hint})")
        for n in sorted(unmatched):
            label = labels[n]
            near = max(
                ((jaccard(uids, label.uids), rrule) for rrule, uids in detected), default=None
            )
            hint = f", nearest {near[1]} J={near[0]:.2f}" if near and near[0] else ""
            result.missed.append(
                f"{history.name}: {label.name!r} {label.rrule} ({len(label.uids)} members{hint})"
            )
    return result
