"""The Retrier (a RetryPolicy compiled), the call's budget (Run), and the only tenacity import.

Every retry loop of the SDK runs through ``tenacity.AsyncRetrying`` built by
:meth:`Retrier.retrying`: the create with its reconciliation, retried reads, the ``_bulk`` call
and the bulk job's outage probe. What to retry is never "any exception": each caller passes a
predicate derived from the failure classes of ``docs/faults.md``. The waits are full-jitter
exponential backoff (``wait_random_exponential``) unless the server sent ``Retry-After``; the stop
counts HTTP requests (lookups included) and the call's deadline. A call whose first attempt
succeeds (nearly all of them) never builds a tenacity object, which keeps the hot path lean
(benchmarks P1). No tenacity type leaves this module: the last SDK exception is re-raised as it
was.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

import tenacity

from customer_sdk._logging import key_hash
from customer_sdk._retry_policy import RetryEvent, RetryPolicy, Sleep
from customer_sdk.errors import ChargeOverError, RateLimitError

__all__ = ["Retrier", "Run", "ran_for"]

logger: Final = logging.getLogger("customer_sdk")
_NO_HEADERS: Final[Mapping[str, str]] = MappingProxyType({})


async def _no_sleep(_: float) -> None:
    # Still yields to the loop, so concurrent tasks interleave as they would with real waits.
    await asyncio.sleep(0)


class Retrier:
    """A policy compiled once: its sleep, and the tenacity strategies every retry loop runs on.

    Every retry loop of the SDK (the create and its reconciliation, retried reads, the
    ``_bulk`` call, the bulk job's outage probe) is a ``tenacity.AsyncRetrying`` built by
    :meth:`retrying`, the way hynek/stamina drives tenacity: our predicate decides *whether*
    (from the failure class, ``docs/faults.md``), our wait decides *how long* (a server's
    ``Retry-After``, else full-jitter backoff), our stop counts HTTP requests and the call's
    deadline, and our ``before_sleep`` logs and reports each retry. tenacity's types never
    leave this module.
    """

    __slots__ = ("_jitter", "_sleep", "policy")

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self._jitter = tenacity.wait_random_exponential(
            multiplier=policy.initial_backoff, max=policy.max_backoff
        )
        self._sleep: Sleep = policy.sleep if policy.wait else _no_sleep

    def start(self) -> Run:
        """Begin one call's budget.

        Returns:
            The call's request counter and clock.
        """
        return Run(self.policy.deadline)

    async def sleep(self, seconds: float) -> None:
        """Wait through the policy's sleep (or not at all when waits are off).

        Args:
            seconds: How long.
        """
        await self._sleep(seconds)

    def retrying(
        self,
        run: Run,
        *,
        operation: str,
        retry: Callable[[BaseException], bool],
        action: Callable[[BaseException], str] | str = "retry",
    ) -> tenacity.AsyncRetrying:
        """The retry loop of one call, sharing the call's budget ``run``.

        Args:
            run: The call's budget: its requests so far and its clock.
            operation: What is retried, for logs and :class:`RetryEvent` (``create``, ...).
            retry: Whether a failed attempt's exception is worth another attempt. Anything it
                refuses (cancellation included) is raised at once, unchanged.
            action: What the next attempt does (``resend``, ``lookup``, ``retry``), or a
                function of the failure that says so.

        Returns:
            The loop: ``await loop(attempt_fn)`` runs attempts until one succeeds, the
            predicate refuses, or the budget is spent; then the last exception is raised as
            it was (``reraise``), never a tenacity ``RetryError``.
        """
        policy = self.policy
        say = action if callable(action) else _constant(action)

        def wait(state: tenacity.RetryCallState) -> float:
            if not policy.wait:
                return 0.0
            exc = _failure(state)
            if isinstance(exc, RateLimitError) and exc.retry_after is not None:
                # The server said how long (already checked against the cap by ``retry``).
                return exc.retry_after
            return float(self._jitter(state))

        def stop(state: tenacity.RetryCallState) -> bool:
            if run.requests >= policy.attempts:
                return True
            remaining = run.remaining()
            # A wait that would end past the deadline is not started (docs/faults.md F8).
            return remaining is not None and state.upcoming_sleep >= remaining

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = _failure(state)
            assert isinstance(exc, ChargeOverError)  # ``retry`` only passes SDK errors
            # A failure that is retried is not raised again as it was: its traceback would
            # only keep the frames that raised it, and through them the call, in a reference
            # cycle that the collector alone frees (tests/test_gc_cycles.py).
            exc.__traceback__ = None
            what, delay = say(exc), state.upcoming_sleep
            logger.info(
                "%s%s: attempt %d failed (%s); %s in %.2f s",
                operation,
                f" [{key_hash(run.key)}]" if run.key is not None else "",
                run.requests,
                _reason(exc),
                what,
                delay,
            )
            if policy.on_retry is not None:
                policy.on_retry(
                    RetryEvent(
                        operation=operation,
                        attempt=run.requests,
                        error=exc,
                        action=what,
                        delay=delay,
                    )
                )

        return _Loop(
            sleep=self._sleep,
            stop=stop,
            wait=wait,
            # Only SDK errors are ever retried, whatever the predicate: cancellation and bugs
            # (a TypeError, say) propagate at once, unchanged.
            retry=tenacity.retry_if_exception(
                lambda exc: isinstance(exc, ChargeOverError) and retry(exc)
            ),
            before_sleep=before_sleep,
            reraise=True,
        )

    def repeating(
        self,
        until_not: type[BaseException],
        *,
        first: float,
        most: float,
        within: Callable[[], float] | None = None,
    ) -> tenacity.AsyncRetrying:
        """A loop with no attempt budget, for a watcher that runs until something changes.

        Args:
            until_not: The exception an attempt raises to ask for another one.
            first: Seconds before the second attempt; doubled after each, up to ``most``.
            most: The longest wait.
            within: Seconds the loop may run, asked again before each wait (the bound may
                change meanwhile). The time run is the larger of the real time and the waits
                made (so a test's fake sleeps count); no wait goes past the bound, so the last
                attempt is made as it is reached. None: no bound.

        Returns:
            The loop: ``await loop(attempt_fn)`` until an attempt returns or raises anything
            else, or, past ``within``, re-raises the last ``until_not``. Its ``statistics``
            hold ``idle_for`` and ``delay_since_first_attempt`` (see :func:`ran_for`).
        """
        backoff = tenacity.wait_exponential(multiplier=first, max=most)
        if within is None:
            wait: Any = backoff
            stop: Any = tenacity.stop_never
        else:
            bound = within

            def wait(state: tenacity.RetryCallState) -> float:
                return max(0.0, min(backoff(state), bound() - _ran_for(state)))

            def stop(state: tenacity.RetryCallState) -> bool:
                return _ran_for(state) >= bound()

        return _Loop(
            sleep=self._sleep,
            stop=stop,
            wait=wait,
            retry=tenacity.retry_if_exception_type(until_not),
            reraise=True,
        )


class _Loop(tenacity.AsyncRetrying):
    """tenacity's loop, which lets go of its per-call state when the call ends.

    tenacity keeps the call's next actions (bound methods of the loop itself) in a thread-local
    of the loop: a reference cycle that holds the loop, our closures and the call's
    :class:`Run` (the last response's body) until the cyclic collector runs. Cleared here, one
    retried call leaves nothing behind (``tests/test_gc_cycles.py``).
    """

    # A coroutine function where BaseRetrying.__call__ is plain: ignored as in tenacity itself.
    async def __call__(self, fn: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Run ``fn`` under the loop, as tenacity does; then clear the loop's per-call state."""
        try:
            return await super().__call__(fn, *args, **kwargs)
        finally:
            self.iter_state.reset()


def ran_for(loop: tenacity.AsyncRetrying) -> float:
    """Seconds a :meth:`Retrier.repeating` loop ran: real time or its waits, the larger.

    Args:
        loop: The loop, once it has ended.

    Returns:
        The seconds.
    """
    stats = loop.statistics
    return max(
        float(stats.get("delay_since_first_attempt", 0.0)), float(stats.get("idle_for", 0.0))
    )


def _ran_for(state: tenacity.RetryCallState) -> float:
    return max(state.seconds_since_start or 0.0, state.idle_for)


def _constant(text: str) -> Callable[[BaseException], str]:
    return lambda _: text


def _failure(state: tenacity.RetryCallState) -> BaseException | None:
    outcome = state.outcome
    return None if outcome is None else outcome.exception()


def _reason(exc: ChargeOverError) -> str:
    # The type and status only: a server message may echo customer data into the log.
    status = getattr(exc, "status", None)
    return f"{type(exc).__name__} HTTP {status}" if status else type(exc).__name__


class Run:
    """One call's retry budget: HTTP requests made so far and the call's deadline.

    The engine counts each request it sends here, so lookups made to reconcile a create spend
    the same budget as the create's own POSTs.

    Args:
        deadline: Seconds the call may take in all, or None.
    """

    __slots__ = ("body", "deadline", "headers", "key", "requests", "start", "status")

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.start = time.monotonic()
        self.requests = 0
        # The last answer's status, headers and body (results and raw responses report them),
        # and a create's key, which retry logs name by its hash (hashed only when a retry is
        # logged, never per request): set by the engine.
        self.status: int | None = None
        self.headers: Mapping[str, str] = _NO_HEADERS
        self.body = b""
        self.key: str | None = None

    def remaining(self) -> float | None:
        """Seconds left before the call's deadline, or None without one.

        Returns:
            Seconds (may be <= 0 when spent), or None.
        """
        deadline = self.deadline
        return None if deadline is None else deadline - (time.monotonic() - self.start)
