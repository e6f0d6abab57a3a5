"""BulkJob: the lifecycle of a ``customers.create_many`` job, wiring its parts together.

A job is one reader (:mod:`._intake`), a fixed pool of workers (:mod:`._workers`), a
supervisor that waits for them, and the bounded queue of results the caller iterates
(:mod:`._outlet`). Its requests go through a variant of the client's engine, made with
``attrs.evolve``: the job's limiter (:class:`~._policy.JobLimiter`: outage circuit, own rate,
the client's shared pause), the client's retry policy without a per-call deadline (a row held
by the circuit or a pause is waiting, not failing), and a :class:`~._policy.Watch` observing
every request. The client itself is never changed.

Results stream in completion order; the caller must consume them (a full results queue holds
the workers: that is what keeps memory flat). ``docs/architecture.md`` traces one import.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

import attrs

from customer_sdk._bulk._circuit import MAX_OUTAGE, Circuit, Watch
from customer_sdk._bulk._concurrency import pool_for
from customer_sdk._bulk._crew import Crew
from customer_sdk._bulk._intake import Intake
from customer_sdk._bulk._options import check_options
from customer_sdk._bulk._outlet import Outlet
from customer_sdk._bulk._policy import JobLimiter, default_limiter, paced_rate
from customer_sdk._bulk._results import BulkStats, RowResult
from customer_sdk._bulk._stop import StopPolicy
from customer_sdk._bulk._workers import Workers
from customer_sdk._models import CustomerCreate
from customer_sdk._ratelimit import Limiter
from customer_sdk.errors import ChargeOverError, ConfigurationError

if TYPE_CHECKING:
    from customer_sdk._engine import Engine

__all__ = ["BulkJob"]

logger: Final = logging.getLogger("customer_sdk")
_END: Final = object()
Rows = (
    Iterable[CustomerCreate | Mapping[str, Any]] | AsyncIterable[CustomerCreate | Mapping[str, Any]]
)


class BulkJob:
    """A running ``create_many`` job: iterate it for results, use it as a context manager.

    Build it with :meth:`Customers.create_many`. Iterating starts it (so does ``async with``);
    results come in completion order. Leaving ``async with`` (or breaking out of an
    ``async for`` outside one) stops the workers cleanly: rows being sent stay ``in_flight`` in
    the journal and are reconciled by the next run.

    Results must be consumed: the job holds at most a small queue of them and its workers wait
    while it is full (that is what keeps memory flat). A sync iterable is read on the event
    loop; for a source that blocks (a socket, a slow pipe) pass an async iterable.

    Args:
        engine: The client's engine; the job runs on a variant of it.
        rows: The customers to create.
        limiter_given: Whether the client was given a limiter of its own.
        concurrency: Workers, fixed; None: up to 256, as many in flight as the round trip and
            the paced rate need (:mod:`._concurrency`).
        batch_size: Rows per request (``_bulk`` above 1).
        journal: The journal's path, or None.
        job_id: The input's fingerprint, kept in the journal.
        rate: Requests per second, if known.
        burst: Back-to-back requests under ``rate``.
        adaptive: Find the limit adaptively.
        max_auth_failures: Refusals in a row that stop the job.
        reject_duplicate_keys: Reject a row repeating an earlier row's ``external_key``.
        update_existing: PUT a row whose key a customer has (outcome ``updated``).
        max_outage: Seconds the outage circuit may hold the workers before the job stops
            (resumably, with :class:`~customer_sdk.errors.OutageError`); None: no bound.

    Raises:
        ConfigurationError: On an invalid option.

    Attributes:
        stats: Live counters (:class:`BulkStats`).
        limiter: The rate limiter the job applies on top of the client's own, or None.
    """

    def __init__(
        self,
        engine: Engine,
        rows: Rows,
        *,
        limiter_given: bool = False,
        concurrency: int | None,
        batch_size: int,
        journal: str | os.PathLike[str] | None,
        job_id: str | None,
        rate: float | None,
        burst: int | None,
        adaptive: bool,
        max_auth_failures: int,
        reject_duplicate_keys: bool = False,
        update_existing: bool = False,
        max_outage: float | None = MAX_OUTAGE,
    ) -> None:
        check_options(concurrency, batch_size, max_auth_failures, rate, burst, rows, max_outage)
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.max_auth_failures = max_auth_failures
        self.reject_duplicate_keys = reject_duplicate_keys
        self.update_existing = update_existing
        self.stats = BulkStats()
        try:
            self.limiter: Limiter | None = default_limiter(
                engine.retrier, limiter_given, rate, burst, adaptive
            )
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        self._rows = rows
        self._journal_path = journal
        self._job_id = job_id
        self._circuit = Circuit(max_outage=max_outage)
        self._crew = Crew(self._circuit, self.stats, self._put_end)
        self._circuit.on_give_up = self._crew.outage
        self._intake: Intake | None = None
        self._watch = Watch(self.stats, self._circuit)
        self._workers, self._control = pool_for(concurrency, paced_rate(self.limiter))
        self._engine = attrs.evolve(
            engine,
            limiter=JobLimiter(self._circuit, self.limiter, engine.limiter, self._control),
            retry=attrs.evolve(engine.retry, deadline=None),
            observer=self._watch,
        )
        self._watch.engine = self._engine
        # Two rows per worker: a worker never waits for the reader. With a journal the queue is
        # not recorded (the send window covers rows as workers take them), so a crash reports
        # none of it unknown.
        self._queue_size = max(16, 2 * self._workers * batch_size)
        self._results: asyncio.Queue[Any] = asyncio.Queue(max(64, self._queue_size))
        self._outlet: Outlet | None = None
        self._started = self._entered = self._finished = self._closed = False

    @property
    def in_flight_limit(self) -> int:
        """How many requests may be in flight now: ``concurrency`` when fixed, else the limit.

        Returns:
            The number of requests that may be in flight at once (workers, when fixed).
        """
        return self._workers if self._control is None else self._control.limit

    def __repr__(self) -> str:
        return (
            f"BulkJob(concurrency={self.concurrency}, batch_size={self.batch_size}, "
            f"limiter={self.limiter!r}, stats={self.stats!r})"
        )

    async def __aenter__(self) -> Self:
        self._entered = True
        try:
            await self._start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncIterator[RowResult]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[RowResult]:
        results = self._results
        try:
            while True:
                if self._started and not self._finished and not results.empty():
                    # A result is ready: take it without __anext__'s coroutine.
                    item = results.get_nowait()
                    if item is _END:
                        await self._end()
                        return
                    yield item
                    continue
                try:
                    result = await self.__anext__()
                except StopAsyncIteration:
                    return
                yield result
        finally:
            # Outside ``async with`` nobody else will stop the workers after a ``break``.
            if not self._entered:
                await self.aclose()

    async def __anext__(self) -> RowResult:
        """The next result, in completion order.

        Returns:
            A row's result.

        Raises:
            StopAsyncIteration: Every row has a result.
            AuthenticationError: ``max_auth_failures`` rows in a row were refused with 401
                (PermissionDeniedError for 403, TLSError for a certificate failure).
            JournalMismatchError: The journal belongs to another input.
            ChargeOverError: The job was closed (or its client was) before every row had a
                result; the results already produced are handed out first.
        """
        if not self._started:
            try:
                await self._start()
            except BaseException:
                await self.aclose()
                raise
        if self._finished:
            raise StopAsyncIteration
        if self._closed and self._results.empty():
            # Closed before its end (by another task, or after a ``break``): nothing more will
            # come, so waiting would hang.
            item: object = _END
        else:
            item = await self._results.get()
        if item is _END:
            await self._end()
            raise StopAsyncIteration
        assert isinstance(item, RowResult)
        return item

    async def _end(self) -> None:
        """The end of the results: close the job and raise its error if it stopped on one."""
        self._finished = True
        await self.aclose()
        if self._crew.error is not None:
            raise self._crew.error

    async def aclose(self) -> None:
        """Stop every worker (rows being sent stay in flight) and close the journal. Idempotent."""
        if self._closed:
            return
        self._closed = self._watch.closed = True
        await self._crew.cancel()
        if self._outlet is not None and self._outlet.journal is not None:
            untaken = None if self._intake is None else self._intake.untaken()
            await self._outlet.journal.aclose(unsent_from=untaken)
        if not self._finished:
            logger.info("bulk job closed before its end: %s", self.stats.line())
            if self._crew.error is None:
                self._crew.error = ChargeOverError("the bulk job was closed before its end")
            # Wake a consumer blocked on the next result (another task closed the job). A full
            # queue means nobody is blocked: __anext__ ends once the queue is drained.
            with contextlib.suppress(asyncio.QueueFull):
                self._results.put_nowait(_END)

    async def _start(self) -> None:
        if self._started:
            return
        self._started = True
        if self._closed:
            raise ChargeOverError("the bulk job is closed")
        if self._engine.closed:
            raise ChargeOverError("the client is closed")
        journal = None
        if self._journal_path is not None:
            from customer_sdk._journal import Journal  # sqlite3 only for journaled jobs

            journal = await Journal.open(self._journal_path, self._job_id)
            logger.info("bulk job journal opened (%d rows recorded)", journal.max_index + 1)
        policy = StopPolicy(self.max_auth_failures, lambda: self._engine.closed, self._crew.stop)
        secrets = self._engine.transport.secrets
        outlet = self._outlet = Outlet(self._results, self.stats, journal, policy, secrets)
        intake = self._intake = Intake(
            self._rows, outlet, self._workers, self._queue_size, self.reject_duplicate_keys
        )
        limiter = self._engine.limiter
        assert isinstance(limiter, JobLimiter)
        workers = Workers(self._engine, intake, outlet, self._circuit, self.batch_size, limiter)
        workers.update_existing = self.update_existing
        logger.info(
            "bulk job started: concurrency %s, batch size %d, limiter %r",
            self._control or self._workers,
            self.batch_size,
            self.limiter,
        )
        self._crew.start(intake, workers.work, self._workers)

    async def _put_end(self) -> None:
        """The end marker after the last result (the crew's supervisor puts it)."""
        await self._results.put(_END)
