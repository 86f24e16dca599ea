"""``techcal crawl --redis``: queue the due sources for workers, store their results as they come.

The coordinator runs beside the store. It queues one job per planned
source (see :mod:`techcal.crawler.wire`) and stores each result with the
very code a local crawl stores with (:class:`~techcal.crawler.pipelines.StorePipeline`),
one source at a time, so dedupe, topics, the change log, series and
notifications behave the same. It finishes when every queued source is
back.

Nothing is lost and nothing is stored twice:

- a job's id says what its plan knew (:func:`~techcal.crawler.wire.job_id`):
  a result is stored only for a source still outstanding in this round, and
  only if it answers this round's job; a late copy is ignored;
- a source neither queued, held nor answered (its lease says which) for a
  third of a lease (its worker died, Redis restarted empty) is queued
  again;
- a coordinator killed and run again plans the same jobs (nothing was stored
  for them), finds them still queued or held, and takes their results;
- one coordinator at a time uses a Redis database (``techcal:coordinator``):
  a second one says who holds it, and stops.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from techcal.crawler.frontier import (
    PER_HOST_KEY,
    QUEUE_KEY,
    QUEUED,
    RESULTS_KEY,
    ROUND_KEY,
    ROUND_SECONDS,
    STORING_KEY,
    CoordinatorLock,
    JobQueue,
    connect,
    lease_key,
    lease_seconds,
    redacted,
)
from techcal.crawler.report import CrawlReport, SourceReport
from techcal.crawler.settings import CrawlOptions
from techcal.crawler.wire import (
    ID_KEY,
    Limits,
    QueuedJob,
    decode_result,
    encode_job,
    job_id,
    result_id,
)
from techcal.errors import TechcalError, WireError
from techcal.store.ingest import ReadJob

#: seconds between looks for missing sources (at most)
CHECK_EVERY = 2.0
#: a source queued this often without a result back is given up for this round
MAX_SENDS = 8


@dataclass
class Outstanding:
    job: ReadJob
    id: str
    payload: str
    missing_since: float | None = None
    sent: int = 1


def run_redis_crawl(
    db_path: Path,
    plans: list[ReadJob],
    redis_url: str,
    *,
    options: CrawlOptions | None = None,
    on_report: Callable[[SourceReport], None] | None = None,
    echo: Callable[[str], None] | None = None,
) -> CrawlReport:
    """Queue ``plans`` for workers and store their results; return the crawl's report.

    Ctrl-C or SIGTERM stops waiting: sources not back are reported "not
    done" and are due again at the next crawl (which takes up the jobs this
    round left queued). ``file:`` sources are not sent: a worker elsewhere
    cannot read this machine's files.
    """
    options = options or CrawlOptions()
    echo = echo or (lambda line: print(line, file=sys.stderr, flush=True))
    report = CrawlReport()
    if not plans:
        return report
    client = connect(redis_url)
    link = _Link(client, redis_url, echo)
    link.check()
    lock = CoordinatorLock(client, _holder())
    _lock(link, lock, redis_url, echo)
    # kept from a thread of its own: storing one source may take longer than the lock lasts
    lock.keep(every=lease_seconds() / 3)
    try:
        return _coordinate(db_path, plans, client, link, lock, options, report, on_report, echo)
    finally:
        lock.stop()
        try:
            lock.release()
        except Exception:  # noqa: BLE001, S110 - it lapses on its own
            pass


def _coordinate(
    db_path: Path,
    plans: list[ReadJob],
    client: Any,
    link: _Link,
    lock: CoordinatorLock,
    options: CrawlOptions,
    report: CrawlReport,
    on_report: Callable[[SourceReport], None] | None,
    echo: Callable[[str], None],
) -> CrawlReport:
    from techcal.crawler.pipelines import StorePipeline, ValidationPipeline
    from techcal.store.database import open_store

    limits = Limits(
        timeout=options.timeout,
        max_bytes=options.max_bytes,
        per_host=options.per_host,
        max_pages=options.max_pages,
        max_depth=options.max_depth,
        revisit_hours=options.revisit_hours,
    )
    round_id = link.call(lambda: _round(client))
    outstanding: dict[str, Outstanding] = {}
    for job in plans:
        if not job.source.url.startswith(("http://", "https://", "webcal://")):
            source = job.source
            report.sources.append(SourceReport(
                source.name, source.url, "not done", errors=1,
                error="workers cannot read this machine's files: "
                f"`techcal crawl --source {source.name}` (without --redis) reads it",
            ))  # fmt: skip
            continue
        queued = QueuedJob(f"{job_id(job)}#{round_id}", job, limits)
        outstanding[job.source.name] = Outstanding(job, queued.id, encode_job(queued))
    sent = list(outstanding.values())
    started = time.monotonic()
    # results a coordinator killed while storing them had taken: first in line again
    link.call(lambda: _take_back(client))
    link.call(lambda: _queue_round(client, outstanding, options.per_host))
    db = open_store(db_path)
    validate = ValidationPipeline()
    last_check = last_read = time.monotonic()
    late = 0
    finished = False
    previous = _stop_on_sigterm()
    try:
        while outstanding:
            # (moved aside while it is stored: a coordinator killed meanwhile loses nothing)
            popped = link.call(lambda: client.blmove(RESULTS_KEY, STORING_KEY, 1))
            if popped is not None:
                ids = result_id(popped)
                entry = outstanding.get(ids[1]) if ids else None
                stored_key = None
                if entry is None or ids is None or ids[0] != entry.id:
                    late += 1
                else:
                    line = _store(db, ids[2], entry, validate, StorePipeline.store_result)
                    del outstanding[entry.job.source.name]
                    stored_key = lease_key(entry.id)
                    report.sources.append(line)
                    if on_report is not None:
                        on_report(line)
                link.call(lambda: _stored(client, popped, stored_key))  # noqa: B023 - at once
            if time.monotonic() - last_check >= min(CHECK_EVERY, lease_seconds() / 6):
                last_check = time.monotonic()
                if lock.lost is not None:
                    echo(
                        f"another coordinator ({lock.lost}) took over this Redis database;"
                        f" stopping: {len(outstanding)} source(s) not back are due again next time"
                    )
                    break
                # a result whose BLMOVE answer was lost on the way: in line again
                link.call(lambda: _take_back(client))
                # the whole queue is read once a lease too, whatever the counts say
                read = last_check - last_read >= lease_seconds()
                if read:
                    last_read = last_check
                link.call(
                    lambda: _requeue_missing(client, outstanding, options.per_host, echo, read)  # noqa: B023
                )
                for entry in [e for e in outstanding.values() if e.sent > MAX_SENDS]:
                    source = entry.job.source
                    del outstanding[source.name]
                    line = SourceReport(
                        source.name, source.url, "not done", errors=1,
                        error=f"no worker sent it back after {MAX_SENDS} tries "
                        "(workers of another techcal version?)",
                    )  # fmt: skip
                    report.sources.append(line)
                    if on_report is not None:
                        on_report(line)
        else:
            finished = True
        if finished:
            # the round is over: its jobs queued twice (a worker only slow) go
            link.call(lambda: _end_round(client, sent))
    except KeyboardInterrupt:
        echo(f"stopping: {len(outstanding)} source(s) not back are due again next time")
    finally:
        db.conn.close()
        _restore_sigterm(previous)
    report.seconds = time.monotonic() - started
    for entry in outstanding.values():
        source = entry.job.source
        report.sources.append(SourceReport(source.name, source.url, "not done", errors=1))
    if late:
        echo(f"ignored {late} late or repeated result(s)")
    return report


def _round(client: Any) -> str:
    """Return this round's id: the unfinished round's (a coordinator run again), else a new one."""
    import uuid

    client.set(ROUND_KEY, uuid.uuid4().hex[:12], nx=True, ex=ROUND_SECONDS)
    value = client.get(ROUND_KEY)
    return value.decode() if isinstance(value, bytes) else str(value)


def _end_round(client: Any, sent: list[Outstanding]) -> None:
    with client.pipeline(transaction=False) as pipe:
        for entry in sent:
            pipe.lrem(QUEUE_KEY, 0, entry.payload)
        pipe.delete(ROUND_KEY)
        pipe.execute()


def _stop_on_sigterm() -> Any:
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, stop)


def _restore_sigterm(previous: Any) -> None:
    import signal

    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def _store(
    db: Any,
    data: dict[str, Any],
    entry: Outstanding,
    validate: Any,
    store: Callable[[Any, Any], SourceReport],
) -> SourceReport:
    source = entry.job.source
    try:
        _, item = decode_result(data, source)
        validate.process_item(item)
    except Exception as exc:  # noqa: BLE001 - a result is data from elsewhere: never a trace
        why = str(exc) if isinstance(exc, WireError) else f"{type(exc).__name__}: {exc}"
        return SourceReport(
            source.name, source.url, "error", errors=1, error=f"a worker's result: {why}"
        )
    try:
        return store(db, item)
    except Exception as exc:  # noqa: BLE001 - one source's failure never ends the crawl
        return SourceReport(
            source.name, source.url, "error", errors=1, error=f"could not store it: {exc}"
        )


def _queue_round(client: Any, outstanding: dict[str, Outstanding], per_host: int) -> None:
    """Queue every job not already queued or held (a coordinator run again finds them there)."""
    client.set(PER_HOST_KEY, per_host)
    leased = set(_leases(client, [entry.id for entry in outstanding.values()]))
    _queue(client, [entry for entry in outstanding.values() if entry.id not in leased])


def _queue(client: Any, entries: list[Outstanding]) -> None:
    """Queue ``entries``' jobs, each with its lease saying it waits in the queue."""
    with client.pipeline(transaction=False) as pipe:
        for entry in entries:
            pipe.set(lease_key(entry.id), QUEUED, ex=ROUND_SECONDS)
            pipe.rpush(QUEUE_KEY, entry.payload)
        pipe.execute()


