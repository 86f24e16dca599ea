"""Scrapy settings for techcal's crawl: polite by default, bounded in size and time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from techcal import __version__

#: who we are, and where a site owner can find out more and ask us to stop
USER_AGENT = f"techcal/{__version__} (+https://github.com/techcal/techcal; local tech events)"

#: defaults a user can change with `techcal crawl` options
DOWNLOAD_TIMEOUT = 30
MAX_BYTES = 20 * 2**20
PER_HOST = 4
#: a listing source: how many pages per source, and how many links deep
MAX_PAGES = 50
MAX_DEPTH = 2
#: hours before the event pages of an unchanged listing are read again
REVISIT_HOURS = 12.0
#: retry waits: BASE, 2*BASE, ... seconds; a Retry-After up to RETRY_AFTER_MAX is waited
#: for within the crawl, a longer one makes the source wait until a later crawl
RETRY_BACKOFF_BASE = 1.0
RETRY_AFTER_MAX = 30.0


#: the settings every crawl shares (crawl_settings adds the ones its options set)
SETTINGS: dict[str, Any] = {
    "BOT_NAME": "techcal",
    "USER_AGENT": USER_AGENT,
    "ROBOTSTXT_OBEY": True,
    # politeness: a few requests per host at once (CONCURRENT_REQUESTS_PER_DOMAIN,
    # set per crawl), slowed down by AutoThrottle when a host answers slowly;
    # many hosts are fetched in parallel
    "CONCURRENT_REQUESTS": 32,
    "AUTOTHROTTLE_ENABLED": True,
    "EXTENSIONS": {
        "scrapy.extensions.throttle.AutoThrottle": None,
        "techcal.crawler.middlewares.FastServerAutoThrottle": 0,
    },
    "AUTOTHROTTLE_MIN_USEFUL_DELAY": 0.005,
    "AUTOTHROTTLE_START_DELAY": 0.5,
    "AUTOTHROTTLE_MAX_DELAY": 30.0,
    # limits: a hostile or broken server costs at most this much (with
    # DOWNLOAD_TIMEOUT and DOWNLOAD_MAXSIZE, set per crawl)
    "DOWNLOAD_WARNSIZE": 0,
    "REDIRECT_MAX_TIMES": 10,
    "RETRY_ENABLED": True,
    "RETRY_TIMES": 2,
    "RETRY_HTTP_CODES": [408, 429, 500, 502, 503, 504, 522, 524],
    "RETRY_BACKOFF_BASE": RETRY_BACKOFF_BASE,
    "RETRY_AFTER_MAX": RETRY_AFTER_MAX,
    # what a source leads to stays on public addresses (crawler/addresses.py):
    # checked per request before robots.txt is asked for, and by the
    # resolver the connections use, so the check and the connection
    # see one answer
    "TWISTED_DNS_RESOLVER": "techcal.crawler.addresses.PublicAddressResolver",
    "DOWNLOADER_MIDDLEWARES": {
        "techcal.crawler.middlewares.PublicAddressMiddleware": 40,
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
        "techcal.crawler.middlewares.SharedRobotsTxtMiddleware": 100,
        "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
        "techcal.crawler.middlewares.BackoffRetryMiddleware": 550,
        # after the retry middleware on the way out, so a retried request
        # waits before it takes a download slot
        "techcal.crawler.middlewares.RetryDelayMiddleware": 560,
        "techcal.crawler.middlewares.FileSizeMiddleware": 570,
    },
    "ITEM_PIPELINES": {
        "techcal.crawler.pipelines.ValidationPipeline": 100,
        "techcal.crawler.pipelines.StorePipeline": 200,
    },
    # calendars and feeds need no cookies; sessions only make crawls less repeatable
    "COOKIES_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_FORMAT": "%(levelname)s %(name)s: %(message)s",
    "STATS_DUMP": False,
    # Scrapy re-parses a callback's source on every call to warn about
    # generators that return values: 2.5 ms a page (bench/crawl.py)
    "WARN_ON_GENERATOR_RETURN_VALUE": False,
    # the spider yields one item per source; they are stored one at a time
    "CONCURRENT_ITEMS": 1,
}


def crawl_settings(
    *,
    timeout: float = DOWNLOAD_TIMEOUT,
    max_bytes: int = MAX_BYTES,
    per_host: int = PER_HOST,
    log_level: str = "ERROR",
) -> dict[str, Any]:
    """Return the Scrapy settings of one techcal crawl."""
    from techcal.crawler.middlewares import host_map

    middlewares = dict(SETTINGS["DOWNLOADER_MIDDLEWARES"])
    if host_map():
        # before the address check, which then judges the request as mapped
        middlewares["techcal.crawler.middlewares.HostMapMiddleware"] = 30
    return {
        **SETTINGS,
        "DOWNLOADER_MIDDLEWARES": middlewares,
        "CONCURRENT_REQUESTS_PER_DOMAIN": per_host,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(per_host),
        "DOWNLOAD_TIMEOUT": timeout,
        "DOWNLOAD_MAXSIZE": max_bytes,
        "LOG_LEVEL": log_level,
    }


@dataclass
class CrawlOptions:
    """The knobs of one crawl (`techcal crawl` options)."""

    timeout: float = DOWNLOAD_TIMEOUT
    max_bytes: int = MAX_BYTES
    per_host: int = PER_HOST
    max_pages: int = MAX_PAGES
    max_depth: int = MAX_DEPTH
    revisit_hours: float = REVISIT_HOURS
    #: processes reading bodies and pages beside the fetching (None: decided by the crawl's size)
    workers: int | None = None
    verbose: bool = False
    #: hand the sources to workers through this Redis (`crawl --redis`); None: fetch here
    redis_url: str | None = None
