"""The send window: one number in the journal that covers every row a worker may have sent.

A row new to the journal gets no record of its own before its request leaves. Instead the
journal keeps one number (the row at index -1, :func:`~._schema.window_row`): every row below
it with no record may have been sent, so the next run reconciles it (a keyed row by lookup)
or, keyless, reports it unknown and never sends it again. :class:`SendWindow` moves that
number ahead of the workers :data:`WINDOW` rows at a time, a keyless row waiting only for the
one fsync that every row of its window shares, and pulls it back at an orderly close to the
first row no worker took, so only a crash leaves never-sent rows inside it.
``docs/architecture.md`` ("The journal") gives the argument.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from customer_sdk._journal._schema import window_row
from customer_sdk._journal._writer import Writer

__all__ = ["WINDOW", "SendWindow"]

WINDOW: Final = 256
"""Rows the send window reaches ahead of the row that moved it. It moves again once the workers
are within half of that of its end, so each fsync covers about 128 rows and is usually done
long before a worker reaches them. A crash leaves at most this many rows inside it that were
never sent (reported unknown when keyless)."""


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

    __slots__ = ("_durable", "_end", "_prev_end", "_prev_seq", "_seq", "_writer", "prior")

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self.prior = 0
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
        if index >= self._end - WINDOW // 2:
            self._prev_end, self._prev_seq = self._end, self._seq
            self._end = end = index + WINDOW
            self._seq = writer.write_nowait([window_row(end)], durable=self._durable)
        if keyed:
            return None
        # The older window, when it covers the row, is durable sooner.
        seq = self._prev_seq if index < self._prev_end and self._prev_seq else self._seq
        return self._writer.synced(seq)

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