def _take_back(client: Any) -> None:
    """Put the results a coordinator was storing when it stopped back first in line."""
    while client.lmove(STORING_KEY, RESULTS_KEY, "RIGHT", "LEFT") is not None:
        pass


def _stored(client: Any, result: bytes, lease: str | None) -> None:
    """Forget a result stored (or ignored), and the lease of its job."""
    with client.pipeline(transaction=False) as pipe:
        pipe.lrem(STORING_KEY, 1, result)
        if lease is not None:
            pipe.delete(lease)
        pipe.execute()


def _requeue_missing(
    client: Any,
    outstanding: dict[str, Outstanding],
    per_host: int,
    echo: Callable[[str], None],
    read_queue: bool = False,
) -> None:
    if not outstanding:
        return
    client.set(PER_HOST_KEY, per_host)  # (again: a Redis restarted empty lost it)
    now = time.monotonic()
    leases = _leases(client, [entry.id for entry in outstanding.values()])
    leased = set(leases)
    marked = [i for i, value in leases.items() if value == QUEUED.encode()]
    if read_queue or len(marked) > client.llen(QUEUE_KEY):
        # some jobs said to wait are not in the queue: taken by something
        # other than a worker's take (which leases as it pops), or left over
        # from a Redis that came back from an old snapshot. Then, and once a
        # lease anyway (other entries in the queue can hide a missing one
        # from the count), the queue is read whole, to learn which.
        waiting = _queued_ids(client)
        lost = [i for i in marked if i not in waiting]
        leased -= set(lost)
        # their leases said "queued" wrongly: gone, the next checks see them
        # missing too, and queue them again after a third of a lease
        forget = JobQueue(client)
        for job in lost:
            forget.let_go(job, QUEUED)
    again = []
    for entry in outstanding.values():
        if entry.id in leased:
            entry.missing_since = None
            continue
        if entry.missing_since is None:
            entry.missing_since = now
        elif now - entry.missing_since >= lease_seconds() / 3:
            again.append(entry)
    if not again:
        return
    _queue(client, again)
    for entry in again:
        entry.missing_since = None
        entry.sent += 1
    names = ", ".join(e.job.source.name for e in again[:5])
    more = f" and {len(again) - 5} more" if len(again) > 5 else ""
    echo(f"queued again (their worker stopped, or Redis lost them): {names}{more}")


