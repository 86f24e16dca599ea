"""The json source type: confs.tech conference data and JSON-LD documents, read and crawled.

Fixtures in tests/fixtures/json/ are shaped like the real files (one array
per topic, named after it); the real 2026 collection is read from the shared
folder when it is there.
"""

from __future__ import annotations

import doctest
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from loopback import LoopbackServer, Site

from techcal.feeds import conference_data, json_source
from techcal.feeds.base import MAX_WARNINGS, SourceDefaults
from techcal.feeds.conference_data import TOPICS, topic_of
from techcal.feeds.detect import detect_type, read_body
from techcal.feeds.json_source import read_json
from techcal.normalise import place_aliases
from techcal.normalise.topics import taxonomy
from techcal.store import Source, add_source
from techcal.store.ingest import import_files, ingest_body

from conftest import FIXTURES, SHARED_FIXTURES

JSON = FIXTURES / "json"
RAW = "https://raw.githubusercontent.com/tech-conferences/conference-data/main/conferences"
PYTHON_URL = f"{RAW}/2030/python.json"
DEFAULTS = SourceDefaults(source="confs-python")
SHARED = Path(os.environ.get("TECHCAL_SHARED_FIXTURES", SHARED_FIXTURES))
CONFERENCES_2026 = SHARED / "conference-data" / "2026"


def read(name: str, url: str | None = PYTHON_URL, defaults: SourceDefaults = DEFAULTS):
    return read_json((JSON / name).read_bytes(), defaults, url=url)


def by_title(events):
    found = {}
    for event in events:
        found.setdefault(event.title, []).append(event)
    return found


@pytest.mark.parametrize("module", [conference_data, json_source, place_aliases])
def test_docstring_examples(module):
    failures, tried = doctest.testmod(module, verbose=False)
    assert tried > 0 and failures == 0


# ---------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b'[{"name": "PyCon"}]', None, "json"),
        (b'\xef\xbb\xbf\r\n  {"@context": "https://schema.org"}', None, "json"),
        (b"[]", "text/plain; charset=utf-8", "json"),  # GitHub raw files
        ('[{"name": "Zürich"}]'.encode("utf-16"), None, "json"),
        ('[{"name": "x"}]'.encode("utf-16-le"), None, "json"),
        (b"anything", "application/json; charset=utf-8", "json"),
        (b"anything", "application/ld+json", "json"),
        (b"anything", "text/json", "json"),
        (b"anything", "application/vnd.api+json", "json"),
        # what is not JSON stays what it is
        (b"[Warning] cache miss\n<html><body>Events</body></html>", None, "html"),
        (b"[section]\nkey = value\n", None, "html"),
        (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", None, "ics"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', None, "rss"),
        (b'<html><script type="application/ld+json">{"@type": "Event"}</script>', None, "html"),
        (b"{{ template }}", None, "html"),
    ],
)
def test_json_is_told_by_content_type_or_its_first_bracket(body, content_type, expected):
    assert detect_type(body, "auto", content_type) == expected


def test_a_declared_type_wins():
    assert detect_type(b"<html></html>", "json") == "json"
    assert detect_type(b"[1, 2]", "ics") == "ics"


def test_read_body_sends_json_to_its_reader_with_the_url():
    data = (JSON / "python.json").read_bytes()
    result = read_body(data, "json", DEFAULTS, url=PYTHON_URL)
    assert len(result.events) == 6
    assert {e.categories for e in result.events} == {("python",)}


# ---------------------------------------------------------------- conference data


