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

from techcal.notifier.deliver import FAILING_AFTER, deliver, pending, prepare
from techcal.notifier.match import match
from techcal.notifier.messages import RESENT
from techcal.notifier.subscriptions import (
    Subscription,
    SubscriptionError,
    add_subscription,
    get_subscription,
    mask,
    remove_subscription,
    subscription_state,
)
from techcal.store import upsert_events
from techcal.store.database import write_transaction
from techcal.store.gazetteer import Place
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
        "Subscribed to linux within 30 km of Portland, OR, US.",
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
        (start - timedelta(hours=23), ["In 1d: PLUG meeting 1: Intro to eBPF (Thu 3 Dec 18:30)"]),
        (start - timedelta(hours=2), []),
        (start - timedelta(minutes=50), ["In 1h: PLUG meeting 1: Intro to eBPF (Thu 3 Dec 18:30)"]),
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
    assert titles[1] == "In 1h: PLUG meeting 1: Intro to eBPF (Thu 3 Dec 18:30)"
    assert titles[2] == "Moved: PLUG meeting 1: Intro to eBPF"
    assert titles[3] == "In 1h: PLUG meeting 1: Intro to eBPF (Fri 4 Dec 18:30)"


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
    assert endpoint.titles()[-1].startswith("In 1h: PLUG meeting 1")


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
    found = {h.event["title"] for h in search(store.conn, query, now=NOW)}
    mine = {h.event["title"] for h in search(store.conn, sub.query(NOW), now=NOW)}
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
