"""Finding an unknown rate limit: :class:`AdaptiveLimiter`, CUBIC as botocore's adaptive mode.

Why. ChargeOver answers 429 over its rate limit but documents no numbers, windows or headers
(``docs/chargeover-api.md`` "Rate limits"), so a bulk job cannot be told its rate; it has to
find it, and keep finding it as other clients of the account come and go. A fixed guess is
either too slow or a stream of 429s (each of which may pause every worker, ``docs/faults.md``
THROTTLED and F15).

How. The loop is TCP's CUBIC, as botocore's ``adaptive`` retry mode applies it to requests:

1. Until the first 429 nothing is paced (``initial_rate=None``): the job runs as fast as its
   concurrency allows while the send rate and the rate of answers that were not 429 are
   measured (:class:`~customer_sdk._ratelimit._cubic.RateMeter`).
2. On a 429 the rate that was getting through becomes ``W_max``: the paced rate or the
   measured send rate, whichever is lower (botocore's ``min(measured, fill rate)``); on the
   first cut from the unpaced start, the rate of answers that were not 429 when that is lower
   still, so a start that sent 300/s at a 50/s limit lands near 50 in one step. The rate drops
   to ``beta * W_max`` (multiplicative decrease).
3. Each success sets the rate on the cubic curve
   (:class:`~customer_sdk._ratelimit._cubic.CubicCurve`): a quick climb back towards
   ``W_max``, then a slow probe beyond. Once two cuts in a row find nearly the same ``W_max``
   the curve holds at 0.9 ``W_max`` for ``hold`` seconds before probing — the one departure
   from plain CUBIC, because when 429s carry ``Retry-After`` every probe past the limit costs
   the whole job that pause.

Noise. A 429 with ``Retry-After`` always counts; a bare one counts only when its window holds
clearly more 429s than the background share learned so far
(:class:`~customer_sdk._ratelimit._noise.NoiseFloor`): another client's random 429s come at the
same share at any rate, and cutting at each would collapse the rate to a crawl.

Three guards keep the measurements honest. 429s that arrive within ``decrease_guard`` seconds
of a cut were answers to requests sent at the old rate: they pause but do not cut again.
Measurements (and the curve) restart at the end of a pause, so its silence is never read as a
low rate. The rate never climbs past twice the measured send rate, so a job that is not using
its allowance does not bank an unusable one.

The pacing itself is :class:`~customer_sdk._ratelimit._pacing.Pacer`'s; this module only
decides the rate. It sends nothing and knows nothing of retries.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Final

from customer_sdk._ratelimit._cubic import CubicCurve, RateMeter, rate_through
from customer_sdk._ratelimit._interface import Clock, Sleep, check_rate
from customer_sdk._ratelimit._noise import NoiseFloor
from customer_sdk._ratelimit._pacing import Pacer

__all__ = ["AdaptiveLimiter"]


_CATCH_UP: Final = 0.01  # seconds of slots that may go at once after a late wake-up


def _burst(rate: float | None) -> int:
    # Slots that may go back to back: 10 ms worth (1 below 200/s). A pacer that wakes a
    # millisecond late on a busy event loop would otherwise lose that slot for good, and at
    # hundreds per second lose a third of its rate; 10 ms of requests at once is well inside
    # any server's bucket.
    return 1 if rate is None else max(1, int(rate * _CATCH_UP))


def _check_options(
    initial_rate: float | None,
    min_rate: float,
    max_rate: float | None,
    beta: float,
    scale: float,
    decrease_guard: float,
    hold: float,
) -> None:
    """Refuse :class:`AdaptiveLimiter` options out of range (its Args say which are allowed).

    Raises:
        ValueError: On non-positive rates or factors out of range.
    """
    check_rate("min_rate", min_rate)
    if initial_rate is not None:
        check_rate("initial_rate", initial_rate)
    if max_rate is not None:
        check_rate("max_rate", max_rate)
        if max_rate < min_rate:
            raise ValueError("max_rate must be >= min_rate")
    if not 0 < beta < 1:
        raise ValueError(f"beta must be in (0, 1), got {beta!r}")
    check_rate("scale", scale)
    if not decrease_guard >= 0:
        raise ValueError(f"decrease_guard must be >= 0, got {decrease_guard!r}")
    if not hold >= 0:
        raise ValueError(f"hold must be >= 0, got {hold!r}")


class AdaptiveLimiter:
    """Finds an unknown rate limit: CUBIC, as botocore's adaptive retry mode does.

    Unpaced until the first 429; each 429 that signals the limit (with ``Retry-After``, or
    above the background share of bare ones) cuts the rate, each success climbs it along a
    cubic curve (how, and why: :mod:`customer_sdk._ratelimit._adaptive`). ``Retry-After``
    pauses all.

    Args:
        initial_rate: The starting rate (held, then climbing slowly until a 429 shows where
            the limit is), or None to start unpaced and measure.
        min_rate: The rate is never cut below this. Default 0.5 per second.
        max_rate: The rate never climbs above this (None: no ceiling).
        beta: The multiplicative decrease factor. Default 0.7 (CUBIC's).
        scale: CUBIC's scale constant C. Default 0.4 (botocore's).
        decrease_guard: Seconds after a decrease during which 429s do not cut again.
        hold: Seconds the rate stays at a confirmed ``W_max`` before probing beyond it.
            Default 20: with ``Retry-After`` in whole seconds each probe past the limit
            pauses the job for at least a second, ~5 % of a 20 s hold and its climb.
        clock: Monotonic seconds (injectable for tests).
        sleep: How to wait (injectable for tests).

    Attributes:
        rate: The current rate, or None while unpaced (before the first 429).
        throttles: 429s reported so far.

    Raises:
        ValueError: On non-positive rates or factors out of range.
    """

    __slots__ = (
        "_clock",
        "_curve",
        "_last_decrease",
        "_noise",
        "_ok",
        "_pacer",
        "_sent",
        "beta",
        "decrease_guard",
        "hold",
        "max_rate",
        "min_rate",
        "rate",
        "scale",
        "throttles",
    )

    def __init__(
        self,
        *,
        initial_rate: float | None = None,
        min_rate: float = 0.5,
        max_rate: float | None = None,
        beta: float = 0.7,
        scale: float = 0.4,
        decrease_guard: float = 0.5,
        hold: float = 20.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        _check_options(initial_rate, min_rate, max_rate, beta, scale, decrease_guard, hold)
        self.hold = hold
        self.min_rate = min_rate
        self.max_rate = max_rate
        self.beta = beta
        self.scale = scale
        self.decrease_guard = decrease_guard
        self._clock = clock
        self.rate = None if initial_rate is None else self._clamp(initial_rate)
        self._pacer = Pacer(self.rate, _burst(self.rate), clock, sleep)
        # A given starting rate is treated as the top of a curve that starts now: it holds,
        # then climbs slowly (the convex part) until a 429 says where the limit is.
        self._curve = CubicCurve(self.rate or 0.0, clock())
        self._last_decrease = -math.inf
        self._sent = RateMeter(clock())  # slots handed out
        self._ok = RateMeter(self._sent.start)  # answers that were not 429
        self._noise = NoiseFloor(self._sent.start)  # background 429s (no Retry-After)
        self.throttles = 0

    def __repr__(self) -> str:
        return f"AdaptiveLimiter(rate={self.rate}, min_rate={self.min_rate})"

    def _clamp(self, rate: float) -> float:
        rate = max(self.min_rate, rate)
        return rate if self.max_rate is None else min(self.max_rate, rate)

    @property
    def measured_rate(self) -> float:
        """The smoothed rate of slots handed out, per second."""
        return self._sent.smoothed

    @property
    def background(self) -> float:
        """The estimated share of 429s without ``Retry-After`` that come whatever the rate."""
        return self._noise.background

    @property
    def paused_until(self) -> float:
        """The clock time until which every caller is held (0 when never paused)."""
        return self._pacer.gate.paused_until

    @property
    def _w_max(self) -> float:
        # The top of the current curve (the rate of the last cut; tests pin the hold on it).
        return self._curve.w_max

    async def acquire(self) -> None:
        """Wait for a slot at the current rate (and for any 429 pause in force)."""
        await self._pacer.acquire()
        self._sent.add(self._clock())

    def _acquire_now(self) -> bool:
        # True: a slot was taken (and counted) without waiting; False: nothing taken, call
        # acquire().
        if self._pacer._acquire_now():
            self._sent.add(self._clock())
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
        noise = self._noise
        noise.add(True, now)
        resume = max(now, self._pacer.gate.paused_until)
        guarded = now - self._last_decrease < self.decrease_guard
        # A Retry-After is the server saying "limit"; a bare 429 is one only when this window
        # holds more of them than the background share explains (see _noise).
        if not guarded and (retry_after is not None or noise.exceeded()):
            through = max(rate_through(self.rate, self._sent, self._ok, now), self.min_rate)
            self._last_decrease = now
            noise.close(now)
            told, first = retry_after is not None, self.rate is None
            cut = self._curve.cut(through, resume, self.beta, self.scale, told=told, first=first)
            self._set(self._clamp(cut))
        if resume > now:
            # Nothing is sent during a pause: measure again from its end, or the pause would
            # read as a low rate (and the curve starts from there, too).
            self._sent.restart(resume)
            self._ok.restart(resume)
            if guarded:
                self._curve.delay(resume)

    def on_success(self) -> None:
        """Count the success; climb along the cubic curve (not before the first 429)."""
        now = self._clock()
        self._ok.add(now)
        self._noise.add(False, now)
        if self.rate is None:
            return
        target = self._curve.target(now, self.hold)
        if not math.isfinite(target):
            return
        measured = self._sent.smoothed
        if measured > 0:
            # botocore's cap: never more than twice what is actually being sent.
            target = min(target, 2 * measured)
        target = self._clamp(target)
        if target != self.rate:
            self._set(target)

    def _set(self, rate: float) -> None:
        self.rate = rate
        self._pacer.set_rate(rate, _burst(rate))
