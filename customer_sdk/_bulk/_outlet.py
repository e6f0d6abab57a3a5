"""Where a bulk job's results leave it: journaled first, then counted and handed out.

The order is the resumability guarantee: a result is durably in the journal before the caller
can see it, so a job killed at any moment never hands out a result a re-run would contradict.
The outlet also asks the stop policy about each result. It sends nothing.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from customer_sdk._bulk._policy import StopPolicy
from customer_sdk._bulk._results import BulkStats, Row, RowResult, error_text, is_final
from customer_sdk._secrets import NO_SECRETS, Secrets

if TYPE_CHECKING:
    from customer_sdk._journal import Journal

__all__ = ["Outlet"]


class Outlet:
    """Records, counts and hands out results.

    Args:
        results: The bounded queue the caller iterates (its bound keeps memory flat).
        stats: The job's counters.
        journal: The job's journal, or None.
        policy: Told of every result; may stop the job.
        secrets: Masked in every error text written to the journal.
    """

    __slots__ = ("journal", "policy", "results", "secrets", "stats")

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
        """Record results durably, then count and hand them out; stop on the policy's word.

        Args:
            pairs: Each sent row with its result.
        """
        if self.journal is not None:
            await self.journal.record_outcomes(
                [
                    (
                        row.index,
                        row.hash,
                        is_final(result),
                        result.outcome.value,
                        result.customer_id,
                        None if result.error is None else error_text(result.error, self.secrets),
                    )
                    for row, result in pairs
                ]
            )
        for _, result in pairs:
            await self.emit(result)
            if self.policy.check(result):
                return
