"""How long a worker trusts a host's robots.txt and address (techcal.crawler.freshness)."""

from __future__ import annotations

import pytest

from techcal.crawler import freshness
from techcal.crawler.freshness import Freshness, max_ages
from techcal.errors import TechcalError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_host_is_learnt_again_once_its_age_is_reached() -> None:
    clock = Clock()
    fresh = Freshness(86400, clock)
    assert fresh.stale("a.example") is True  # first seen: nothing to forget, learnt now
    clock.now += 86399
    assert fresh.stale("a.example") is False
    assert fresh.stale("b.example") is True
    clock.now += 1
    assert fresh.stale("a.example") is True  # a day: fetch it again
    assert fresh.stale("a.example") is False  # ... and that counts as learnt again
    assert fresh.stale("b.example") is False  # b was learnt a second later


def test_the_hosts_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(freshness, "MOST_KEPT", 3)
    clock = Clock()
    fresh = Freshness(10, clock)
    for host in "abc":
        fresh.stale(host)
    clock.now += 1
    fresh.stale("d")  # the fourth: all are forgotten, d learnt
    assert fresh.learnt == {"d": 1001.0}
    # what was known of a, b, c is learnt again now: never kept longer than its age
    assert fresh.stale("a") is True


def test_ages_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TECHCAL_ROBOTS_MAX_AGE", raising=False)
    monkeypatch.setenv("TECHCAL_DNS_MAX_AGE", "60")
    assert max_ages() == {"TECHCAL_ROBOTS_MAX_AGE": 86400.0, "TECHCAL_DNS_MAX_AGE": 60.0}
    monkeypatch.setenv("TECHCAL_ROBOTS_MAX_AGE", "a day")
    with pytest.raises(TechcalError, match="TECHCAL_ROBOTS_MAX_AGE must be a number of seconds"):
        max_ages()
