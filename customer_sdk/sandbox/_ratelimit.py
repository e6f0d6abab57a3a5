"""The sandbox's rate limit: one token bucket shared by every client, and its 429's Retry-After.

ChargeOver documents a REST API rate limit but no numbers or headers (docs/chargeover-api.md,
"Errors"), so the bucket's rate and burst and the header's form are settings. This module only
counts tokens and formats the wait; it does not answer requests, and does no I/O.
"""

from __future__ import annotations

import math
import time
from typing import Literal, TypeAlias

from customer_sdk.sandbox import _wire

__all__ = ["RetryAfterMode", "TokenBucket", "make_bucket", "retry_after_header"]

#: How a rate-limit 429 states its wait (the ``retry_after`` setting of the sandbox).
RetryAfterMode: TypeAlias = Literal["seconds", "date", "none"]


class TokenBucket:
    """A token bucket: ``rate`` tokens a second, at most ``burst`` banked; it starts full.

    Args:
        rate: Tokens added per second.
        burst: The most tokens banked.
    """

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.last = time.monotonic()

    def take(self) -> float:
        """Take a token.

        Returns:
            0 when granted, else the seconds until the next token.
        """
        now = time.monotonic()
        tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return 0.0
        self.tokens = tokens
        return (1.0 - tokens) / self.rate


def make_bucket(rate: float | None, burst: int | None) -> TokenBucket | None:
    """Build the shared bucket from the settings, checking them.

    Args:
        rate: Requests per second, or None for no limit.
        burst: The bucket's size; None means ``ceil(rate)``.

    Returns:
        The bucket, or None when there is no limit.

    Raises:
        ValueError: On a rate that is not a positive finite number, or a burst below 1.
    """
    if rate is None:
        return None
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
    if burst is None:
        burst = max(1, math.ceil(rate))
    if burst < 1:
        raise ValueError(f"burst must be at least 1, got {burst!r}")
    return TokenBucket(rate, burst)


def retry_after_header(mode: RetryAfterMode, wait: float) -> str | None:
    """The Retry-After of a rate-limit 429.

    Args:
        mode: ``seconds`` (the ceiling of the wait, at least 1), ``date`` (an HTTP-date that
            far ahead) or ``none``.
        wait: Seconds until the next token.

    Returns:
        The header value, or None for no header.
    """
    if mode == "seconds":
        return _wire.seconds_header(wait)
    if mode == "date":
        return _wire.http_date(time.time() + max(1, math.ceil(wait)))
    return None