def test_conference_entries_become_all_day_conferences_with_their_cfp():
    result = read("python.json")
    assert result.recognised and result.complete and result.warnings == []
    events = by_title(result.events)
    (hyderabad,) = events["PyConf Hyderabad"]
    assert hyderabad.all_day and hyderabad.kind == "conference"
    assert hyderabad.start == datetime(2030, 3, 14, tzinfo=UTC)
    # endDate is the last day: the record ends the day after
    assert hyderabad.end == datetime(2030, 3, 16, tzinfo=UTC)
    assert (hyderabad.city, hyderabad.country, hyderabad.online) == ("Hyderabad", "India", False)
    assert hyderabad.url == "https://2030.pyconfhyd.org"
    assert "CFP closes 2030-01-15: https://www.papercall.io/pyconfhyd2030" in hyderabad.description
    assert "Code of conduct: https://2030.pyconfhyd.org/code-of-conduct" in hyderabad.description
    assert hyderabad.topics == ("python",) and hyderabad.categories == ("python",)
    assert hyderabad.problems() == []
    (india,) = events["PyCon India"]
    assert "CFP: https://in.pycon.org/cfp/2030/proposals/" in india.description
    (us,) = events["PyCon US"]
    assert us.end == datetime(2030, 5, 20, tzinfo=UTC)
    assert "Offers sign language or closed captions" in us.description


def test_online_and_hybrid_conferences():
    events = by_title(read("python.json").events)
    online = events["XtremePython Online Conference"][0]
    assert online.online and online.city is None and online.country is None
    assert online.start == datetime(2030, 5, 26, tzinfo=UTC)
    assert online.end == datetime(2030, 5, 27, tzinfo=UTC)  # a one-day conference
    (amsterdam,) = events["PyData Amsterdam"]
    assert amsterdam.online and amsterdam.city == "Amsterdam"
    assert "Online and in person" in amsterdam.description


def test_an_online_conference_is_not_put_in_the_sources_city():
    events = by_title(read("python.json", defaults=SourceDefaults("x", city="Berlin")).events)
    assert events["XtremePython Online Conference"][0].city is None
    assert events["PyCon US"][0].city == "Long Beach, CA"


def test_source_uids_are_stable_across_commits_of_the_data():
    first = {e.title + e.start.date().isoformat(): e.source_uid for e in read("python.json").events}
    assert first["PyCon US2030-05-13"] == "https://us.pycon.org/2030|2030-05-13"
    # one site, two editions: told apart by their first day
    assert (
        first["XtremePython Online Conference2030-05-26"]
        != (first["XtremePython Online Conference2030-11-10"])
    )
    entries = json.loads((JSON / "python.json").read_text())
    # a later commit: entries reordered, a trailing slash dropped, a name corrected
    entries.reverse()
    for entry in entries:
        entry["url"] = entry["url"].rstrip("/")
        entry["name"] = entry["name"].replace("PyCon US", "PyCon US 2030")
    again = read_json(json.dumps(entries).encode(), DEFAULTS, url=PYTHON_URL).events
    assert sorted(e.source_uid for e in again) == sorted(first.values())


def test_two_conferences_on_one_site_and_day_are_both_kept():
    entries = [
        {"name": "Summit Dubai", "url": "https://s.example", "startDate": "2030-10-26",
         "city": "Dubai", "country": "United Arab Emirates"},
        {"name": "Summit Abu Dhabi", "url": "https://s.example", "startDate": "2030-10-26",
         "city": "Abu Dhabi", "country": "United Arab Emirates"},
    ]  # fmt: skip
    result = read_json(json.dumps(entries).encode(), DEFAULTS, url=PYTHON_URL)
    assert len({e.source_uid for e in result.events}) == 2 and result.warnings == []


@pytest.mark.parametrize(
    ("url", "topics", "categories"),
    [
        (f"{RAW}/2026/opensource.json", ("open-source",), ("opensource",)),
        (f"{RAW}/2026/ux.json", ("ux-design",), ("ux",)),
        (f"{RAW}/2026/sre.json", ("sre",), ("sre",)),
        (f"{RAW}/2026/dotnet.json", ("dotnet",), ("dotnet",)),
        # people networking, not computer networks: no topic from the file
        (f"{RAW}/2026/networking.json", (), ("networking",)),
        ("https://example.org/events.json", (), ()),
        ("file:///home/me/conferences/python.JSON", ("python",), ("python",)),
        (None, (), ()),
    ],
)
def test_the_files_topic_comes_from_its_name(url, topics, categories):
    event = read("python.json", url=url).events[0]
    assert event.topics == topics and event.categories == categories


def test_the_sources_own_topics_stay():
    defaults = SourceDefaults("x", topics=("data", "python"))
    assert read("python.json", defaults=defaults).events[0].topics == ("data", "python")


