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

from customer_sdk._bulk._results import (
    BulkStats,
    Row,
    RowResult,
    error_text,
    is_final,
    outcome_text,
)
from customer_sdk._bulk._stop import StopPolicy
from customer_sdk._secrets import NO_SECRETS, Secrets

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
        secrets: Masked in every error text written to the journal.
    """

    __slots__ = ("_backlog", "_held", "journal", "policy", "results", "secrets", "stats")

    def __init__(
        self,
        results: asyncio.Queue[Any],
        stats: BulkStats,
        journal: Journal | None,
        policy: StopPolicy,
        secrets: Secrets = NO_SECRETS,
    ) -> None:
        self.secrets = secrets
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
        """Count and hand out one unjournaled result, without a coroutine when there is room.

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

    def finish_now(self, row: Row, result: RowResult) -> bool:
        """:meth:`finish` for one row without a coroutine, when nothing has to wait.

        Args:
            row: The sent row.
            result: Its result.

        Returns:
            False when something would have to wait (nothing done: await :meth:`finish`).

        Raises:
            sqlite3.Error: A journal commit failed (the job must stop).
        """
        if self.journal is None:
            return self.emit_now(result)
        if self._held >= BACKLOG:
            return False
        self._record([(row, result)])
        self._release_now()
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
        if self.journal is None:
            for _, result in pairs:
                await self.emit(result)
                if self.policy.check(result):
                    return
            return
        self._record(pairs)
        if self._held > BACKLOG:
            await self._release(wait=True)
        else:
            self._release_now()

    def _record(self, pairs: list[tuple[Row, RowResult]]) -> None:
        """Queue the outcomes' journal write and hold the results until its commit."""
        journal = self.journal
        assert journal is not None
        for row, result in pairs:
            error = result.error
            journal.record_outcome_nowait(
                row.index,
                row.hash,
                is_final(result),
                outcome_text(result),
                result.customer_id,
                None if error is None else error_text(error, self.secrets),
            )
        fut, backlog = journal.committed(), self._backlog
        if not backlog or backlog[-1][0] is not fut:
            # Once per commit: its results go out when it is done, even if no worker comes by
            # (all of them held by an outage, say).
            fut.add_done_callback(self._on_commit)
        backlog.append((fut, [result for _, result in pairs]))
        self._held += len(pairs)

    def _on_commit(self, fut: asyncio.Future[Any]) -> None:
        if not fut.cancelled() and fut.exception() is None:  # a failure is a worker's to raise
            self._release_now()

    def _release_now(self) -> None:
        """Hand out the committed results that fit in the results queue now, oldest first."""
        backlog, results = self._backlog, self.results
        while backlog and backlog[0][0].done():
            fut, batch = backlog[0]
            if results.maxsize - results.qsize() < len(batch):
                return  # the caller is behind: a later call waits for room
            backlog.popleft()
            self._held -= len(batch)
            fut.result()  # a failed commit: nothing of it may be handed out
            for result in batch:
                self.stats.count(result)
                results.put_nowait(result)
                if self.policy.check(result):
                    return

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
