"""Pacing requests to a portal the way Bitrix24 meters them.

Bitrix24 counts a portal's requests in a leaky bucket (2 per second with a
burst of 50; Enterprise plans 5 and 250) and answers ``503
QUERY_LIMIT_EXCEEDED`` once it overflows. Every worker of this deployment
shares that bucket, so the client keeps a copy of it in Redis and waits before
sending rather than bouncing off: :meth:`Pacer.acquire` reserves the next free
slot atomically and returns how long to sleep.

Separately, each method has a time budget (``operating``: 480 s of execution in
ten minutes). The client records the figure the portal reports, slows a method
that nears it, and pauses a method that hit ``429 OPERATION_TIME_LIMIT`` until
its ``operating_reset_at`` — that method alone; others keep going.

Without Redis (the zero-configuration demo) the same state lives in this
process.
"""

import contextlib
import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, Protocol

from django.conf import settings

from integrator.errors import MethodBlocked, RateLimited, Transient

logger = logging.getLogger(__name__)

ENTERPRISE_FAMILIES = {"ent", "enterprise"}


@dataclass(frozen=True)
class PacingConfig:
    """Limits and back-off figures; tests shrink the delays."""

    rate: float = 2.0
    burst: int = 50
    # Keep one slot free: other apps on this server's IP share the portal's bucket.
    headroom: int = 1
    # Give up waiting for a slot beyond this; the job retries later.
    max_wait: float = 120.0
    # 503 QUERY_LIMIT_EXCEEDED: retries and their exponential back-off.
    limit_attempts: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    # Transient failures of reading methods: retries before giving up.
    transient_attempts: int = 3
    # Per-method execution budget, as Bitrix24 reports it in time.operating.
    operating_limit: float = 480.0
    slow_from: float = 360.0
    pause_from: float = 470.0
    slow_delay: float = 2.0

    def for_plan(self, plan: str) -> "PacingConfig":
        """The bucket of the portal's plan: Enterprise gets 5/s and 250."""
        if is_enterprise(plan):
            return replace(self, rate=5.0, burst=250)
        return self

    def backoff(self, attempt: int, jitter: float) -> float:
        """Exponential back-off with jitter in [0.5, 1] of the step."""
        step = min(self.backoff_cap, self.backoff_base * 2.0**attempt)
        return step * (0.5 + 0.5 * jitter)


def is_enterprise(plan: str) -> bool:
    """Whether an app.info LICENSE or LICENSE_FAMILY names an Enterprise plan."""
    value = plan.strip().lower()
    if value in ENTERPRISE_FAMILIES:
        return True
    # LICENSE looks like "de_ent10000"; LICENSE_TYPE like "ent10000".
    tail = value.rsplit("_", 1)[-1]
    return tail.startswith("ent")


class Store(Protocol):
    """Where the shared state lives: Redis in deployments, memory in the demo."""

    def reserve(
        self, key: str, *, rate: float, burst: float, max_wait: float
    ) -> float: ...

    def fill(self, key: str, *, rate: float, level: float) -> None: ...

    def get_method(self, key: str) -> dict[str, float]: ...

    def set_method(self, key: str, values: dict[str, float], *, ttl: float) -> None: ...

    def now(self) -> float: ...


# Reserve one request in the bucket and return the seconds until it may go.
# The level drains at `rate`; a request that would lift it above `burst` is
# scheduled for when it has drained enough. A wait beyond max_wait reserves
# nothing and comes back negative.
_RESERVE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'level', 'at')
local level = tonumber(state[1]) or 0
local at = tonumber(state[2]) or now
level = math.max(0, level - math.max(0, now - at) * rate)
local wait = math.max(0, (level + 1 - burst) / rate)
if wait > max_wait then
  return tostring(-wait)
end
level = level + 1
redis.call('HSET', KEYS[1], 'level', tostring(level), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((level / rate + 1) * 1000))
return tostring(wait)
"""

# Raise the bucket to `level` (never lower it): after a 503 the portal's
# bucket is evidently fuller than ours, and every worker should slow down.
_FILL = """
local rate = tonumber(ARGV[1])
local target = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'level', 'at')
local level = tonumber(state[1]) or 0
local at = tonumber(state[2]) or now
level = math.max(0, level - math.max(0, now - at) * rate)
if target > level then level = target end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((level / rate + 1) * 1000))
return tostring(level)
"""


@contextlib.contextmanager
def redis_down_is_transient() -> Iterator[None]:
    """Without Redis no worker may pace or lock safely: the job waits, not fails."""
    import redis

    try:
        yield
    except redis.RedisError as exc:
        failure = type(exc).__name__
    else:
        return
    raise Transient("redis_unavailable", failure)


class RedisStore:
    def __init__(self, client: Any) -> None:
        self.redis = client
        self._reserve = client.register_script(_RESERVE)
        self._fill = client.register_script(_FILL)

    def reserve(self, key: str, *, rate: float, burst: float, max_wait: float) -> float:
        with redis_down_is_transient():
            return float(self._reserve(keys=[key], args=[rate, burst, max_wait]))

    def fill(self, key: str, *, rate: float, level: float) -> None:
        with redis_down_is_transient():
            self._fill(keys=[key], args=[rate, level])

    def get_method(self, key: str) -> dict[str, float]:
        with redis_down_is_transient():
            raw = self.redis.hgetall(key)
        return {k.decode(): float(v) for k, v in raw.items()}

    def set_method(self, key: str, values: dict[str, float], *, ttl: float) -> None:
        with redis_down_is_transient():
            pipe = self.redis.pipeline()
            pipe.hset(key, mapping={k: repr(v) for k, v in values.items()})
            pipe.expire(key, max(1, math.ceil(ttl)))
            pipe.execute()

    def now(self) -> float:
        with redis_down_is_transient():
            seconds, micros = self.redis.time()
        return float(seconds) + float(micros) / 1_000_000


class MemoryStore:
    """The same bookkeeping for one process, when no Redis is configured."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}
        self._methods: dict[str, tuple[dict[str, float], float]] = {}

    def _drained(self, key: str, rate: float, now: float) -> float:
        level, at = self._buckets.get(key, (0.0, now))
        return max(0.0, level - max(0.0, now - at) * rate)

    def reserve(self, key: str, *, rate: float, burst: float, max_wait: float) -> float:
        with self._lock:
            now = self.now()
            level = self._drained(key, rate, now)
            wait = max(0.0, (level + 1 - burst) / rate)
            if wait > max_wait:
                return -wait
            self._buckets[key] = (level + 1, now)
            return wait

    def fill(self, key: str, *, rate: float, level: float) -> None:
        with self._lock:
            now = self.now()
            current = self._drained(key, rate, now)
            self._buckets[key] = (max(current, level), now)

    def get_method(self, key: str) -> dict[str, float]:
        with self._lock:
            values, expires = self._methods.get(key, ({}, 0.0))
            return dict(values) if expires > self.now() else {}

    def set_method(self, key: str, values: dict[str, float], *, ttl: float) -> None:
        with self._lock:
            current, expires = self._methods.get(key, ({}, 0.0))
            merged = {**current, **values} if expires > self.now() else dict(values)
            self._methods[key] = (merged, self.now() + ttl)

    def now(self) -> float:
        return time.time()


