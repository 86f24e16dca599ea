"""``techcal worker``: crawl sources taken from a shared Redis frontier, on any machine.

The worker is the local crawl's spider made a scrapy-redis
:class:`~scrapy_redis.spiders.RedisSpider`: its start requests are whole
sources popped from ``techcal:sources`` (see :mod:`techcal.crawler.frontier`),
each read with the same readers, politeness and limits as ``techcal crawl``
(the limits come with the job), and each source's result goes back through
``techcal:results`` from a pipeline. It needs no database.

While it holds a source it keeps the source's lease alive; killed, it lets
the lease lapse and the coordinator queues the source again. The first
Ctrl-C or SIGTERM stops it taking sources and lets it finish the ones it
holds; a second stops it at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from scrapy import signals
from scrapy.crawler import AsyncCrawlerProcess, Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.ossignal import install_shutdown_handlers
from scrapy_redis.spiders import RedisSpider
from twisted.internet import task

from techcal.crawler.freshness import max_ages
from techcal.crawler.frontier import (
    QUEUE_KEY,
    RESULTS_KEY,
    RETURNED,
    ROUND_SECONDS,
    HostSlots,
    JobQueue,
    connect,
    lease_key,
    lease_seconds,
)
from techcal.crawler.items import SourceResult
from techcal.crawler.middlewares import HOST_KEY, UNTRUSTED_KEY, retry_after_seconds
from techcal.crawler.settings import PER_HOST, crawl_settings
from techcal.crawler.source_run import SourceRun
from techcal.crawler.spiders.sources import SourcesSpider
from techcal.crawler.wire import ID_KEY, JOB_KEY, QueuedJob, decode_job, encode_result
from techcal.errors import WireError

logger = logging.getLogger(__name__)

#: sources a worker holds at once (each a listing and its pages, or one feed)
SOURCES_AT_ONCE = 16
#: seconds between looks at the queue when the worker has room
POLL_SECONDS = 0.25
#: meta key of the slot a request holds at its host (see HostSlots)
SLOT_KEY = "techcal_host_slot"


class WorkerSpider(RedisSpider, SourcesSpider):
    """The crawl's spider, fed by Redis: one queued job per source."""

    name = "techcal-worker"
    redis_key = QUEUE_KEY

    def __init__(
        self,
        capacity: int = SOURCES_AT_ONCE,
        echo: Callable[[str], None] | None = None,
        allow_private: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.capacity = capacity
        self.allow_private = allow_private
        #: why the worker stopped, when it was not asked to
        self.failure: str | None = None
        self.echo = echo or (lambda line: None)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        #: the job id of each source held
        self.job_ids: dict[str, str] = {}
        #: results Redis did not take yet (it was down): sent again by the heartbeat
        self.unsent: list[tuple[str, str]] = []
        self.draining = False
        self.redis_down = False
        self.done = 0
        self.lease_ms = int(lease_seconds() * 1000)
        self.jobs: JobQueue | None = None
        self._loops: list[task.LoopingCall] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> WorkerSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._opened, signal=signals.spider_opened)
        return spider

    def _opened(self) -> None:
        for call, every in ((self.refill, POLL_SECONDS), (self.heartbeat, self.lease_ms / 3000)):
            loop = task.LoopingCall(call)
            loop.start(every, now=False)
            self._loops.append(loop)

    async def start(self) -> Any:
        for request in self.next_requests():
            yield request

    def closed(self, reason: str) -> None:
        for loop in self._loops:
            if loop.running:
                loop.stop()
        self.flush()
        if self.unsent:
            self.failure = (
                f"{len(self.unsent)} result(s) could not be handed to Redis; "
                "their sources are crawled again by the next worker"
            )
        elif not self.draining and self.failure is None:
            self.failure = f"the crawl stopped ({reason})"
        super().closed(reason)

    # ------------------------------------------------------------ the queue

    def next_requests(self) -> Iterator[Request]:
        """Take as many sources as there is room for (scrapy-redis calls this when idle)."""
        room = self.capacity - len(self.runs)
        if self.draining or room <= 0 or self.server is None:
            return
        try:
            if self.jobs is None:
                self.jobs = JobQueue(self.server)
            datas = self.jobs.take(room, self.worker_id, self.lease_ms)
        except Exception as exc:  # noqa: BLE001 - Redis away: wait for it, say so once
            self._down(exc)
            return
        self._up()
        for data in datas:
            request = self.make_request_from_data(data)
            if request is not None:
                yield request

    def refill(self) -> None:
        if not self.draining and len(self.runs) < self.capacity:
            try:
                self.schedule_next_requests()
            except Exception as exc:  # noqa: BLE001 - never lose the loop to one entry
                self.echo(f"worker: could not take sources: {type(exc).__name__}: {exc}")

    def make_request_from_data(self, data: bytes) -> Request | None:
        """Return the first request of a queued source (scrapy-redis JSON), or None."""
        try:
            request = super().make_request_from_data(data)
            if not isinstance(request, Request) or JOB_KEY not in request.meta:
                raise WireError("not a techcal job")
            queued = decode_job(request.meta[JOB_KEY])
            if request.meta.get(ID_KEY) != queued.id:
                raise WireError(f"{queued.job.source.name}: the job's two ids differ")
            if not queued.job.source.url.startswith(("http://", "https://")):
                # (a file: source is read where its store is: `techcal crawl` there)
                raise WireError(f"{queued.job.source.name}: only http(s) sources are crawled here")
        except Exception as exc:  # noqa: BLE001 - whoever writes to Redis may write anything
            self.echo(f"worker: skipped a queued entry: {type(exc).__name__}: {exc}")
            self._let_go(data)
            return None
        name = queued.job.source.name
        if name in self.runs or name in self.job_ids:
            # queued again while held here: this worker's result will do (a job
            # of another plan for it is the coordinator's mistake: let it go)
            if self.job_ids.get(name) != queued.id:
                self._let_go(data)
            return None
        self.job_ids[name] = queued.id
        try:
            self.server.set(lease_key(queued.id), self.worker_id, px=self.lease_ms)
        except Exception as exc:  # noqa: BLE001 - the heartbeat takes the lease when Redis is back
            self._down(exc)
        return self.source_request(queued.job, _run_of(queued, self.allow_private))

    def _let_go(self, data: bytes) -> None:
        """Give up the lease the take gave a job skipped here: the coordinator queues it again
        soon (for a worker that reads it), not after a whole lease."""
        try:
            job = json.loads(data)["meta"][ID_KEY]
            if isinstance(job, str) and self.jobs is not None:
                self.jobs.let_go(job, self.worker_id)
        except Exception:  # noqa: BLE001, S110 - not a job at all, or Redis away: it lapses
            pass

    def spider_idle(self) -> None:
        """Idle: take more sources, and wait for them (scrapy-redis's loop, without a close
        on Redis errors: a worker outlives a Redis restart)."""
        if self.draining:
            return  # nothing held any more: close
        self.schedule_next_requests()
        raise DontCloseSpider

    # ------------------------------------------------------------ results

    def send(self, job: str, payload: str) -> None:
        """Hand one source's result to the coordinator (kept until Redis takes it)."""
        self.unsent.append((job, payload))
        self.flush()

    def flush(self) -> None:
        while self.unsent and self.server is not None:
            job, payload = self.unsent[0]
            try:
                with self.server.pipeline() as pipe:
                    pipe.rpush(RESULTS_KEY, payload)
                    # the lease stays, marked returned, until the coordinator stores
                    # the result: a source waiting in its backlog is not queued again
                    pipe.set(lease_key(job), RETURNED, ex=ROUND_SECONDS)
                    pipe.execute()
            except Exception as exc:  # noqa: BLE001
                self._down(exc)
                return
            self._up()
            self.unsent.pop(0)

    def heartbeat(self) -> None:
        """Keep the leases of the sources held (and of results not sent yet) alive."""
        self.flush()
        held = list(self.job_ids.values()) + [job for job, _ in self.unsent]
        if not held or self.server is None:
            return
        try:
            with self.server.pipeline(transaction=False) as pipe:
                for job in held:
                    pipe.set(lease_key(job), self.worker_id, px=self.lease_ms)
                pipe.execute()
        except Exception as exc:  # noqa: BLE001
            self._down(exc)

    def _down(self, exc: Exception) -> None:
        if not self.redis_down:
            self.redis_down = True
            self.echo(f"worker: Redis is not answering ({exc}); waiting for it")

    def _up(self) -> None:
        if self.redis_down:
            self.redis_down = False
            self.echo("worker: Redis is back")


