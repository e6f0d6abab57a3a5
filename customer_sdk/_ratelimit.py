"""Client-side rate limiting: the limiter interface, the shared 429 pause, and two rates.

Every request a client sends first asks its limiter for a slot. The interface is small on
purpose so that an in-process bucket, an adaptive rate and a Redis-shared limiter
(:mod:`customer_sdk.contrib.redis`) are interchangeable. A 429's ``Retry-After`` pauses *every*
caller of the limiter, not only the one that was told: the account's limit is shared, so the
others would only collect more 429s. Every limiter here includes that pause.

- :class:`PauseGate`: no rate of its own, only the shared pause (the client's default).
- :class:`TokenBucket`: a known rate and burst, paced without bursts beyond ``burst``.
- :class:`AdaptiveLimiter`: for an unknown limit (ChargeOver documents none, chargeover-api.md
  "Errors"): botocore-style CUBIC — a multiplicative decrease on each 429, then a cubic climb
  back to the rate that was throttled and, slowly, past it.

This module makes no HTTP requests and knows nothing of retries.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, runtime_checkable

__all__ = ["AdaptiveLimiter", "Limiter", "PauseGate", "TokenBucket"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@runtime_checkable
class Limiter(Protocol):
    """What the client needs from a rate limiter."""

    def acquire(self) -> Awaitable[None]:
        """Wait until one request may be sent (honouring any pause in force).

        Returns:
            An awaitable (an ``async def acquire`` is one): awaited before every request.
        """
        ...

    def on_throttled(self, retry_after: float | None) -> None:
        """Report a 429; ``retry_after`` (seconds, capped by the caller) pauses every caller.

        Args:
            retry_after: The server's requested wait, or None when it gave none.
        """
        ...

    def on_success(self) -> None:
        """Report a request that was not throttled (adaptive limiters climb on these)."""
        ...


class PauseGate:
    """The default limiter: no rate of its own, but a 429 with Retry-After holds everyone.

    Args:
        clock: Monotonic seconds (injectable for tests).
        sleep: How to wait (injectable for tests).
    """

    __slots__ = ("_clock", "_sleep", "paused_until")

    def __init__(self, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self.paused_until = 0.0

    async def acquire(self) -> None:
        """Return at once unless a pause is in force; then wait it out."""
        while True:
            until = self.paused_until
            left = until - self._clock()
            if left <= 0:
                return
            await self._sleep(left)
            # Wait again only if another 429 extended the pause meanwhile (an injected sleep
            # that does not really wait must not turn this into a busy loop).
            if self.paused_until == until:
                return

    def _acquire_now(self) -> bool:
        # acquire()'s no-wait case, without a coroutine: True when acquire() would return at once.
        return self.paused_until <= self._clock()

    def on_throttled(self, retry_after: float | None) -> None:
        """Extend the shared pause to at least ``retry_after`` seconds from now.

        Args:
            retry_after: Seconds, or None (then nothing is paused: the caller backs off alone).
        """
        if retry_after is not None and retry_after > 0:
            self.paused_until = max(self.paused_until, self._clock() + retry_after)

    def on_success(self) -> None:
        """Nothing to learn: this limiter has no rate."""


class _Pacer:
    """GCRA pacing (a token bucket kept as one "theoretical arrival time") plus the pause.

    Callers queue on a lock and only the one at the head waits for the next slot, so slots go
    out evenly spaced, in arrival order, and a rate change applies from the next slot on
    (reserving slots ahead for every waiter would keep the old rate for all of them). A caller
    whose slot fell inside a pause that began while it slept waits the pause out and takes a
    fresh slot, so a pause never ends in a burst.
    """

    __slots__ = ("_clock", "_lock", "_sleep", "_tat", "gate", "interval", "tolerance")

    def __init__(self, rate: float | None, burst: int, clock: Clock, sleep: Sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self.gate = PauseGate(clock=clock, sleep=sleep)
        self._tat = 0.0
        self.interval = 0.0
        self.tolerance = 0.0
        self.set_rate(rate, burst)

    def set_rate(self, rate: float | None, burst: int) -> None:
        # rate None = unpaced (only the pause applies).
        self.interval = 0.0 if rate is None else 1.0 / rate
        self.tolerance = (burst - 1) * self.interval

    async def acquire(self) -> None:
        gate = self.gate
        if self.interval == 0.0:  # unpaced: no queue, only the pause
            if gate.paused_until > self._clock():
                await gate.acquire()
            return
        async with self._lock:
            repaused = False
            while True:
                if gate.paused_until > self._clock():
                    await gate.acquire()
                now = self._clock()
                slot = max(self._tat, now)
                wait = slot - self.tolerance - now
                if wait > 0:
                    await self._sleep(wait)
                    if not repaused and gate.paused_until > self._clock():
                        repaused = True  # a pause began meanwhile: after it, a fresh slot
                        continue
                self._tat = slot + self.interval
                return

    def _acquire_now(self) -> bool:
        # acquire()'s no-wait case, without a coroutine: only unpaced (a paced slot goes
        # through the lock, whose queue order must be kept). False = call acquire().
        return self.interval == 0.0 and self.gate.paused_until <= self._clock()

    def pause(self, retry_after: float | None) -> None:
        gate = self.gate
        gate.on_throttled(retry_after)
        # The server said its budget is spent: after the pause the bucket starts empty, so
        # slots are spaced from the pause's end instead of handed out as one burst.
        self._tat = max(self._tat, gate.paused_until + self.tolerance)


def _check_rate(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


class TokenBucket:
    """A known rate: at most ``rate`` requests per second, ``burst`` of them at once.

    Shared by every task of one client (one process); use
    :class:`~customer_sdk.contrib.redis.RedisLimiter` to share a rate across processes. A 429's
    ``Retry-After`` pauses every caller, and the rate resumes paced after the pause.

    Args:
        rate: Requests per second.
        burst: How many requests may go back to back after an idle spell. Default 1 (evenly
            paced), which never exceeds a server bucket of the same rate whatever its burst.
        clock: Monotonic seconds (injectable for tests).
        sleep: How to wait (injectable for tests).

    Raises:
        ValueError: On a non-positive rate or burst.
    """

    __slots__ = ("_pacer", "burst", "rate")

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        _check_rate("rate", rate)
        if type(burst) is not int or burst < 1:
            raise ValueError(f"burst must be an int >= 1, got {burst!r}")
        self.rate = rate
        self.burst = burst
        self._pacer = _Pacer(rate, burst, clock, sleep)

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate}, burst={self.burst})"

    @property
    def paused_until(self) -> float:
        """The clock time until which every caller is held (0 when never paused)."""
        return self._pacer.gate.paused_until

    async def acquire(self) -> None:
        """Wait for a slot at the configured rate (and for any 429 pause in force)."""
        await self._pacer.acquire()

    def _acquire_now(self) -> bool:
        # True: a slot was taken without waiting; False: nothing taken, call acquire().
        return self._pacer._acquire_now()

    def on_throttled(self, retry_after: float | None) -> None:
        """Pause every caller for ``retry_after`` seconds (nothing when None).

        Args:
            retry_after: Seconds from the 429, capped by the caller, or None.
        """
        self._pacer.pause(retry_after)

    def on_success(self) -> None:
        """Nothing to learn: the rate is fixed."""


class AdaptiveLimiter:
    """Finds an unknown rate limit: CUBIC, as botocore's adaptive retry mode does.

    Until the first 429 nothing is paced (``initial_rate=None``, as in botocore): the job runs
    as fast as its concurrency allows while the send and success rates are measured. On a 429
    the rate that was getting through becomes ``W_max`` — the paced rate or the measured send
    rate, whichever is lower (as botocore does); on the first cut from the unpaced start, the
    rate of answers that were not 429 when that is lower still (so a start that sent 300/s
    at a 50/s limit lands near 50 in one step) — and the rate drops to ``beta * W_max``
    (multiplicative decrease). Each success then sets the rate on the cubic curve
    ``scale * (t - K)**3 + W_max`` (``t`` = seconds since the decrease, or since the end of
    the 429's pause; ``K = cbrt(W_max * (1 - beta) / scale)``): a quick climb back towards
    ``W_max``, then a slow probe beyond along the convex part. Once two cuts in a row find
    nearly the same ``W_max`` (within 15 %), the rate holds just under it (0.9 ``W_max``: it was
    measured as the 429 came, so a little above the limit) for ``hold`` seconds before
    probing: the one departure from plain CUBIC, because when 429s carry
    ``Retry-After`` every probe past the limit costs the whole job that pause. Measurements
    restart after a pause, so the silence of a pause is never read as a low rate. The rate
    never climbs past twice the measured send rate, so a job that is not using its allowance
    does not bank an unusable one.

    429s that arrive within ``decrease_guard`` seconds of a decrease were answers to requests
    sent at the old rate, so they pause (if they carry ``Retry-After``) but do not cut again.

    Args:
        initial_rate: The starting rate (held, then climbing slowly until a 429 shows where
            the limit is), or None to start unpaced and measure.
        min_rate: The rate is never cut below this. Default 0.5 per second.
        max_rate: The rate never climbs above this (None: no ceiling).
        beta: The multiplicative decrease factor. Default 0.7 (CUBIC's).
        scale: CUBIC's scale constant C. Default 0.4 (botocore's).
        decrease_guard: Seconds after a decrease during which 429s do not cut again.
        hold: Seconds the rate stays at a confirmed ``W_max`` before probing beyond it.
            Default 10.
        clock: Monotonic seconds (injectable for tests).
        sleep: How to wait (injectable for tests).

    Raises:
        ValueError: On non-positive rates or factors out of range.
    """

    __slots__ = (
        "_bucket_count",
        "_bucket_start",
        "_clock",
        "_curve_start",
        "_cut_w",
        "_holding",
        "_k",
        "_last_decrease",
        "_measured",
        "_ok_count",
        "_ok_measured",
        "_ok_start",
        "_pacer",
        "_w_max",
        "beta",
        "decrease_guard",
        "hold",
        "max_rate",
        "min_rate",
        "rate",
        "scale",
        "throttles",
    )

    _BUCKET = 0.5  # seconds per send-rate measurement bucket (botocore's)
    _SMOOTH = 0.8  # weight of the newest bucket in the smoothed send rate (botocore's)
    _PLATEAU = 0.9  # a confirmed W_max is held at this fraction of it

    def __init__(
        self,
        *,
        initial_rate: float | None = None,
        min_rate: float = 0.5,
        max_rate: float | None = None,
        beta: float = 0.7,
        scale: float = 0.4,
        decrease_guard: float = 0.5,
        hold: float = 10.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        _check_rate("min_rate", min_rate)
        if initial_rate is not None:
            _check_rate("initial_rate", initial_rate)
        if max_rate is not None:
            _check_rate("max_rate", max_rate)
            if max_rate < min_rate:
                raise ValueError("max_rate must be >= min_rate")
        if not 0 < beta < 1:
            raise ValueError(f"beta must be in (0, 1), got {beta!r}")
        _check_rate("scale", scale)
        if not decrease_guard >= 0:
            raise ValueError(f"decrease_guard must be >= 0, got {decrease_guard!r}")
        if not hold >= 0:
            raise ValueError(f"hold must be >= 0, got {hold!r}")
        self.hold = hold
        self.min_rate = min_rate
        self.max_rate = max_rate
        self.beta = beta
        self.scale = scale
        self.decrease_guard = decrease_guard
        self._clock = clock
        self.rate: float | None = (
            None if initial_rate is None else self._clamp(initial_rate)
        )  # the current rate; None = unpaced
        self._pacer = _Pacer(self.rate, 1, clock, sleep)
        # A given starting rate is treated as the top of a curve that starts now: it holds,
        # then climbs slowly (the convex part) until a 429 says where the limit is.
        self._w_max = self.rate or 0.0
        self._holding = False
        self._cut_w = 0.0  # W_max of the last cut (0 before any)
        self._k = 0.0
        self._curve_start = clock()
        self._last_decrease = -math.inf
        self._measured = 0.0
        self._bucket_start = clock()
        self._bucket_count = 0
        self._ok_measured = 0.0
        self._ok_start = self._bucket_start
        self._ok_count = 0
        self.throttles = 0

    def __repr__(self) -> str:
        return f"AdaptiveLimiter(rate={self.rate}, min_rate={self.min_rate})"

    def _clamp(self, rate: float) -> float:
        rate = max(self.min_rate, rate)
        return rate if self.max_rate is None else min(self.max_rate, rate)

    @property
    def measured_rate(self) -> float:
        """The smoothed rate of slots handed out, per second."""
        return self._measured

    @property
    def paused_until(self) -> float:
        """The clock time until which every caller is held (0 when never paused)."""
        return self._pacer.gate.paused_until

    def _sent_rate(self, now: float) -> float:
        # Before the first measurement bucket closes, estimate from the open one (over at
        # least 0.1 s, so a handful of requests in a millisecond is not read as thousands).
        if self._measured > 0:
            return self._measured
        return self._bucket_count / max(now - self._bucket_start, 0.1)

    def _ok_rate(self, now: float) -> float:
        if self._ok_measured > 0:
            return self._ok_measured
        return self._ok_count / max(now - self._ok_start, 0.1)

    def _count_send(self) -> None:
        now = self._clock()
        elapsed = now - self._bucket_start
        if elapsed >= self._BUCKET:
            current = self._bucket_count / elapsed
            self._measured = self._SMOOTH * current + (1 - self._SMOOTH) * self._measured
            self._bucket_start = now
            self._bucket_count = 0
        self._bucket_count += 1

    async def acquire(self) -> None:
        """Wait for a slot at the current rate (and for any 429 pause in force)."""
        await self._pacer.acquire()
        self._count_send()

    def _acquire_now(self) -> bool:
        # True: a slot was taken (and counted) without waiting; False: nothing taken, call
        # acquire().
        if self._pacer._acquire_now():
            self._count_send()
            return True
        return False

    def on_throttled(self, retry_after: float | None) -> None:
        """Pause everyone for ``retry_after`` and cut the rate (at most once per guard window).

        Args:
            retry_after: Seconds from the 429, capped by the caller, or None.
        """
        self._pacer.pause(retry_after)
        self.throttles += 1
        now = self._clock()
        resume = max(now, self._pacer.gate.paused_until)
        guarded = now - self._last_decrease < self.decrease_guard
        if not guarded:
            # The rate that got through. Paced: the rate, or the measured send rate when lower
            # (botocore's min(measured, fill rate)). Unpaced: the send rate, or the rate of
            # answers that were not 429 when that is lower.
            if self.rate is not None:
                through = self.rate
                if self._measured > 0:
                    through = min(through, self._measured)
            else:
                through = self._sent_rate(now)
                ok = self._ok_rate(now)
                if ok > 0:
                    through = min(through, ok)
            through = max(through, self.min_rate)
            # Two cuts at nearly the same W_max: the limit is found, so hold there before
            # probing past it again.
            previous = self._cut_w
            self._holding = previous > 0 and abs(through - previous) <= 0.15 * previous
            self._cut_w = through
            self._w_max = through
            self._k = (through * (1 - self.beta) / self.scale) ** (1 / 3)
            self._last_decrease = now
            self._curve_start = resume
            self._set(self._clamp(through * self.beta))
        if resume > now:
            # Nothing is sent during a pause: measure again from its end, or the pause would
            # read as a low rate (and the curve starts from there, too).
            self._bucket_start = self._ok_start = resume
            self._bucket_count = self._ok_count = 0
            if guarded:
                self._curve_start = max(self._curve_start, resume)

    def on_success(self) -> None:
        """Count the success; climb along the cubic curve (not before the first 429)."""
        now = self._clock()
        elapsed = now - self._ok_start
        if elapsed >= self._BUCKET:
            current = self._ok_count / elapsed
            self._ok_measured = self._SMOOTH * current + (1 - self._SMOOTH) * self._ok_measured
            self._ok_start = now
            self._ok_count = 0
        self._ok_count += 1
        if self.rate is None:
            return
        past = now - self._curve_start - self._k  # seconds past W_max on the curve
        if not self._holding:
            target = self.scale * past**3 + self._w_max
        elif past < self.hold:
            # W_max was measured as the 429 came, so it is a little above the limit: hold
            # just under it, then probe.
            target = self.scale * min(past, 0.0) ** 3 + self._w_max
            target = min(target, self._PLATEAU * self._w_max)
        else:
            target = self.scale * (past - self.hold) ** 3 + self._w_max
        if not math.isfinite(target):
            return
        if self._measured > 0:
            # botocore's cap: never more than twice what is actually being sent.
            target = min(target, 2 * self._measured)
        target = self._clamp(target)
        if target != self.rate:
            self._set(target)

    def _set(self, rate: float) -> None:
        self.rate = rate
        self._pacer.set_rate(rate, 1)


# The limiters whose ``_acquire_now`` is known to be acquire()'s no-wait case exactly; any
# other limiter (a RedisLimiter, the caller's own) is always awaited.
_FAST_LIMITERS: Final = (PauseGate, TokenBucket, AdaptiveLimiter)


def _always_wait() -> bool:
    return False


def no_wait_check(limiter: object) -> Callable[[], bool]:
    """A limiter's no-wait acquire, for the per-request hot path.

    The returned function takes a slot and returns True when ``acquire()`` would have returned
    at once; False means nothing was taken and ``acquire()`` must be awaited. Awaiting a
    coroutine per request costs more than the slot itself, and nearly every request finds the
    limiter open.

    Args:
        limiter: Any limiter.

    Returns:
        The check; for an unknown limiter (or a subclass, which may have its own ``acquire``)
        one that always says "await acquire()".
    """
    if type(limiter) in _FAST_LIMITERS:
        return limiter._acquire_now  # type: ignore[attr-defined,no-any-return]
    return _always_wait
