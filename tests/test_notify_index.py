"""Matching's index read from the store, and the 'new' messages written an event at a time."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest

from techcal.event import StoredEvent
from techcal.normalise.gazetteer import Place
from techcal.notifier.index import Index
from techcal.notifier.match import match
from techcal.notifier.subscriptions import Subscription
from techcal.store import upsert_events
from techcal.store.database import write_transaction
from techcal.store.subscriptions import insert_subscriptions, subscription_rows

from conftest import NOW, make_event

PORTLAND = Place(name="Portland", region="OR", country="US", lat=45.5152, lon=-122.6784)

#: the sets of the index, compared one by one
SETS = (
    "ids any_topic any_kind anywhere wide online_too digest_ids remind_ids days_ids"
    " other_ids kind_limited everywhere online_base"
).split()


def _varied(count: int) -> list[Subscription]:
    """Return subscriptions with every kind of filter, many sharing places and filters."""
    rng = random.Random(7)
    points = [(45.5152, -122.6784), (47.6062, -122.3321), (-33.87, 151.21), (64.0, -21.9)]
    subs = []
    for i in range(count):
        lat, lon = rng.choice(points)
        subs.append(
            Subscription(
                name=f"s{i}",
                targets=[f"json://127.0.0.1:9/{i}", "json://127.0.0.1:9/all"][: 1 + i % 2],
                topics=tuple(rng.sample(["linux", "python", "rust"], rng.randrange(3))),
                kinds=("lug",) if i % 5 == 0 else (),
                near=Place("p", lat, lon) if i % 6 else None,
                within_km=rng.choice([10, 50, 300, 2000]),
                text=rng.choice([None, None, "ebpf", "pizza"]),
                online=rng.choice([None, None, True, False]),
                start=NOW + timedelta(days=3) if i % 11 == 0 else None,
                end=NOW + timedelta(days=20) if i % 13 == 0 else None,
                days=14 if i % 17 == 0 else None,
                digest="daily" if i % 7 == 0 else None,
                remind=[3600] if i % 9 == 0 else None,
                created_at=NOW,
            )
        )
    return subs


@pytest.fixture
def varied(db) -> list[Subscription]:
    subs = _varied(120)
    insert_subscriptions(db.conn, [s.row() for s in subs])
    db.conn.commit()
    return subs


def test_the_index_read_from_the_store_is_the_index_of_its_rows(db, varied):
    read = Index.read(db.conn)
    built = Index(subscription_rows(db.conn, by_name=False))
    for name in SETS:
        assert getattr(read, name) == getattr(built, name), name
    for name in ("by_topic", "by_kind", "texts", "other"):
        assert dict(getattr(read, name)) == dict(getattr(built, name)), name
    assert _circles(read.wide_circles) == _circles(built.wide_circles)
    assert set(read.cell_circles) == set(built.cell_circles)
    for cell, circles in read.cell_circles.items():
        assert _circles(circles) == _circles(built.cell_circles[cell]), cell
    rng = random.Random(1)
    for j in range(200):
        event = StoredEvent(
            id=j, uid=f"e{j}", title="e", kind=rng.choice(["lug", "conference"]),
            lat=45.5 + rng.uniform(-3, 3) if j % 10 else None,
            lon=-122.6 + rng.uniform(-3, 3) if j % 10 else None,
            online=j % 4 == 0, topics=tuple(rng.sample(["linux", "python", "go"], 1)),
            start=(NOW + timedelta(days=j % 30)).isoformat(),
            start_utc=int((NOW + timedelta(days=j % 30)).timestamp()),
        )  # fmt: skip
        hits = {"ebpf": {j} if j % 3 else set(), "pizza": {j} if j % 2 else set()}
        assert read.match_ids(event, NOW, hits) == built.match_ids(event, NOW, hits)


def _circles(circles) -> list:
    return sorted((c.lat, c.lon, c.km, c.exact, c.cells, sorted(c.ids)) for c in circles)


def test_the_index_read_from_the_store_reads_a_subscription_when_asked(db, varied):
    index = Index.read(db.conn)
    assert index.rows == {}  # nothing read whole yet
    sid = max(index.ids)
    assert index.sub(sid).row() == subscription_rows(db.conn, [sid])[0]
    index.load(index.ids)
    assert set(index.rows) == index.ids


def test_an_empty_store_gives_an_empty_index(db):
    index = Index.read(db.conn)
    assert index.ids == set() and not index.cell_circles and not index.other


def _near_portland(db, name: str, **options) -> None:
    sub = Subscription(name=name, targets=[f"json://127.0.0.1:9/{name}"], topics=("linux",),
                       near=PORTLAND, within_km=30, created_at=NOW, **options)  # fmt: skip
    insert_subscriptions(db.conn, [sub.row()])
    db.conn.commit()


def _match(db):
    with write_transaction(db.conn):
        return match(db.conn, now=NOW)


def test_held_and_sent_news_of_one_event_are_written_apart(db, plug):
    for name in ("c-daily", "a-plain", "b-plain", "d-daily"):
        _near_portland(db, name, digest="daily" if "daily" in name else None)
    upsert_events(db, "plug", [make_event(1)], now=NOW)
    report = _match(db)
    assert report.messages == {"new": 2} and report.held == 2
    rows = db.conn.execute(
        "SELECT s.name, o.held, (SELECT group_concat(d.target) FROM deliveries d"
        " WHERE d.outbox_id = o.id) FROM outbox o JOIN subscriptions s"
        " ON s.id = o.subscription_id ORDER BY o.id"
    ).fetchall()
    # written in order of subscription; the held wait for their digest, undelivered
    assert rows == [
        ("c-daily", 1, None),
        ("a-plain", 0, "json://127.0.0.1:9/a-plain"),
        ("b-plain", 0, "json://127.0.0.1:9/b-plain"),
        ("d-daily", 1, None),
    ]
    told = db.conn.execute("SELECT count(*), min(status) FROM notified").fetchone()
    assert told == (4, "on")
    assert _match(db).total == 0  # nothing new: nothing written twice


def test_news_counts_only_what_was_written_when_a_text_filter_is_matched(db, plug):
    # the text filter fills a temporary full-text index first: its writes
    # must not count as messages
    _near_portland(db, "ebpf", text="ebpf")
    _near_portland(db, "all")
    upsert_events(db, "plug", [make_event(n) for n in range(1, 20)], now=NOW)
    report = _match(db)
    written = db.conn.execute("SELECT count(*) FROM outbox WHERE kind = 'new'").fetchone()[0]
    assert report.messages["new"] == written == 38
    deliveries = db.conn.execute("SELECT target, count(*) FROM deliveries GROUP BY target")
    assert dict(deliveries.fetchall()) == {
        "json://127.0.0.1:9/ebpf": 19,
        "json://127.0.0.1:9/all": 19,
    }


def test_a_subscription_with_two_targets_gets_a_delivery_to_each(db, plug):
    sub = Subscription(name="two", targets=["json://127.0.0.1:9/a", "json://127.0.0.1:9/b"],
                       topics=("linux",), created_at=NOW)  # fmt: skip
    insert_subscriptions(db.conn, [sub.row()])
    db.conn.commit()
    upsert_events(db, "plug", [make_event(1), make_event(2)], now=NOW)
    assert _match(db).messages == {"new": 2}
    targets = db.conn.execute("SELECT target FROM deliveries ORDER BY outbox_id, target")
    assert [t for (t,) in targets] == ["json://127.0.0.1:9/a", "json://127.0.0.1:9/b"] * 2
    assert json.loads(db.conn.execute("SELECT targets FROM subscriptions").fetchone()[0]) == [
        "json://127.0.0.1:9/a",
        "json://127.0.0.1:9/b",
    ]
