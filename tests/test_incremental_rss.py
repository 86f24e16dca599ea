"""Incremental feed reading gives what a whole read gives, reading only new entries."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import techcal.feeds.incremental_rss as incremental_rss
from techcal.feeds.base import SourceDefaults, Window
from techcal.feeds.incremental_rss import read_feed_incremental
from techcal.feeds.rss import read_feed

from conftest import FIXTURES, SHARED_FIXTURES, all_events, roundtrip

WINDOW = Window.around(datetime(2026, 11, 22, 12, tzinfo=UTC))
DEFAULTS = SourceDefaults(source="feed", timezone="America/Chicago")
FILES = [
    p
    for p in sorted((FIXTURES / "rss").iterdir()) + sorted((SHARED_FIXTURES / "feeds").glob("*"))
    if not p.name.endswith(".toml")
]
_TITLE = re.compile(rb"(<item[\s>].*?<title[^>]*>)", re.S)


def same(a, b, earlier=None):
    """``a`` (incremental, its unchanged events as ``earlier`` gave them) is ``b`` (whole)."""
    assert all_events(a, earlier) == all_events(b)
    assert a.pages == b.pages
    assert a.failed_entries == b.failed_entries and a.recognised == b.recognised


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_incremental_equals_whole_read(path: Path):
    data = path.read_bytes()
    full = read_feed(data, DEFAULTS, window=WINDOW)
    cold, snapshot = read_feed_incremental(data, DEFAULTS, window=WINDOW)
    same(cold, full)
    learnt, snapshot = read_feed_incremental(
        data, DEFAULTS, window=WINDOW, previous=roundtrip(snapshot)
    )
    same(learnt, full, cold)
    again, _ = read_feed_incremental(data, DEFAULTS, window=WINDOW, previous=roundtrip(snapshot))
    same(again, full, cold)
    changed = _TITLE.sub(rb"\1Changed: ", data, count=1)
    if changed != data:
        warm, _ = read_feed_incremental(
            changed, DEFAULTS, window=WINDOW, previous=roundtrip(snapshot)
        )
        same(warm, read_feed(changed, DEFAULTS, window=WINDOW), cold)


def test_only_new_entries_are_read(monkeypatch):
    data = (FIXTURES / "rss" / "the-events-calendar.xml").read_bytes()
    _, snapshot = read_feed_incremental(data, DEFAULTS, window=WINDOW)
    _, snapshot = read_feed_incremental(data, DEFAULTS, window=WINDOW, previous=snapshot)
    reads: list[bytes] = []
    real = incremental_rss.read_feed

    def counting(body, *args, **kwargs):
        reads.append(body)
        return real(body, *args, **kwargs)

    monkeypatch.setattr(incremental_rss, "read_feed", counting)
    item = re.search(rb"<item[\s>].*?</item>", data, re.S).group(0)
    extra = item.replace(b"<title>", b"<title>Extra: ", 1).replace(b"p=2231", b"p=9999")
    added = data.replace(item, extra + item, 1)
    result, _ = read_feed_incremental(added, DEFAULTS, window=WINDOW, previous=snapshot)
    assert len(reads) == 1 and b"Extra: " in reads[0]
    assert [e.title for e in result.events] == ["Extra: OCLUG December meeting: Btrfs snapshots"]
    assert len(result.unchanged) == 2


def test_a_new_entry_reusing_an_id_reads_the_whole_feed():
    data = (FIXTURES / "rss" / "the-events-calendar.xml").read_bytes()
    _, snapshot = read_feed_incremental(data, DEFAULTS, window=WINDOW)
    _, snapshot = read_feed_incremental(data, DEFAULTS, window=WINDOW, previous=snapshot)
    item = re.search(rb"<item[\s>].*?</item>", data, re.S).group(0)
    later_copy = data.replace(item, item + item.replace(b"<title>", b"<title>Stale: ", 1), 1)
    result, _ = read_feed_incremental(later_copy, DEFAULTS, window=WINDOW, previous=snapshot)
    same(result, read_feed(later_copy, DEFAULTS, window=WINDOW))
    assert not any(e.title.startswith("Stale") for e in result.events)
