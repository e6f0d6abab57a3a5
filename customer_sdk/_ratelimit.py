"""Client-side rate limiting: the limiter interface and the shared 429 pause.

Every request a client sends first asks its limiter for a slot. The interface is small on
purpose so that an in-process bucket, an adaptive rate and a Redis-shared limiter are
interchangeable. A 429's ``Retry-After`` pauses *every* caller of the limiter, not only the one
that was told: the account's limit is shared, so the others would only collect more 429s.
This module makes no HTTP requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

__all__ = ["Limiter", "PauseGate"]


@runtime_checkable
class Limiter(Protocol):
    """What the client needs from a rate limiter."""

    async def acquire(self) -> None:
        """Wait until one request may be sent (honouring any pause in force)."""
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

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
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

    def on_throttled(self, retry_after: float | None) -> None:
        """Extend the shared pause to at least ``retry_after`` seconds from now.

        Args:
            retry_after: Seconds, or None (then nothing is paused: the caller backs off alone).
        """
        if retry_after is not None and retry_after > 0:
            self.paused_until = max(self.paused_until, self._clock() + retry_after)

    def on_success(self) -> None:
        """Nothing to learn: this limiter has no rate."""