@cache
def _memory_store() -> MemoryStore:
    return MemoryStore()


def default_store() -> Store:
    """Redis when ``REDIS_URL`` is set, else this process's memory."""
    url: str = settings.REDIS_URL
    if not url:
        return _memory_store()
    return RedisStore(redis_client(url))


@cache
def redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url)


class Pacer:
    """One portal's bucket and method budgets, as seen by every worker."""

    def __init__(
        self,
        key: str,
        *,
        config: PacingConfig | None = None,
        store: Store | None = None,
        sleep: Any = time.sleep,
    ) -> None:
        self.key = key
        self.config = config or PacingConfig()
        self.store = store or default_store()
        self.sleep = sleep

    @property
    def _bucket_key(self) -> str:
        return f"b24:bucket:{self.key}"

    def _method_key(self, method: str) -> str:
        return f"b24:method:{self.key}:{method.lower()}"

    def acquire(self) -> float:
        """Wait for a slot in the portal's bucket; returns the seconds waited."""
        config = self.config
        wait = self.store.reserve(
            self._bucket_key,
            rate=config.rate,
            burst=max(1, config.burst - config.headroom),
            max_wait=config.max_wait,
        )
        if wait < 0:
            raise RateLimited(
                "QUERY_LIMIT_EXCEEDED",
                f"the portal's request queue is {-wait:.0f} s long",
            )
        if wait > 0:
            self.sleep(wait)
        return wait

    def saturate(self) -> None:
        """The portal refused a request for rate: treat its bucket as full."""
        self.store.fill(
            self._bucket_key, rate=self.config.rate, level=self.config.burst
        )

    def before(self, method: str) -> float:
        """Check a method's budget before a call: raise if paused, slow if near."""
        state = self.store.get_method(self._method_key(method))
        now = self.store.now()
        blocked_until = state.get("blocked_until", 0.0)
        if blocked_until > now:
            raise MethodBlocked(
                "OPERATION_TIME_LIMIT",
                "paused until the method's time budget resets",
                method=method,
                reset_at=blocked_until,
            )

        operating = state.get("operating", 0.0)
        reset_at = state.get("reset_at", 0.0)
        if reset_at <= now or operating < self.config.slow_from:
            return 0.0
        if operating >= self.config.pause_from:
            self.block(method, until=reset_at)
            raise MethodBlocked(
                "OPERATION_TIME_LIMIT",
                f"{operating:.0f} s of {self.config.operating_limit:.0f} s used",
                method=method,
                reset_at=reset_at,
            )
        share = (operating - self.config.slow_from) / max(
            1.0, self.config.pause_from - self.config.slow_from
        )
        delay = self.config.slow_delay * (1 + 4 * share)
        self.sleep(delay)
        return delay

    def record(self, method: str, timing: Any) -> None:
        """Remember ``time.operating`` and ``operating_reset_at`` of a response."""
        if not isinstance(timing, dict):
            return
        try:
            operating = float(timing.get("operating") or 0.0)
            reset_at = float(timing.get("operating_reset_at") or 0.0)
        except (TypeError, ValueError):
            return
        if not reset_at:
            return
        if operating >= self.config.slow_from:
            logger.warning(
                "b24 method %s used %.0f s of its %.0f s budget",
                method,
                operating,
                self.config.operating_limit,
            )
        ttl = max(60.0, reset_at - self.store.now() + 60.0)
        self.store.set_method(
            self._method_key(method),
            {"operating": operating, "reset_at": reset_at},
            ttl=ttl,
        )

    def block(self, method: str, *, until: float) -> None:
        """Pause one method for every worker until ``until`` (unix time)."""
        ttl = max(1.0, until - self.store.now() + 1.0)
        self.store.set_method(
            self._method_key(method), {"blocked_until": until}, ttl=ttl
        )

    def last_reset_at(self, method: str) -> float | None:
        """The ``operating_reset_at`` of the method's last successful response."""
        value = self.store.get_method(self._method_key(method)).get("reset_at")
        return value or None