def _run_of(queued: QueuedJob, allow_private: bool) -> SourceRun:
    limits = queued.limits
    meta: dict[str, Any] = {
        "download_timeout": limits.timeout,
        "download_maxsize": limits.max_bytes,
    }
    if not allow_private:
        meta[UNTRUSTED_KEY] = True
    return SourceRun(
        queued.job,
        max_pages=limits.max_pages,
        max_depth=limits.max_depth,
        revisit=timedelta(hours=limits.revisit_hours),
        meta=meta,
        job_id=queued.id,
    )


class ResultPipeline:
    """Send each source's result back through Redis (after validation, as in a local crawl)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResultPipeline:
        return cls(crawler)

    def process_item(self, item: SourceResult) -> SourceResult:
        spider = self.crawler.spider
        assert isinstance(spider, WorkerSpider)
        job = item.job_id
        if job is None:
            return item
        if spider.job_ids.get(item.source.name) == job:
            del spider.job_ids[item.source.name]
        spider.send(job, encode_result(job, item))
        spider.done += 1
        spider.echo(_done_line(item))
        spider.refill()
        return item


def _done_line(item: SourceResult) -> str:
    if item.status == "error":
        return f"{item.source.name}: error: {item.error}"
    events = len(item.outcome.read.events) if item.outcome is not None else 0
    return f"{item.source.name}: {item.status}, {events} event(s) read, {item.seconds:.1f} s"


class SharedHostLimit:
    """Hold every worker together to ``--per-host`` requests at once per host, and to a host's
    ``Retry-After``.

    Last of the downloader middlewares on the way out (after redirects and
    retries made their new requests), first on the way back, so every
    download, robots.txt included, holds a slot only while it is on the wire.
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.slots = HostSlots(
            connect(settings.get("REDIS_URL")), settings.getfloat("DOWNLOAD_TIMEOUT")
        )
        self.default = settings.getint("TECHCAL_PER_HOST", PER_HOST)
        self.retry_after_max = settings.getfloat("RETRY_AFTER_MAX")
        self.limit = self.default
        self.limit_read = -1e9
        self.warned = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedHostLimit:
        return cls(crawler)

    def _limit(self) -> int:
        now = asyncio.get_event_loop().time()
        if now - self.limit_read > 5:
            self.limit_read = now
            self.limit = self.slots.per_host(self.default)
        return self.limit

    async def process_request(self, request: Request) -> None:
        host = request.meta.get(HOST_KEY) or urlparse_cached(request).hostname
        if not host or request.url.startswith("file:"):
            return
        while True:
            try:
                timeout = float(request.meta.get("download_timeout") or 0) or None
                token, wait = self.slots.acquire(host, self._limit(), timeout)
            except Exception as exc:  # noqa: BLE001 - Redis away: wait, never overrun a host
                if not self.warned:
                    self.warned = True
                    logger.warning("Redis is not answering (%s): waiting", exc)
                token, wait = None, 1.0
            if token is not None:
                request.meta[SLOT_KEY] = (host, token)
                return
            await asyncio.sleep(wait)

    def process_response(self, request: Request, response: Response) -> Response:
        slot = request.meta.get(SLOT_KEY)
        if slot is not None and response.status in (429, 503):
            asked = retry_after_seconds(response.headers.get(b"Retry-After"))
            if asked:
                # before the slot is freed: no worker may take it in between
                self._safe(self.slots.hold, slot[0], min(asked, self.retry_after_max))
        self._release(request)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._release(request)

    def _release(self, request: Request) -> None:
        slot = request.meta.pop(SLOT_KEY, None)
        if slot is not None:
            self._safe(self.slots.release, *slot)

    def _safe(self, call: Callable[..., Any], *args: Any) -> None:
        try:
            call(*args)
        except Exception as exc:  # noqa: BLE001 - a slot left behind expires on its own
            logger.warning("Redis: %s", exc)


