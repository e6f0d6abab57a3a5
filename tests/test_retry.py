"""RetryPolicy and the tenacity loop every retry of the SDK runs through (customer_sdk._retry)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from customer_sdk import ConnectError, RateLimitError, RetryEvent, RetryPolicy
from customer_sdk._retry import Retrier, Run, ran_for
from tests._helpers import Sleeps


def failing(run: Run, retry_after: float | None = None) -> Callable[[], Awaitable[None]]:
    """An attempt that spends one request of ``run`` and fails: refused, or a 429."""

    async def attempt() -> None:
        run.requests += 1
        if retry_after is None:
            raise ConnectError("refused")
        raise RateLimitError(429, "slow down", retry_after=retry_after)

    return attempt


async def test_backoff_is_full_jitter_within_its_window_and_stops_at_attempts() -> None:
    """Waits lie in [0, min(max, initial * 2**(n-1))]; after `attempts` requests: the last error."""
    sleep = Sleeps()
    retrier = Retrier(RetryPolicy(attempts=5, initial_backoff=0.5, max_backoff=1.5, sleep=sleep))
    for _ in range(50):  # enough draws that a window off by one doubling would show
        run = retrier.start()
        with pytest.raises(ConnectError):
            await retrier.retrying(run, operation="t", retry=lambda e: True)(failing(run))
        assert run.requests == 5
    windows = [0.5, 1.0, 1.5, 1.5]
    for n, delay in enumerate(sleep.calls):
        assert 0 <= delay <= windows[n % 4]
    assert max(sleep.calls[3::4]) > 1.0  # the fourth window really is wider than the second's


async def test_retry_after_replaces_the_backoff_and_no_wait_zeroes_it() -> None:
    """A 429's Retry-After is the wait; RetryPolicy.no_wait() waits 0 and still retries."""
    sleep = Sleeps()
    retrier = Retrier(RetryPolicy(attempts=3, sleep=sleep))
    run = retrier.start()
    with pytest.raises(RateLimitError):
        await retrier.retrying(run, operation="t", retry=lambda e: True)(
            failing(run, retry_after=7.0)
        )
    assert sleep.calls == [7.0, 7.0]
    events: list[RetryEvent] = []
    quiet = Retrier(RetryPolicy.no_wait(attempts=3, on_retry=events.append))
    quiet_run = quiet.start()
    with pytest.raises(RateLimitError):
        await quiet.retrying(quiet_run, operation="t", retry=lambda e: True)(
            failing(quiet_run, retry_after=7.0)
        )
    assert [e.delay for e in events] == [0.0, 0.0]
    assert quiet_run.requests == 3


async def test_deadline_stops_before_a_wait_that_would_pass_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No wait is started that would end past the call's deadline; the last error is raised."""
    now = [1000.0]
    monkeypatch.setattr("customer_sdk._retry.time.monotonic", lambda: now[0])
    sleep = Sleeps()
    retrier = Retrier(RetryPolicy(deadline=10.0, sleep=sleep))
    run = retrier.start()
    now[0] += 2.0  # the first attempt took 2 s: 8 s are left
    with pytest.raises(RateLimitError):
        await retrier.retrying(run, operation="t", retry=lambda e: True)(
            failing(run, retry_after=9.0)
        )
    assert sleep.calls == []
    assert run.requests == 1
    assert run.remaining() == pytest.approx(8.0)


async def test_the_predicate_decides_and_cancellation_is_never_retried() -> None:
    """A failure the predicate refuses is raised at once; CancelledError passes straight through."""
    sleep = Sleeps()
    retrier = Retrier(RetryPolicy(sleep=sleep))
    run = retrier.start()
    with pytest.raises(ConnectError):
        await retrier.retrying(run, operation="t", retry=lambda e: False)(failing(run))
    assert run.requests == 1

    async def cancelled() -> None:
        run.requests += 1
        raise asyncio.CancelledError

    run = retrier.start()
    with pytest.raises(asyncio.CancelledError):
        await retrier.retrying(run, operation="t", retry=lambda e: True)(cancelled)
    assert run.requests == 1
    assert sleep.calls == []


async def test_each_retry_is_logged_and_reported_with_its_action(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """before_sleep logs at INFO and calls on_retry with the operation, attempt and action."""
    events: list[RetryEvent] = []
    retrier = Retrier(RetryPolicy.no_wait(attempts=3, on_retry=events.append))
    run = retrier.start()
    with caplog.at_level(logging.INFO, logger="customer_sdk"), pytest.raises(ConnectError):
        await retrier.retrying(
            run, operation="create", retry=lambda e: True, action=lambda e: "lookup"
        )(failing(run))
    assert [(e.operation, e.attempt, e.action) for e in events] == [
        ("create", 1, "lookup"),
        ("create", 2, "lookup"),
    ]
    assert all(isinstance(e.error, ConnectError) for e in events)
    assert [r.getMessage() for r in caplog.records] == [
        "create: attempt 1 failed (ConnectError); lookup in 0.00 s",
        "create: attempt 2 failed (ConnectError); lookup in 0.00 s",
    ]


async def test_repeating_doubles_its_wait_up_to_the_most_and_ends_on_return() -> None:
    """The watcher loop waits first, 2*first, ... capped at most, until an attempt returns."""

    class Again(Exception):
        """Ask for another attempt."""

    sleep = Sleeps()
    retrier = Retrier(RetryPolicy(sleep=sleep))
    calls = 0

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls < 6:
            raise Again
        return "done"

    assert await retrier.repeating(Again, first=1.0, most=5.0)(attempt) == "done"
    assert sleep.calls == [1.0, 2.0, 4.0, 5.0, 5.0]


async def test_repeating_within_a_bound_clips_its_last_wait_and_reraises_past_it() -> None:
    """With within=, no wait goes past the bound, the last attempt is made at it, then it raises."""

    class Again(Exception):
        """Ask for another attempt."""

    sleep = Sleeps()
    retrier = Retrier(RetryPolicy(sleep=sleep))
    calls = 0

    async def attempt() -> None:
        nonlocal calls
        calls += 1
        raise Again

    loop = retrier.repeating(Again, first=1.0, most=5.0, within=lambda: 10.0)
    with pytest.raises(Again):
        await loop(attempt)
    assert sleep.calls == [1.0, 2.0, 4.0, 3.0]  # 1 + 2 + 4 = 7: the next wait is cut to 3
    assert calls == 5
    assert ran_for(loop) == pytest.approx(10.0)


def test_retry_policy_defaults_and_validation() -> None:
    """The documented defaults hold, and non-positive settings are refused."""
    policy = RetryPolicy()
    assert (policy.attempts, policy.initial_backoff, policy.max_backoff) == (8, 0.5, 30.0)
    assert (policy.retry_after_cap, policy.deadline, policy.wait) == (60.0, 180.0, True)
    for bad in ({"attempts": 0}, {"initial_backoff": 0}, {"max_backoff": -1}, {"deadline": 0}):
        with pytest.raises(ValueError, match="must be"):
            RetryPolicy(**bad)  # type: ignore[arg-type]
    assert RetryPolicy.no_wait().wait is False
    assert RetryPolicy.disabled().attempts == 1
