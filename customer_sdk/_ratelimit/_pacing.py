"""A known rate: GCRA pacing in arrival order, and :class:`TokenBucket` built on it.

:class:`Pacer` keeps a token bucket as one number, the "theoretical arrival time" of the next
slot (GCRA): a slot is due at ``max(tat, now)``, may be taken up to ``tolerance`` early (that
is the burst), and moves ``tat`` on by one interval. Callers queue on a lock and only the one
at the head sleeps, so slots go out evenly spaced and in arrival order, and a rate change (the
adaptive limiter's) applies from the next slot on. A 429 pause empties the bucket, so the
rate resumes paced after it instead of as one burst.

This module measures nothing and adapts nothing: the rate is whatever it is set to
(:mod:`._adaptive` sets it). It shares a rate within one process only; see
:class:`~customer_sdk.contrib.redis.RedisLimiter` for several.
"""

from __future__ import annotations

import asyncio
import time

from customer_sdk._ratelimit._interface import Clock, Sleep, check_rate
from customer_sdk._ratelimit._pause import PauseGate

__all__ = ["Pacer", "TokenBucket"]


class Pacer:
    """GCRA pacing (a token bucket kept as one "theoretical arrival time") plus the pause.

    Callers queue on a lock and only the one at the head waits for the next slot, so slots go
    out evenly spaced, in arrival order, and a rate change applies from the next slot on
    (reserving slots ahead for every waiter would keep the old rate for all of them). A caller
    whose slot fell inside a pause that began while it slept waits the pause out and takes a
    fresh slot, so a pause never ends in a burst.

    Args:
        rate: Slots per second, or None for unpaced (only the pause applies).
        burst: How many slots may go back to back after an idle spell.
        clock: Monotonic seconds.
        sleep: How to wait.

    Attributes:
        gate: The shared 429 pause.
        interval: Seconds between slots (0 when unpaced).
        tolerance: How far ahead of its time a slot may be taken (the burst, in seconds).
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
        """Change the rate from the next slot on.

        Args:
            rate: Slots per second, or None for unpaced.
            burst: How many slots may go back to back.
        """
        self.interval = 0.0 if rate is None else 1.0 / rate
        self.tolerance = (burst - 1) * self.interval

    async def acquire(self) -> None:
        """Wait for the next slot (and for any pause in force), in arrival order."""
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
        # acquire()'s no-wait case, without a coroutine. Paced, only while nobody queues (the
        # lock's order must be kept) and the next slot is due: then take it exactly as
        # acquire() would. A lock and a task switch per slot cost more than the slot itself:
        # at a thousand a second they, not the rate, set the pace. False = call acquire().
        now = self._clock()
        if self.gate.paused_until > now:
            return False
        if self.interval == 0.0:
            return True
        if self._lock.locked():
            return False
        slot = max(self._tat, now)
        if slot - self.tolerance > now:
            return False
        self._tat = slot + self.interval
        return True

    def pause(self, retry_after: float | None) -> None:
        """Pause every caller, and start the bucket empty after the pause.

        Args:
            retry_after: Seconds from the 429, or None (then nothing is paused).
        """
        gate = self.gate
        gate.on_throttled(retry_after)
        # The server said its budget is spent: after the pause the bucket starts empty, so
        # slots are spaced from the pause's end instead of handed out as one burst.
        self._tat = max(self._tat, gate.paused_until + self.tolerance)


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

    Attributes:
        rate: Requests per second.
        burst: Requests that may go back to back.

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
        check_rate("rate", rate)
        if type(burst) is not int or burst < 1:
            raise ValueError(f"burst must be an int >= 1, got {burst!r}")
        self.rate = rate
        self.burst = burst
        self._pacer = Pacer(rate, burst, clock, sleep)

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
