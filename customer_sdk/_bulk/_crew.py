"""A bulk job's crew: its reader and worker tasks, their supervisor, and how they stop.

- :meth:`Crew.start`: one reader task and the pool of worker tasks, each guarded (a failure of
  its own stops the whole job), and a supervisor that waits for all of them and then ends the
  results with the end marker.
- :meth:`Crew.stop`: the job stops on an error: every task is cancelled (rows being sent stay in
  flight in the journal).
- :meth:`Crew.outage`: the circuit gave up on the server: reading stops, and the workers end
  once the rows already queued are released by the circuit (recorded as not sent).

The first error wins: it is what the job raises after the results so far. Nothing here reads
rows or sends a request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Final

from customer_sdk._bulk._circuit import Circuit
from customer_sdk._bulk._intake import Intake
from customer_sdk._bulk._results import BulkStats
from customer_sdk.errors import OutageError

__all__ = ["Crew"]

logger: Final = logging.getLogger("customer_sdk")


class Crew:
    """The tasks of one job.

    Args:
        circuit: The job's outage circuit (its probe task is the crew's to cancel).
        stats: The job's counters (logged when the crew ends).
        end: Puts the end marker on the results, once every task has ended.

    Attributes:
        error: The error the job stopped on, or None.
        tasks: The reader, then the workers (and the outage's ender, if any).
        supervisor: The task waiting for them, once started.
    """

    def __init__(
        self, circuit: Circuit, stats: BulkStats, end: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        self._circuit = circuit
        self._stats = stats
        self._end = end
        self._intake: Intake | None = None
        self.error: BaseException | None = None
        self.tasks: list[asyncio.Task[Any]] = []
        self.supervisor: asyncio.Task[None] | None = None

    def start(
        self, intake: Intake, work: Callable[[], Coroutine[Any, Any, None]], workers: int
    ) -> None:
        """Start the reader, ``workers`` worker tasks and the supervisor.

        Args:
            intake: The job's intake (its ``read`` is the reader's step).
            work: One worker's step.
            workers: How many workers.
        """
        self._intake = intake
        loop = asyncio.get_running_loop()
        reader = loop.create_task(self._guard(intake.read), name="customer-sdk-bulk-reader")
        pool = [
            loop.create_task(self._guard(work), name=f"customer-sdk-bulk-{n}")
            for n in range(workers)
        ]
        self.tasks = [reader, *pool]
        self.supervisor = loop.create_task(
            self._supervise(reader, pool), name="customer-sdk-bulk-supervisor"
        )

    async def cancel(self) -> None:
        """Cancel every task (the supervisor and the circuit's probe too) and wait for them."""
        tasks = [t for t in (self.supervisor, *self.tasks, self._circuit.probe_task) if t]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _supervise(self, reader: asyncio.Task[None], pool: list[asyncio.Task[None]]) -> None:
        """Wait for every task; keep the first error of its own; then end the results."""
        outcomes = await asyncio.gather(reader, *pool, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, asyncio.CancelledError
            ):
                self.error = self.error or outcome
        probe = self._circuit.probe_task
        if probe is not None:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)
        if self.error is not None:
            logger.error("bulk job stopped: %s; %s", type(self.error).__name__, self._stats.line())
        else:
            logger.info("bulk job finished: %s", self._stats.line())
        await self._end()

    def stop(self, error: BaseException) -> None:
        """Stop the job with ``error`` (raised by the iterator after the results so far).

        Every reader and worker task is cancelled, the calling one included: rows being sent
        stay in flight in the journal.
        """
        if self.error is None:
            self.error = error
        for task in self.tasks:
            task.cancel()

    def outage(self, error: OutageError) -> None:
        """The circuit gave up on the server: stop reading, and let the workers end.

        Unlike :meth:`stop`, no worker is cancelled: each row a worker holds is released by
        the circuit with an :class:`OutageError`, so it is recorded as not sent (``failed``,
        retried by a re-run) or, when an earlier attempt may have created it, ``unknown``;
        the rows already queued go the same way at once. Then each worker gets its
        end-of-input marker. The job ends with ``error`` after those results.
        """
        if self.error is None:
            self.error = error
        intake = self._intake
        if intake is None or not self.tasks:
            return
        self.tasks[0].cancel()  # the reader: no row after this one is read
        ender = asyncio.get_running_loop().create_task(intake.end(), name="customer-sdk-bulk-ender")
        self.tasks.append(ender)

    async def _guard(self, step: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run a reader or worker; any failure of its own stops the whole job."""
        # The coroutine is made here, not by the caller: a task cancelled before it ever
        # ran would otherwise leave a never-awaited coroutine behind.
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.stop(exc)
            raise
