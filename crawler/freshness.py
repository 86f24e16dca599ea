"""How long a long-running worker trusts what it learnt of a host: its robots.txt, its address.

Scrapy keeps both for as long as the process runs. A local crawl lasts
minutes, but a worker (``techcal worker``) runs for weeks: a site that
changes its robots.txt, or moves to another address, must be seen to.
RFC 9309 (2.4) asks crawlers not to use a cached robots.txt for more than
24 hours; an address is looked up again after 5 minutes, a common DNS TTL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from techcal.errors import TechcalError

#: seconds a fetched robots.txt is obeyed before it is fetched again
ROBOTS_MAX_AGE = 24 * 3600.0
#: seconds a host's address is used before it is looked up again
DNS_MAX_AGE = 300.0
#: the environment variables a worker's operator may set them with
ROBOTS_ENV, DNS_ENV = "TECHCAL_ROBOTS_MAX_AGE", "TECHCAL_DNS_MAX_AGE"
#: hosts remembered at most (then all are forgotten at once, as a full cache would be)
MOST_KEPT = 20000


class Freshness:
    """When each key (a host) was learnt, and whether it is time to learn it again."""

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self.clock = clock
        self.learnt: dict[str, float] = {}

    def stale(self, key: str) -> bool:
        """Return True when what is known of ``key`` is to be forgotten and learnt again.

        That is when it was learnt ``max_age`` ago or more, or when it is not
        known when (the first time: nothing to forget yet; or after the table
        was emptied for size, so that nothing is kept longer than its age).
        The key counts as learnt now.
        """
        now = self.clock()
        when = self.learnt.get(key)
        if when is not None and now - when < self.max_age:
            return False
        if when is None and len(self.learnt) >= MOST_KEPT:
            self.learnt.clear()
        self.learnt[key] = now
        return True


def max_ages() -> dict[str, float]:
    """Return the Scrapy settings of both ages, from the environment or the defaults."""
    ages = {}
    for name, default in ((ROBOTS_ENV, ROBOTS_MAX_AGE), (DNS_ENV, DNS_MAX_AGE)):
        try:
            ages[name] = max(0.0, float(os.environ.get(name, default)))
        except ValueError:
            raise TechcalError(f"{name} must be a number of seconds") from None
    return ages