#: leases read in one MGET
LEASES_AT_ONCE = 1000


def _leases(client: Any, ids: list[str]) -> dict[str, bytes]:
    """Return the lease of each of ``ids`` that has one (queued, a worker's, or returned)."""
    found: dict[str, bytes] = {}
    for at in range(0, len(ids), LEASES_AT_ONCE):
        part = ids[at : at + LEASES_AT_ONCE]
        values = client.mget([lease_key(i) for i in part])
        found.update((i, v) for i, v in zip(part, values, strict=True) if v is not None)
    return found


#: queue entries read in one LRANGE
ENTRIES_AT_ONCE = 200


def _queued_ids(client: Any) -> set[str]:
    """Return the ids of the jobs in the queue (reading it whole, a page at a time).

    Pages are counted from the tail: workers pop at the head meanwhile,
    which would shift pages counted from there past entries never read
    (only this coordinator pushes, and not while it reads). Each id is read
    where the workers' take script reads it, ahead of the job, which is not
    decoded.
    """
    found = set()
    at = 0
    while True:
        page = client.lrange(QUEUE_KEY, -(at + ENTRIES_AT_ONCE), -(at + 1))
        for raw in page:
            match = _ID_IN_JOB.search(raw)
            if match:
                found.add(match.group(1).decode("utf-8", "replace"))
        if len(page) < ENTRIES_AT_ONCE:
            return found
        at += ENTRIES_AT_ONCE


