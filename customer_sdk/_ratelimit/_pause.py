"""The shared 429 pause: one ``Retry-After`` holds every caller of a limiter.

ChargeOver's rate limit is per account, so when one request is told to wait, every other
request of the client would only collect a 429 of its own (``docs/chargeover-api.md``
"Rate limits"; ``docs/faults.md``, THROTTLED). :class:`PauseGate` is that pause and nothing
else: it has no rate. It is the client's default limiter, and the paced limiters
(:mod:`._pacing`, :mod:`._adaptive`) each hold one.
"""

from __future__ import annotations

import asyncio
import time

from customer_sdk._ratelimit._interface import Clock, Sleep

__all__ = ["PauseGate"]


class PauseGate:
    """The default limiter: no rate of its own, but a 429 with Retry-After holds everyone.

    Args:
        clock: Monotonic seconds (injectable for tests).
        sleep: How to wait (injectable for tests).

    Attributes:
        paused_until: The clock time until which every caller is held (0 when never paused).
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
