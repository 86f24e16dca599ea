"""The shared Redis frontier of a crawl run across machines: its keys, leases and host limits.

One Redis database serves one store's crawl (use another database number,
``redis://host/1``, for another store). Its keys, all under ``techcal:``:

- ``techcal:sources``: the queue of sources (scrapy-redis JSON requests,
  see :mod:`techcal.crawler.wire`), read by every worker's RedisSpider;
- ``techcal:results``: each finished source's result, read by the coordinator;
- ``techcal:storing``: the result the coordinator is storing, moved there
  from ``techcal:results`` as it is taken (a coordinator killed meanwhile
  puts it back when run again);
- ``techcal:lease:<job id>``: "queued" while the job waits in the queue;
  taken by a worker together with the job (one script, so a job is never
  out of the queue without a lease) and refreshed while it works, gone
  when the worker dies (then the coordinator queues the source again);
  "returned" once its result is handed back, until the coordinator has
  stored it. So the coordinator finds a missing source by reading the
  leases, never the whole queue;
- ``techcal:host:<host>``: the requests in flight to a host, from every
  worker (a sorted set of tokens, each expiring on its own), held under
  ``techcal:per-host`` at once;
- ``techcal:hold:<host>``: a host's ``Retry-After``, honoured by every worker;
- ``techcal:round``: the id of the round under way;
- ``techcal:coordinator``: held by the one coordinator of the database,
  refreshed while it runs.

Times are Redis's own (``TIME``), so the machines' clocks need not agree.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from techcal.crawler.wire import ID_KEY
from techcal.errors import TechcalError

PREFIX = "techcal"
QUEUE_KEY = f"{PREFIX}:sources"
RESULTS_KEY = f"{PREFIX}:results"
STORING_KEY = f"{PREFIX}:storing"
PER_HOST_KEY = f"{PREFIX}:per-host"
#: seconds a lease lasts without being refreshed (a worker refreshes it three times as
#: often); TECHCAL_LEASE_SECONDS changes it, for coordinator and workers alike
LEASE_SECONDS = 30.0
LEASE_ENV = "TECHCAL_LEASE_SECONDS"
#: a lease's value once its result is handed back (until the coordinator stores it)
RETURNED = "returned"
#: a lease's value while its job waits in the queue
QUEUED = "queued"
#: held by the coordinator at work (it lapses a lease's time after the coordinator died)
COORDINATOR_KEY = f"{PREFIX}:coordinator"
#: the round under way (a coordinator run again goes on with it), and how long it may last
ROUND_KEY = f"{PREFIX}:round"
ROUND_SECONDS = 6 * 3600
#: a request's slot at a host is freed after this long even if its worker died
SLOT_EXTRA_SECONDS = 15

# KEYS: slots, hold. ARGV: limit, token, ttl ms.
# Returns 1 (slot taken), 0 (host full) or minus the ms of a hold still to wait.
_ACQUIRE = """
local hold = redis.call('PTTL', KEYS[2])
if hold > 0 then return -hold end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
  return 1
