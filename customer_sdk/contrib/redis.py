"""A rate limiter shared by every process and host of one ChargeOver account, through Redis.

Four workers that each respect the account's limit together exceed it four times, and a 429 that
one of them gets is invisible to the others. :class:`RedisLimiter` implements the same
:class:`~customer_sdk.Limiter` interface as the in-process limiters, but keeps its state in Redis:

- **GCRA in one Lua script** (the generic cell rate algorithm: one "theoretical arrival time" per
  account), evaluated atomically by Redis with Redis' own clock (``TIME``), so no two workers can
  take the same slot and client clock skew does not matter.
- **Slots are reserved, not polled**: the script books the next free slot for the caller (even a
  future one) and answers how long until it; the caller sleeps that long and sends without
  asking again. A "come back in N µs" answer would make every waiter wake and ask together, and
  a grant that arrives late would lose its slot (about 20 % of the rate with burst 1). Only
  Redis' clock decides slots; the local clock only measures the relative wait it was told.
- **One caller per process talks to Redis**: callers of one limiter queue locally, first come
  first served, behind a head that makes the round trip and sleeps until its slot; so a process
  holds at most one reservation and one Redis call at a time, however many workers it runs.
- **A shared pause**: a 429's ``Retry-After`` sets a key with that expiry (only ever extended),
  and the same script refuses every slot while it lives, so every worker on every host waits.
  Slots are booked at most a quarter second ahead, so a pause that begins after a booking lets
  at most one request per limiter through; after the pause the budget starts empty (slots
  resume at the rate, not as a burst), as the in-process limiters do.
- **Redis down is never "unlimited"** (docs/faults.md F27): every script call is bounded by
  ``timeout`` (connect, each answer, and the whole call, whatever redis-py retries inside it).
  A Redis that worked and then fails (a restart, a stall) is retried, reconnecting, for up to
  ``patience`` seconds while no slot is granted; then :class:`LimiterUnavailableError` (a
  :class:`~customer_sdk.ChargeOverError`) is raised, to this caller and at once to every caller
  that queued before the verdict. A Redis never reached fails at once. A bulk job stops on it,
  resumably; nothing is ever sent unmetered. A restarted Redis has lost the scripts: redis-py
  loads them again on ``NOSCRIPT``.

Requires the ``redis`` extra (``pip install 'customer-sdk[redis]'``, redis-py's asyncio client).
This module sends no HTTP request and keeps no per-process rate of its own.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Final

from customer_sdk.contrib._redis_scripts import ACQUIRE, PAUSE
from customer_sdk.errors import LimiterUnavailableError

try:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "customer_sdk.contrib.redis needs redis-py: pip install 'customer-sdk[redis]'"
    ) from exc

__all__ = ["LimiterUnavailableError", "RedisLimiter"]

logger: Final = logging.getLogger("customer_sdk")

# Seconds between attempts to reach a Redis that failed (doubled from the first, up to the most).
_RECONNECT_FIRST: Final = 0.1
_RECONNECT_MOST: Final = 1.0
# The redis-py connection settings the limiter's ``timeout`` bounds, also when a URL sets them.
_TIMEOUTS: Final = ("socket_timeout", "socket_connect_timeout")

# Seconds: the furthest ahead a slot is booked (a caller whose slot is later asks again then).
# It bounds what a pause that begins after a booking can miss: one request per limiter.
_RESERVE_AHEAD: Final = 0.25


class RedisLimiter:
    """A token-bucket (GCRA) limit and a 429 pause shared through Redis.

    Use one per process, with the same ``name`` on every worker of one ChargeOver account. Its
    callers queue first come, first served; one at a time books a slot in Redis and sleeps until
    it, so a process makes at most one Redis call at a time. A caller cancelled while it waits
    leaves the queue without stalling it, and a slot it had booked goes to the next caller.

    Args:
        redis: A ``redis.asyncio.Redis`` client, or a ``redis://`` URL to open one (then closed
            by :meth:`aclose`).
        rate: Requests per second allowed across all workers.
        burst: How many requests may go at once after an idle spell. Default 1: slots are booked
            ahead, so a late wake-up does not lose its slot and burst 1 keeps the full rate.
        name: The key prefix naming the shared budget (one per ChargeOver account).
        sleep: How to wait (injectable for tests).
        timeout: Seconds one script call may take, connecting included (redis-py has no
            default, and retries inside a call). A URL's own ``socket_timeout`` and
            ``socket_connect_timeout`` are capped at it; a client you pass keeps its socket
            settings, but each call is still cut at ``timeout``. Default 2.
        patience: Seconds to keep retrying a Redis that answered before and now fails (a
            restart, a stall), granting nothing meanwhile, before raising
            :class:`LimiterUnavailableError`. 0 raises at the first failure. Default 10.

    Raises:
        ValueError: On a non-positive rate, burst or timeout, or a negative patience.
    """

    def __init__(
        self,
        redis: aioredis.Redis | str,
        *,
        rate: float,
        burst: int = 1,
        name: str = "customer_sdk",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        timeout: float = 2.0,
        patience: float = 10.0,
    ) -> None:
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError(f"rate must be a positive number, got {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        if not timeout > 0 or not math.isfinite(timeout):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if not patience >= 0 or not math.isfinite(patience):
            raise ValueError(f"patience must be a number of seconds >= 0, got {patience!r}")
        self._owns = isinstance(redis, str)
        self._redis: aioredis.Redis = _open(redis, timeout) if isinstance(redis, str) else redis
        self._timeout = timeout
        self._patience = patience
        self._reached = (
            False  # whether Redis ever answered: a Redis never reached is not waited for
        )
        # Event-loop time of the last LimiterUnavailableError: callers queued before it fail
        # at once instead of each waiting out the same outage in turn.
        self._failed_at = -math.inf
        self.rate = rate
        self.burst = burst
        self._interval_us = 1_000_000 / rate
        self._tolerance_us = (burst - 1) * self._interval_us
        self._keys = [f"{name}:tat", f"{name}:pause"]
        self._acquire = self._redis.register_script(ACQUIRE)
        self._pause = self._redis.register_script(PAUSE)
        self._sleep = sleep
        self._pending: set[asyncio.Task[Any]] = set()
        # The local queue: asyncio.Lock wakes its waiters in arrival order and passes the turn
        # on when a waiter is cancelled, so the head is never lost.
        self._turn = asyncio.Lock()
        # A booked slot (event-loop time) whose caller was cancelled before it came.
        self._spare: float | None = None

    def __repr__(self) -> str:
        # The Redis client's repr may show a password from its URL: never print it.
        return f"RedisLimiter(name={self._keys[0][:-4]!r}, rate={self.rate}, burst={self.burst})"

    async def acquire(self) -> None:
        """Wait for this caller's turn, then until its booked slot of the shared budget.

        Raises:
            LimiterUnavailableError: Redis did not answer; nothing may be sent unmetered.
        """
        loop = asyncio.get_running_loop()
        queued_at = loop.time()
        async with self._turn:
            while True:
                booked, at = self._take_spare(loop.time())
                if not booked:
                    booked, at = await self._book(loop, queued_at)
                delay = at - loop.time()
                if delay > 0:
                    try:
                        await self._sleep(delay)
                    except asyncio.CancelledError:
                        if booked:
                            self._spare = at  # the next caller in the queue sends in this slot
                        raise
                if booked:
                    return

    def _take_spare(self, now: float) -> tuple[bool, float]:
        at, self._spare = self._spare, None
        # A slot that passed long ago is not used: sent now it would add to the slots of now.
        if at is None or at < now - self._interval_us / 1_000_000:
            return False, now
        return True, at

    async def _book(self, loop: asyncio.AbstractEventLoop, queued_at: float) -> tuple[bool, float]:
        """One script call: (True, when the booked slot comes) or (False, when to ask again).

        Retries a Redis that answered before for up to ``patience`` seconds (F27).
        """
        args = [self._interval_us, self._tolerance_us, _RESERVE_AHEAD * 1_000_000]
        first_failure: float | None = None
        pause = _RECONNECT_FIRST
        while True:
            if queued_at <= self._failed_at:
                # Queued behind a call that already waited out this outage: do not wait again.
                raise LimiterUnavailableError(
                    "the shared rate limiter's Redis is unavailable; not sending unmetered"
                )
            try:
                # redis-py retries a failed command inside the call (three times by default):
                # the whole call, not each socket operation, is what must end within timeout.
                async with asyncio.timeout(self._timeout):
                    booked, wait_us = await self._acquire(keys=self._keys, args=args)
            except (RedisError, OSError, TimeoutError) as exc:
                now = loop.time()
                first_failure = now if first_failure is None else first_failure
                if not self._reached or now - first_failure >= self._patience:
                    self._failed_at = now
                    raise LimiterUnavailableError(
                        f"the shared rate limiter's Redis is unavailable ({type(exc).__name__}); "
                        "not sending unmetered"
                    ) from None
                if pause == _RECONNECT_FIRST:
                    logger.warning(
                        "the shared rate limiter's Redis failed (%s); granting nothing while "
                        "retrying for up to %g s",
                        type(exc).__name__,
                        self._patience,
                    )
                await self._sleep(min(pause, self._patience - (now - first_failure)))
                pause = min(2 * pause, _RECONNECT_MOST)
                continue
            if first_failure is not None:
                logger.warning("the shared rate limiter's Redis answers again")
            self._reached = True
            # Redis' clock chose the slot; locally only the relative wait is measured, from now.
            return bool(booked), loop.time() + int(wait_us) / 1_000_000

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
            async with asyncio.timeout(self._timeout):
                await self._pause(
                    keys=self._keys,
                    args=[max(1, math.ceil(retry_after * 1000)), self._tolerance_us],
                )
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("could not share a 429 pause through Redis (%s)", type(exc).__name__)

    def on_success(self) -> None:
        """Nothing to learn: the shared rate is fixed."""

    async def aclose(self) -> None:
        """Finish pending pause writes; close the Redis client if this limiter opened it."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._owns:
            await self._redis.aclose()


def _open(url: str, timeout: float) -> aioredis.Redis:
    """A client for ``url`` whose connect and socket timeouts are at most ``timeout``.

    redis-py lets a URL's query (``?socket_timeout=30``) override the keyword arguments of
    ``from_url``, so the cap is applied to the pool's settings after the URL was read.
    """
    client = aioredis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    settings = client.connection_pool.connection_kwargs
    for name in _TIMEOUTS:
        given = settings.get(name)
        if given is None or given > timeout:
            settings[name] = timeout
    return client