def test_every_conference_topic_maps_into_the_taxonomy():
    known = taxonomy().topics
    assert {slug for slugs in TOPICS.values() for slug in slugs} <= set(known)
    assert TOPICS["cpp"] == ("c-cpp",) and TOPICS["general"] == ()
    assert topic_of(f"{RAW}/2027/tech-comm.json") == "tech-comm"


def test_a_conference_is_tagged_with_its_files_topic_when_stored(db):
    source = add_source(db, Source(name="confs-ux", url=f"{RAW}/2030/ux.json", type="json"))
    body = json.dumps([{"name": "Conf", "url": "https://c.example", "startDate": "2030-04-13"}])
    ingest_body(db, source, body.encode())
    (topics,) = db.conn.execute("SELECT topics FROM events").fetchone()
    assert json.loads(topics) == ["ux-design"]


# ---------------------------------------------------------------- hostile input

# file -> (events, recognised, failed entries, what each warning line says, in order)
CASES = {
    "bad-entries.json": (
        2,
        True,
        7,
        [
            "entry 2: no name; skipped",
            "entry 3 (Dateless Conf): no startDate; skipped",
            "entry 4 (Feb 30 Conf): startDate '2030-02-30' is not a date (YYYY-MM-DD); skipped",
            "entry 5 (Backwards Conf): endDate 2030-07-08 is before startDate 2030-07-10;"
            " taken as one day",
            "entry 6 (Numbers Conf): startDate 20300801 is not a date (YYYY-MM-DD); skipped",
            "entry 7 (Far Future Conf): 9999-12-31 to 9999-12-31 is outside the years"
            " 1900-2200; skipped",
            "entry 8: a string where an object belongs; skipped",
            "entry 9: null where an object belongs; skipped",
            "entry 10 (Good Conf) repeats entry 1; skipped",
        ],
    ),
    "empty-list.json": (0, True, 0, []),
    "not-json.json": (
        0,
        False,
        0,
        ["confs-python: not valid JSON (Expecting value at line 1 column 1)"],
    ),
    "truncated.json": (
        0,
        False,
        0,
        [
            "confs-python: not valid JSON (Expecting property name enclosed in double quotes"
            " at line 3 column 1)"
        ],
    ),  # fmt: skip
    "wrong-shape.json": (
        0,
        False,
        0,
        [
            "confs-python: JSON holds no conference entries and no schema.org Event"
            " (an object with keys message, documentation_url)"
        ],
    ),  # fmt: skip
    "itemlist.jsonld": (
        2,
        True,
        1,
        ["No date yet"],  # the words are techcal.feeds.jsonld's
    ),
    "one-event.jsonld": (1, True, 0, []),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_file_gives_what_it_holds_and_names_what_it_left_out(name):
    events, recognised, failed, warnings = CASES[name]
    result = read(name)
    assert len(result.events) == events
    assert result.recognised is recognised
    assert result.failed_entries == failed
    assert len(result.warnings) == len(warnings), result.warnings
    for line, says in zip(result.warnings, warnings, strict=True):
        assert says in line
    for event in result.events:
        assert event.problems() == []


def test_every_fixture_has_a_case():
    assert {p.name for p in JSON.iterdir()} == set(CASES) | {"python.json"}


def test_a_jsonld_document_resolves_links_against_its_url():
    events = by_title(read("itemlist.jsonld", url="https://rust.example/events.jsonld").events)
    (talk,) = events["Rust Meetup: async in practice"]
    assert talk.url == "https://rust.example/events/rust-async"
    assert talk.city == "Berlin" and talk.venue == "c-base" and not talk.all_day
    assert events["Rust Meetup: embedded"][0].online
    (fest,) = read("one-event.jsonld").events
    assert fest.source_uid == "https://lug.example/2030/install-fest#event"


@pytest.mark.parametrize(
    ("body", "warning"),
    [
        (b"[" * 200_000 + b"]" * 200_000, "confs-python: JSON nested too deeply to read"),
        (b"[" * 200_000, "confs-python: JSON nested too deeply to read"),
        (b"", "confs-python: empty body, not JSON"),
        (b'[{"name": "\xff\xfe\xfa"}]', "confs-python: not valid JSON"),
        (b'[{"name": "x", "startDate": 1' + b"1" * 5000 + b"}]", "confs-python: not valid JSON"),
        (b"[1, 2, 3]", "(an array of 3 values)"),
        (b'"2030-01-01"', "(a string)"),
        (b"null", "(null)"),
    ],
)
def test_bodies_that_are_not_usable_json_are_not_recognised(body, warning):
    result = read_json(body, DEFAULTS, url=PYTHON_URL)
    assert not result.recognised and result.events == []
    (line,) = result.warnings
    assert line.startswith("confs-python: ") and warning in line


def test_events_nested_past_the_depth_limit_are_not_looked_for():
    event = {"@type": "Event", "name": "Deep", "startDate": "2030-01-01"}
    shallow: object = event
    for _ in range(10):
        shallow = {"@graph": [shallow]}
    assert len(read_json(json.dumps(shallow).encode(), DEFAULTS).events) == 1
    deep: object = event
    for _ in range(300):
        deep = [deep]
    result = read_json(json.dumps(deep).encode(), DEFAULTS)
    assert not result.recognised and result.events == []


def test_a_million_bad_entries_keep_a_few_warnings_and_count_the_rest():
    body = b"[" + b",".join([b'{"name": "x"}'] * 200_000) + b"]"
    result = read_json(body, DEFAULTS, url=PYTHON_URL)
    assert result.recognised and result.events == []
    assert result.failed_entries == 200_000
    assert len(result.warnings) == MAX_WARNINGS
    assert result.more_warnings == 200_000 - MAX_WARNINGS


def test_odd_values_in_entries_never_raise():
    entries = [
        {"name": ["a list"], "startDate": "2030-01-01"},
        {"name": "Nested", "startDate": {"a": [1, 2]}, "url": 7, "city": ["x"], "online": "yes"},
        {"name": "Ok", "startDate": "2030-01-01", "endDate": None, "url": "javascript:alert(1)",
         "city": 12, "country": {"name": "DE"}, "online": "true", "cfpEndDate": 5},
        {"name": "  Spaced \n Name ", "startDate": " 2030-01-02 ", "endDate": "2030-1-3"},
    ]  # fmt: skip
    result = read_json(json.dumps(entries).encode(), DEFAULTS, url=PYTHON_URL)
    titles = {e.title: e for e in result.events}
    assert set(titles) == {"Ok", "Spaced Name"}
    ok = titles["Ok"]
    assert ok.url is None and ok.city is None and ok.country is None and ok.online
    assert titles["Spaced Name"].end == datetime(2030, 1, 3, tzinfo=UTC)
    assert result.failed_entries == 2
    assert "entry 3 (Ok): url 'javascript:alert(1)' is not a web link; left out" in result.warnings
    assert "entry 4 (Spaced Name): endDate '2030-1-3' is not a date; taken as one day" in (
        result.warnings
    )


# ---------------------------------------------------------------- the store


def provenance(db, source: str) -> list[tuple[str, str | None]]:
    return db.conn.execute(
        "SELECT p.source_uid, p.removed_at FROM provenance p JOIN sources s"
        " ON s.id = p.source_id WHERE s.name = ? ORDER BY p.source_uid",
        (source,),
    ).fetchall()


def test_a_broken_body_loses_nothing_already_stored(db):
    source = add_source(db, Source(name="confs-python", url=PYTHON_URL, type="json"))
    good = (JSON / "python.json").read_bytes()
    done = ingest_body(db, source, good)
    assert done.type == "json" and done.stored is not None and done.stored.new == 6
    stored = provenance(db, "confs-python")
    assert len(stored) == 6 and all(removed is None for _, removed in stored)
    for broken in (b"<html>404</html>", b'{"message": "Not Found"}', good[: len(good) // 2]):
        ingest_body(db, source, broken)
        assert provenance(db, "confs-python") == stored
    # an entry gone bad is not an entry gone: the others are not marked removed either
    entries = json.loads(good)
    del entries[0]["startDate"]
    entries.pop()
    ingest_body(db, source, json.dumps(entries).encode())
    assert provenance(db, "confs-python") == stored
    # a whole file without the last entry: that one was removed from the source
    entries = json.loads(good)[:-1]
    ingest_body(db, source, json.dumps(entries).encode())
    removed = [uid for uid, when in provenance(db, "confs-python") if when is not None]
    assert removed == ["https://xtremepython.dev|2030-11-10"]


def test_the_same_body_again_is_not_read_again(db):
    source = add_source(db, Source(name="confs-python", url=PYTHON_URL, type="json"))
    good = (JSON / "python.json").read_bytes()
    ingest_body(db, source, good)
    assert ingest_body(db, source, good).status == "unchanged"
    # the same file under another topic's URL reads differently
    moved = add_source(db, Source(name="confs-data", url=f"{RAW}/2030/data.json", type="json"))
    assert ingest_body(db, moved, good).status == "read"


def test_stored_conferences_are_placed_by_the_gazetteer(db):
    source = add_source(db, Source(name="confs-python", url=PYTHON_URL, type="json"))
    ingest_body(db, source, (JSON / "python.json").read_bytes())
    rows = {
        title: (lat, lon, precision)
        for title, lat, lon, precision in db.conn.execute(
            "SELECT title, lat, lon, geo_precision FROM events"
        )
    }
    lat, lon, precision = rows["PyConf Hyderabad"]
    assert precision == "city" and abs(lat - 17.38) < 0.5 and abs(lon - 78.46) < 0.5
    lat, lon, _ = rows["PyCon India"]  # Bengaluru
    assert abs(lat - 12.97) < 0.5 and abs(lon - 77.59) < 0.5
    lat, lon, _ = rows["PyData Amsterdam"]  # "Netherlands", not GeoNames' "The Netherlands"
    assert abs(lat - 52.37) < 0.2 and abs(lon - 4.89) < 0.2
    lat, lon, _ = rows["PyCon US"]  # "Long Beach, CA" in "U.S.A."
    assert abs(lat - 33.77) < 0.2 and abs(lon + 118.19) < 0.2
    assert rows["XtremePython Online Conference"] == (None, None, None)


def test_import_reads_a_conference_file_by_its_content(db, tmp_path):
    path = tmp_path / "python.json"
    path.write_bytes((JSON / "python.json").read_bytes())
    (done,) = import_files(db, [path])
    assert done.type == "json" and len(done.read.events) == 6
    assert {e.topics for e in done.read.events} == {("python",)}


# ---------------------------------------------------------------- sources files


def test_json_sources_go_through_toml_and_opml(runner, db_path, tmp_path):
    from techcal.cli import cli

    def run(*args: str, db: Path = db_path):
        done = runner.invoke(cli, ["--db", str(db), *args])
        assert done.exit_code == 0, done.output
        return done.output

    run("sources", "add", PYTHON_URL, "--name", "confs-python", "--type", "json",
        "--kind", "conference")  # fmt: skip
    for fmt in ("toml", "opml"):
        exported = tmp_path / f"sources.{fmt}"
        exported.write_text(run("sources", "export", "--format", fmt))
        assert ('type = "json"' if fmt == "toml" else 'techcal:type="json"') in (
            exported.read_text()
        )
        other = tmp_path / f"{fmt}.db"
        run("sources", "import", str(exported), db=other)
        (listed,) = json.loads(run("sources", "list", "--json", db=other))
        assert (listed["name"], listed["type"], listed["kind"]) == (
            "confs-python",
            "json",
            "conference",
        )


# ---------------------------------------------------------------- a real crawl


def techcal(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command line on ``db`` in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-c", "from techcal.cli import main; main()", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def test_crawl_a_conference_file_then_search_it(tmp_path):
    db = tmp_path / "techcal.db"
    site = Site()
    path = "/tech-conferences/conference-data/main/conferences/2030/python.json"
    # raw.githubusercontent.com serves JSON as plain text
    site.add(path, (JSON / "python.json").read_bytes(), content_type="text/plain; charset=utf-8")
    with LoopbackServer(site):
        url = site.url(path)
        ok(techcal(db, "sources", "add", url, "--name", "confs-python", "--type", "json"))
        first = json.loads(ok(techcal(db, "crawl", "--json")))
        (line,) = first["sources"]
        assert (line["status"], line["type"], line["new"]) == ("ok", "json", 6)
        found = json.loads(
            ok(
                techcal(
                    db,
                    "search",
                    "--format",
                    "json",
                    "--from",
                    "2030-01-01",
                    "--to",
                    "2030-12-31",
                    "--limit",
                    "0",
                )
            )  # fmt: skip
        )
        assert len(found) == 6
        events = {e["title"] + e["start"][:10]: e for e in found}
        hyderabad = events["PyConf Hyderabad2030-03-14"]
        assert hyderabad["all_day"] and hyderabad["kind"] == "conference"
        assert "python" in hyderabad["topics"]
        assert abs(hyderabad["lat"] - 17.38) < 0.5 and abs(hyderabad["lon"] - 78.46) < 0.5
        assert hyderabad["url"] == "https://2030.pyconfhyd.org"
        online = events["XtremePython Online Conference2030-05-26"]
        assert online["online"] and online["lat"] is None
        # found by topic, by place, and by the call for papers in the description
        near = json.loads(
            ok(
                techcal(
                    db,
                    "search",
                    "--format",
                    "json",
                    "--from",
                    "2030-01-01",
                    "--topic",
                    "python",
                    "--near",
                    "Bengaluru",
                    "--within",
                    "50km",
                )
            )  # fmt: skip
        )
        assert [e["title"] for e in near] == ["PyCon India"]
        cfp = json.loads(
            ok(techcal(db, "search", "papercall", "--format", "json", "--from", "2030-01-01"))
        )
        assert [e["title"] for e in cfp] == ["PyConf Hyderabad"]
        # the same file again: nothing read or written
        second = json.loads(ok(techcal(db, "crawl", "--json")))
        assert second["sources"][0]["status"] == "unchanged"
        # the file turned into an error page: the source fails, its events stay
        site.add(path, "<html><body>rate limited</body></html>", content_type="text/plain")
        third = techcal(db, "crawl", "--json")
        assert "Traceback" not in third.stderr
        (line,) = json.loads(third.stdout)["sources"]
        assert line["status"] == "error" and "not valid JSON" in line["error"]
    with sqlite3.connect(db) as conn:
        assert (
            conn.execute("SELECT count(*) FROM provenance WHERE removed_at IS NULL").fetchone()[0]
            == 6
        )


# ---------------------------------------------------------------- the real collection

# the shared folder is absent on some machines: then there is nothing to parametrize
REAL_FILES = [CONFERENCES_2026] if CONFERENCES_2026.is_dir() else []


@pytest.mark.parametrize("folder", REAL_FILES, ids=lambda p: p.name)
def test_every_2026_conference_is_stored_and_every_city_placed(folder, db):
    paths = sorted(folder.glob("*.json"))
    entries = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in paths}
    done = list(import_files(db, paths))
    assert all(d.read.warnings == [] and d.read.complete for d in done)
    total = sum(len(e) for e in entries.values())
    assert total >= 500
    (stored,) = db.conn.execute("SELECT count(*) FROM provenance").fetchone()
    assert stored == total
    # each topic file's conferences carry its topic (where the taxonomy has one)
    for topic, slugs in TOPICS.items():
        for slug in slugs if topic in entries else ():
            (count,) = db.conn.execute(
                "SELECT count(*) FROM events e JOIN provenance p ON p.event_id = e.id"
                " JOIN sources s ON s.id = p.source_id, json_each(e.topics) t"
                " WHERE s.name = ? AND t.value = ?",
                (topic, slug),
            ).fetchone()
            assert count == len(entries[topic]), (topic, slug)
    # every conference with a city got coordinates; online-only ones none
    unplaced = db.conn.execute(
        "SELECT title, city, country FROM events WHERE city IS NOT NULL AND lat IS NULL"
    ).fetchall()
    assert unplaced == []
    (placed_online,) = db.conn.execute(
        "SELECT count(*) FROM events WHERE city IS NULL AND lat IS NOT NULL"
    ).fetchone()
    assert placed_online == 0
