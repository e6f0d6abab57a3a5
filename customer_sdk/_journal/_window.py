"""The send window: one number in the journal that covers every row a worker may have sent.

A row new to the journal gets no record of its own before its request leaves. Instead the
journal keeps one number (the row at index -1, :func:`~._schema.window_row`): every row below
it with no record may have been sent, so the next run reconciles it (a keyed row by lookup)
or, keyless, reports it unknown and never sends it again. :class:`SendWindow` moves that
number ahead of the workers, a keyless row waiting only for the one fsync that every row of
its window shares, and pulls it back at an orderly close to the first row no worker took, so
only a crash leaves never-sent rows inside it.

How far it reaches is a trade between two costs. Each move is a commit with an fsync, and each
commit costs the event loop a dozen hand-overs of the GIL to the journal's thread (one per
SQLite call), so at thousands of rows per second a fixed small window would commit dozens of
times a second. A crash, on the other hand, leaves up to the window's reach of never-sent rows
inside it. So the reach follows the send rate: :data:`WINDOW` rows, or :data:`REACH_SECONDS` of
sending at the rate measured between the last two moves if that is more (at most doubling per
move, never above :data:`WINDOW_MAX`). At the rates a real account allows (hundreds of rows a
second) it stays at :data:`WINDOW`; against a fast local server it grows to about 0.2 s of rows
and the moves stay at about ten a second.
``docs/architecture.md`` ("The journal") gives the argument.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Final

from customer_sdk._journal._schema import window_row
from customer_sdk._journal._writer import Writer

__all__ = ["REACH_SECONDS", "WINDOW", "WINDOW_MAX", "SendWindow"]

WINDOW: Final = 256
"""The least number of rows the send window reaches ahead of the row that moved it. It moves
again once the workers are within half its reach of its end, so each fsync covers at least
128 rows and is usually done long before a worker reaches them."""

REACH_SECONDS: Final = 0.2
"""Seconds of sending, at the measured rate, the window reaches ahead when that is more than
:data:`WINDOW` rows: about ten moves (fsyncs) a second at any rate."""

WINDOW_MAX: Final = 4096
"""The most rows the window ever reaches ahead: a crash leaves at most this many rows inside it
that were never sent (reported unknown when keyless), and at most :data:`WINDOW` at the rates
below 1,280 rows a second."""

_MIN_INTERVAL: Final = 0.01  # seconds: a burst of moves (the workers' first rows) is no rate


class SendWindow:
    """Where the send window is, and the commits that moved it.

    A move is a lazy write (:meth:`~._writer.Writer.write_nowait`) that goes with the rows'
    outcomes. Once a keyless row was seen, each move is written durable (its commit with an
    fsync starts at once) and a keyless row waits until the window covering it is
    (:meth:`~._writer.Writer.synced`); an input of keyed rows pays no fsync at all.

    Args:
        writer: The journal's writer.

    Attributes:
        prior: The window's end recorded before this run (0 for none).
    """

    __slots__ = (
        "_clock",
        "_durable",
        "_end",
        "_moved",
        "_prev_end",
        "_prev_seq",
        "_reach",
        "_seq",
        "_writer",
        "prior",
    )

    def __init__(self, writer: Writer, clock: Callable[[], float] = time.monotonic) -> None:
        self._writer = writer
        self._clock = clock
        self.prior = 0
        # How far the last move reached, and when and at which row it was made.
        self._reach = WINDOW
        self._moved: tuple[float, int] | None = None
        # The window as this run moved it: its end and the writer's sequence number of that
        # commit, and the one before (rows below its end need not wait for the newer commit).
        self._end = self._seq = self._prev_end = self._prev_seq = 0
        # Whether moves are written durable: from the first keyless row on.
        self._durable = False

    def resume(self, prior: int) -> None:
        """Start from the window an earlier run recorded.

        Args:
            prior: Its end (0 for none).
        """
        self.prior = self._end = prior

    def cover(self, index: int, keyed: bool) -> asyncio.Future[Any] | None:
        """Make sure the window covers ``index``, moving it when ``index`` nears its end.

        Args:
            index: A row new to the journal, about to be sent (in about index order).
            keyed: Whether the row has an ``external_key`` (it then waits for nothing).

        Returns:
            None when the row may be sent now; else, for a keyless row, a future resolved once
            a window covering it is durable (it raises that commit's error, ``sqlite3.Error``).

        Raises:
            RuntimeError: The journal is closed.
        """
        writer = self._writer
        if writer.closed:
            raise RuntimeError("the journal is closed")
        if not keyed and not self._durable:
            # The first keyless row: from now on every move is durable, and the window as it
            # stands (moved lazily for keyed rows, if at all) is written again, durable.
            self._durable = True
            if self._end > self.prior:
                self._seq = self._prev_seq = writer.write_nowait(
                    [window_row(self._end)], durable=True
                )
        if index >= self._end - self._reach // 2:
            self._prev_end, self._prev_seq = self._end, self._seq
            self._reach = reach = self._next_reach(index)
            self._end = end = index + reach
            self._seq = writer.write_nowait([window_row(end)], durable=self._durable)
        if keyed:
            return None
        # The older window, when it covers the row, is durable sooner.
        seq = self._prev_seq if index < self._prev_end and self._prev_seq else self._seq
        return self._writer.synced(seq)

    @property
    def reach(self) -> int:
        """Rows the last move reached ahead of the row that made it (:data:`WINDOW` at first)."""
        return self._reach

    def _next_reach(self, index: int) -> int:
        """The reach of a move made at row ``index``, from the rate since the last move."""
        now = self._clock()
        moved, self._moved = self._moved, (now, index)
        if moved is None:
            return WINDOW
        rate = (index - moved[1]) / max(now - moved[0], _MIN_INTERVAL)
        return min(WINDOW_MAX, 2 * self._reach, max(WINDOW, round(rate * REACH_SECONDS)))

    def pull_back(self, unsent_from: int) -> None:
        """At an orderly close: end the window at the first row no worker took.

        Never below :attr:`prior`: the rows of an earlier run's window may have been sent by
        it. The write is committed with the journal's last commit.

        Args:
            unsent_from: The lowest index no worker took.
        """
        end = max(self.prior, unsent_from)
        if end != self._end:
            self._end = end
            self._writer.write_nowait([window_row(end)])
