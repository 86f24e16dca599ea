"""The notifier, delivering for real through Apprise to endpoints on 127.0.0.1.

Time is frozen where it matters (reminders, digests, back-off): matching and
delivery take ``now``; Apprise, the HTTP endpoint and the SMTP server are real.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from notify_endpoints import JsonEndpoint, SmtpEndpoint

from techcal.normalise.gazetteer import Place
from techcal.notifier.deliver import FAILING_AFTER, deliver, pending, prepare
from techcal.notifier.manage import subscription_state
from techcal.notifier.match import match
from techcal.notifier.messages import RESENT
from techcal.notifier.subscriptions import (
    Subscription,
    SubscriptionError,
    add_subscription,
    get_subscription,
    remove_subscription,
)
from techcal.notifier.targets import mask
from techcal.store import upsert_events
from techcal.store.database import write_transaction
from techcal.store.query import build_query

from conftest import NOW, make_event

LA = ZoneInfo("America/Los_Angeles")
PORTLAND = Place(name="Portland", region="OR", country="US", lat=45.5152, lon=-122.6784)
FIRST = datetime(2026, 12, 3, 18, 30, tzinfo=LA)


def _meetings() -> list:
    return [
        make_event(1, start=FIRST, end=FIRST + timedelta(hours=2)),
        make_event(2, title="PLUG install fest", start=FIRST + timedelta(days=7), end=None),
    ]


@pytest.fixture
def endpoint():
    with JsonEndpoint() as server:
        yield server


@pytest.fixture
def store(db, plug):
    upsert_events(db, "plug", _meetings(), now=NOW)
    return db


def _subscribe(db, target: str, name: str = "pdx", **options) -> Subscription:
    sub = Subscription(
        name=name, targets=[target], topics=("linux",), near=PORTLAND, within_km=30, **options
    )
    add_subscription(db.conn, sub, now=NOW)
    return get_subscription(db.conn, name)


def _notify(db, now: datetime):
    with write_transaction(db.conn):
        report = match(db.conn, now=now)
    return report, deliver(db.conn, now=now)


def test_a_new_subscription_gets_one_summary_not_a_flood(store, endpoint):
    _subscribe(store, endpoint.url())
    report, sent = _notify(store, NOW)
    assert sent.sent == 1 and sent.failed == 0
    (message,) = endpoint.received
    assert message["title"] == "techcal: 'pdx' is on (2 upcoming)"
    assert message["message"].splitlines() == [
        "Subscribed to events: linux within 30 km of Portland, OR, US.",
        "2 upcoming events already match; from now on you hear about new ones, changes and"
        " cancellations.",
        "Next:",
        "- Thu 3 Dec 18:30: PLUG meeting 1: Intro to eBPF",
        "- Thu 10 Dec 18:30: PLUG install fest",
        "— techcal subscription 'pdx'",
    ]
    # nothing new: nothing sent, however often it runs
    for hours in (1, 2, 3):
        _, again = _notify(store, NOW + timedelta(hours=hours))
        assert again.sent == 0
    assert len(endpoint.received) == 1


def test_new_changed_and_cancelled_are_each_sent_once(store, endpoint):
    _subscribe(store, endpoint.url())
    _notify(store, NOW)
    later = NOW + timedelta(hours=1)
    added = make_event(
        3,
        title="PLUG: Rust in the kernel",
        start=FIRST + timedelta(days=1),
        end=FIRST + timedelta(days=1, hours=2),
    )
    upsert_events(store, "plug", [*_meetings(), added], now=later)
    _notify(store, later)
    _notify(store, later + timedelta(minutes=5))
    assert endpoint.titles()[1:] == ["New: PLUG: Rust in the kernel (Fri 4 Dec 18:30)"]
    body = endpoint.received[1]["message"].splitlines()
    assert body == [
        "Fri 4 Dec 2026, 18:30 PST",
        "Portland State University, Engineering Building, Portland (under 1 km away)",
        "Topics: linux, rust",
        "https://pdxlinux.org/meetings/3",
        "— techcal subscription 'pdx'",
    ]

    # meeting 1 moves half an hour and to another room; the install fest is cancelled
    moved = make_event(
        1,
        start=FIRST + timedelta(minutes=30),
        end=FIRST + timedelta(hours=2, minutes=30),
        venue="Portland State University, Room 2",
    )
    called_off = make_event(
        2, title="PLUG install fest", start=FIRST + timedelta(days=7), end=None, status="cancelled"
    )
    even_later = later + timedelta(hours=1)
    upsert_events(store, "plug", [moved, called_off, added], now=even_later)
    _notify(store, even_later)
    _notify(store, even_later + timedelta(minutes=1))
    assert endpoint.titles()[2:] == [
        "Moved: PLUG meeting 1: Intro to eBPF",
        "Cancelled: PLUG install fest (Thu 10 Dec 18:30)",
    ]
    moved_body = endpoint.received[2]["message"].splitlines()
    assert moved_body[0] == (
        "Moved from Thu 3 Dec 18:30 to Thu 3 Dec 19:00; place changed from Portland State"
        " University, Engineering Building, Portland to Portland State University, Room 2,"
        " Portland."
    )
    assert endpoint.received[3]["message"].startswith("Cancelled by the organisers.\n")

    # it vanishes from its source: no second cancellation for the cancelled one,
    # and "no longer listed" for the one that was on
    upsert_events(store, "plug", [called_off], now=even_later + timedelta(hours=1))
    _notify(store, even_later + timedelta(hours=1))
    assert endpoint.titles()[4:] == [
        "Cancelled: PLUG meeting 1: Intro to eBPF (Thu 3 Dec 19:00)",
        "Cancelled: PLUG: Rust in the kernel (Fri 4 Dec 18:30)",
    ]
    assert endpoint.received[4]["message"].startswith("No longer listed by its sources")


def test_no_changes_option_and_events_outside_the_filter(store, endpoint):
    _subscribe(store, endpoint.url(), changes=False)
    _notify(store, NOW)
    far = make_event(
        4, title="Seattle LUG", start=FIRST, end=None, lat=47.6062, lon=-122.3321, city="Seattle"
    )
    moved = make_event(1, start=FIRST + timedelta(hours=1), end=None)
    upsert_events(store, "plug", [moved, _meetings()[1], far], now=NOW + timedelta(hours=1))
    _notify(store, NOW + timedelta(hours=1))
    assert endpoint.titles() == ["techcal: 'pdx' is on (2 upcoming)"]


def test_a_failing_target_is_retried_with_backoff_and_blocks_no_other(store, endpoint):
    with JsonEndpoint() as down:
        down.fail = True
        _subscribe(store, endpoint.url())
        sub = Subscription(name="both", targets=[down.url(), endpoint.url("second")])
        add_subscription(store.conn, sub, now=NOW)
        clock = NOW
        _, report = _notify(store, clock)
        assert report.sent == 2 and report.failed == 1
        # three runs while it is down; retries wait 1, 2, 4 minutes
        for minutes in (1, 2, 4):
            clock += timedelta(minutes=minutes)
            _, early = _notify(store, clock - timedelta(seconds=30))
            assert early.failed == 0  # not due yet
            _, report = _notify(store, clock)
            assert report.failed == 1
        assert down.attempts == 4
        state = subscription_state(store.conn, get_subscription(store.conn, "both"))
        assert state["failing"] and state["failing"][0]["attempts"] == 4 >= FAILING_AFTER
        assert "503" in (state["failing"][0]["error"] or "") or state["failing"][0]["error"]
        down.fail = False
        clock += timedelta(minutes=8)
        _, report = _notify(store, clock)
        assert report.sent == 1
        for _ in range(3):
            clock += timedelta(hours=1)
            _notify(store, clock)
        assert [m["path"] for m in down.received] == ["/hook"]
        assert [m["path"] for m in endpoint.received] == ["/hook", "/second"]
        state = subscription_state(store.conn, get_subscription(store.conn, "both"))
        assert state["failing"] == [] and state["pending"] == 0 and state["sent"] == 2


def test_reminders_with_frozen_time(store, endpoint):
    _subscribe(store, endpoint.url(), remind=[86400, 3600])
    start = FIRST.astimezone(NOW.tzinfo)
    _notify(store, NOW)
    for now, expected in (
        (start - timedelta(hours=25), []),
        (start - timedelta(hours=23), ["In 23h: PLUG meeting 1: Intro to eBPF (Thu 3 Dec 18:30)"]),
        (start - timedelta(hours=2), []),
        (
            start - timedelta(minutes=50),
            ["In 50 min: PLUG meeting 1: Intro to eBPF (Thu 3 Dec 18:30)"],
        ),
        (start - timedelta(minutes=10), []),
        (start + timedelta(minutes=10), []),
    ):
        before = len(endpoint.received)
        _notify(store, now)
        assert endpoint.titles()[before:] == expected, now


def test_a_moved_event_is_reminded_again_at_its_new_time(store, endpoint):
    _subscribe(store, endpoint.url(), remind=[3600])
    start = FIRST.astimezone(NOW.tzinfo)
    _notify(store, start - timedelta(minutes=30))
    moved = make_event(1, start=FIRST + timedelta(days=1), end=None)
    upsert_events(store, "plug", [moved, _meetings()[1]], now=start - timedelta(minutes=20))
    _notify(store, start - timedelta(minutes=20))
    _notify(store, start + timedelta(days=1) - timedelta(minutes=30))
    titles = endpoint.titles()
    assert titles[1] == "In 30 min: PLUG meeting 1: Intro to eBPF (Thu 3 Dec 18:30)"
    assert titles[2] == "Moved: PLUG meeting 1: Intro to eBPF"
    assert titles[3] == "In 30 min: PLUG meeting 1: Intro to eBPF (Fri 4 Dec 18:30)"


def test_a_daily_digest_collects_new_changed_and_cancelled(store, endpoint):
    _subscribe(store, endpoint.url(), digest="daily", remind=[3600])
    _notify(store, NOW)  # the summary is not held
    clock = NOW + timedelta(hours=2)
    new = [
        make_event(5, title="PLUG: NixOS night", start=FIRST + timedelta(days=2), end=None),
        make_event(6, title="PLUG: Wayland", start=FIRST + timedelta(days=3), end=None),
    ]
    called_off = make_event(
        2, title="PLUG install fest", start=FIRST + timedelta(days=7), end=None, status="cancelled"
    )
    upsert_events(store, "plug", [_meetings()[0], called_off, *new], now=clock)
    report, _ = _notify(store, clock)
    assert report.held == 3 and report.total == 0
    _notify(store, NOW + timedelta(hours=23))
    assert len(endpoint.received) == 1
    _notify(store, NOW + timedelta(hours=24, minutes=1))
    _notify(store, NOW + timedelta(hours=24, minutes=2))
    assert len(endpoint.received) == 2
    digest = endpoint.received[1]
    assert digest["title"].startswith("techcal daily digest for 'pdx': 3 updates")
    assert digest["message"].splitlines()[:5] == [
        "New (2):",
        "- Sat 5 Dec 18:30: PLUG: NixOS night (under 1 km)",
        "- Sun 6 Dec 18:30: PLUG: Wayland (under 1 km)",
        "Cancelled (1):",
        "- Thu 10 Dec 18:30: PLUG install fest",
    ]
    # reminders stay immediate
    _notify(store, FIRST.astimezone(NOW.tzinfo) - timedelta(minutes=30))
    assert endpoint.titles()[-1].startswith("In 30 min: PLUG meeting 1")


def test_mail_through_a_real_smtp_server(store):
    with SmtpEndpoint() as smtp:
        _subscribe(store, smtp.url())
        _, report = _notify(store, NOW)
        assert report.sent == 1, report.errors
        (mail,) = smtp.messages
        assert mail["Subject"] == "techcal: 'pdx' is on (2 upcoming)"
        assert smtp.envelopes == [("techcal@example.org", ["me@example.org"])]
        text = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
        assert "PLUG install fest" in text.get_payload(decode=True).decode()


def test_targets_are_checked_and_secrets_masked(store, endpoint, tmp_path):
    with pytest.raises(SubscriptionError, match="not a URL of a service"):
        _subscribe(store, "nosuchservice://x/y")
    with pytest.raises(SubscriptionError, match="no Apprise configuration file"):
        _subscribe(store, "tag:family", apprise_config=None)
    config = tmp_path / "apprise.txt"
    config.write_text(f"family={endpoint.url('family')}\nwork={endpoint.url('work')}\n")
    with pytest.raises(SubscriptionError, match="no target is tagged 'friends'"):
        _subscribe(store, "tag:friends", apprise_config=str(config))
    _subscribe(store, "tag:family", apprise_config=str(config))
    _notify(store, NOW)
    assert [m["path"] for m in endpoint.received] == ["/family"]
    secret = mask("json://user:hunter2@127.0.0.1:8080/hook")
    assert "hunter2" not in secret and secret.startswith("json://user:")
    assert "s3cr3t" not in mask("tgram://123456:s3cr3t/987")


def test_removing_a_subscription_drops_what_it_had_pending(store, endpoint):
    endpoint.fail = True
    _subscribe(store, endpoint.url())
    _notify(store, NOW)
    assert remove_subscription(store.conn, "pdx") == 1
    assert store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    endpoint.fail = False
    _notify(store, NOW + timedelta(hours=1))
    assert endpoint.received == []


def test_an_interrupted_delivery_is_sent_again_and_says_so(store, endpoint):
    _subscribe(store, endpoint.url())
    with write_transaction(store.conn):
        match(store.conn, now=NOW)
    # a process marked it "sending" and died before it could mark it sent
    store.conn.execute("UPDATE deliveries SET state = 'sending'")
    store.conn.commit()
    (item,) = prepare(store.conn, pending(store.conn, NOW))
    assert item.resend
    deliver(store.conn, now=NOW)
    (message,) = endpoint.received
    assert message["message"].startswith(RESENT + "\n")


def test_subscription_queries_match_search(store):
    """A subscription matches what `techcal search` with the same filters finds."""
    from techcal.store.search import search

    sub = Subscription(name="x", targets=["json://127.0.0.1:1/"], text="eBPF", near=PORTLAND)
    query = build_query(text="eBPF", near="45.5152,-122.6784", now=NOW, limit=None)
    found = {h.title for h in search(store.conn, query, now=NOW)}
    mine = {h.title for h in search(store.conn, sub.query(NOW), now=NOW)}
    assert found == mine == {"PLUG meeting 1: Intro to eBPF"}


def test_text_filters_use_the_search_engine(store, endpoint):
    _subscribe(store, endpoint.url(), text='"install fest" OR nixos')
    _notify(store, NOW)
    assert (
        json.loads(
            store.conn.execute("SELECT detail FROM outbox WHERE kind = 'summary'").fetchone()[0]
        )["count"]
        == 1
    )
    new = [
        make_event(7, title="NixOS install party", start=FIRST + timedelta(days=2), end=None),
        make_event(8, title="Kernel hacking", start=FIRST + timedelta(days=2), end=None),
    ]
    upsert_events(store, "plug", [*_meetings(), *new], now=NOW + timedelta(hours=1))
    _notify(store, NOW + timedelta(hours=1))
    assert endpoint.titles()[1:] == ["New: NixOS install party (Sat 5 Dec 18:30)"]


# -- found in review -----------------------------------------------------------


def test_events_walking_into_a_rolling_window_are_announced(store, endpoint):
    _subscribe(store, endpoint.url(), days=14)
    _notify(store, NOW)  # the summary: only the first meeting is within 14 days
    assert endpoint.titles() == ["techcal: 'pdx' is on (1 upcoming)"]
    # nothing changes at the source; the install fest (10 Dec) comes within 14 days
    _notify(store, NOW + timedelta(days=3))
    assert len(endpoint.titles()) == 1
    _notify(store, NOW + timedelta(days=5))
    _notify(store, NOW + timedelta(days=5, hours=1))
    assert endpoint.titles()[1:] == ["New: PLUG install fest (Thu 10 Dec 18:30)"]


def test_matching_agrees_with_search_across_the_antimeridian_poles_and_wide_radii(store):
    """Random places and radii: a subscription matches exactly what search finds."""
    import random

    from techcal.event import StoredEvent
    from techcal.normalise.gazetteer import distance_km
    from techcal.notifier.index import Index

    rng = random.Random(3)
    subs = []
    for i in range(300):
        lat = rng.choice([rng.uniform(-89.9, 89.9), rng.uniform(60, 89.9), -17.0])
        lon = rng.choice([rng.uniform(-180, 180), 179.9, -179.95])
        km = rng.choice([5, 50, 190, 250, 1000, 1600, 3000])
        subs.append(
            Subscription(
                id=i + 1,
                name=f"s{i}",
                targets=["json://x/"],
                near=Place("p", lat, lon),
                within_km=km,
            )
        )
    index = Index.of(subs)
    for j in range(300):
        base = subs[rng.randrange(len(subs))].filters.near
        lat = max(-90.0, min(90.0, base.lat + rng.uniform(-12, 12)))
        lon = ((base.lon + rng.uniform(-25, 25) + 180) % 360) - 180
        if j % 7 == 0:
            lon = 180.0
        event = StoredEvent(id=j, uid=f"e{j}", title="e", lat=lat, lon=lon, online=False,
                            topics=(), kind="lug", start="2026-12-05T18:00:00+00:00",
                            start_utc=1796493600)  # fmt: skip
        got = index.match_ids(event, NOW, {})
        want = {
            s.id
            for s in subs
            if distance_km(s.filters.near.lat, s.filters.near.lon, lat, lon) <= s.filters.within_km
        }
        assert got == want, (lat, lon, got ^ want)


def test_a_changed_description_or_kind_reaches_text_and_kind_subscriptions(store, endpoint):
    _subscribe(store, endpoint.url(), text="pizza")
    _notify(store, NOW)
    changed = make_event(2, title="PLUG install fest", start=FIRST + timedelta(days=7), end=None,
                         description="Bring your laptop; free pizza.")  # fmt: skip
    upsert_events(store, "plug", [_meetings()[0], changed], now=NOW + timedelta(hours=1))
    _notify(store, NOW + timedelta(hours=1))
    assert endpoint.titles()[1:] == ["New: PLUG install fest (Thu 10 Dec 18:30)"]


def test_merging_copies_is_no_cancellation(store, endpoint, db):
    from techcal.store import Source, add_source
    from techcal.store.merges import merge_events

    add_source(db, Source(name="calagator", url="https://calagator.org/events.ics"))
    copy = make_event(
        9, source="calagator", source_uid="c9@calagator.org", title="Linux install fest PDX",
        start=FIRST + timedelta(days=12), end=None, venue="Free Geek", lat=45.48, lon=-122.61,
    )  # fmt: skip
    upsert_events(db, "calagator", [copy], now=NOW, match=False)
    _subscribe(store, endpoint.url())
    _notify(store, NOW)
    kept, other = (r[0] for r in db.conn.execute("SELECT id FROM events ORDER BY id LIMIT 2"))
    copy_id = db.conn.execute("SELECT id FROM events WHERE title LIKE 'Linux install%'").fetchone()
    merge_events(db.conn, str(kept), str(copy_id[0]), now=NOW + timedelta(hours=1))
    _notify(store, NOW + timedelta(hours=1))
    assert endpoint.titles() == ["techcal: 'pdx' is on (3 upcoming)"]
    told = {r[0] for r in db.conn.execute("SELECT event_id FROM notified")}
    assert copy_id[0] not in told and kept in told


def test_two_notify_runs_at_once_send_each_message_once(store, endpoint, db_path):
    import threading

    from techcal.store.database import open_reader

    endpoint.delay = 0.3
    _subscribe(store, endpoint.url())
    more = [make_event(20 + i, title=f"PLUG talk {i}", start=FIRST + timedelta(days=i), end=None)
            for i in range(4)]  # fmt: skip
    upsert_events(store, "plug", [*_meetings(), *more], now=NOW + timedelta(minutes=1))
    with write_transaction(store.conn):
        match(store.conn, now=NOW + timedelta(minutes=1))

    def run() -> None:
        from techcal.store import open_store

        other = open_store(db_path)
        deliver(other.conn, now=NOW + timedelta(minutes=2))
        other.conn.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(endpoint.titles()) == sorted(set(endpoint.titles()))
    assert len(endpoint.titles()) == 5
    open_reader(db_path).close()


def test_a_tag_with_one_failing_url_repeats_nothing_to_the_others(store, endpoint, tmp_path):
    with JsonEndpoint() as down:
        down.fail = True
        config = tmp_path / "apprise.txt"
        config.write_text(f"fam={endpoint.url('good')}\nfam={down.url('bad')}\n")
        _subscribe(store, "tag:fam", apprise_config=str(config))
        clock = NOW
        for minutes in (0, 1, 2, 4):
            clock += timedelta(minutes=minutes)
            _notify(store, clock)
        assert len(endpoint.received) == 1 and down.attempts == 4
        down.fail = False
        _notify(store, clock + timedelta(minutes=8))
        _notify(store, clock + timedelta(minutes=30))
        assert len(endpoint.received) == 1 and len(down.received) == 1


def test_a_late_announcement_gets_the_reminder_that_fits(store, endpoint):
    _subscribe(store, endpoint.url(), remind=[86400, 3600])
    start = FIRST.astimezone(NOW.tzinfo)
    _notify(store, start - timedelta(hours=3))
    soon = make_event(30, title="PLUG pop-up", start=FIRST + timedelta(hours=2), end=None)
    upsert_events(store, "plug", [*_meetings(), soon], now=start)
    _notify(store, start)
    _notify(store, start + timedelta(hours=1, minutes=20))
    titles = [t for t in endpoint.titles() if "pop-up" in t]
    assert titles == [
        "New: PLUG pop-up (Thu 3 Dec 20:30)",
        "In 40 min: PLUG pop-up (Thu 3 Dec 20:30)",
    ]
