"""A bulk job's rule for when to send: its limiter.

- :class:`JobLimiter`: the outage circuit (:mod:`._circuit`), then the job's own rate, then the
  client's limiter, so a 429's ``Retry-After`` pauses every worker and every other call of the
  client. It also times each request from its slot to its answer for the concurrency limit
  (:mod:`._concurrency`).
- :func:`paced_rate`: the job's paced rate, as the concurrency limit reads it.
- :func:`default_limiter`: which own rate a job gets (adaptive unless told otherwise).

Nothing here reads rows or records results; the workers and the job call in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Final

from customer_sdk._bulk._circuit import Circuit
from customer_sdk._bulk._concurrency import ConcurrencyLimit, WorkerGate
from customer_sdk._ratelimit import AdaptiveLimiter, Clock, Limiter, TokenBucket, no_wait_check
from customer_sdk._retry import Retrier

__all__ = ["JobLimiter", "default_limiter", "paced_rate"]


class _Ready:
    """An awaitable that is already done: awaiting it costs no coroutine and no task switch."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())  # type: ignore[return-value]  # an empty iterator: done at once


_READY: Final = _Ready()


class JobLimiter:
    """The job's limiter: circuit, then its own rate, then the client's limiter (shared pause).

    ``acquire`` is a plain method returning an awaitable: when the circuit is closed and no
    limiter has to wait (nearly every request), it returns an already-done awaitable instead of
    running up to three coroutines per request. With a concurrency ``control`` it also holds
    one of the control's slots from ``acquire`` to the answer (a :class:`WorkerGate`), so the
    control bounds requests in flight, not rows (a row asleep in a retry's backoff holds none).

    Args:
        circuit: The job's circuit.
        own: The job's own limiter, or None.
        shared: The client's limiter.
        control: The latency-aware concurrency limit, told each answer's round trip, or None.
        clock: Monotonic seconds (injectable for tests).
    """

    __slots__ = (
        "_ahead",
        "_clock",
        "_gate",
        "_own_now",
        "_shared_now",
        "_starts",
        "circuit",
        "control",
        "own",
        "shared",
    )

    def __init__(
        self,
        circuit: Circuit,
        own: Limiter | None,
        shared: Limiter,
        control: ConcurrencyLimit | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.circuit = circuit
        self.own = own
        self.shared = shared
        self.control = control
        self._clock = clock
        # The tasks holding one of the control's slots, and when their request left: its
        # answer's round trip goes to the control and frees the slot. A request that ends in a
        # transport error (the limiter is not told) is freed by its task's next acquire().
        self._starts: dict[asyncio.Task[Any] | None, float] | None = None if control is None else {}
        self._gate = None if control is None else WorkerGate(control)
        # Tasks that acquired for their next request before taking a row (hold).
        self._ahead: set[asyncio.Task[Any] | None] = set()
        self._own_now = no_wait_check(own)
        self._shared_now = no_wait_check(shared)

    def acquire(self) -> Awaitable[None]:
        """Wait for the circuit (unless this is the probe), the job's rate and the client's.

        A task that acquired ahead (:meth:`hold`) gets its request through at once, unless an
        outage began since: then it waits like any other.

        Returns:
            An awaitable, already done when nothing has to wait.
        """
        if self._ahead and (task := asyncio.current_task()) in self._ahead:
            circuit = self.circuit
            if circuit.closed or task is circuit.probe_task:
                self._ahead.discard(task)
                if self._starts is not None and task in self._starts:
                    self._starts[task] = self._clock()  # the round trip starts now
                return _READY
            self.release_ahead()
        if self._gate is not None:
            return self._acquire_gated(self._gate)
        circuit = self.circuit
        if not circuit.closed and asyncio.current_task() is not circuit.probe_task:
            return self._acquire()
        # Same order as _acquire: the own limiter's slot first, then the shared pause.
        if self.own is not None and not self._own_now():
            return self._acquire_rest()
        if not self._shared_now():
            return self.shared.acquire()
        return _READY

    def hold(self) -> None:
        """Keep what the calling task's :meth:`acquire` just gave, for its next request.

        A journaled job's worker acquires before it takes a row, so it waits for a slot or the
        rate holding no row: a crash finds few rows taken but not sent (such a keyless row is
        reported unknown by the next run, docs/faults.md F25). Its next :meth:`acquire` then
        returns at once; :meth:`release_ahead` gives it back unused.
        """
        self._ahead.add(asyncio.current_task())

    def release_ahead(self) -> None:
        """Give back what :meth:`hold` kept, unused (the input ended: no row came)."""
        task = asyncio.current_task()
        if task in self._ahead:
            self._ahead.discard(task)
            starts, gate = self._starts, self._gate
            if starts is not None and gate is not None and starts.pop(task, None) is not None:
                gate.leave()

    async def _acquire(self) -> None:
        await self.circuit.wait()
        await self._acquire_rest()

    async def _acquire_rest(self) -> None:
        if self.own is not None:
            await self.own.acquire()
        await self.shared.acquire()

    async def _acquire_gated(self, gate: WorkerGate) -> None:
        # Circuit, then one of the control's slots (held until the answer: requests in flight),
        # then the rates; the round trip is timed from there. A slot still held by this task
        # belongs to a request that got no answer (a transport error): free it first.
        task = asyncio.current_task()
        starts = self._starts
        assert starts is not None
        if starts.pop(task, None) is not None:
            gate.leave()
        circuit = self.circuit
        if not circuit.closed and task is not circuit.probe_task:
            await circuit.wait()
        if (slot := gate.enter()) is not None:
            await slot
        try:
            await self._acquire_rest()
        except BaseException:
            gate.leave()
            raise
        starts[task] = self._clock()

    def _answered(self) -> None:
        # The round trip of the calling task's request, from its slot to this answer.
        starts, gate, control = self._starts, self._gate, self.control
        if starts is not None and gate is not None and control is not None:
            start = starts.pop(asyncio.current_task(), None)
            if start is not None:
                gate.leave()
                control.sample(self._clock() - start)

    def on_throttled(self, retry_after: float | None) -> None:
        """Tell both limiters of a 429.

        Args:
            retry_after: The server's ``Retry-After`` (capped), or None.
        """
        self._answered()
        if self.own is not None:
            self.own.on_throttled(retry_after)
        self.shared.on_throttled(retry_after)

    def on_success(self) -> None:
        """Tell both limiters of an answer that was not a 429."""
        self._answered()
        if self.own is not None:
            self.own.on_success()
        self.shared.on_success()


def paced_rate(limiter: Limiter | None) -> Callable[[], float | None]:
    """What the concurrency limit reads as the job's paced rate (None: unpaced).

    Args:
        limiter: The job's own limiter, or None.

    Returns:
        A function giving the rate an :class:`AdaptiveLimiter` (None before its first 429)
        or a :class:`TokenBucket` holds now; for any other limiter, or none, always None.
    """
    if isinstance(limiter, AdaptiveLimiter | TokenBucket):
        return lambda: limiter.rate
    return lambda: None


def default_limiter(
    retrier: Retrier, limiter_given: bool, rate: float | None, burst: int | None, adaptive: bool
) -> Limiter | None:
    """The job's own limiter (the client's limiter always applies as well).

    Args:
        retrier: The client's retry policy, compiled: waits go through its sleep, as the
            client's default PauseGate's do, so an injected or disabled sleep covers them.
        limiter_given: Whether the client was given a limiter of its own.
        rate: Requests per second, if known.
        burst: Requests that may go back to back under ``rate``.
        adaptive: Find the limit adaptively.

    Returns:
        A TokenBucket for a fixed rate, an AdaptiveLimiter to find the limit, or None when the
        caller's own limiter (e.g. a shared RedisLimiter) governs alone.

    Raises:
        ValueError: On an invalid rate or burst.
    """
    sleep = retrier.sleep
    if rate is not None:
        if adaptive:
            return AdaptiveLimiter(initial_rate=rate, sleep=sleep)
        return TokenBucket(rate, 1 if burst is None else burst, sleep=sleep)
    if adaptive or not limiter_given:
        # No rate given and the client has no limiter of its own: find the limit.
        return AdaptiveLimiter(sleep=sleep)
    return None
