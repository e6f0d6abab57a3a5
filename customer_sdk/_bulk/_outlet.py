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

    __slots__ = (
        "_backlog",
        "_held",
        "_stalled",
        "journal",
        "policy",
        "results",
        "secrets",
        "stats",
    )

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
        # Whether committed results are left in the backlog (the caller was behind, or the
        # policy stopped): only then does a worker's next result try to hand them out.
        self._stalled = False

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
        journal = self.journal
        if journal is None:
            return self.emit_now(result)
        if self._held >= BACKLOG:
            return False
        self._hold(journal, row, result)
        if self._stalled:
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
            self.journal.flush()  # the oldest results wait for it: not for the writer's timer
            await self._release(wait=True)
        else:
            self._release_now()

    def _record(self, pairs: list[tuple[Row, RowResult]]) -> None:
        """Queue the outcomes' journal write and hold the results until its commit."""
        journal = self.journal
        assert journal is not None
        for row, result in pairs:
            self._hold(journal, row, result)

    def _hold(self, journal: Journal, row: Row, result: RowResult) -> None:
        """Queue one outcome's journal write; hold its result with the others of its commit.

        Once per row of a journaled job, hence no list or tuple per row: the results of one
        commit share one batch, and one callback hands them out when it is done.
        """
        error = result.error
        fut = journal.record_outcome_nowait(
            row.index,
            row.hash,
            is_final(result),
            outcome_text(result),
            result.customer_id,
            None if error is None else error_text(error, self.secrets),
        )
        backlog = self._backlog
        if backlog and backlog[-1][0] is fut:
            backlog[-1][1].append(result)
        else:
            # Once per commit: its results go out when it is done, even if no worker comes by
            # (all of them held by an outage, say).
            fut.add_done_callback(self._on_commit)
            backlog.append((fut, [result]))
        self._held += 1

    def _on_commit(self, fut: asyncio.Future[Any]) -> None:
        if not fut.cancelled() and fut.exception() is None:
            self._release_now()
        else:
            self._stalled = True  # a worker's next result raises it (_release_now)

    def _release_now(self) -> None:
        """Hand out the committed results that fit in the results queue now, oldest first.

        A batch is one commit's results: as many as there is room for go now, the rest wait
        for a later call. After a result that stops the job the others still go out: they
        are committed, and the caller's report must have every row it can.
        """
        backlog, results, stats, check = self._backlog, self.results, self.stats, self.policy.check
        self._stalled = True  # until the loop below ends with nothing committed left
        while backlog and backlog[0][0].done():
            fut, batch = backlog[0]
            fut.result()  # a failed commit: nothing of it may be handed out
            room = results.maxsize - results.qsize()
            if room < len(batch):
                if room <= 0:
                    return  # the caller is behind: a later call hands them out
                backlog[0] = (fut, batch[room:])
                batch = batch[:room]
            else:
                backlog.popleft()
            self._held -= len(batch)
            for result in batch:
                stats.count(result)
                results.put_nowait(result)
                check(result)
        self._stalled = False

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
                self.policy.check(result)  # a stop cancels this task; the rest still go out
