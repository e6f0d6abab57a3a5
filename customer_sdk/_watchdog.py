"""The watchdog: one loop timer that enforces the deadline of every request in flight.

Used by :mod:`customer_sdk._transport` only. A request is watched from the moment it asks for a
connection; once it has one (reported by the transport's connector) its clock restarts, so the
time spent queued for a pooled connection is bounded on its own and never counted as the time a
request that may have left took (docs/faults.md F28).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any, Final

__all__ = ["Watchdog"]

# A deadline this close is treated as reached: the loop may run a timer a hair early (it
# rounds to its clock's resolution), and re-arming for the remaining microseconds is waste.
_SLACK: Final = 0.001


class Watchdog:
    """Enforces every in-flight request's deadline with one loop timer for all of them.

    aiohttp's own total timeout costs each request a timer handle, a timer context and their
    callbacks: about 40k instructions, 9 % of a create (benchmarks/README.md). Here a request
    costs one dict insert and one delete, and the single timer sleeps until the earliest
    deadline. An expired request's task is cancelled and the cancellation turned into a
    timeout, exactly as ``asyncio.timeout`` does it (so a caller's own cancel still wins).

    Args:
        loop: The loop the requests run on (its clock is the deadlines' clock).
    """

    __slots__ = ("_deadlines", "_expired", "_loop", "_timer", "_timer_at", "_waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._deadlines: dict[asyncio.Task[Any], float] = {}
        # Requests still waiting for a connection: (their timeout, the call's hard end).
        self._waiting: dict[asyncio.Task[Any], tuple[float, float]] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def start(
        self, seconds: float, timeout: float | None = None, left: float | None = None
    ) -> asyncio.Task[Any]:
        """Watch the current task's request for ``seconds`` (one request per task at a time).

        Args:
            seconds: The first deadline, from now: the pool wait's bound.
            timeout: The request's timeout, to restart the clock with once it has a connection
                (:meth:`connected`); None when nobody will report the connection (a caller's
                session): then ``seconds`` bounds the whole request.
            left: Seconds left in the call's deadline, which a restarted clock never passes.

        Returns:
            The task watched.

        Raises:
            RuntimeError: Outside any task, where nothing could be cancelled (aiohttp's own
                timeout refuses the same), or on an event loop other than the one the
                transport first ran on.
        """
        task = asyncio.current_task(self._loop)
        if task is None:
            if self._loop.is_closed() or not self._loop.is_running():
                # aiohttp's pool is as bound to its loop as this timer is, so say it plainly.
                raise RuntimeError(
                    "this customer_sdk client was used on another event loop, which has "
                    "ended: create one client per event loop (e.g. inside asyncio.run)"
                )
            raise RuntimeError("customer_sdk requests must run inside an asyncio task")
        now = self._loop.time()
        deadline = now + seconds
        self._deadlines[task] = deadline
        if timeout is not None:
            self._waiting[task] = (timeout, math.inf if left is None else now + left)
        if deadline < self._timer_at:
            self._arm(deadline)
        return task

    def connected(self) -> None:
        """The current task's request has its connection: it may leave now, and is timed anew.

        Called by the transport's connector in the request's task. The new deadline is never
        earlier than the first, so the timer needs no re-arming: at worst it wakes once for
        nothing and sleeps again until the earliest deadline.
        """
        task = asyncio.current_task()
        pending = self._waiting.pop(task, None)  # type: ignore[arg-type]
        if pending is not None and task in self._deadlines:
            timeout, end = pending
            self._deadlines[task] = min(self._loop.time() + timeout, end)

    def unsent(self, task: asyncio.Task[Any]) -> bool:
        """Whether ``task``'s request is known never to have had a connection (so never sent).

        Args:
            task: The watched task.

        Returns:
            True only when the connection is reported (our own pool) and was not yet.
        """
        return task in self._waiting

    def timed_out(self, task: asyncio.Task[Any], cancelling: int) -> bool:
        """Whether a CancelledError in ``task`` is its request's timeout, taking the cancel back.

        Args:
            task: The watched task.
            cancelling: ``task.cancelling()`` when the request started.

        Returns:
            True if the watchdog cancelled it and nobody else did meanwhile (the rule of
            ``asyncio.timeout``); False for a cancel that must propagate.
        """
        if task not in self._expired:
            return False
        self._expired.discard(task)
        return task.uncancel() <= cancelling

    def stop(self, task: asyncio.Task[Any]) -> None:
        """Stop watching ``task``; an expiry not claimed by :meth:`timed_out` is taken back."""
        self._deadlines.pop(task, None)
        self._waiting.pop(task, None)
        if task in self._expired:  # the cancel surfaced as another error, or not at all
            self._expired.discard(task)
            task.uncancel()

    def close(self) -> None:
        """Drop the timer once no request is watched.

        Requests still in flight keep their deadlines: on a caller's session, which
        ``aclose()`` leaves open, nothing else would ever end a stalled one. The timer then
        runs out with them (it re-arms only while a deadline is pending).
        """
        if self._timer is not None and not self._deadlines:
            self._timer.cancel()
            self._timer, self._timer_at = None, math.inf

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._fire)
        self._timer_at = when

    def _fire(self) -> None:
        self._timer, self._timer_at = None, math.inf
        due = self._loop.time() + _SLACK
        for task in [t for t, deadline in self._deadlines.items() if deadline <= due]:
            del self._deadlines[task]
            self._expired.add(task)
            task.cancel()
        # Sleep again until the earliest deadline still pending: with one timeout for all
        # requests that is the oldest request's, so the timer wakes about once per timeout.
        if self._deadlines:
            self._arm(min(self._deadlines.values()))