end
return 0
"""

# KEYS: queue. ARGV: count, worker id, lease ms, lease key prefix, id key.
# Pops up to count jobs and leases each to the worker in the same step. A
# job's id is the first value of its meta (wire.encode_job), found by a
# pattern, without decoding the job, which may be large: in JSON text an
# unescaped '"<id key>"' followed by ':' is a key, never part of a string,
# and the first place the whole pattern matches is that key. (The lease
# keys are worked out here, so this needs one Redis, not a cluster.) An
# entry that is not a job is handed over as it is: the worker says why it
# skips it.
_TAKE = r"""
local taken = {}
local key = string.gsub(ARGV[5], '%p', '%%%0')
local pattern = '"' .. key .. '"%s*:%s*"([^"\\]+)"'
for _ = 1, tonumber(ARGV[1]) do
  local data = redis.call('LPOP', KEYS[1])
  if not data then break end
  taken[#taken + 1] = data
  local id = string.match(data, pattern)
  if id and #id <= 400 then
    redis.call('SET', ARGV[4] .. id, ARGV[2], 'PX', tonumber(ARGV[3]))
  end
end
return taken
"""

# KEYS: lease. ARGV: worker id. Deletes the lease if the worker holds it.
_LET_GO = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""

# KEYS: lock. ARGV: token, ms. Takes or keeps the lock: 1, or 0 when another holds it.
_LOCK = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
"""

# KEYS: lock. ARGV: token.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""

# KEYS: hold. ARGV: ms. A longer hold already set stays.
_HOLD = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', tonumber(ARGV[1]))
end
return 1
"""


def lease_seconds() -> float:
    """Return how long a worker's hold on a source lasts unrefreshed (TECHCAL_LEASE_SECONDS)."""
    import os

    try:
        return max(1.0, float(os.environ.get(LEASE_ENV, LEASE_SECONDS)))
    except ValueError:
        raise TechcalError(f"{LEASE_ENV} must be a number of seconds") from None


def lease_key(job_id: str) -> str:
    return f"{PREFIX}:lease:{job_id}"


class JobQueue:
    """The queue of sources, as workers take from it."""

    def __init__(self, client: Any) -> None:
        self.take_script = client.register_script(_TAKE)
        self.let_go_script = client.register_script(_LET_GO)

    def take(self, count: int, worker: str, lease_ms: int) -> list[bytes]:
        """Pop up to ``count`` queued jobs, each leased to ``worker`` in the same step."""
        args = [count, worker, lease_ms, lease_key(""), ID_KEY]
        return list(self.take_script(keys=[QUEUE_KEY], args=args) or [])

    def let_go(self, job: str, worker: str) -> None:
        """Give up ``worker``'s lease of a job it will not crawl (then it is queued again soon)."""
        self.let_go_script(keys=[lease_key(job)], args=[worker])


class CoordinatorLock:
    """The one coordinator of a Redis database: two would store each other's results."""

    def __init__(self, client: Any, holder: str) -> None:
        self.client = client
        self.token = f"{holder}:{uuid.uuid4().hex[:8]}"
        self.lock_script = client.register_script(_LOCK)
        self.unlock_script = client.register_script(_UNLOCK)
        #: who took the lock while this coordinator held it (see keep)
        self.lost: str | None = None
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    def keep(self, every: float) -> None:
        """Refresh the lock every ``every`` seconds from a thread, until stop().

        (A thread, as storing one big source can take longer than the lock
        lasts.) While Redis is away it keeps trying; if another coordinator
        holds the lock, ``lost`` names it and the thread ends.
        """

        def run() -> None:
            while not self._stop.wait(every):
                try:
                    if not self.take():
                        self.lost = self.holder()
                        return
                except Exception:  # noqa: BLE001, S112 - Redis away: the main loop says so
                    continue

        self._keeper = threading.Thread(target=run, name="techcal-lock", daemon=True)
        self._keeper.start()

    def stop(self) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join(timeout=15)

    def take(self) -> bool:
        """Take or keep the lock for a lease's time; False when another coordinator holds it."""
        ms = int(lease_seconds() * 1000)
        return bool(int(self.lock_script(keys=[COORDINATOR_KEY], args=[self.token, ms])))

    def holder(self) -> str:
        value = self.client.get(COORDINATOR_KEY)
        text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        return text.rpartition(":")[0] or "?"

    def release(self) -> None:
        self.unlock_script(keys=[COORDINATOR_KEY], args=[self.token])


def host_key(host: str) -> str:
    return f"{PREFIX}:host:{host}"


def hold_key(host: str) -> str:
    return f"{PREFIX}:hold:{host}"


def connect(url: str) -> Any:
    """Return a Redis client for ``url`` (redis://, rediss:// or unix://); raise a clear error."""
    try:
        import redis
    except ImportError:
        raise TechcalError(
            "running across machines needs the redis extra: pip install 'techcal[redis]'"
        ) from None
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise TechcalError(f"--redis {url!r}: give a redis://host:port/db URL")
    try:
        return redis.Redis.from_url(
            url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=15
        )
    except ValueError as exc:
        raise TechcalError(f"--redis {url!r}: {exc}") from None


def redacted(url: str) -> str:
    """Return ``url`` without its password, for messages.

    >>> redacted("redis://:secret@db.example:6379/0")
    'redis://***@db.example:6379/0'
    """
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    return url


class HostSlots:
    """The per-host limit shared by every worker, and the holds a Retry-After puts on a host."""

    def __init__(self, client: Any, timeout: float) -> None:
        self.client = client
        self.acquire_script = client.register_script(_ACQUIRE)
        self.hold_script = client.register_script(_HOLD)
        self.slot_ms = int((timeout + SLOT_EXTRA_SECONDS) * 1000)

    def per_host(self, default: int) -> int:
        value = self.client.get(PER_HOST_KEY)
        try:
            return max(1, int(value)) if value is not None else default
        except ValueError:
            return default

    def acquire(
        self, host: str, limit: int, timeout: float | None = None
    ) -> tuple[str | None, float]:
        """Try to take a slot at ``host``: (token, 0) when taken, else (None, seconds to wait).

        The slot lapses after the request's own download timeout (and a margin).
        """
        token = uuid.uuid4().hex
        ttl = self.slot_ms if timeout is None else int((timeout + SLOT_EXTRA_SECONDS) * 1000)
        got = int(
            self.acquire_script(keys=[host_key(host), hold_key(host)], args=[limit, token, ttl])
        )
        if got == 1:
            return token, 0.0
        if got < 0:
            return None, min(-got / 1000, 1.0)
        return None, 0.02

    def release(self, host: str, token: str) -> None:
        self.client.zrem(host_key(host), token)

    def hold(self, host: str, seconds: float) -> None:
        self.hold_script(keys=[hold_key(host)], args=[max(1, int(seconds * 1000))])
