"""RetryPolicy: how calls are retried (the public, immutable settings), and RetryEvent.

What is retried is not a setting: it follows from the failure classes of ``docs/faults.md``.
:class:`~customer_sdk._retry.Retrier` compiles a policy into tenacity's strategies once per
client; this module holds only the settings and their checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from customer_sdk.errors import ChargeOverError

__all__ = ["RetryEvent", "RetryPolicy", "Sleep"]

Sleep = Callable[[float], Awaitable[None]]


@attrs.frozen(kw_only=True)
class RetryEvent:
    """What :attr:`RetryPolicy.on_retry` is told before each retry.

    Attributes:
        operation: ``create``, ``get``, ``lookup``, ``list``, ``count``, ``update`` or
            ``delete``.
        attempt: HTTP requests made so far in this call.
        error: The failure that is being retried.
        action: ``resend`` (POST again), ``lookup`` (reconcile by ``external_key``) or ``retry``.
        delay: Seconds that will be waited first.
    """

    operation: str
    attempt: int
    error: ChargeOverError
    action: str
    delay: float


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def _optional_positive(_: object, attribute: attrs.Attribute[Any], v: Any) -> None:
    if v is not None and not v > 0:
        raise ValueError(f"{attribute.name} must be > 0 or None, got {v!r}")


def _at_least_one(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be >= 1, got {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How calls are retried. Immutable; derive variants with ``attrs.evolve``.

    Which failures are retried is not configurable: it follows from what the server may have
    done (docs/faults.md). A create is never sent blindly twice: after an ambiguous failure the next
    attempt looks the ``external_key`` up first.

    The constructor takes each attribute below as a keyword.

    Attributes:
        attempts: The most HTTP requests one call may make, lookups included. Default 8.
        initial_backoff: The first backoff window in seconds (full jitter: a wait is uniform in
            ``[0, min(max_backoff, initial_backoff * 2**n)]``). Default 0.5.
        max_backoff: The largest backoff window in seconds. Default 30.
        retry_after_cap: The longest ``Retry-After`` honoured, in seconds. A single call told
            to wait longer fails fast with :class:`~customer_sdk.errors.RateLimitError`.
            Default 60.
        deadline: Seconds one call may take in all, attempts and waits included; an attempt's
            timeout is cut to what is left. None for no deadline. Default 180.
        wait: False switches every wait off (for tests); retries still happen.
        sleep: The coroutine used to wait (injectable for tests). Default ``asyncio.sleep``.
        on_retry: Called with a :class:`RetryEvent` before each retry (after the WARNING log).

    Raises:
        ValueError: On a non-positive number.
    """

    attempts: int = attrs.field(default=8, validator=_at_least_one)
    initial_backoff: float = attrs.field(default=0.5, validator=_positive)
    max_backoff: float = attrs.field(default=30.0, validator=_positive)
    retry_after_cap: float = attrs.field(default=60.0, validator=_positive)
    deadline: float | None = attrs.field(default=180.0, validator=_optional_positive)
    wait: bool = True
    sleep: Sleep = attrs.field(default=asyncio.sleep, repr=False)
    on_retry: Callable[[RetryEvent], None] | None = attrs.field(default=None, repr=False)

    @classmethod
    def no_wait(cls, **overrides: object) -> RetryPolicy:
        """A policy that retries exactly as the default does but never waits: for tests.

        Args:
            **overrides: Other fields to set.

        Returns:
            The policy.
        """
        return cls(wait=False, **overrides)  # type: ignore[arg-type]

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that makes exactly one request per call (no retries, no reconciliation).

        Returns:
            The policy.
        """
        return cls(attempts=1)
