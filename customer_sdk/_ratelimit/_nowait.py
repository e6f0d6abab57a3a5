"""The per-request fast path: take a limiter's slot without a coroutine when none must wait.

Awaiting a coroutine per request costs more than the slot itself, and nearly every request
finds the limiter open. So the engine asks :func:`no_wait_check` once, and on each request
calls the function it returned; only when that says False does it await ``acquire()``.

Only the limiters of this package are trusted with that: their ``_acquire_now`` is exactly
``acquire()``'s no-wait case. Any other limiter (a
:class:`~customer_sdk.contrib.redis.RedisLimiter`, the caller's own, a subclass of ours that
may override ``acquire``) is always awaited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from customer_sdk._ratelimit._adaptive import AdaptiveLimiter
from customer_sdk._ratelimit._pacing import TokenBucket
from customer_sdk._ratelimit._pause import PauseGate

__all__ = ["no_wait_check"]

# The limiters whose ``_acquire_now`` is known to be acquire()'s no-wait case exactly; any
# other limiter (a RedisLimiter, the caller's own) is always awaited.
_FAST_LIMITERS: Final = (PauseGate, TokenBucket, AdaptiveLimiter)


def _always_wait() -> bool:
    return False


def no_wait_check(limiter: object) -> Callable[[], bool]:
    """A limiter's no-wait acquire, for the per-request hot path.

    The returned function takes a slot and returns True when ``acquire()`` would have returned
    at once; False means nothing was taken and ``acquire()`` must be awaited.

    Args:
        limiter: Any limiter.

    Returns:
        The check; for an unknown limiter (or a subclass, which may have its own ``acquire``)
        one that always says "await acquire()".
    """
    if type(limiter) in _FAST_LIMITERS:
        return limiter._acquire_now  # type: ignore[attr-defined,no-any-return]
    return _always_wait
