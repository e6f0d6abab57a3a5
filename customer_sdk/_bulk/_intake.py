"""A bulk job's intake: reading rows, validating them, and resuming from the journal.

One reader task pulls rows from the caller's iterable (sync or async) one at a time, validates
each (a bad row becomes a REJECTED result, never a crash) and puts it on a bounded queue for the
workers: nothing ever holds the whole input, so memory stays flat for 10^6 rows.

With a journal, each row is checked against what an earlier run recorded before anything is
sent (:mod:`._resume`: done rows are handed out from the journal, rows that were in flight are
looked up or reported unknown, another input is refused). Workers wait until every recorded
row has been checked (or one queue of rows has, so the wait never needs an unbounded buffer).
At an orderly end, :meth:`Intake.untaken` tells the journal the first row no worker took.

With ``reject_duplicate_keys=True``, a valid row whose ``external_key`` an earlier valid row of
the input had is REJECTED, naming that row, and never sent (:mod:`._dupes`: about 110 MB per
million distinct keys, which is why it is asked for, not the default). Every run reads every
row again and remembers each key at its own index, so on a resumed run a row the journal has as
done still counts as the first of its key (it is never a duplicate of itself), and a duplicate's
content hash is the row's own, so the journal check is the same as for any row. Keyless rows
and rows invalid on their own are never remembered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

from customer_sdk._bulk._dupes import FirstSeen, duplicate_error
from customer_sdk._bulk._outlet import Outlet
from customer_sdk._bulk._prepare import prepare
from customer_sdk._bulk._results import Row, RowOutcome, RowResult
from customer_sdk._bulk._resume import JournalCheck

if TYPE_CHECKING:
    from customer_sdk._journal import JournalCursor

__all__ = ["Intake"]


class Intake:
    """Reads the input onto the workers' queue.

    Args:
        rows: The caller's rows (an iterable or async iterable).
        outlet: Where results that need no sending go (rejected rows, resumed ones).
        workers: How many workers there are (each is sent one end-of-input marker).
        queue_size: The bound of the workers' queue.
        reject_duplicates: Reject a row whose key an earlier row had (memory per key).
    """

    def __init__(
        self,
        rows: Iterable[object] | AsyncIterable[object],
        outlet: Outlet,
        workers: int,
        queue_size: int,
        reject_duplicates: bool = False,
    ) -> None:
        self._rows = rows
        self._outlet = outlet
        self._workers = workers
        self.queue: asyncio.Queue[Row | None] = asyncio.Queue(queue_size)
        # Set by a worker once the queue is half empty: the reader, held by a full queue, is
        # woken once per half queue of rows instead of once per row taken.
        self.room = asyncio.Event()
        self.low = queue_size // 2
        # Set once workers may send: at once without a journal, else after the check above.
        self.verified = asyncio.Event()
        if outlet.journal is None:
            self.verified.set()
        self._seen = FirstSeen() if reject_duplicates else None
        #: The index of the row the reader holds (queued or settled once the next is read),
        #: or, at the end of the input, the number of rows.
        self.reading = 0

    def untaken(self) -> int:
        """The lowest index no worker took: the first row still queued, else the reader's.

        For the journal's orderly close (:meth:`~customer_sdk._journal.Journal.aclose`), once
        the workers have stopped: it empties the queue. Rows below it were taken (sent, or
        recorded as not sent) or settled without sending.

        Returns:
            The index.
        """
        first = self.reading
        queue = self.queue
        while not queue.empty():
            row = queue.get_nowait()
            if row is not None:
                first = min(first, row.index)
        return first

    def _repeat(self, row: Row) -> RowResult | None:
        """The REJECTED result of a row whose key an earlier row had, else None."""
        if row.key is None or self._seen is None:
            return None
        first = self._seen.earlier(row.key, row.index)
        if first is None:
            return None
        error = duplicate_error(f"the row at index {first}")
        return RowResult(row.index, row.key, RowOutcome.REJECTED, None, error)

    async def read(self) -> None:
        """Read every row, then tell each worker the input has ended."""
        journal = self._outlet.journal
        cursor: JournalCursor | None = None
        check: JournalCheck | None = None
        if journal is not None:
            from customer_sdk._journal import JournalCursor  # sqlite3 only for journaled jobs

            cursor = JournalCursor(journal)
            repeat = None if self._seen is None else self._repeat
            check = JournalCheck(self._outlet, cursor.row_hash, repeat, self.verified)
        rows = self._rows
        index = -1
        if isinstance(rows, AsyncIterable):
            async for raw in rows:
                index += 1
                self.reading = index
                if cursor is None or check is None:
                    await self._take(index, raw)
                else:
                    await self._settle(check.check(index, raw, await cursor.get(index)))
        elif cursor is None or check is None:
            await self._read_plain(rows)
        else:
            index = await self._read_journaled(rows, cursor, check)
        self.reading = index + 1
        await self.end()

    async def end(self) -> None:
        """Tell every worker the input is over: the journal check is done, one end marker each.

        Called when the input is read to its end, and by the job when an outage stops reading.
        """
        self.verified.set()  # workers still waiting for the journal check may go (and end)
        for _ in range(self._workers):
            await self.queue.put(None)

    async def _read_plain(self, rows: Iterable[object]) -> None:
        """The unjournaled sync case, the common one: a plain loop, no coroutine per row."""
        stats = self._outlet.stats
        queue = self.queue
        for index, raw in enumerate(rows):
            stats.rows_read = index + 1
            row, rejected = prepare(index, raw)
            if row is not None and row.key is not None:
                rejected = self._repeat(row)
            if rejected is not None:
                await self._outlet.emit(rejected)
            elif queue.full():
                assert row is not None
                await self._enqueue(row)
            else:
                queue.put_nowait(row)  # what queue.put() does when there is room
            if index % 256 == 255:
                # A sync iterable never yields to the loop by itself: let workers run.
                await asyncio.sleep(0)

    async def _read_journaled(
        self, rows: Iterable[object], cursor: JournalCursor, check: JournalCheck
    ) -> int:
        """The journaled sync case: per row a check, and a coroutine only when one must wait.

        Returns:
            The index of the last row (-1 for none).
        """
        queue, unread, check_row = self.queue, cursor.UNREAD, check.check
        index = -1
        for index, raw in enumerate(rows):
            self.reading = index
            entry = cursor.get_now(index)
            if entry is unread:
                entry = await cursor.get(index)
            todo = check_row(index, raw, entry)
            if isinstance(todo, Row) and not queue.full():
                queue.put_nowait(todo)  # what _enqueue does when there is room
            else:
                await self._settle(todo)
            if index % 256 == 255:
                await asyncio.sleep(0)  # a sync iterable never yields by itself
        return index

    async def _settle(self, todo: Row | Coroutine[Any, Any, None]) -> None:
        """Queue a checked row (waiting for room), or await what settles it without a send."""
        if isinstance(todo, Row):
            await self._enqueue(todo)
        else:
            await todo

    async def _take(self, index: int, raw: object) -> None:
        """Validate one row of an unjournaled async input, and queue or settle it."""
        self._outlet.stats.rows_read = index + 1
        row, rejected = prepare(index, raw)
        if row is not None and row.key is not None:
            rejected = self._repeat(row)
        if rejected is not None:
            await self._outlet.emit(rejected)
        else:
            assert row is not None
            await self._enqueue(row)

    async def _enqueue(self, row: Row) -> None:
        queue = self.queue
        if queue.full() and not self.verified.is_set():
            # Holding every send until the journal is verified would need an unbounded
            # buffer; past one queue of rows, the rows already checked may go.
            self.verified.set()
        while queue.full():
            self.room.clear()
            await self.room.wait()
        queue.put_nowait(row)
