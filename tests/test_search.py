"""Search by text, topic, kind, place and time, on a real store filled through upsert."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import techcal.store.search as search_module
from techcal.errors import QueryError, UnknownPlace, UnknownTopic
from techcal.normalise.gazetteer import distance_km
from techcal.store import Source, add_source, upsert_events
from techcal.store.query import Query, build_query, parse_day, parse_distance
from techcal.store.search import get_event, literal_words, search
from techcal.store.upcoming import topic_counts

from conftest import NOW, make_event

PORTLAND = (45.5098, -122.6833)
VANCOUVER_WA = (45.6387, -122.6615)


def _event(source, uid, title, days, **changes):
    values = dict(
        source=source,
        source_uid=uid,
        title=title,
        description="",
        url=f"https://example.org/{uid}",
        days=days,
        venue=None,
        city=None,
        region=None,
        country=None,
        lat=None,
        lon=None,
        kind="user-group",
        topics=(),
    )
    values.update(changes)
    return make_event(0, **values)


@pytest.fixture
def world(db):
    """Events in and around Portland and Berlin, online, across the antimeridian, at a pole."""
    for name, kind, city, topics in (
        ("plug", "lug", "Portland, OR", ("linux",)),
        ("pdx", "user-group", "Portland, OR", ()),
        ("berlin", "user-group", "Berlin", ()),
        ("pacific", "lug", None, ()),
    ):
        add_source(
            db,
            Source(
                name=name, url=f"https://{name}.example/events.ics", kind=kind, city=city,
                topics=topics,
            ),
        )  # fmt: skip
    plug = [
        _event("plug", "p1", "PLUG monthly meeting: Intro to eBPF", 3,
               lat=PORTLAND[0], lon=PORTLAND[1], kind="lug",
               description="Bring a laptop with a recent kernel."),
        _event("plug", "p2", "PLUG social", 10, lat=PORTLAND[0], lon=PORTLAND[1],
               kind="lug", status="cancelled"),
        _event("plug", "p3", "PLUG meeting last month", -20, lat=PORTLAND[0],
               lon=PORTLAND[1], kind="lug"),
        _event("plug", "p4", "PLUG install fest", 12, lat=PORTLAND[0], lon=PORTLAND[1],
               kind="lug"),
    ]  # fmt: skip
    upsert_events(db, "plug", plug, now=NOW)
    # p4 vanishes from its source before it happens: removed, always hidden
    upsert_events(db, "plug", plug[:3], now=NOW)
    upsert_events(
        db,
        "pdx",
        [
            _event("pdx", "d1", "PDX Python: async web apps", 5, venue="Lucky Lab",
                   city="Portland", region="OR", country="US",
                   description="Talks about Python and asyncio."),
            _event("pdx", "d2", "Vancouver Rust meetup", 6, lat=VANCOUVER_WA[0],
                   lon=VANCOUVER_WA[1], description="Rustaceans across the river."),
            _event("pdx", "d3", "Salem Kubernetes workshop", 7, city="Salem", region="OR",
                   country="US"),
            _event("pdx", "d4", "Online: Kubernetes office hours (k8s)", 4, online=True,
                   online_url="https://meet.example/k8s"),
            _event("pdx", "d5", "Seattle cloud night", 8,
                   address="400 Broad St, Seattle, WA 98109, USA",
                   description="We mention python once."),
            _event("pdx", "d6", "Portland Rust conf next year", 400, lat=PORTLAND[0],
                   lon=PORTLAND[1]),
        ],
        now=NOW,
    )  # fmt: skip
    upsert_events(
        db,
        "berlin",
        [
            _event("berlin", "b1", "PyLadies Berlin: pandas night", 8, lat=52.52, lon=13.405),
            _event("berlin", "b2", "Potsdam LUG Stammtisch", 9, city="Potsdam", country="DE",
                   kind="lug"),
        ],
        now=NOW,
    )  # fmt: skip
    upsert_events(
        db,
        "pacific",
        [
            _event("pacific", "f1", "Fiji Python meetup", 11, lat=-16.8, lon=179.98),
            _event("pacific", "f2", "Taveuni LUG", 11, lat=-16.8, lon=-179.98, kind="lug"),
            _event("pacific", "s1", "South Pole hack night", 11, lat=-89.95, lon=120.0),
        ],
        now=NOW,
    )  # fmt: skip
    return db


def titles(db, **options) -> list[str]:
    query = build_query(now=NOW, **options)
    return [hit.title for hit in search(db.conn, query, now=NOW)]


ALL_UPCOMING = [
    "PLUG monthly meeting: Intro to eBPF",
    "Online: Kubernetes office hours (k8s)",
    "PDX Python: async web apps",
    "Vancouver Rust meetup",
    "Salem Kubernetes workshop",
    "Seattle cloud night",
    "PyLadies Berlin: pandas night",
    "Potsdam LUG Stammtisch",
    "Fiji Python meetup",
    "Taveuni LUG",
    "South Pole hack night",
    "Portland Rust conf next year",
]


def test_without_filters_upcoming_events_come_in_start_order(world):
    # past, cancelled and removed events are not shown
    assert titles(world, limit=0) == ALL_UPCOMING


def test_limit_cuts_the_list(world):
    assert titles(world, limit=3) == ALL_UPCOMING[:3]


def test_cancelled_events_are_shown_only_when_asked(world):
    shown = titles(world, include_cancelled=True, limit=0)
    assert "PLUG social" in shown
    assert "PLUG install fest" not in shown  # removed: never


def test_text_is_ranked_title_first(world):
    # "python" is in two titles and in one description only
    found = titles(world, text="python")
    assert set(found[:2]) == {"PDX Python: async web apps", "Fiji Python meetup"}
    assert found[2:] == ["Seattle cloud night"]  # only its description says python
    assert "PyLadies Berlin: pandas night" not in found  # PyLadies is a topic, not the word


def test_text_prefix_phrase_and_boolean_queries(world):
    assert sorted(titles(world, text="kube*")) == [
        "Online: Kubernetes office hours (k8s)",
        "Salem Kubernetes workshop",
    ]
    assert titles(world, text='"office hours"') == ["Online: Kubernetes office hours (k8s)"]
    assert titles(world, text="rust NOT conf") == ["Vancouver Rust meetup"]
    assert set(titles(world, text="ebpf OR stammtisch")) == {
        "PLUG monthly meeting: Intro to eBPF",
        "Potsdam LUG Stammtisch",
    }


@pytest.mark.parametrize(
    "text", ['"unbalanced', "AND OR (", "C++", "NEAR(", "title:", "*", "kernel)", "-rust"]
)
def test_fts_syntax_in_user_text_is_never_an_error(world, text):
    found = titles(world, text=text)
    assert isinstance(found, list)


def test_user_text_that_is_not_fts_syntax_is_searched_word_by_word(world):
    assert literal_words('C++ "node.js" kube*') == '"C++" "node.js" "kube"*'
    assert titles(world, text="kernel)") == ["PLUG monthly meeting: Intro to eBPF"]


def test_topics_come_from_text_synonyms_and_the_source(world):
    # "k8s" and "Kubernetes" are synonyms; the online event says k8s
    assert titles(world, topics=["kubernetes"]) == [
        "Online: Kubernetes office hours (k8s)",
        "Salem Kubernetes workshop",
    ]
    # PyLadies is a python topic; the description mention tags Seattle too
    assert set(titles(world, topics=["python"])) == {
        "PDX Python: async web apps",
        "Seattle cloud night",
        "PyLadies Berlin: pandas night",
        "Fiji Python meetup",
    }
    # the plug source's own topic reaches its events; "LUG" is a linux synonym
    assert titles(world, topics=["linux"]) == [
        "PLUG monthly meeting: Intro to eBPF",
        "Potsdam LUG Stammtisch",
        "Taveuni LUG",
    ]


def test_several_topics_mean_any_of_them_without_repeats(world):
    both = titles(world, topics=["kubernetes", "python"], limit=0)
    assert len(both) == len(set(both))
    assert set(both) == set(titles(world, topics=["kubernetes"], limit=0)) | set(
        titles(world, topics=["python"], limit=0)
    )
    starts = [h.start_utc for h in search(world.conn, build_query(
        topics=["kubernetes", "python"], limit=0, now=NOW), now=NOW)]  # fmt: skip
    assert starts == sorted(starts)


def test_a_topic_is_named_by_slug_label_or_synonym_and_typos_get_suggestions(world):
    assert build_query(topics=["k8s"], now=NOW).topics == ("kubernetes",)
    with pytest.raises(UnknownTopic, match="did you mean kubernetes"):
        build_query(topics=["kubernets"], now=NOW)


def test_kind_filter(world):
    assert titles(world, kinds=["lug"]) == [
        "PLUG monthly meeting: Intro to eBPF",
        "Potsdam LUG Stammtisch",
        "Taveuni LUG",
    ]


def test_near_a_city_within_the_default_50km(world):
    # Vancouver WA is 14 km away, Salem 70 km, Seattle 230 km
    assert titles(world, near="Portland, OR") == [
        "PLUG monthly meeting: Intro to eBPF",
        "PDX Python: async web apps",
        "Vancouver Rust meetup",
        "Portland Rust conf next year",
    ]
    assert "Salem Kubernetes workshop" in titles(world, near="Portland, OR", within="100km")
    assert "Seattle cloud night" in titles(world, near="Portland, OR", within="300km")


def test_near_gives_distances(world):
    query = build_query(near="Portland, OR", now=NOW)
    hits = {h.title: h for h in search(world.conn, query, now=NOW)}
    place = query.near
    assert place is not None
    expected = distance_km(place.lat, place.lon, *VANCOUVER_WA)
    assert hits["Vancouver Rust meetup"].distance_km == pytest.approx(expected)
    assert 12 < expected < 16


def test_radius_edges_just_inside_and_just_outside(world):
    near = f"{PORTLAND[0]},{PORTLAND[1]}"
    gap = distance_km(*PORTLAND, *VANCOUVER_WA)
    inside = titles(world, near=near, within=f"{gap + 0.01:.4f}km")
    outside = titles(world, near=near, within=f"{gap - 0.01:.4f}km")
    assert "Vancouver Rust meetup" in inside
    assert "Vancouver Rust meetup" not in outside
    # miles are miles
    assert "Vancouver Rust meetup" in titles(world, near=near, within="9mi")
    assert "Vancouver Rust meetup" not in titles(world, near=near, within="8mi")


def test_wide_radius_walks_in_start_order_and_still_checks_distance(world):
    # beyond RTREE_MAX_KM the plan walks the start-time index instead of the box
    wide = titles(world, near="Portland, OR", within="600km", limit=0)
    assert "Seattle cloud night" in wide and "Salem Kubernetes workshop" in wide
    assert "PyLadies Berlin: pandas night" not in wide
    assert "Online: Kubernetes office hours (k8s)" not in wide


def test_search_across_the_antimeridian(world):
    # the two events are 4 km apart, on either side of longitude 180
    assert set(titles(world, near="-16.8,179.99", within="10km")) == {
        "Fiji Python meetup",
        "Taveuni LUG",
    }
    assert set(titles(world, near="-16.8,-179.99", within="10km")) == {
        "Fiji Python meetup",
        "Taveuni LUG",
    }


def test_search_over_a_pole(world):
    # 0.1 degrees from the pole on the other side of the globe: about 17 km
    assert titles(world, near="-89.9,-60", within="30km") == ["South Pole hack night"]
    assert titles(world, near="-89.9,-60", within="5km") == []


def test_online_and_in_person(world):
    assert titles(world, online=True) == ["Online: Kubernetes office hours (k8s)"]
    assert "Online: Kubernetes office hours (k8s)" not in titles(world, online=False, limit=0)
    assert len(titles(world, online=False, limit=0)) == len(ALL_UPCOMING) - 1
    # near a place, online-only events are nowhere: included only with --online
    near = titles(world, near="Portland, OR", online=True)
    assert "Online: Kubernetes office hours (k8s)" in near
    assert "Vancouver Rust meetup" in near
    assert "Online: Kubernetes office hours (k8s)" not in titles(world, near="Portland, OR")


def test_events_without_coordinates_are_placed_from_their_city_address_or_source(world):
    rows = dict(world.execute("SELECT title, geo_precision FROM events").fetchall())
    assert rows["PLUG monthly meeting: Intro to eBPF"] == "exact"
    assert rows["PDX Python: async web apps"] == "city"
    assert rows["Seattle cloud night"] == "city"  # the city in its address
    assert rows["Online: Kubernetes office hours (k8s)"] is None  # online only: nowhere
    seattle = world.execute("SELECT lat FROM events WHERE title = 'Seattle cloud night'")
    assert seattle.fetchone()[0] == pytest.approx(47.61, abs=0.01)


def test_an_event_with_no_place_gets_its_source_city(db):
    add_source(db, Source(name="pdx", url="https://pdx.example/e.ics", city="Portland, OR"))
    upsert_events(db, "pdx", [make_event(1, source="pdx", lat=None, lon=None, city="Portland, OR",
                                         venue=None)], now=NOW)  # fmt: skip
    lat, precision = db.execute("SELECT lat, geo_precision FROM events").fetchone()
    assert precision == "source"
    assert lat == pytest.approx(45.52, abs=0.01)


def test_date_windows(world):
    # --from/--to are days in the given zone, --to included in full
    assert titles(world, date_from="2026-11-30", date_to="2026-12-01", tz="UTC") == [
        "Seattle cloud night",
        "PyLadies Berlin: pandas night",
        "Potsdam LUG Stammtisch",
    ]
    # now is 2026-11-22 12:00 UTC: four calendar days end before the 26th
    assert titles(world, days=4, tz="UTC") == ["PLUG monthly meeting: Intro to eBPF"]
    assert titles(world, days=5, tz="UTC") == [
        "PLUG monthly meeting: Intro to eBPF",
        "Online: Kubernetes office hours (k8s)",
    ]
    assert titles(world, date_from="+300d") == ["Portland Rust conf next year"]
    # the past is there when asked for
    assert titles(world, date_from="2026-10-01", date_to="2026-11-10", tz="UTC") == [
        "PLUG meeting last month"
    ]


def test_dates_people_type():
    tz = ZoneInfo("America/Los_Angeles")
    now = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)  # Sunday 12:00 in Portland
    assert parse_day("today", "--from", tz=tz, now=now) == datetime(2026, 11, 22, tzinfo=tz)
    assert parse_day("tomorrow", "--from", tz=tz, now=now) == datetime(2026, 11, 23, tzinfo=tz)
    assert parse_day("+7d", "--from", tz=tz, now=now) == datetime(2026, 11, 29, tzinfo=tz)
    assert parse_day("+2w", "--from", tz=tz, now=now) == datetime(2026, 12, 6, tzinfo=tz)
    assert parse_day("friday", "--from", tz=tz, now=now) == datetime(2026, 11, 27, tzinfo=tz)
    assert parse_day("sun", "--from", tz=tz, now=now) == datetime(2026, 11, 22, tzinfo=tz)
    assert parse_day("2026-12-24", "--to", tz=tz, now=now) == datetime(2026, 12, 24, tzinfo=tz)
    assert parse_day("2026-12-24T18:30", "--to", tz=tz, now=now) == datetime(
        2026, 12, 24, 18, 30, tzinfo=tz
    )
    with pytest.raises(QueryError, match="--from: 'someday' is not a date"):
        parse_day("someday", "--from", tz=tz, now=now)


def test_days_count_calendar_days_from_the_start(world):
    query = build_query(date_from="2026-12-01", days=2, tz="Europe/Berlin", now=NOW)
    berlin = ZoneInfo("Europe/Berlin")
    assert query.start == datetime(2026, 12, 1, tzinfo=berlin)
    assert query.end == datetime(2026, 12, 3, tzinfo=berlin)


@pytest.mark.parametrize(
    ("text", "km"),
    [("25km", 25.0), ("25 km", 25.0), ("25", 25.0), ("15mi", 24.14016), ("500m", 0.5)],
)
def test_distances_people_type(text, km):
    assert parse_distance(text) == pytest.approx(km)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"near": "Portland", "within": "far"}, "--within: 'far' is not a distance"),
        ({"near": "Portland", "within": "10 leagues"}, "unknown unit"),
        ({"near": "Portland", "within": "0km"}, "more than 0"),
        ({"within": "10km"}, "--within: needs --near"),
        ({"date_to": "2026-11-01"}, "--to: the window ends before it starts"),
        ({"date_to": "2026-12-01", "days": 3}, "either --to or --days"),
        ({"near": "91,0"}, "out of range"),
        ({"tz": "Mars/Olympus"}, "unknown time zone"),
        ({"kinds": ["party"]}, "--kind"),
    ],
)
def test_bad_filters_are_clear_errors(options, message):
    with pytest.raises(QueryError, match=message):
        build_query(now=NOW, **options)


def test_unknown_place_suggests_close_names():
    with pytest.raises(UnknownPlace) as caught:
        build_query(near="Portlnd", now=NOW)
    assert "Portland, OR, US" in str(caught.value)
    assert "did you mean" in str(caught.value)


def test_a_common_word_filters_instead_of_ranking_and_finds_the_same_events(world, monkeypatch):
    ranked = set(titles(world, text="rust", limit=0))
    monkeypatch.setattr(search_module, "TEXT_CAP", 1)
    filtered = titles(world, text="rust", limit=0)
    assert set(filtered) == ranked == {"Vancouver Rust meetup", "Portland Rust conf next year"}
    # unranked matches come soonest first
    assert filtered == ["Vancouver Rust meetup", "Portland Rust conf next year"]
    near = titles(world, text="rust", near="Portland, OR", limit=0)
    assert near == ["Vancouver Rust meetup", "Portland Rust conf next year"]


def test_combined_filters(world):
    assert titles(
        world, text="python", topics=["python"], near="Portland, OR", within="25km", days=30
    ) == ["PDX Python: async web apps"]
    assert titles(world, kinds=["lug"], near="Berlin", within="40km") == ["Potsdam LUG Stammtisch"]
    assert titles(world, topics=["rust"], near="Portland", date_to="+30d") == [
        "Vancouver Rust meetup"
    ]


def test_results_carry_their_sources(world):
    hit = search(world.conn, build_query(text="eBPF", now=NOW), now=NOW)[0]
    (source,) = hit.sources
    assert source.name == "plug"
    assert source.title == "PLUG monthly meeting: Intro to eBPF"
    assert source.url == "https://example.org/p1"
    assert source.removed is False


def test_get_event_by_id_or_uid(world):
    hit = search(world.conn, build_query(text="eBPF", now=NOW), now=NOW)[0]
    assert get_event(world.conn, str(hit.id)).uid == hit.uid
    assert get_event(world.conn, hit.uid).id == hit.id
    assert get_event(world.conn, "999999") is None


def test_topic_counts_are_of_upcoming_visible_events(world):
    counts = topic_counts(world.conn, now=NOW)
    assert counts["kubernetes"] == 2
    assert counts["python"] == 4
    # PLUG's past meeting, cancelled social and removed install fest do not count
    assert counts["linux"] == 3


def test_retagging_after_a_taxonomy_change(world, tmp_path, monkeypatch):
    from techcal.store.normalise import ensure_tags_current, renormalise, tags_are_current

    renormalise(world.conn)
    assert tags_are_current(world.conn)
    custom = tmp_path / "topics.toml"
    custom.write_text('[ebpf]\nlabel = "eBPF"\nsynonyms = ["ebpf", "bpf"]\n', encoding="utf-8")
    monkeypatch.setenv("TECHCAL_TOPICS", str(custom))
    assert not tags_are_current(world.conn)
    assert ensure_tags_current(world.conn) > 0
    assert titles(world, topics=["ebpf"]) == ["PLUG monthly meeting: Intro to eBPF"]
    assert ensure_tags_current(world.conn) == 0


def test_a_moved_event_moves_in_every_index(world):
    moved = _event("pdx", "d2", "Vancouver Rust meetup", 6, lat=52.52, lon=13.405,
                   description="Rustaceans across the river.")  # fmt: skip
    others = [
        _event("pdx", uid, title, days, **extra)
        for uid, title, days, extra in (
            ("d1", "PDX Python: async web apps", 5, dict(venue="Lucky Lab", city="Portland",
             region="OR", country="US", description="Talks about Python and asyncio.")),
        )
    ]  # fmt: skip
    upsert_events(world, "pdx", [moved, *others], now=NOW, complete=False)
    assert "Vancouver Rust meetup" not in titles(world, near="Portland, OR")
    assert "Vancouver Rust meetup" in titles(world, near="Berlin", within="5km")


def test_query_describes_itself():
    assert Query().describe() == "all events"
    query = build_query(text="rust", topics=["python"], near="Berlin", within="10km", now=NOW)
    assert query.describe() == "'rust' python within 10 km of Berlin, DE"


def test_default_window_starts_now():
    query = build_query(now=NOW)
    assert query.start is None and query.end is None
    assert build_query(days=1, tz="UTC", now=NOW).end == datetime(2026, 11, 23, tzinfo=UTC)
    assert NOW + timedelta(days=1) > build_query(days=1, tz="UTC", now=NOW).end


def test_near_with_a_limit_reads_time_slices_and_keeps_start_order(world):
    every = titles(world, near="Portland, OR", within="300km", limit=0)
    assert len(every) == 6
    for limit in range(1, 7):
        assert titles(world, near="Portland, OR", within="300km", limit=limit) == every[:limit]


def test_the_next_crawl_retags_after_a_taxonomy_change(world, tmp_path, monkeypatch):
    from techcal.crawler.run import plan_crawl
    from techcal.store.normalise import tags_are_current

    custom = tmp_path / "topics.toml"
    custom.write_text('[ebpf]\nlabel = "eBPF"\nsynonyms = ["ebpf"]\n', encoding="utf-8")
    monkeypatch.setenv("TECHCAL_TOPICS", str(custom))
    plan_crawl(world, now=NOW)
    assert tags_are_current(world.conn)
    assert titles(world, topics=["ebpf"]) == ["PLUG monthly meeting: Intro to eBPF"]


def test_a_different_gazetteer_answer_is_no_reschedule(db, monkeypatch):
    from techcal.store.normalise import Normaliser

    add_source(db, Source(name="pdx", url="https://pdx.example/e.ics", city="Portland, OR"))
    record = make_event(1, source="pdx", lat=None, lon=None, city="Portland", region="OR")
    upsert_events(db, "pdx", [record], now=NOW)
    moved = Normaliser.locate

    def elsewhere(self, **kwargs):
        lat, lon, precision = moved(self, **kwargs)
        return (lat + 0.01, lon, precision) if precision == "city" else (lat, lon, precision)

    monkeypatch.setattr(Normaliser, "locate", elsewhere)
    record.description += " Doors at 18:30."
    result = upsert_events(db, "pdx", [record], now=NOW)
    assert (result.updated, result.rescheduled) == (1, 0)
    assert db.execute("SELECT sequence FROM events").fetchone()[0] == 0


def test_after_a_retag_the_same_records_are_unchanged(world, tmp_path, monkeypatch):
    from techcal.store.normalise import ensure_tags_current

    custom = tmp_path / "topics.toml"
    custom.write_text('[ebpf]\nlabel = "eBPF"\nsynonyms = ["ebpf"]\n', encoding="utf-8")
    monkeypatch.setenv("TECHCAL_TOPICS", str(custom))
    ensure_tags_current(world.conn)
    again = _event("berlin", "b1", "PyLadies Berlin: pandas night", 8, lat=52.52, lon=13.405)
    result = upsert_events(world, "berlin", [again], now=NOW, complete=False)
    assert (result.unchanged, result.updated) == (1, 0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"days": 99_999_999}, "--days: reaches past the year 9999"),
        ({"date_from": "+99999999d"}, "--from: '+99999999d' is too far from today"),
        ({"date_to": "9999-12-31"}, "--to: reaches past the year 9999"),
        ({"near": ""}, "--near: give a place"),
        ({"near": " , "}, "--near: give a place"),
    ],
)
def test_extreme_or_empty_values_are_clear_errors(options, message):
    with pytest.raises(QueryError, match=re.escape(message)):
        build_query(now=NOW, **options)


def test_a_place_without_a_name_is_unknown():
    with pytest.raises(UnknownPlace):
        build_query(near="  ,OR", now=NOW)


def test_show_of_ids_that_cannot_exist(world):
    assert get_event(world.conn, "99999999999999999999999") is None
    assert get_event(world.conn, "１") is None  # not an ASCII digit: looked up as a uid


def test_a_source_topic_outside_the_taxonomy_is_searchable(db):
    add_source(db, Source(name="lua", url="https://lua.example/e.ics", topics=("lua-pdx",)))
    upsert_events(db, "lua", [make_event(1, source="lua", topics=())], now=NOW)
    with pytest.raises(UnknownTopic):
        build_query(topics=["lua-pdx"], now=NOW)

    def in_store(slug):
        return db.execute("SELECT 1 FROM event_topics WHERE topic = ?", (slug,)).fetchone()

    query = build_query(topics=["lua-pdx"], now=NOW, topic_in_store=in_store)
    assert [h.title for h in search(db.conn, query, now=NOW)] == ["PLUG meeting 1: Intro to eBPF"]


def test_tidying_the_full_text_index_keeps_it_whole(world):
    from techcal.store.events import tidy_search_index

    for _ in range(3):
        tidy_search_index(world.conn, pages=50)
    world.execute("INSERT INTO events_fts (events_fts) VALUES ('integrity-check')")
    assert titles(world, text="ebpf") == ["PLUG monthly meeting: Intro to eBPF"]
