"""A rate limiter shared by every process and host of one ChargeOver account, through Redis.

Four workers that each respect the account's limit together exceed it four times, and a 429 that
one of them gets is invisible to the others. :class:`RedisLimiter` implements the same
:class:`~customer_sdk.Limiter` interface as the in-process limiters, but keeps its state in Redis:

- **GCRA in one Lua script** (the generic cell rate algorithm: one "theoretical arrival time" per
  account), evaluated atomically by Redis with Redis' own clock (``TIME``), so no two workers can
  take the same slot and client clock skew does not matter.
- **A shared pause**: a 429's ``Retry-After`` sets a key with that expiry (only ever extended),
  and the same script refuses every slot while it lives, so every worker on every host waits.
- **Redis down is never "unlimited"**: a failed script call raises
  :class:`LimiterUnavailableError` (a :class:`~customer_sdk.ChargeOverError`); a bulk job then
  fails the row rather than send it unmetered.

Requires the ``redis`` extra (``pip install 'customer-sdk[redis]'``, redis-py's asyncio client).
This module sends no HTTP request and keeps no per-process rate of its own.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Final

from customer_sdk.errors import ChargeOverError

try:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "customer_sdk.contrib.redis needs redis-py: pip install 'customer-sdk[redis]'"
    ) from exc

__all__ = ["LimiterUnavailableError", "RedisLimiter"]

logger: Final = logging.getLogger("customer_sdk")

# KEYS[1] = the account's TAT (theoretical arrival time, µs on Redis' clock)
# KEYS[2] = the shared pause key (its PTTL is the pause left)
# ARGV[1] = emission interval in µs (1e6 / rate); ARGV[2] = tolerance in µs ((burst-1) * interval)
# Returns 0 when a slot was taken, else the µs to wait before asking again.
_ACQUIRE: Final = """
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return pause * 1000 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then return math.ceil(allow_at - now) end
local new_tat = tat + interval
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
return 0
"""

# KEYS[1] = the pause key; ARGV[1] = pause in ms. Only ever extends a pause, never shortens it.
_PAUSE: Final = """
local left = redis.call('PTTL', KEYS[1])
local want = tonumber(ARGV[1])
if left < want then redis.call('SET', KEYS[1], '1', 'PX', want) end
return left
"""


class LimiterUnavailableError(ChargeOverError):
    """The shared limiter's Redis could not be reached, so no request slot can be granted."""


class RedisLimiter:
    """A token-bucket (GCRA) limit and a 429 pause shared through Redis.

    Use one per process, with the same ``name`` on every worker of one ChargeOver account.

    Args:
        redis: A ``redis.asyncio.Redis`` client, or a ``redis://`` URL to open one (then closed
            by :meth:`aclose`).
        rate: Requests per second allowed across all workers.
        burst: How many requests may go at once after an idle spell. Default 1.
        name: The key prefix naming the shared budget (one per ChargeOver account).
        sleep: How to wait (injectable for tests).

    Raises:
        ValueError: On a non-positive rate or burst.
    """

    def __init__(
        self,
        redis: aioredis.Redis | str,
        *,
        rate: float,
        burst: int = 1,
        name: str = "customer_sdk",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError(f"rate must be a positive number, got {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        self._owns = isinstance(redis, str)
        self._redis: aioredis.Redis = (
            aioredis.Redis.from_url(redis) if isinstance(redis, str) else redis
        )
        self.rate = rate
        self.burst = burst
        self._interval_us = 1_000_000 / rate
        self._keys = [f"{name}:tat", f"{name}:pause"]
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._pause = self._redis.register_script(_PAUSE)
        self._sleep = sleep
        self._pending: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        # The Redis client's repr may show a password from its URL: never print it.
        return f"RedisLimiter(name={self._keys[0][:-4]!r}, rate={self.rate}, burst={self.burst})"

    async def acquire(self) -> None:
        """Wait until the shared budget grants one request (and no shared pause is in force).

        Raises:
            LimiterUnavailableError: Redis did not answer; nothing may be sent unmetered.
        """
        args = [self._interval_us, (self.burst - 1) * self._interval_us]
        while True:
            try:
                wait_us = await self._acquire(keys=self._keys, args=args)
            except (RedisError, OSError) as exc:
                raise LimiterUnavailableError(
                    f"the shared rate limiter's Redis is unavailable ({type(exc).__name__}); "
                    "not sending unmetered"
                ) from None
            if not wait_us:
                return
            await self._sleep(int(wait_us) / 1_000_000)

    def on_throttled(self, retry_after: float | None) -> None:
        """Share a 429's pause with every worker (only ever extending the pause in force).

        Called synchronously by the client; the Redis write runs as a task that
        :meth:`aclose` awaits. A failed write is logged: the local worker still backs off.

        Args:
            retry_after: Seconds from the 429's ``Retry-After``, or None (then nothing shared).
        """
        if retry_after is None or retry_after <= 0:
            return
        task = asyncio.get_running_loop().create_task(self._share_pause(retry_after))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _share_pause(self, retry_after: float) -> None:
        try:
            await self._pause(keys=self._keys[1:], args=[max(1, math.ceil(retry_after * 1000))])
        except (RedisError, OSError) as exc:
            logger.warning("could not share a 429 pause through Redis (%s)", type(exc).__name__)

    def on_success(self) -> None:
        """Nothing to learn: the shared rate is fixed."""

    async def aclose(self) -> None:
        """Finish pending pause writes; close the Redis client if this limiter opened it."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._owns:
            await self._redis.aclose()
