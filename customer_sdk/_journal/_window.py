"""The send window: one number in the journal that covers every row a worker may have sent.

A row new to the journal gets no record of its own before its request leaves. Instead the
journal keeps one number, ``meta.window``: every row below it with no record may have been
sent, so the next run reconciles it (a keyed row by lookup) or, keyless, reports it unknown and
never sends it again. :class:`SendWindow` moves that number ahead of the workers
:data:`WINDOW` rows at a time, each move one commit with an fsync that every row it covers
shares, and pulls it back at an orderly close to the first row no worker took, so only a crash
leaves never-sent rows inside it. ``docs/architecture.md`` ("The journal") gives the argument.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Final

from customer_sdk._journal._schema import set_window
from customer_sdk._journal._writer import Writer

__all__ = ["WINDOW", "SendWindow"]

WINDOW: Final = 256
"""Rows the send window reaches ahead of the row that moved it. It moves again once the workers
are within half of that of its end, so each fsync covers about 128 rows and is usually done
long before a worker reaches them. A crash leaves at most this many rows inside it that were
never sent (reported unknown when keyless)."""


class SendWindow:
    """Where the send window is, and the commits that moved it.

    A move is committed at once, with an fsync when the row that moved it is keyless (the rows
    after it likely are too); a keyless row covered by a move committed without one asks for
    the fsync then (:meth:`~._writer.Writer.synced`). An input of keyed rows pays no fsync.

    Args:
        writer: The journal's writer.

    Attributes:
        prior: The window's end recorded before this run (0 for none).
    """

    __slots__ = ("_end", "_prev_end", "_prev_seq", "_seq", "_writer", "prior")

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self.prior = 0
        # The window as this run moved it: its end and the writer's sequence number of that
        # commit, and the one before (rows below its end need not wait for the newer commit).
        self._end = self._seq = self._prev_end = self._prev_seq = 0

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
        if index >= self._end - WINDOW // 2:
            self._prev_end, self._prev_seq = self._end, self._seq
            self._end = end = index + WINDOW
            writer = self._writer
            fut = writer.submit("call", functools.partial(set_window, end=end), durable=not keyed)
            fut.add_done_callback(_retrieve)
            self._seq = writer.last_seq
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
            fut = self._writer.submit("call", functools.partial(set_window, end=end))
            fut.add_done_callback(_retrieve)


def _retrieve(fut: asyncio.Future[Any]) -> None:
    # A window's future has no waiter (keyless rows wait through Writer.synced): a failed
    # commit is raised to those waiters and to the next commit's, so asyncio must not log it.
    if not fut.cancelled():
        fut.exception()
