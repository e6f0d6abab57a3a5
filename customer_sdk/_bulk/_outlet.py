"""Where a bulk job's results leave it: journaled first, then counted and handed out.

The order is the resumability guarantee: a result is committed to the journal before the
caller can see it, so a job killed at any moment never hands out a result a re-run would
contradict. The worker does not wait for that commit: its results join a backlog, handed out
(by whichever worker comes by next) once the journal says they are committed, and the worker
sends its next row meanwhile. The backlog is bounded, and each worker empties it before it
ends (:meth:`Outlet.drain`). The outlet also asks the stop policy about each result. It sends
nothing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, Final

from customer_sdk._bulk._policy import StopPolicy
from customer_sdk._bulk._results import BulkStats, Row, RowResult, error_text, is_final

if TYPE_CHECKING:
    from customer_sdk._journal import Journal

__all__ = ["Outlet"]

BACKLOG: Final = 1024
"""Results held for their commit at most, before a worker waits for the oldest commit."""


class Outlet:
    """Records, counts and hands out results.

    Args:
        results: The bounded queue the caller iterates (its bound keeps memory flat).
        stats: The job's counters.
        journal: The job's journal, or None.
        policy: Told of every result; may stop the job.
    """

    __slots__ = ("_backlog", "_held", "journal", "policy", "results", "stats")

    def __init__(
        self,
        results: asyncio.Queue[Any],
        stats: BulkStats,
        journal: Journal | None,
        policy: StopPolicy,
    ) -> None:
        self.results = results
        self.stats = stats
        self.journal = journal
        self.policy = policy
        # Results recorded but not yet handed out, each batch with the future of its commit.
        self._backlog: deque[tuple[asyncio.Future[Any], list[RowResult]]] = deque()
        self._held = 0

    async def emit(self, result: RowResult) -> None:
        """Count a result and hand it out (waiting while the caller has not taken earlier ones).

        Args:
            result: The result; its journal record, if any, is already written.
        """
        self.stats.count(result)
        await self.results.put(result)

    def emit_now(self, result: RowResult) -> bool:
        """:meth:`finish` for one unjournaled result, without a coroutine when there is room.

        Args:
            result: The result.

        Returns:
            False when the queue is full (nothing done: await :meth:`finish` instead).
        """
        results = self.results
        if self.journal is not None or results.full():
            return False
        self.stats.count(result)
        results.put_nowait(result)
        self.policy.check(result)
        return True

    async def finish(self, pairs: list[tuple[Row, RowResult]]) -> None:
        """Record results, then count and hand them out once committed; stop on the policy's word.

        With a journal, the results are handed out later (here or by another worker's call)
        once their commit is done; call :meth:`drain` before the worker ends.

        Args:
            pairs: Each sent row with its result.

        Raises:
            sqlite3.Error: A journal commit failed (the job must stop).
        """
        journal = self.journal
        if journal is None:
            for _, result in pairs:
                await self.emit(result)
                if self.policy.check(result):
                    return
            return
        journal.record_outcomes_nowait(
            [
                (
                    row.index,
                    row.hash,
                    is_final(result),
                    result.outcome.value,
                    result.customer_id,
                    None if result.error is None else error_text(result.error),
                )
                for row, result in pairs
            ]
        )
        backlog = self._backlog
        backlog.append((journal.committed(), [result for _, result in pairs]))
        self._held += len(pairs)
        wait = self._held > BACKLOG
        if wait or backlog[0][0].done():  # else nothing is ready: no coroutine
            await self._release(wait=wait)

    async def drain(self) -> None:
        """Hand out every held result, waiting for their commits.

        Raises:
            sqlite3.Error: A journal commit failed.
        """
        await self._release(wait=True)

    async def _release(self, *, wait: bool) -> None:
        """Hand out the held results whose commit is done, oldest first (all, when ``wait``)."""
        backlog = self._backlog
        while backlog:
            fut, batch = backlog[0]
            if not fut.done():
                if not wait:
                    return
                await asyncio.shield(fut)  # other workers may wait on the same commit
                continue
            backlog.popleft()
            self._held -= len(batch)
            fut.result()  # a failed commit: nothing of it may be handed out
            for result in batch:
                await self.emit(result)
                if self.policy.check(result):
                    return