class _WorkerProcess(AsyncCrawlerProcess):
    """Scrapy's process, whose first signal lets the worker finish what it holds."""

    spider: WorkerSpider | None = None

    def _signal_shutdown(self, signum: int, _: Any) -> None:
        from twisted.internet import reactor

        install_shutdown_handlers(self._signal_kill)
        spider = self.spider
        if spider is None:
            reactor.callFromThread(self._graceful_stop_reactor)
            return
        spider.draining = True
        reactor.callFromThread(
            spider.echo,
            f"worker: stopping after the {len(spider.runs)} source(s) it holds "
            "(again to stop now; they are then crawled by another worker)",
        )


def run_worker(
    redis_url: str,
    *,
    capacity: int = SOURCES_AT_ONCE,
    readers: int = 1,
    allow_private: bool = False,
    verbose: bool = False,
    echo: Callable[[str], None] | None = None,
) -> tuple[int, str | None]:
    """Crawl queued sources until stopped; return how many were done, and what went wrong."""
    from techcal.crawler.run import quiet_logs

    connect(redis_url).ping()  # a wrong URL or a stopped server: one clear error, now
    echo = echo or (lambda line: print(line, file=sys.stderr, flush=True))
    settings = crawl_settings(log_level="DEBUG" if verbose else "ERROR")
    middlewares = dict(settings["DOWNLOADER_MIDDLEWARES"])
    middlewares["techcal.crawler.worker.SharedHostLimit"] = 890
    settings.update(
        {
            "REDIS_URL": redis_url,
            "DOWNLOADER_MIDDLEWARES": middlewares,
            "ITEM_PIPELINES": {
                "techcal.crawler.pipelines.ValidationPipeline": 100,
                "techcal.crawler.worker.ResultPipeline": 200,
            },
            # the shared limit (set by the coordinator) holds all workers to
            # --per-host; each worker alone may go up to the highest allowed
            "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
            "TECHCAL_PER_HOST": PER_HOST,
            "LOG_INSTALL_ROOT_HANDLER": verbose,
            # a worker runs for weeks: robots.txt and addresses are learnt again
            **max_ages(),
        }
    )
    process = _WorkerProcess(settings)
    quiet_logs(verbose)
    crawler = process.create_crawler(WorkerSpider)
    process.crawl(
        crawler, capacity=capacity, echo=echo, workers=readers, allow_private=allow_private
    )

    def keep(spider: WorkerSpider) -> None:
        process.spider = spider

    crawler.signals.connect(keep, signal=signals.spider_opened)
    echo(f"worker {socket.gethostname()}:{os.getpid()}: waiting for sources (Ctrl-C to stop)")
    process.start()
    spider = process.spider
    if spider is None:
        return 0, "the crawl did not start"
    return spider.done, spider.failure
