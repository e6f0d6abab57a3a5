"""Resuming: walk the journal's entries alongside the input, one chunk in memory at a time.

A resumed job reads its input again from the start and needs, for each row, what the last run
recorded about it. :class:`JournalCursor` is a merge join of the two, both in index order: it
reads the journal in chunks as the input advances, so resuming a job of 10^6 rows never holds
more than one chunk of entries. It only reads; the bulk job decides what an entry means.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final

from customer_sdk._journal._journal import Journal
from customer_sdk._journal._records import JournalEntry, row_hash

__all__ = ["JournalCursor"]


class JournalCursor:
    """Walks a journal's entries in index order alongside the input (a merge join).

    The journal is read in chunks as the input advances, so resuming a job of 10^6 rows never
    holds more than one chunk of entries in memory.

    Args:
        journal: The open journal.
    """

    row_hash = staticmethod(row_hash)
    """:func:`~customer_sdk._journal.row_hash`, at hand for the reader (no import per row)."""

    UNREAD: Final[Any] = object()
    """What :meth:`get_now` returns when the entry is not in memory: await :meth:`get`."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._buffer: deque[JournalEntry] = deque()
        self._next = 0
        self._exhausted = journal.max_index < 0

    def get_now(self, index: int) -> JournalEntry | Any | None:
        """:meth:`get` without a coroutine when no read is needed (nearly every row).

        Args:
            index: The input row's index (increasing, as for :meth:`get`).

        Returns:
            The entry or None, as :meth:`get`; or :data:`UNREAD` when the journal must be read
            first (then await :meth:`get` for the same index).
        """
        buf = self._buffer
        while buf and buf[0].index < index:
            buf.popleft()
        if buf:
            return buf.popleft() if buf[0].index == index else None
        if self._exhausted or index > self._journal.max_index:
            return None
        return self.UNREAD

    async def get(self, index: int) -> JournalEntry | None:
        """The entry for ``index``; indexes must be asked for in increasing order.

        Args:
            index: The input row's index.

        Returns:
            Its entry from before this run, or None.

        Raises:
            RuntimeError: The journal was closed meanwhile.
            sqlite3.Error: A read failed.
        """
        while (entry := self.get_now(index)) is self.UNREAD:
            chunk = await self._journal.read(max(self._next, index))
            if not chunk:
                self._exhausted = True
                continue
            self._buffer.extend(chunk)
            self._next = chunk[-1].index + 1
        result: JournalEntry | None = entry
        return result
