"""A realistic generated iCal corpus: what groups' calendar exports look like.

Each file is one group's export, 50 VEVENTs, written the way one of three
real platforms writes it (cycled through the groups):

- Meetup (``-//Meetup//RemoteApi//EN``): a VTIMEZONE, ``GEO``, ``LOCATION``
  as "Venue (street, city, region)", ``URL``, ``UID:event_N@meetup.com``,
  escaped newlines in a long description with the event link at its end;
- Google Calendar (``-//Google Inc//Google Calendar 70.9054//EN``):
  ``X-WR-CALNAME``/``X-WR-TIMEZONE``, a VTIMEZONE, ``CREATED``,
  ``LAST-MODIFIED``, ``SEQUENCE``, random ``@google.com`` UIDs, folded
  75-octet lines, a LOCATION that is just the address, no GEO;
- The Events Calendar for WordPress (``ECPv6``): ``CATEGORIES``,
  ``ORGANIZER;CN=``, ``GEO``, ``X-APPLE-STRUCTURED-LOCATION``, ``ATTACH``.

The shape the issue measured: about 10% of the VEVENTs are series
(monthly on a weekday, or fortnightly, without an end) with an ``EXDATE``,
and half of those have a moved occurrence (an override VEVENT with
``RECURRENCE-ID``); descriptions are 300-1,500 characters; every event has
an address; about 60% have GEO (Meetup and WordPress files). Groups live in
the 40 largest cities of the gazetteer, each city with 30 venues: a bigger
corpus is also a denser one (more groups per city, more events per
evening), as a region's calendar gets when more of its groups are added.
Some groups in a city share a venue and a generic title ("Hack Night" at a
coworking space): same title, same evening, same place, different groups,
which must stay apart. Times are evenings on weekdays (17:30-19:30), some
weekend workshops, ~2% all-day conference days; dates from a week before
``NOW`` to a year after. Everything is seeded: the same arguments write
the same bytes.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
PER_FILE = 50

#: the largest cities of GeoNames (name, region, zone, lat, lon): fixed here,
#: so the corpus does not depend on the gazetteer's build
CITIES = [
    ("New York City", "NY", "America/New_York", 40.7143, -74.006),
    ("Los Angeles", "CA", "America/Los_Angeles", 34.0522, -118.2437),
    ("Chicago", "IL", "America/Chicago", 41.85, -87.65),
    ("Houston", "TX", "America/Chicago", 29.7633, -95.3633),
    ("Phoenix", "AZ", "America/Phoenix", 33.4484, -112.074),
    ("Philadelphia", "PA", "America/New_York", 39.9524, -75.1636),
    ("San Antonio", "TX", "America/Chicago", 29.4241, -98.4936),
    ("San Diego", "CA", "America/Los_Angeles", 32.7157, -117.1647),
    ("Dallas", "TX", "America/Chicago", 32.7831, -96.8067),
    ("San Jose", "CA", "America/Los_Angeles", 37.3394, -121.895),
    ("Austin", "TX", "America/Chicago", 30.2672, -97.7431),
    ("Seattle", "WA", "America/Los_Angeles", 47.6062, -122.3321),
    ("Denver", "CO", "America/Denver", 39.7392, -104.9847),
    ("Boston", "MA", "America/New_York", 42.3584, -71.0598),
    ("Portland", "OR", "America/Los_Angeles", 45.5234, -122.6762),
    ("Atlanta", "GA", "America/New_York", 33.749, -84.388),
    ("Minneapolis", "MN", "America/Chicago", 44.98, -93.2638),
    ("Pittsburgh", "PA", "America/New_York", 40.4406, -79.9959),
    ("Toronto", "ON", "America/Toronto", 43.7001, -79.4163),
    ("Vancouver", "BC", "America/Vancouver", 49.2497, -123.1193),
    ("London", "England", "Europe/London", 51.5085, -0.1257),
    ("Berlin", "Berlin", "Europe/Berlin", 52.5244, 13.4105),
    ("Hamburg", "Hamburg", "Europe/Berlin", 53.5753, 10.0153),
    ("Munich", "Bavaria", "Europe/Berlin", 48.1374, 11.5755),
    ("Paris", "Île-de-France", "Europe/Paris", 48.8534, 2.3488),
    ("Amsterdam", "North Holland", "Europe/Amsterdam", 52.374, 4.8897),
    ("Vienna", "Vienna", "Europe/Vienna", 48.2085, 16.3721),
    ("Zurich", "Zurich", "Europe/Zurich", 47.3667, 8.55),
    ("Stockholm", "Stockholm", "Europe/Stockholm", 59.3294, 18.0687),
    ("Madrid", "Madrid", "Europe/Madrid", 40.4165, -3.7026),
    ("Barcelona", "Catalonia", "Europe/Madrid", 41.3888, 2.159),
    ("Dublin", "Leinster", "Europe/Dublin", 53.3331, -6.2489),
    ("Warsaw", "Mazovia", "Europe/Warsaw", 52.2298, 21.0118),
    ("Prague", "Prague", "Europe/Prague", 50.088, 14.4208),
    ("Sydney", "NSW", "Australia/Sydney", -33.8679, 151.2073),
    ("Melbourne", "VIC", "Australia/Melbourne", -37.814, 144.9633),
    ("Auckland", "Auckland", "Pacific/Auckland", -36.8485, 174.7633),
    ("Bengaluru", "Karnataka", "Asia/Kolkata", 12.9719, 77.5937),
    ("Singapore", "Singapore", "Asia/Singapore", 1.2897, 103.8501),
    ("Tokyo", "Tokyo", "Asia/Tokyo", 35.6895, 139.6917),
]
TECH = (
    "Linux Python Rust Kubernetes Go JavaScript TypeScript Java .NET AWS Azure GCP DevOps "
    "Security OWASP PyData Django React Vue Postgres MySQL Docker Terraform Ansible Arduino "
    "Raspberry-Pi WordPress Android Swift Kotlin Elixir Haskell Clojure Ruby PHP Scala Julia "
    "R Flutter Svelte Deno Nix Zig OpenStreetMap Blender Godot GraphQL Kafka Spark ClickHouse"
).split()
GROUP_KINDS = (
    "User Group|Meetup|Users|LUG|Hackers|Developers|Community|Study Group|Circle|Guild".split("|")
)
TALK_A = (
    "Scaling|Debugging|Testing|Securing|Deploying|Observing|Profiling|Migrating|Packaging|"
    "Teaching|Automating|Refactoring|Shipping|Benchmarking|Documenting|Monitoring"
).split("|")
TALK_B = (
    "monoliths|microservices|data pipelines|embedded boards|search|caches|queues|compilers|"
    "type systems|build systems|CI pipelines|home labs|mobile apps|APIs|notebooks|dashboards|"
    "edge devices|game engines|maps|accessibility"
).split("|")
TALK_C = (
    "in production|the hard way|for beginners|at scale|without tears|in 30 minutes|"
    "on a budget|with open source|from scratch|a case study|lessons learned|in 2027"
).split("|")
SHARED_TITLES = ["Hack Night", "Monthly Meetup", "Coffee & Code", "Open Lab", "Office Hours"]
STREETS = (
    "Main St|Market St|Broadway|Oak Ave|Elm St|Mission St|Park Ave|King St|Queen St|High St|"
    "Church St|Station Rd|Mill Ln|Harbor Blvd|University Ave|College St|Lake Dr|River Rd"
).split("|")
VENUE_KINDS = (
    "Coworking|Library|Hall|Brewing|Labs|Hub|Campus Room 101|Community Center|Makerspace|Cafe"
).split("|")
SENTENCE = (
    "Join us for an evening of talks and conversation|Doors open half an hour before the "
    "first talk|Pizza and drinks are kindly provided by our sponsor|Everyone is welcome, "
    "whatever your level of experience|Please RSVP so we can plan food and seating|The venue "
    "is step-free and has an accessible restroom|We follow a code of conduct; read it before "
    "you come|Slides and recordings will be posted after the event|Bring a laptop if you "
    "want to follow along|Parking is limited; public transport is the best way to get there|"
    "Lightning talks are open to anyone: sign up at the door|The second half is a hands-on "
    "session in small groups|Afterwards we usually head to a nearby place for food"
).split("|")

_US = ("19700308T020000", "3;BYDAY=2SU", "19701101T020000", "11;BYDAY=1SU")
_EU = ("19700329T020000", "3;BYDAY=-1SU", "19701025T030000", "10;BYDAY=-1SU")
_UK = ("19700329T010000", "3;BYDAY=-1SU", "19701025T020000", "10;BYDAY=-1SU")
_AU = ("19701004T020000", "10;BYDAY=1SU", "19700405T030000", "4;BYDAY=1SU")
_NZ = ("19700927T020000", "9;BYDAY=-1SU", "19700405T030000", "4;BYDAY=1SU")
#: each zone of CITIES as exporters write it: (standard offset and name,
#: daylight offset and name, and when each begins), or a fixed offset
VTIMEZONES: dict[str, tuple[str, str, str | None, str | None, tuple[str, ...] | None]] = {
    "America/New_York": ("-0500", "EST", "-0400", "EDT", _US),
    "America/Toronto": ("-0500", "EST", "-0400", "EDT", _US),
    "America/Chicago": ("-0600", "CST", "-0500", "CDT", _US),
    "America/Denver": ("-0700", "MST", "-0600", "MDT", _US),
    "America/Phoenix": ("-0700", "MST", None, None, None),
    "America/Los_Angeles": ("-0800", "PST", "-0700", "PDT", _US),
    "America/Vancouver": ("-0800", "PST", "-0700", "PDT", _US),
    "Europe/London": ("+0000", "GMT", "+0100", "BST", _UK),
    "Europe/Dublin": ("+0000", "GMT", "+0100", "IST", _UK),
    "Australia/Sydney": ("+1000", "AEST", "+1100", "AEDT", _AU),
    "Australia/Melbourne": ("+1000", "AEST", "+1100", "AEDT", _AU),
    "Pacific/Auckland": ("+1200", "NZST", "+1300", "NZDT", _NZ),
    "Asia/Kolkata": ("+0530", "IST", None, None, None),
    "Asia/Singapore": ("+0800", "+08", None, None, None),
    "Asia/Tokyo": ("+0900", "JST", None, None, None),
}


def vtimezone(zone: str) -> str:
    """Return a VTIMEZONE for ``zone`` as exporters write it (DST rules, or a fixed offset)."""
    std, std_name, dst, dst_name, rules = VTIMEZONES.get(
        zone,
        ("+0100", "CET", "+0200", "CEST", _EU),  # the rest of CITIES is central Europe
    )
    text = f"BEGIN:VTIMEZONE\r\nTZID:{zone}\r\nX-LIC-LOCATION:{zone}\r\n"
    if dst is None or rules is None:
        return (
            text + f"BEGIN:STANDARD\r\nTZOFFSETFROM:{std}\r\nTZOFFSETTO:{std}\r\n"
            f"TZNAME:{std_name}\r\nDTSTART:19700101T000000\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
        )
    spring, spring_rule, autumn, autumn_rule = rules
    return (
        text + f"BEGIN:DAYLIGHT\r\nTZOFFSETFROM:{std}\r\nTZOFFSETTO:{dst}\r\n"
        f"TZNAME:{dst_name}\r\nDTSTART:{spring}\r\nRRULE:FREQ=YEARLY;BYMONTH={spring_rule}\r\n"
        f"END:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:{dst}\r\nTZOFFSETTO:{std}\r\n"
        f"TZNAME:{std_name}\r\nDTSTART:{autumn}\r\nRRULE:FREQ=YEARLY;BYMONTH={autumn_rule}\r\n"
        "END:STANDARD\r\nEND:VTIMEZONE\r\n"
    )


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """Fold a content line at 75 octets, as RFC 5545 and Google Calendar do."""
    data = line.encode()
    if len(data) <= 75:
        return line + "\r\n"
    parts, start, limit = [], 0, 75
    while start < len(data):
        end = min(len(data), start + limit)
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1  # never inside a UTF-8 sequence
        parts.append(data[start:end].decode())
        start, limit = end, 74
    return "\r\n ".join(parts) + "\r\n"


@dataclass
class Group:
    number: int
    name: str
    city: tuple[str, str, str, float, float]
    venues: list[tuple[str, str, float, float]]
    style: str  # meetup | google | wordpress
    tech: str
    shared_title: str | None


def make_group(number: int, rng: random.Random, venues_of: dict[int, list]) -> Group:
    city_index = number % len(CITIES)
    city = CITIES[city_index]
    tech = TECH[(number * 7 + city_index) % len(TECH)]
    words = city[0].split()
    short = words[0] if len(words) == 1 else "".join(w[0] for w in words)  # NYC, LA
    name = f"{short} {tech} {GROUP_KINDS[number % len(GROUP_KINDS)]}"
    if number >= len(CITIES) * len(GROUP_KINDS):
        name += f" {number // (len(CITIES) * len(GROUP_KINDS)) + 1}"
    pool = venues_of[city_index]
    chosen = rng.sample(pool, rng.randint(1, 3))
    style = ("meetup", "google", "wordpress")[number % 3]
    # a fifth of the groups use a title others in the city use too
    shared = SHARED_TITLES[number % len(SHARED_TITLES)] if number % 5 == 0 else None
    return Group(number, name, city, chosen, style, tech, shared)


def city_venues(rng: random.Random) -> dict[int, list]:
    venues: dict[int, list] = {}
    for i, (name, region, _zone, lat, lon) in enumerate(CITIES):
        pool = []
        for v in range(30):
            street = f"{rng.randint(1, 2400)} {rng.choice(STREETS)}"
            title = f"{rng.choice(TECH)} {rng.choice(VENUE_KINDS)}"
            if v < 3:
                title = f"{name} Tech {VENUE_KINDS[v]}"  # shared by many groups
            pool.append(
                (
                    title,
                    f"{street}, {name}, {region}",
                    lat + rng.uniform(-0.08, 0.08),
                    lon + rng.uniform(-0.08, 0.08),
                )
            )
        venues[i] = pool
    return venues


FILLER = (
    "about around before after during evening group people talk talks speaker speakers "
    "question questions answer answers project projects team teams open source code review "
    "community members newcomers welcome friendly space room floor building entrance "
    "elevator stairs door sign badge name tag snacks drinks water coffee tea vegetarian "
    "vegan options sponsor sponsors host hosts thanks thank everyone anyone someone share "
    "learn learning teach teaching practice practical example examples hands session "
    "sessions break schedule agenda start end late early minutes hour hours recording "
    "slides notes link chat channel forum mailing list announce announcement update "
    "updates news release version feature features bug bugs fix fixes tool tools library "
    "libraries framework frameworks server servers cloud cluster network data database "
    "query queries model models test tests deploy production staging laptop charger power "
    "wifi password guest list please bring your own our their this that with from into"
).split()


def description(rng: random.Random, group: Group, title: str, link: str) -> str:
    """Return 300-1,500 characters as groups write them: a few stock lines, then prose."""
    target = rng.randint(300, 1500)
    parts = [f"{group.name} presents: {title}.", ""]
    parts += rng.sample(SENTENCE, 2)
    size = sum(len(p) + 1 for p in parts)
    while size < target:
        words = [rng.choice(FILLER) for _ in range(rng.randint(8, 20))]
        if rng.random() < 0.15:
            words.insert(rng.randrange(len(words)), group.tech)
        sentence = " ".join(words).capitalize() + "."
        parts.append(sentence)
        size += len(sentence) + 1
    parts += ["", f"Details and RSVP: {link}"]
    return "\n".join(parts)


def _start(rng: random.Random, weekend: bool) -> time:
    if weekend:
        return time(rng.choice((10, 11, 13)), 0)
    return time(rng.choice((17, 18, 18, 18, 19)), rng.choice((0, 0, 30)))


def group_file(group: Group, rng: random.Random, first_uid: int) -> str:
    """Return the whole .ics export of one group: PER_FILE VEVENTs."""
    name, region, zone, _lat, _lon = group.city
    lines: list[str] = []
    made = 0
    n = first_uid
    while made < PER_FILE:
        n += 1
        venue = rng.choice(group.venues)
        day = NOW.date() + timedelta(days=rng.randint(-7, 365))
        weekend = day.weekday() >= 5
        all_day = rng.random() < 0.02
        series = made <= PER_FILE - 2 and rng.random() < 0.1
        if group.shared_title and rng.random() < 0.5:
            title = group.shared_title
            venue = group.venues[0]
        elif series:
            title = f"{group.name}: {rng.choice(('Monthly Meeting', 'Meetup', 'Hack Night'))}"
        else:
            title = (
                f"{rng.choice(TALK_A)} {rng.choice(TALK_B)} {rng.choice(TALK_C)} with {group.tech}"
            )
        start_time = _start(rng, weekend)
        if series:
            day = NOW.date() - timedelta(days=rng.randint(60, 400))
        uid = _uid(group, n, rng)
        link = _link(group, n)
        text = description(rng, group, title, link)
        props = _props(group, rng, uid, title, text, venue, link, zone)
        if all_day:
            times = [
                f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
                f"DTEND;VALUE=DATE:{day + timedelta(days=rng.choice((1, 2))):%Y%m%d}",
            ]
        else:
            begin = datetime.combine(day, start_time)
            end = begin + timedelta(hours=rng.choice((2, 2, 3)) + (3 if weekend else 0))
            times = [
                f"DTSTART;TZID={zone}:{begin:%Y%m%dT%H%M%S}",
                f"DTEND;TZID={zone}:{end:%Y%m%dT%H%M%S}",
            ]
        rule: list[str] = []
        override: list[str] = []
        if series and not all_day:
            weekday = ("MO", "TU", "WE", "TH")[group.number % 4]
            if rng.random() < 0.5:
                rule.append(f"RRULE:FREQ=MONTHLY;BYDAY={1 + group.number % 3}{weekday}")
            else:
                rule.append("RRULE:FREQ=WEEKLY;INTERVAL=4")
            # one skipped occurrence: the dates a rule makes are unknown here,
            # so skip the first (an EXDATE that names no occurrence is ignored)
            rule.append(f"EXDATE;TZID={zone}:{begin:%Y%m%dT%H%M%S}")
            if rng.random() < 0.5:
                moved = begin + timedelta(days=28 * rng.randint(2, 10))
                override = [
                    "BEGIN:VEVENT",
                    *props,
                    f"RECURRENCE-ID;TZID={zone}:{moved:%Y%m%dT%H%M%S}",
                    f"DTSTART;TZID={zone}:{moved + timedelta(minutes=30):%Y%m%dT%H%M%S}",
                    f"DTEND;TZID={zone}:{moved + timedelta(hours=2, minutes=30):%Y%m%dT%H%M%S}",
                    "END:VEVENT",
                ]
        lines += ["BEGIN:VEVENT", *times, *rule, *props, "END:VEVENT"]
        made += 1
        if override:
            lines += override
            made += 1
    return _calendar(group, zone, lines, name)


def _uid(group: Group, n: int, rng: random.Random) -> str:
    if group.style == "meetup":
        return f"event_{310000000 + n}@meetup.com"
    if group.style == "google":
        return f"{uuid.UUID(int=rng.getrandbits(128)).hex[:26]}@google.com"
    return f"{n}-{1700000000 + n}-{1700003600 + n}@{_host(group)}"


def _host(group: Group) -> str:
    return f"group{group.number}.example.org"


def _link(group: Group, n: int) -> str:
    if group.style == "meetup":
        return f"https://www.meetup.com/group-{group.number}/events/{310000000 + n}/"
    return f"https://{_host(group)}/events/{n}/"


def _props(
    group: Group,
    rng: random.Random,
    uid: str,
    title: str,
    text: str,
    venue: tuple[str, str, float, float],
    link: str,
    zone: str,
) -> list[str]:
    vname, address, lat, lon = venue
    stamp = "DTSTAMP:20261122T120000Z"
    if group.style == "meetup":
        return [
            stamp,
            "STATUS:CONFIRMED",
            f"SUMMARY:{escape(title)}",
            f"DESCRIPTION:{escape(text)}",
            "CLASS:PUBLIC",
            "CREATED:20261001T120000Z",
            f"GEO:{lat:.6f};{lon:.6f}",
            f"LOCATION:{escape(f'{vname} ({address})')}",
            f"URL:{link}",
            f"UID:{uid}",
        ]
    if group.style == "google":
        return [
            stamp,
            f"UID:{uid}",
            "CREATED:20260901T101500Z",
            f"DESCRIPTION:{escape(text)}",
            f"LAST-MODIFIED:2026110{rng.randint(1, 9)}T09{rng.randint(10, 59)}00Z",
            f"LOCATION:{escape(address)}",
            f"SEQUENCE:{rng.randint(0, 3)}",
            "STATUS:CONFIRMED",
            f"SUMMARY:{escape(title)}",
            "TRANSP:OPAQUE",
        ]
    return [
        stamp,
        "CREATED:20261002T080000Z",
        "LAST-MODIFIED:20261110T080000Z",
        f"UID:{uid}",
        f"SUMMARY:{escape(title)}",
        f"DESCRIPTION:{escape(text)}",
        f"URL:{link}",
        f"LOCATION:{escape(f'{vname}, {address}')}",
        f"GEO:{lat:.6f};{lon:.6f}",
        f'X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-ADDRESS="{address}";X-APPLE-RADIUS=500;'
        f"X-TITLE={escape(vname)}:geo:{lat:.6f},{lon:.6f}",
        f"CATEGORIES:{escape(group.tech)},Meetup",
        f'ORGANIZER;CN="{group.name}":MAILTO:events@{_host(group)}',
        f"ATTACH;FMTTYPE=image/png:https://{_host(group)}/wp-content/uploads/logo.png",
    ]


def _calendar(group: Group, zone: str, lines: list[str], city: str) -> str:
    body = "".join(fold(line) for line in lines)
    if group.style == "meetup":
        head = (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Meetup//RemoteApi//EN\r\n"
            "CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\n"
            f"X-ORIGINAL-URL:https://www.meetup.com/group-{group.number}/\r\n"
            + fold(f"X-WR-CALNAME:Events - {group.name}")
        )
    elif group.style == "google":
        head = (
            "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n"
            "VERSION:2.0\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\n"
            + fold(f"X-WR-CALNAME:{group.name}")
            + f"X-WR-TIMEZONE:{zone}\r\n"
        )
    else:
        head = (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
            f"PRODID:-//{group.name} - ECPv6.8.1//NONSGML v1.0//EN\r\n"
            "CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\n"
            + fold(f"X-WR-CALNAME:{group.name}")
            + f"X-ORIGINAL-URL:https://{_host(group)}\r\n"
            + fold(f"X-WR-CALDESC:Events for {group.name} in {city}")
            + "REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\nX-PUBLISHED-TTL:PT1H\r\n"
        )
    return head + vtimezone(zone) + body + "END:VCALENDAR\r\n"


def write_corpus(folder: Path, vevents: int, seed: int = 18) -> list[Path]:
    """Write ``vevents`` VEVENTs as group exports of PER_FILE each; return the files."""
    rng = random.Random(seed)
    venues = city_venues(rng)
    paths = []
    for number in range(max(1, vevents // PER_FILE)):
        group = make_group(number, rng, venues)
        path = folder / f"{group.style}-{number:05d}.ics"
        path.write_text(group_file(group, rng, number * 1000), newline="")
        paths.append(path)
    return paths