_ID_IN_JOB = re.compile(rb'"' + re.escape(ID_KEY.encode()) + rb'"\s*:\s*"([^"\\]+)"')


def _holder() -> str:
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _lock(link: _Link, lock: CoordinatorLock, url: str, echo: Callable[[str], None]) -> None:
    """Take the database's coordinator lock, waiting out one left by a coordinator killed."""
    if link.call(lock.take):
        return
    holder = link.call(lock.holder)
    wait = lease_seconds() + 1
    echo(
        f"another coordinator ({holder}) holds {redacted(url)}; waiting up to {wait:.0f} s"
        " (a coordinator that was killed lets go by then)"
    )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if link.call(lock.take):
            return
    raise TechcalError(
        f"another coordinator ({link.call(lock.holder)}) is crawling through {redacted(url)};"
        " one Redis database serves one store: give this one another database number"
        " (redis://host:6379/1), or wait for that crawl to finish"
    )


class _Link:
    """Calls to Redis that wait out an outage (Redis restarting), saying so once."""

    def __init__(self, client: Any, url: str, echo: Callable[[str], None]) -> None:
        self.client = client
        self.url = url
        self.echo = echo
        self.down_since: float | None = None

    def check(self) -> None:
        """Fail now, in one line, on a wrong URL, password or server."""
        import redis

        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise TechcalError(f"--redis {redacted(self.url)}: {exc}") from None

    def call(self, fn: Callable[[], Any]) -> Any:
        import redis

        while True:
            try:
                value = fn()
            except redis.AuthenticationError as exc:
                raise TechcalError(f"--redis {redacted(self.url)}: {exc}") from None
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                if self.down_since is None:
                    self.down_since = time.monotonic()
                    self.echo(f"Redis at {redacted(self.url)} is not answering ({exc}); waiting")
                time.sleep(1.0)
                continue
            except redis.RedisError as exc:  # out of memory, read-only replica, ...
                raise TechcalError(f"Redis at {redacted(self.url)} refused: {exc}") from None
            if self.down_since is not None:
                self.echo(f"Redis is back after {time.monotonic() - self.down_since:.0f} s")
                self.down_since = None
            return value
