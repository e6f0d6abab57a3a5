"""RetryPolicy, and the only place tenacity is imported.

tenacity computes the waits (full-jitter exponential: ``wait_random_exponential``) and the stop
condition (attempts or total deadline). The loop itself is the client's, because what an attempt
*is* (a POST, or a lookup that reconciles an ambiguous POST) depends on the failure class of the
last one (faults.md), which tenacity's "call the same function again" model cannot express. The
strategies are built once per policy; a call that succeeds on its first attempt touches no tenacity
object at all, which keeps the hot path lean. No tenacity type leaves this module.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import tenacity

from customer_sdk.errors import ChargeOverError

__all__ = ["RetryEvent", "RetryPolicy"]

Sleep = Callable[[float], Awaitable[None]]


async def _no_sleep(_: float) -> None:
    # Still yields to the loop, so concurrent tasks interleave as they would with real waits.
    await asyncio.sleep(0)


@attrs.frozen(kw_only=True)
class RetryEvent:
    """What :attr:`RetryPolicy.on_retry` is told before each retry.

    Attributes:
        operation: ``create``, ``get`` or ``lookup``.
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
    done (faults.md). A create is never sent blindly twice: after an ambiguous failure the next
    attempt looks the ``external_key`` up first.

    Args:
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


class Retrier:
    """A policy compiled once: tenacity's stop and wait strategies, shared by every call."""

    __slots__ = ("_sleep", "_stop", "_template", "_wait", "policy")

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        stop: tenacity.stop.stop_base = tenacity.stop_after_attempt(policy.attempts)
        if policy.deadline is not None:
            stop = stop | tenacity.stop_after_delay(policy.deadline)
        self._stop = stop
        self._wait = tenacity.wait_random_exponential(
            multiplier=policy.initial_backoff, max=policy.max_backoff
        )
        self._sleep: Sleep = policy.sleep if policy.wait else _no_sleep
        # RetryCallState wants its manager; this one is never run, only named in its state.
        self._template = tenacity.AsyncRetrying(stop=self._stop, wait=self._wait, reraise=True)

    def start(self) -> Run:
        """Begin one call's budget.

        Returns:
            The call's attempt counter and clock.
        """
        return Run(self)

    async def sleep(self, seconds: float) -> None:
        """Wait through the policy's sleep (or not at all when waits are off).

        Args:
            seconds: How long.
        """
        await self._sleep(seconds)


class Run:
    """One call's retry budget: requests made so far and the time since the call started."""

    __slots__ = ("_retrier", "_state", "requests", "start")

    def __init__(self, retrier: Retrier) -> None:
        self._retrier = retrier
        self.start = time.monotonic()
        self.requests = 0
        self._state: tenacity.RetryCallState | None = None

    def remaining(self) -> float | None:
        """Seconds left before the call's deadline, or None without one.

        Returns:
            Seconds (may be <= 0 when spent), or None.
        """
        deadline = self._retrier.policy.deadline
        return None if deadline is None else deadline - (time.monotonic() - self.start)

    def next_delay(self, retry_after: float | None = None) -> float | None:
        """Decide whether to retry after a failure, and how long to wait first.

        Args:
            retry_after: A server-given wait (already checked against the cap) that replaces
                the jittered backoff.

        Returns:
            Seconds to wait, or None when the attempts or the deadline are spent.
        """
        retrier = self._retrier
        state = self._state
        if state is None:
            state = self._state = tenacity.RetryCallState(retrier._template, None, (), {})
            state.start_time = self.start
        state.attempt_number = max(self.requests, 1)
        state.outcome_timestamp = time.monotonic()
        if retrier._stop(state):
            return None
        delay = retry_after if retry_after is not None else retrier._wait(state)
        if not retrier.policy.wait:
            delay = 0.0
        remaining = self.remaining()
        if remaining is not None and delay >= remaining:
            return None
        return delay
