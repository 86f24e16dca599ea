"""One real event, one entry: merging copies of an event from several sources."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from dedupe_eval import evaluate
from hypothesis import example, given, settings
from hypothesis import strategies as st

from techcal.cli import cli
from techcal.errors import MergeError
from techcal.normalise.dedupe import (
    NO_PLACE,
    THRESHOLD,
    _Clues,
    canonical_url,
    clue_keys,
    link_key,
    lookup_keys,
    match_form,
    place_cell,
    read_match_form,
)
from techcal.normalise.titles import (
    TitleForm,
    form_similarity,
    names_shared,
    title_form,
    title_similarity,
)
from techcal.store import Source, add_source, upsert_events
from techcal.store.merges import merge_events, split_entry
from techcal.store.query import build_query
from techcal.store.search import search

from conftest import NOW, make_event

LA = ZoneInfo("America/Los_Angeles")
MEETING = NOW.replace(hour=2) + timedelta(days=11)  # 18:00 in Portland, Dec 2


@pytest.fixture
def pdx(db):
    for name, kind, url in (
        ("plug-meetup", "lug", "https://www.meetup.com/pdx-linux/events/ical/"),
        ("pdxlinux", "lug", "https://pdxlinux.org/events/"),
        ("calagator", "other", "https://calagator.org/events.ics"),
    ):
        add_source(db, Source(name=name, url=url, kind=kind, city="Portland, OR"))
    return db


def meetup(n=1, **changes):
    values = dict(
        source="plug-meetup",
        source_uid=f"event_30123456{n}@meetup.com",
        title="PLUG Monthly Meeting",
        description="Monthly meeting.",
        url=f"https://www.meetup.com/pdx-linux/events/30123456{n}/",
        start=MEETING,
        end=MEETING + timedelta(hours=2),
        venue="Lucky Labrador Beer Hall",
        city="Portland",
        lat=None,
        lon=None,
        organizer="Portland Linux/Unix Group",
        topics=(),
    )
    values.update(changes)
    return make_event(0, **values)


def community(**changes):
    values = dict(
        source="calagator",
        source_uid="calagator-77001",
        title="Portland Linux/Unix Group: December meeting - Intro to eBPF",
        description="Doors at 6, talk at 6:30. This month: Intro to eBPF, with live demos of "
        "tracing a running system.",
        url="https://calagator.org/events/77001",
        start=MEETING + timedelta(minutes=30),
        end=MEETING + timedelta(hours=2),
        venue="Lucky Lab Beer Hall",
        address="915 SE Hawthorne Blvd, Portland, OR 97214",
        city="Portland",
        lat=45.5122,
        lon=-122.6566,
        organizer=None,
        kind="other",
        topics=(),
    )
    values.update(changes)
    return make_event(0, **values)


def events_of(db):
    return db.execute(
        "SELECT e.id, e.uid, count(p.id) FROM events e JOIN provenance p ON p.event_id = e.id"
        " WHERE e.removed_at IS NULL GROUP BY e.id ORDER BY e.id"
    ).fetchall()


def test_canonical_urls():
    assert canonical_url("http://www.Example.org/e/42/?utm_source=x&fbclid=1") == "example.org/e/42"
    assert canonical_url("https://example.org/e/42") == "example.org/e/42"
    assert canonical_url("https://example.org/e?id=2&a=1") == "example.org/e?a=1&id=2"
    assert canonical_url(None) is None


def test_titles_forgive_prefixes_dates_numbering_and_acronyms():
    assert (
        title_similarity(
            "PLUG Monthly Meeting", "Portland Linux/Unix Group: December meeting - Intro to eBPF"
        )
        >= THRESHOLD
    )
    assert title_similarity("[PDX Python] Async web apps #42", "Async Web Apps (Dec 3)") >= 0.9
    assert title_similarity("PDX Python: Holiday social", "PDX Ruby: Holiday social") < 1.0
    assert title_similarity("Rust Berlin Meetup", "Python Berlin Meetup") < THRESHOLD


def test_the_same_event_from_two_sources_is_one_event_with_both(pdx):
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    result = upsert_events(pdx, "calagator", [community()], now=NOW)
    assert (result.new, result.merged) == (1, 1)
    ((event_id, uid, sources),) = events_of(pdx)
    assert sources == 2
    # the first source's uid stays: it never changes because of a merge
    assert uid == pdx.execute("SELECT uid FROM events").fetchone()[0]
    hits = search(pdx.conn, build_query(now=NOW), now=NOW)
    assert len(hits) == 1
    assert [s.name for s in hits[0].sources] == ["plug-meetup", "calagator"]
    assert {s.title for s in hits[0].sources} == {
        "PLUG Monthly Meeting",
        "Portland Linux/Unix Group: December meeting - Intro to eBPF",
    }


def test_which_value_wins(pdx):
    upsert_events(pdx, "calagator", [community()], now=NOW)
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    (row,) = pdx.execute(
        "SELECT uid, title, url, start, lat, geo_precision, description, organizer, sequence"
        " FROM events"
    ).fetchall()
    uid, title, url, start, lat, precision, description, organizer, sequence = row
    # the group's own feed beats the aggregator for title and link, though it came second
    assert title == "PLUG Monthly Meeting"
    assert url == "https://www.meetup.com/pdx-linux/events/301234561/"
    assert start == MEETING.isoformat()
    # exact coordinates beat the city's; the longest description wins
    assert (lat, precision) == (45.5122, "exact")
    assert description.startswith("Doors at 6")
    assert organizer == "Portland Linux/Unix Group"
    # the event keeps the uid it was first published under
    from techcal.store.events import event_uid

    assert uid == event_uid("calagator", "calagator-77001")
    assert sequence == 1  # its time moved from 18:30 to the organizer's 18:00


def test_a_timed_start_beats_an_all_day_one(pdx):
    day = MEETING.astimezone(LA).replace(hour=0, minute=0)
    upsert_events(pdx, "calagator", [community(start=day, end=day + timedelta(days=1),
                                               all_day=True)], now=NOW)  # fmt: skip
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    ((event_id, _, sources),) = events_of(pdx)
    assert sources == 2
    all_day, start = pdx.execute("SELECT all_day, start FROM events").fetchone()
    assert (all_day, start) == (0, MEETING.isoformat())


def test_entries_of_one_source_are_never_merged(pdx):
    twin = meetup(2, source_uid="event_301234562@meetup.com")
    upsert_events(pdx, "plug-meetup", [meetup(), twin], now=NOW)
    assert len(events_of(pdx)) == 2
    # and one entry of another source joins only one of them
    upsert_events(pdx, "calagator", [community()], now=NOW)
    assert sorted(n for *_, n in events_of(pdx)) == [1, 2]


@pytest.mark.parametrize(
    "other",
    [
        # the same group's meeting a month later
        dict(start=MEETING + timedelta(days=28), end=MEETING + timedelta(days=28, hours=2)),
        # another group, same evening, same building
        dict(title="PDX Python: async web apps", organizer="PDX Python", description="Python."),
        # the separately listed online watch party
        dict(title="Watch party: PLUG Monthly Meeting", online=True, venue=None, address=None,
             city=None, lat=None, lon=None, online_url="https://meet.example/plug"),
        # the morning workshop at the same place
        dict(title="Linux install workshop", start=MEETING - timedelta(hours=8),
             end=MEETING - timedelta(hours=5)),
        # the same title in another city
        dict(venue="Seattle Public Library", address="1000 4th Ave, Seattle, WA 98104",
             city="Seattle", lat=47.6067, lon=-122.3325),
    ],
)  # fmt: skip
def test_near_misses_stay_apart(pdx, other):
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    values = dict(title="PLUG Monthly Meeting", organizer=None)
    values.update(other)
    result = upsert_events(pdx, "calagator", [community(**values)], now=NOW)
    assert result.merged == 0
    assert len(events_of(pdx)) == 2


def test_recurring_series_are_matched_occurrence_by_occurrence(pdx):
    weekly = [
        meetup(n, title="PLUG hack night", start=MEETING + timedelta(weeks=n),
               end=MEETING + timedelta(weeks=n, hours=3))
        for n in range(4)
    ]  # fmt: skip
    # the third week moved by a day, in both sources
    weekly[2].start += timedelta(days=1)
    weekly[2].end += timedelta(days=1)
    upsert_events(pdx, "plug-meetup", weekly, now=NOW)
    copies = [
        community(source_uid=f"cal-hack-{n}", title="Hack Night (PLUG)",
                  start=w.start, end=w.end, url=f"https://calagator.org/events/{n}")
        for n, w in enumerate(weekly)
    ]  # fmt: skip
    result = upsert_events(pdx, "calagator", copies, now=NOW)
    assert result.merged == 4
    pairs = pdx.execute(
        "SELECT group_concat(p.source_uid, ' ') FROM provenance p GROUP BY p.event_id"
    ).fetchall()
    assert sorted(p[0] for p in pairs) == sorted(
        f"event_30123456{n}@meetup.com cal-hack-{n}" for n in range(4)
    )


def test_a_change_from_a_second_source_updates_without_a_move(pdx):
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    upsert_events(pdx, "calagator", [community()], now=NOW)
    longer = community(description="Doors at 6, talk at 6:30. " + "More detail. " * 20)
    result = upsert_events(pdx, "calagator", [longer], now=NOW)
    assert (result.updated, result.rescheduled) == (1, 0)
    description, sequence = pdx.execute("SELECT description, sequence FROM events").fetchone()
    assert description == longer.description
    assert sequence == 0
    # the organizer moving it is a move
    later = meetup(start=MEETING + timedelta(hours=1), end=MEETING + timedelta(hours=3))
    result = upsert_events(pdx, "plug-meetup", [later], now=NOW)
    assert result.rescheduled == 1
    assert pdx.execute("SELECT start, sequence FROM events").fetchone() == (
        later.start.isoformat(),
        1,
    )


def test_one_source_dropping_it_leaves_the_event_to_the_other(pdx):
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    upsert_events(pdx, "calagator", [community()], now=NOW)
    upsert_events(pdx, "plug-meetup", [], now=NOW)
    removed_at, title = pdx.execute("SELECT removed_at, title FROM events").fetchone()
    assert removed_at is None
    assert title == community().title
    upsert_events(pdx, "calagator", [], now=NOW)
    assert pdx.execute("SELECT removed_at FROM events").fetchone()[0] is not None


def test_split_separates_an_entry_for_good(pdx):
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    upsert_events(pdx, "calagator", [community()], now=NOW)
    ((event_id, uid, _),) = events_of(pdx)
    done = split_entry(pdx.conn, str(event_id), "calagator", now=NOW)
    assert done.entries == ["calagator-77001"]
    assert [n for *_, n in events_of(pdx)] == [1, 1]
    assert pdx.execute("SELECT uid FROM events WHERE id = ?", (event_id,)).fetchone()[0] == uid
    # the next crawls keep it apart, and the first event's values are its own again
    upsert_events(pdx, "calagator", [community()], now=NOW)
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    assert [n for *_, n in events_of(pdx)] == [1, 1]
    assert pdx.execute("SELECT lat FROM events WHERE id = ?", (event_id,)).fetchone()[0] != 45.5122
    with pytest.raises(MergeError, match="only source"):
        split_entry(pdx.conn, str(event_id), "plug-meetup", now=NOW)
    with pytest.raises(MergeError, match="does not list it"):
        split_entry(pdx.conn, str(event_id), "pdxlinux", now=NOW)
    with pytest.raises(MergeError, match="no source 'nope'"):
        split_entry(pdx.conn, str(event_id), "nope", now=NOW)


def test_merge_forces_what_the_matcher_missed(pdx):
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    far = community(title="Kernel tracing evening", organizer=None)
    upsert_events(pdx, "calagator", [far], now=NOW)
    (a, uid_a, _), (b, _, _) = events_of(pdx)
    done = merge_events(pdx.conn, str(a), str(b), now=NOW)
    assert (done.event_id, done.other_id) == (a, b)
    ((kept, uid, sources),) = events_of(pdx)
    assert (kept, uid, sources) == (a, uid_a, 2)
    assert pdx.execute("SELECT removed_at FROM events WHERE id = ?", (b,)).fetchone()[0]
    upsert_events(pdx, "calagator", [far], now=NOW)
    assert [n for *_, n in events_of(pdx)] == [2]
    with pytest.raises(MergeError, match="same event"):
        merge_events(pdx.conn, str(a), str(a), now=NOW)


def test_events_split_and_merge_commands(runner, pdx, db_path):
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    upsert_events(pdx, "calagator", [community()], now=NOW)
    ((event_id, _, _),) = events_of(pdx)
    result = runner.invoke(cli, ["--db", str(db_path), "events", "split", str(event_id),
                                 "calagator"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "is now event" in result.output
    other = events_of(pdx)[1][0]
    result = runner.invoke(cli, ["--db", str(db_path), "events", "merge", str(event_id),
                                 str(other)])  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = runner.invoke(cli, ["--db", str(db_path), "show", str(event_id), "--json"])
    assert [s["name"] for s in json.loads(shown.output)["sources"]] == [
        "plug-meetup",
        "calagator",
    ]
    bad = runner.invoke(cli, ["--db", str(db_path), "events", "split", "999", "calagator"])
    assert bad.exit_code == 1
    assert "no event '999'" in bad.output


def test_matching_can_be_turned_off(pdx):
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    upsert_events(pdx, "calagator", [community()], now=NOW, match=False)
    assert len(events_of(pdx)) == 2


def test_the_labelled_evaluation_set(tmp_path):
    score = evaluate(tmp_path / "eval.db")
    assert score.entries >= 300
    assert score.groups >= 100
    detail = f"wrong merges {score.wrong[:10]}, missed {score.missed[:10]}"
    assert score.precision == 1.0, detail
    assert score.recall >= 0.94, detail


def test_parallel_talks_of_one_conference_stay_apart(pdx):
    add_source(pdx, Source(name="conf", url="https://pyc.example/schedule/", kind="conference"))
    talk = dict(organizer="PyCascades", address=None, lat=None, lon=None)
    first = community(source="conf", source_uid="talk-1", venue="Room 1", url="https://pyc.example/t/1",
                      title="PyCascades: Type hints in practice", **talk)  # fmt: skip
    upsert_events(pdx, "conf", [first], now=NOW)
    other = community(venue="Room 2", title="PyCascades 2027: Rust for Pythonistas", **talk)
    result = upsert_events(pdx, "calagator", [other], now=NOW)
    assert result.merged == 0


def test_generic_titles_at_two_venues_stay_apart(pdx):
    day = MEETING.astimezone(LA).replace(hour=0, minute=0)
    whole_day = dict(start=day, end=day + timedelta(days=1), all_day=True, lat=None, lon=None)
    hackathon = meetup(title="Hackathon", venue="PSU Engineering", organizer="PSU ACM", **whole_day)
    upsert_events(pdx, "plug-meetup", [hackathon], now=NOW)
    result = upsert_events(pdx, "calagator", [community(title="Climate Hackathon",
                           venue="Puppet HQ", address=None, organizer="Code for PDX",
                           **whole_day)], now=NOW)  # fmt: skip
    assert result.merged == 0


def test_removing_a_source_leaves_the_values_of_the_others(pdx):
    from techcal.store import remove_source

    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    upsert_events(pdx, "calagator", [community()], now=NOW)
    remove_source(pdx, "plug-meetup", now=NOW)
    title, start = pdx.execute("SELECT title, start FROM events").fetchone()
    assert (title, start) == (community().title, community().start.isoformat())


def test_split_and_merge_refuse_what_would_break_the_rules(pdx):
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    upsert_events(pdx, "calagator", [community()], now=NOW)
    ((event_id, _, _),) = events_of(pdx)
    # calagator no longer lists it: nothing of it is left to split off
    upsert_events(pdx, "calagator", [], now=NOW)
    with pytest.raises(MergeError, match="does not list it"):
        split_entry(pdx.conn, str(event_id), "calagator", now=NOW)
    # two entries of one source stay two events, even by hand
    twin = meetup(2, title="PLUG board meeting", start=MEETING + timedelta(days=1),
                  end=MEETING + timedelta(days=1, hours=1))  # fmt: skip
    upsert_events(pdx, "plug-meetup", [meetup(), twin], now=NOW)
    a, b = (row[0] for row in events_of(pdx))
    with pytest.raises(MergeError, match="both listed by plug-meetup"):
        merge_events(pdx.conn, str(a), str(b), now=NOW)


def test_a_merged_away_event_cannot_be_merged_again(pdx):
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    upsert_events(pdx, "calagator", [community(title="Kernel tracing evening")], now=NOW)
    (a, uid_a, _), (b, _, _) = events_of(pdx)
    merge_events(pdx.conn, str(a), str(b), now=NOW)
    with pytest.raises(MergeError, match="is removed"):
        merge_events(pdx.conn, str(b), str(a), now=NOW)
    assert events_of(pdx)[0][:2] == (a, uid_a)


def test_the_organizer_moving_the_venue_is_a_move(pdx):
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    upsert_events(pdx, "calagator", [community()], now=NOW)
    moved = meetup(venue="Central Library, US Bank Room")
    result = upsert_events(pdx, "plug-meetup", [moved], now=NOW)
    assert result.rescheduled == 1
    assert pdx.execute("SELECT venue FROM events").fetchone()[0] == "Central Library, US Bank Room"


def test_retagging_keeps_the_topics_of_every_source(pdx, tmp_path, monkeypatch):
    from techcal.store.normalise import renormalise

    add_source(pdx, Source(name="ebpf", url="https://ebpf.example/e.ics", topics=("ebpf-club",)))
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    upsert_events(pdx, "ebpf", [community(source="ebpf", source_uid="e1", kind="other")], now=NOW)
    assert "ebpf-club" in json.loads(pdx.execute("SELECT topics FROM events").fetchone()[0])
    renormalise(pdx.conn)
    assert "ebpf-club" in json.loads(pdx.execute("SELECT topics FROM events").fetchone()[0])


def test_one_word_titles_must_be_the_other_titles_word():
    # seen merging real calendars: a standup and a history date, two holidays
    assert title_similarity("Standup", "Custer's Last Stand at Little Big Horn, 1876") == 0
    assert title_similarity("May Day", "Rogation Day") == 0
    assert title_similarity("Base event", "Knickerbockers becomes the first Baseball club") == 0
    assert title_similarity("Christmas", "Christmas Day") == 1.0


def test_each_copy_joins_its_own_twin(pdx):
    # both sources list a work day in two parts, an hour apart, same place
    def parts(source):
        return [
            community(source=source, source_uid=f"{source}-{n}", title=title, url=None,
                      start=MEETING + timedelta(hours=n), end=MEETING + timedelta(hours=n + 1))
            for n, title in enumerate(["Arbeitseinsatz", "Arbeitseinsatz Part2"])
        ]  # fmt: skip

    upsert_events(pdx, "pdxlinux", parts("pdxlinux"), now=NOW)
    upsert_events(pdx, "calagator", parts("calagator"), now=NOW)
    from techcal.store.stored import source_records

    said = source_records(pdx.conn)
    pairs: dict[int, list[object]] = {}
    for prov_id, event_id in pdx.execute("SELECT id, event_id FROM provenance ORDER BY id"):
        pairs.setdefault(event_id, []).append(said[prov_id]["title"])
    assert [pairs[k] for k in sorted(pairs)] == [["Arbeitseinsatz"] * 2,
                                                 ["Arbeitseinsatz Part2"] * 2]  # fmt: skip


def test_a_kind_of_gathering_is_not_a_name():
    assert names_shared("PLUG Hack Night", "PLUG: Hack Night")
    assert names_shared("PLUG Hack Night", "Portland Linux/Unix Group: Hack Night")
    assert not names_shared("Hack Night", "Hack Night")
    assert not names_shared("Hack Night", "Rust ATX: Hack Night")
    assert not names_shared("Coffee & Code", "Monthly Meetup")
    # two groups of one city and kind are two labels, however alike they are spelled
    assert (
        title_similarity(
            "Philadelphia Deno Developers: Hack Night", "Philadelphia Elixir Developers: Hack Night"
        )
        < THRESHOLD
    )
    assert (
        title_similarity(
            "PyCascades: Rust for Pythonistas", "PyCascades 2027: Rust for Pythonistas"
        )
        == 1.0
    )


#: a coworking space's Wednesday: every group's entry at one exact point
ROOM = dict(venue="Collective Agency Downtown", address="1033 SW Yamhill St, Portland, OR 97205",
            lat=45.52071, lon=-122.68231)  # fmt: skip


@pytest.mark.parametrize(
    ("stored", "listed", "merged"),
    [
        # Meetup iCal has no ORGANIZER; a Google Calendar entry has no URL either
        ({}, dict(url=None), False),
        # a WordPress calendar's entry of another group
        ({}, dict(organizer="PDX JavaScript Hackers"), False),
        ({}, dict(title="Code for PDX: Hack Night"), False),
        (dict(organizer="PDX Rust"), dict(organizer="PDX JavaScript Hackers"), False),
        # what links them: the same link, organizer, or a title naming the group
        ({}, dict(url="https://meetup.com/pdxrust/events/301234561?utm_source=calagator"), True),
        (dict(organizer="PDX JavaScript Hackers"), dict(organizer="PDX JavaScript Hackers"), True),
        (dict(title="Code for PDX: Hack Night"), dict(organizer="Code for PDX"), True),
        (dict(organizer="Portland Linux/Unix Group"), dict(title="PLUG Hack Night"), True),
    ],
)  # fmt: skip
def test_groups_sharing_a_title_and_a_room_stay_apart(pdx, stored, listed, merged):
    first = dict(
        title="Hack Night", organizer=None, url="https://www.meetup.com/pdxrust/events/301234561/"
    )
    upsert_events(pdx, "plug-meetup", [meetup(**{**ROOM, **first, **stored})], now=NOW)
    other = dict(title="Hack Night", organizer=None, start=MEETING, **ROOM)
    result = upsert_events(pdx, "calagator", [community(**{**other, **listed})], now=NOW)
    assert result.merged == int(merged)


def forms_of(db):
    return dict(db.execute("SELECT event_id, form FROM match_forms").fetchall())


def keys_of(db, event_id):
    return set(db.execute("SELECT key, hour FROM match_keys WHERE event_id = ?", (event_id,)))


def filed(db, event_id, form):
    start, lat, lon = db.execute(
        "SELECT start_utc, lat, lon FROM events WHERE id = ?", (event_id,)
    ).fetchone()
    return {(key, start // 3600) for key in clue_keys(form, place_cell(lat, lon))}


def test_each_event_is_filed_under_its_keys_and_filed_again_when_renamed(pdx):
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    ((event_id, _uid, _n),) = events_of(pdx)
    form = match_form("PLUG Monthly Meeting", meetup().url, "Portland Linux/Unix Group")
    assert forms_of(pdx)[event_id] == form
    assert keys_of(pdx, event_id) == filed(pdx, event_id, form)
    # the organizer renames it and moves it a day: filed under the new title and day only
    day = timedelta(days=1)
    renamed = meetup(
        title="Intro to eBPF", start=MEETING + day, end=MEETING + day + timedelta(hours=2)
    )
    upsert_events(pdx, "plug-meetup", [renamed], now=NOW)
    form = match_form("Intro to eBPF", meetup().url, "Portland Linux/Unix Group")
    assert forms_of(pdx)[event_id] == form
    assert keys_of(pdx, event_id) == filed(pdx, event_id, form)
    assert pdx.execute("SELECT count(*) FROM match_stale").fetchone() == (0,)


def test_an_event_another_writer_changed_is_filed_before_the_next_match(pdx):
    # filed under "rust" and "hack": nothing the community calendar's title shares
    upsert_events(pdx, "plug-meetup", [meetup(title="Rust Hack Night", organizer=None)], now=NOW)
    ((event_id, _uid, _n),) = events_of(pdx)
    # plain SQL, as another tool (or an older techcal) would write it
    pdx.execute("UPDATE events SET title = 'PLUG Monthly Meeting' WHERE id = ?", (event_id,))
    pdx.conn.commit()
    result = upsert_events(pdx, "calagator", [community()], now=NOW)
    assert result.merged == 1
    # (the merge worked the title out again from what the sources said)
    title, url, organizer = pdx.execute(
        "SELECT title, url, organizer FROM events WHERE id = ?", (event_id,)
    ).fetchone()
    assert forms_of(pdx)[event_id] == match_form(title, url, organizer)


def test_a_damaged_match_form_is_worked_out_again(pdx):
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    ((event_id, _uid, _n),) = events_of(pdx)
    # (the second: words "as the first variant", and no variants)
    for damaged in ("not a form", "a\x1f=\x1f\x1f\x1f\x1f\x1f\x1f\x1f"):
        pdx.execute("UPDATE match_forms SET form = ? WHERE event_id = ?", (damaged, event_id))
        pdx.conn.commit()
        result = upsert_events(pdx, "calagator", [community()], now=NOW)
        assert result.merged == 1
        pdx.execute("DELETE FROM provenance WHERE source_id != 1")
        pdx.conn.commit()


_TITLE_WORDS = st.sampled_from(
    "PLUG Portland Linux Unix Group Python PDX Rust ATX Hack Night Meetup Intro to eBPF "
    "KCD Kubernetes Community Days Coffee Code 2027 Dec 3 #42 : - ( ) München Café".split()
)
_TITLES = st.lists(_TITLE_WORDS, max_size=8).map(" ".join) | st.text(max_size=40)
_ORGANIZERS = st.none() | st.just("") | _TITLES
_LINKS = st.none() | st.sampled_from(["https://example.org/e/1", "http://www.example.org/e/1/"])


@settings(max_examples=500, deadline=None)
@given(_TITLES, _ORGANIZERS, _LINKS, _TITLES, _ORGANIZERS, _LINKS)
# an organizer with all the other's words, with some of them, with no words at all
@example("Hack Night", "Portland Linux/Unix Group", None, "Intro", "PLUG Portland Linux", None)
@example("Hack Night", "PLUG", None, "Intro", "Portland Linux/Unix Group", None)
@example("Hack Night", "Portland Linux/Unix Group", None, "Intro", "The", None)
def test_every_candidate_the_clues_let_through_shares_a_key(
    title, organizer, link, other, other_organizer, other_link
):
    # the index may find more than the clues let through (they are checked
    # again), never fewer: a copy it missed would be a duplicate event
    form, key = title_form(title), link_key(link)
    entry = _Clues(form, key, organizer)
    theirs = match_form(other, other_link, other_organizer)
    if entry.shared(title_form(other), link_key(other_link), other_organizer):
        # (it is in one of the cells around the entry)
        cell, cells = "45,-123", ["45,-123", "45,-122", NO_PLACE]
        lookup, filed_under = lookup_keys(form, key, organizer, cells), clue_keys(theirs, cell)
        words = {k for keys in lookup.words.values() for k in keys}
        # (whichever of the organizer's words the store looks up by)
        by_organizer = bool(lookup.organizer) and all(
            filed_under & set(keys) for keys in lookup.organizer.values()
        )
        assert filed_under & (words | lookup.others) or by_organizer


@settings(max_examples=300, deadline=None)
@given(_TITLES, _ORGANIZERS)
def test_a_match_form_reads_back_as_it_was_written(title, organizer):
    form = title_form(title)
    back, link = read_match_form(
        match_form(title, "https://example.org/e/1?utm_source=x", organizer)
    )
    assert link == link_key("http://www.example.org/e/1/")
    for name in TitleForm.__slots__:
        assert getattr(back, name) == getattr(form, name), name
    # comparing the forms is comparing the titles
    assert form_similarity(back, title_form("PLUG: Intro to eBPF")) == title_similarity(
        title, "PLUG: Intro to eBPF"
    )


def test_the_words_a_busy_evening_shares_are_counted_as_dedupe_counts_them(pdx):
    from techcal.normalise.dedupe import common_words
    from techcal.store.database import write_transaction
    from techcal.store.matching import Matcher, _Near

    # 70 groups at one hall on one evening: "portland" in 49 titles, "rust" in 14, "hack" in 10,
    # a number in one each
    kinds = ["Python", "Ruby", "Linux", "Go", "Rust"]
    for n in range(70):
        name = f"group-{n}"
        add_source(pdx, Source(name=name, url=f"https://g{n}.example.org/", kind="other"))
        title = f"{'Portland ' if n % 10 < 7 else ''}{kinds[n % 5]} {n}{' Hack' * (n % 7 == 0)}"
        link = f"https://g{n}.example.org/{n}"
        entry = community(source=name, source_uid=f"{n}", title=title, url=link)
        upsert_events(pdx, name, [entry], now=NOW)
    stored = pdx.execute(
        "SELECT title FROM events e, match_forms f WHERE f.event_id = e.id"
    ).fetchall()
    assert len(stored) > 60  # (a few alike titles may be one event)
    with write_transaction(pdx.conn):
        matcher = Matcher(pdx.conn, 1)
        start = int((MEETING + timedelta(minutes=30)).timestamp())
        near = _Near.around({"lat": 45.5122, "lon": -122.6566, "all_day": 0, "start_utc": start})
        form = title_form("Portland Rust Hack Night")
        assert near.cells is not None
        common, _ = matcher._common(near, lookup_keys(form, None, None, near.cells))
    rows = [(0, "", t, None, "", 0, 0, "", "", "", 0, 0, "", 0, None, title_form(t), None)
            for (t,) in stored]  # fmt: skip
    assert "portland" in common
    assert common == common_words(rows) & set(form.all_words)


def test_an_event_that_moves_is_filed_in_its_new_place(pdx):
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    ((event_id, _uid, _n),) = events_of(pdx)
    form = forms_of(pdx)[event_id]
    # a gazetteer update, or another writer, moves it two degrees north
    pdx.execute("UPDATE events SET lat = lat + 2 WHERE id = ?", (event_id,))
    pdx.conn.commit()
    upsert_events(pdx, "calagator", [community(lat=47.6, lon=-122.3)], now=NOW)
    assert keys_of(pdx, event_id) == filed(pdx, event_id, form)


def test_a_timed_entry_looks_up_the_hours_of_all_day_events_it_may_be(pdx):
    from techcal.store.matching import _Near

    start = int(MEETING.timestamp())
    near = _Near.around({"lat": 45.5, "lon": -122.6, "all_day": 0, "start_utc": start})
    # an all-day event of the next day in a zone to the west starts up to 14 h later
    assert near.hours == ((start - 38 * 3600) // 3600, (start + 14 * 3600) // 3600)


def test_a_store_not_yet_filed_is_filed_a_few_at_a_time_and_still_matched(pdx, monkeypatch):
    from techcal.store import match_index

    weeks = [MEETING + timedelta(days=7 * n) for n in range(5)]
    events = [
        meetup(n, start=start, end=start + timedelta(hours=2)) for n, start in enumerate(weeks)
    ]
    upsert_events(pdx, "plug-meetup", events, now=NOW)
    # as m011 leaves an older store: nothing filed, and no version noted
    pdx.execute("DELETE FROM match_keys")
    pdx.execute("DELETE FROM match_forms")
    pdx.execute("DELETE FROM meta WHERE key = 'match_forms'")
    pdx.conn.commit()
    monkeypatch.setattr(match_index, "FILE_AT_ONCE", 2)
    result = upsert_events(pdx, "calagator", [community()], now=NOW)
    assert result.merged == 1  # the unfiled events were read as before the index
    filed = pdx.execute("SELECT count(*) FROM match_forms").fetchone()[0]
    assert 0 < filed < 6  # (two per batch, and the new entry's event)
    while pdx.execute("SELECT count(*) FROM match_stale").fetchone()[0]:
        upsert_events(pdx, "calagator", [community()], now=NOW)
    assert pdx.execute("SELECT count(*) FROM match_forms").fetchone()[0] == 5


def test_a_deleted_event_loses_its_keys(pdx):
    upsert_events(pdx, "plug-meetup", [meetup()], now=NOW)
    ((event_id, _uid, _n),) = events_of(pdx)
    assert keys_of(pdx, event_id)
    pdx.execute("DELETE FROM provenance")
    pdx.execute("DELETE FROM events WHERE id = ?", (event_id,))
    pdx.conn.commit()
    upsert_events(pdx, "calagator", [community()], now=NOW)
    # (the community calendar's event may take the freed id: then its own keys only)
    reused = pdx.execute("SELECT 1 FROM events WHERE id = ?", (event_id,)).fetchone()
    expected = filed(pdx, event_id, forms_of(pdx)[event_id]) if reused else set()
    assert keys_of(pdx, event_id) == expected
