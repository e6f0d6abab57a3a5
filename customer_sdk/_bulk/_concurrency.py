"""How many rows a bulk job keeps in flight: latency-aware, between a floor and a ceiling.

Why. A rate is only reachable with enough requests in flight: by Little's law a job sending
``r`` requests per second with a round trip of ``R`` seconds has ``r * R`` of them on the wire.
Sixteen workers at 100 ms cannot send more than 160/s, whatever the account allows; 256 on
loopback are only more tasks competing for the CPU with the same throughput. So the job's pool
is a ceiling of workers and :class:`ConcurrencyLimit` decides, window by window, how many of
their requests may be in flight (:class:`WorkerGate`, held by the job's limiter from a
request's slot to its answer, so a row asleep in a retry's backoff holds none).

How. Each answer gives a round-trip sample (the wire time only: from the limiter's slot to the
answer, so time queued for a rate is never taken for latency). Every window (at least 0.1 s
and two mean round trips, and 8 samples) the limit moves:

- **Paced** (the job's limiter holds a rate ``r``): Little's law with headroom,
  ``limit = 1.5 * r * R_min + 4`` (``R_min`` below: a round trip grown by queueing needs no
  more requests in flight, and reading it as latency would feed the queue). The pacer
  decides the rate; the limit only makes sure it can be reached, with room for a climbing
  rate and a slower round trip. While fewer than 0.8 ``r`` answers a second come back, the
  gradient below may raise it further (and, once requests queue, lower it back to Little's
  law): on loopback a row spends more time in this process than on the wire.
- **Unpaced** (no rate yet: before an adaptive job's first 429, or no rate at all): a
  Vegas-style gradient on ``R / R_min`` (``R_min`` the least window mean seen, creeping up
  2 % a window so an old minimum does not rule forever). While the round trip stays within
  1.25 ``R_min`` and every slot was taken (the limit, not the input, held the job back) the
  limit grows by a fifth; at twice ``R_min`` (requests queue in the server, the network or
  this process's own event loop) it shrinks by a fifth; in between it holds.

The limit never goes below ``floor`` (16, the old fixed pool: loopback throughput is what it
was) nor above ``ceiling`` (256 by default). 429s are not its business: the rate limiter
answers those, and the number in flight follows the rate it sets. ``concurrency=N`` fixes the
pool at ``N`` workers and turns all of this off.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Callable
from typing import Final

from customer_sdk._ratelimit import Clock

__all__ = ["DEFAULT_CEILING", "DEFAULT_FLOOR", "ConcurrencyLimit", "WorkerGate", "pool_for"]

DEFAULT_FLOOR: Final = 16  # the old fixed pool: never fewer in flight than that
DEFAULT_CEILING: Final = 256  # workers a job starts when concurrency is not given
HEADROOM: Final = 1.5  # paced: in flight = HEADROOM * rate * round trip + SPARE
SPARE: Final = 4
GROW: Final = 1.2  # unpaced, no queueing, every slot busy: limit * GROW
SHRINK: Final = 0.8  # unpaced, round trip doubled: limit * SHRINK
_QUEUEING: Final = 2.0  # R / R_min at which requests are taken to be queueing
_CLEAR: Final = 1.25  # R / R_min under which they are not
_BASE_CREEP: Final = 0.02  # R_min moves this share of the way to each window's mean
_REACHED: Final = 0.8  # paced: answers/s at this share of the rate = the rate is reached
_MIN_WINDOW: Final = 0.1  # seconds
_MIN_SAMPLES: Final = 8


class ConcurrencyLimit:
    """The number of rows a job may have in flight, moved by round trips and the paced rate.

    Args:
        floor: The least limit.
        ceiling: The most (the number of workers).
        paced_rate: Returns the job's paced rate (requests/s), or None while unpaced.
        clock: Monotonic seconds (injectable for tests).

    Attributes:
        limit: Rows that may be in flight now.
        rtt: The last window's mean round trip, seconds (None before the first window).
        base_rtt: The least window mean seen (creeping up slowly), seconds.
        saturated: Whether every slot was taken at some point in the open window.
    """

    __slots__ = (
        "_clock",
        "_count",
        "_paced_rate",
        "_start",
        "_sum",
        "base_rtt",
        "ceiling",
        "floor",
        "limit",
        "rtt",
        "saturated",
    )

    def __init__(
        self,
        floor: int,
        ceiling: int,
        paced_rate: Callable[[], float | None],
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.floor = min(floor, ceiling)
        self.ceiling = ceiling
        self.limit = self.floor
        self._paced_rate = paced_rate
        self._clock = clock
        self._start = clock()
        self._sum = 0.0
        self._count = 0
        self.rtt: float | None = None
        self.base_rtt = math.inf
        self.saturated = False

    def __repr__(self) -> str:
        return f"ConcurrencyLimit(limit={self.limit}, floor={self.floor}, ceiling={self.ceiling})"

    def sample(self, rtt: float) -> None:
        """Take one request's round trip; move the limit when the window is complete.

        Args:
            rtt: Seconds from the request's slot to its answer.
        """
        self._sum += rtt
        self._count += 1
        if self._count < _MIN_SAMPLES:
            return
        now = self._clock()
        if now - self._start >= max(_MIN_WINDOW, 2 * (self.rtt or 0.0)):
            self._update(now)

    def _update(self, now: float) -> None:
        mean = self._sum / self._count
        answered = self._count / (now - self._start)
        self.rtt = mean
        base = self.base_rtt
        self.base_rtt = mean if mean < base else base + _BASE_CREEP * (mean - base)
        limit = self.limit
        if mean >= _QUEUEING * self.base_rtt:
            gradient = limit * SHRINK
        elif mean <= _CLEAR * self.base_rtt and self.saturated:
            gradient = limit * GROW + 1
        else:
            gradient = limit
        rate = self._paced_rate()
        if rate is None:
            target = gradient
        else:
            # The least round trip, not the last: queueing (in the server, or this process's own
            # event loop on loopback) needs no more in flight, and would feed itself if it did.
            target = HEADROOM * rate * self.base_rtt + SPARE
            if answered < _REACHED * rate:
                # The rate is not being reached, so something besides the wire holds each
                # row (this process's own work, on a fast network): the gradient may add more.
                target = max(target, gradient)
        self.limit = max(self.floor, min(self.ceiling, math.ceil(target)))
        self._start = now
        self._sum = 0.0
        self._count = 0
        self.saturated = False


class WorkerGate:
    """Lets at most ``control.limit`` requests be in flight at once; the rest wait, in order.

    Args:
        control: The limit to follow (read at every entry and exit).
    """

    __slots__ = ("_waiters", "active", "control")

    def __init__(self, control: ConcurrencyLimit) -> None:
        self.control = control
        self.active = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def enter(self) -> asyncio.Future[None] | None:
        """Take a slot: None when one was free, else a future to await (resolved with a slot).

        Returns:
            None, or the future that completes once the caller holds a slot.
        """
        control = self.control
        if self.active < control.limit and not self._waiters:
            self.active += 1
            if self.active >= control.limit:
                control.saturated = True
            return None
        control.saturated = True
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return waiter

    def leave(self) -> None:
        """Give a slot back, handing it (and any the limit grew by) to those waiting."""
        self.active -= 1
        limit = self.control.limit
        waiters = self._waiters
        while waiters and self.active < limit:
            waiter = waiters.popleft()
            if not waiter.done():  # a cancelled worker's future is skipped
                self.active += 1
                waiter.set_result(None)


def pool_for(
    concurrency: int | None, paced_rate: Callable[[], float | None]
) -> tuple[int, ConcurrencyLimit | None]:
    """A job's workers and their limit: fixed when told how many, else adaptive up to 256.

    Args:
        concurrency: ``create_many``'s option (None: adaptive).
        paced_rate: Returns the job's paced rate, or None while unpaced.

    Returns:
        How many workers to start, and the limit that gates them (None: no gate).
    """
    if concurrency is not None:
        return concurrency, None
    return DEFAULT_CEILING, ConcurrencyLimit(DEFAULT_FLOOR, DEFAULT_CEILING, paced_rate)
