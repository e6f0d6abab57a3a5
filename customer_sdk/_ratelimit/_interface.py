"""The limiter interface the client and bulk jobs program against, and the types limiters share.

A limiter is anything with ``acquire``, ``on_throttled`` and ``on_success``
(:class:`Limiter`, a runtime-checkable protocol): the engine awaits ``acquire()`` before every
request and reports every answer back. This module holds no state and implements no limiter.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "Limiter", "Sleep", "check_rate"]

Clock = Callable[[], float]
"""Monotonic seconds (``time.monotonic``; a fake clock in tests)."""

Sleep = Callable[[float], Awaitable[None]]
"""How a limiter waits (``asyncio.sleep``; a fake sleep in tests)."""


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


def check_rate(name: str, value: float) -> None:
    """Refuse a rate (or rate-like factor) that is not a positive finite number.

    Args:
        name: The parameter's name, for the message.
        value: Its value.

    Raises:
        ValueError: ``value`` is zero, negative, infinite or NaN.
    """
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
