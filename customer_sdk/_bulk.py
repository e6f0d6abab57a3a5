"""Bulk creates: the streaming, bounded, resumable job behind ``customers.create_many``.

One reader task pulls rows from the caller's iterable (sync or async) one at a time, validates
each (a bad row becomes a REJECTED result, never a crash) and puts it on a bounded queue; a fixed
pool of workers takes rows off the queue, sends them (one ``POST /customer`` each, or ``_bulk``
batches of up to 25) and puts each row's :class:`RowResult` on a bounded results queue that the
caller iterates. Nothing ever holds the whole input or all results, so memory stays flat for
10^6 rows, and results stream in completion order.

Each row's create runs the single-create state machine of :mod:`customer_sdk._client`
(faults.md's failure classes), so a bulk job never resends blindly either. On top, the job adds:

- **a limiter** (:mod:`customer_sdk._ratelimit`): by default :class:`AdaptiveLimiter` (see
  :meth:`Customers.create_many` for why), and always the client's own limiter, so a 429's
  ``Retry-After`` pauses every worker and every other call of the client;
- **a circuit** for outages (faults.md F26): after a run of consecutive outage-like failures
  (5xx, connection refused/reset, timeouts) no worker sends anything; one probe (a harmless
  lookup) goes out at growing intervals, and the first answer that is not a 5xx releases every
  worker. Rows caught by the outage are reconciled by lookup, never lost or resent blindly;
- **the journal** (:mod:`customer_sdk._journal`): each row is durably in flight before it is
  sent, and done before its result is handed out; a re-run skips done rows and reconciles the
  rest.

This module builds no wire strings and parses no responses itself (see :mod:`._protocol`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import enum
import logging
import os
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterable,
    Mapping,
)
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

import attrs
import orjson

from customer_sdk import _protocol as proto
from customer_sdk import errors
from customer_sdk._client import ChargeOverClient, Customers, _CreateCall
from customer_sdk._models import CustomerCreate, wire_of
from customer_sdk._protocol import Outcome
from customer_sdk._ratelimit import AdaptiveLimiter, Limiter, TokenBucket, no_wait_check
from customer_sdk._retry import Retrier
from customer_sdk.errors import (
    ChargeOverError,
    ConfigurationError,
    JournalMismatchError,
    OutcomeUnknownError,
    ValidationError,
)

if TYPE_CHECKING:
    from customer_sdk._journal import Journal, JournalCursor, JournalEntry

__all__ = ["BulkJob", "BulkStats", "RowOutcome", "RowResult"]

logger: Final = logging.getLogger("customer_sdk")

# After a row's own retry budget is spent on transient failures (not an outage: those are held
# by the circuit), it is given this many fresh budgets before it is reported FAILED.
ROW_ROUNDS: Final = 2
# Consecutive outage-like failures (across all workers) that open the circuit. Five in a row
# happen by chance at a 5 % fault rate once in ~3 million requests; in an outage at once.
CIRCUIT_THRESHOLD: Final = 5
PROBE_FIRST: Final = 0.5  # seconds before the first probe; doubled after each failed one
PROBE_MAX: Final = 30.0  # the longest gap between probes
_PROBE_KEY: Final = "customer-sdk-health-probe"


class RowOutcome(enum.StrEnum):
    """What happened to one input row."""

    CREATED = "created"
    """This job created the customer."""
    EXISTED = "existed"
    """A customer with the row's ``external_key`` already existed (or an earlier, unconfirmed
    attempt made it); its id is given."""
    REJECTED = "rejected"
    """The row is invalid (locally or per the server); nothing was created."""
    UNKNOWN = "unknown"
    """The create may have happened and cannot be checked (no ``external_key``); not resent."""
    FAILED = "failed"
    """Nothing is known to have been created, and the row could not be sent (e.g. 401, or a
    failure that retries did not overcome). A re-run with the journal tries it again."""


@attrs.frozen
class RowResult:
    """The result of one input row.

    Attributes:
        index: The row's 0-based position in the input.
        key: The row's ``external_key``, if it had one.
        outcome: What happened.
        customer_id: The customer's id when created or found.
        error: Why the row was rejected, unknown or failed (None on success).
        resumed: True when taken from the journal of an earlier run (nothing sent this run).
    """

    index: int
    key: str | None
    outcome: RowOutcome
    customer_id: int | None
    error: ChargeOverError | None
    resumed: bool = False


@attrs.define
class BulkStats:
    """Live counters of a job, for progress displays. Updated as results are produced.

    Attributes:
        rows_read: Input rows read so far.
        created: Rows created.
        existed: Rows that already existed.
        rejected: Rows rejected.
        unknown: Rows whose outcome is unknown.
        failed: Rows that failed.
        resumed: Results taken from the journal (also counted under their outcome).
        http_requests: HTTP requests sent (creates, ``_bulk`` calls, lookups, probes).
        throttled: 429 answers received.
        circuit_opened: Times an outage stopped every worker.
    """

    rows_read: int = 0
    created: int = 0
    existed: int = 0
    rejected: int = 0
    unknown: int = 0
    failed: int = 0
    resumed: int = 0
    http_requests: int = 0
    throttled: int = 0
    circuit_opened: int = 0

    @property
    def done(self) -> int:
        """Rows with a result."""
        return self.created + self.existed + self.rejected + self.unknown + self.failed


class _Row:
    """One valid row on its way through the workers."""

    __slots__ = ("hash", "index", "key", "prior", "wire")

    def __init__(self, index: int, key: str | None, wire: dict[str, Any], content_hash: str):
        self.index = index
        self.key = key
        self.wire = wire
        self.hash = content_hash
        # A failure to carry on from: set when an earlier attempt (this run or a previous one)
        # may have created the customer, so the next attempt starts with a lookup.
        self.prior: ChargeOverError | None = None


def _created_error() -> ChargeOverError:
    # CREATED_ID_UNKNOWN by class: the state machine looks the key up and never sends again.
    return errors.MalformedResponseError(
        "an earlier attempt was answered 2xx but its id was never confirmed", status=201
    )


def _resumed_error() -> ChargeOverError:
    # AMBIGUOUS by class: the state machine looks the key up before sending anything.
    return errors.ConnectionLostError("the row was in flight when an earlier attempt stopped")


class _Circuit:
    """Stops every worker during an outage; a probe task decides when it is over (F26)."""

    __slots__ = ("_failures", "_released", "closed", "opened", "probe_task", "threshold")

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.closed = True
        self.opened = 0  # times opened: a row whose attempt saw one does not lose a round
        self._failures = 0
        self._released = asyncio.Event()
        self._released.set()
        self.probe_task: asyncio.Task[None] | None = None

    def record(self, ok: bool) -> bool:
        """Count one answer; True when this failure just opened the circuit."""
        if ok:
            self._failures = 0
            if not self.closed:
                self.closed = True
                self._released.set()
                logger.warning("bulk job: the server answers again; resuming every worker")
            return False
        self._failures += 1
        if self.closed and self._failures >= self.threshold:
            self.closed = False
            self.opened += 1
            self._released.clear()
            return True
        return False

    async def wait(self) -> None:
        await self._released.wait()


class _Ready:
    """An awaitable that is already done: awaiting it costs no coroutine and no task switch."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())  # type: ignore[return-value]  # an empty iterator: done at once


_READY: Final = _Ready()


class _JobLimiter:
    """The job's limiter: circuit, then its own rate, then the client's limiter (shared pause).

    ``acquire`` is a plain method returning an awaitable: when the circuit is closed and no
    limiter has to wait (nearly every request), it returns an already-done awaitable instead of
    running up to three coroutines per request.
    """

    __slots__ = ("_own_now", "_shared_now", "circuit", "own", "shared")

    def __init__(self, circuit: _Circuit, own: Limiter | None, shared: Limiter) -> None:
        self.circuit = circuit
        self.own = own
        self.shared = shared
        self._own_now = no_wait_check(own)
        self._shared_now = no_wait_check(shared)

    def acquire(self) -> Awaitable[None]:
        circuit = self.circuit
        if not circuit.closed and asyncio.current_task() is not circuit.probe_task:
            return self._acquire()
        # Same order as _acquire: the own limiter's slot first, then the shared pause.
        if self.own is not None and not self._own_now():
            return self._acquire_rest()
        if not self._shared_now():
            return self.shared.acquire()
        return _READY

    async def _acquire(self) -> None:
        await self.circuit.wait()
        await self._acquire_rest()

    async def _acquire_rest(self) -> None:
        if self.own is not None:
            await self.own.acquire()
        await self.shared.acquire()

    def on_throttled(self, retry_after: float | None) -> None:
        if self.own is not None:
            self.own.on_throttled(retry_after)
        self.shared.on_throttled(retry_after)

    def on_success(self) -> None:
        if self.own is not None:
            self.own.on_success()
        self.shared.on_success()


def _job_client(client: ChargeOverClient, limiter: _JobLimiter, job: BulkJob) -> ChargeOverClient:
    """A shallow copy of the client for one job, sharing its pool, auth and headers.

    The copy has the job's limiter and retry budget, and tells the job of every request it
    sends (stats, and outage signs for the circuit), while the client itself stays as it was.
    """
    view = copy.copy(client)
    vars(view).update(
        _limiter=limiter,
        # "Always await": the job limiter's acquire() has the no-wait fast path itself (an
        # already-done awaitable), with the circuit checked first.
        _limiter_now=no_wait_check(limiter),
        _retrier=job._retrier,
        _observer=job,
    )
    vars(view)["customers"] = Customers(view)
    return view


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


_END: Final = object()
# Transport failures that, repeated, mean an outage (a 5xx does too); a TLS failure does not.
_OUTAGE_ERRORS: Final = (errors.ConnectError, errors.TimeoutError, errors.ConnectionLostError)
_FATAL_TYPES: Final = (errors.AuthenticationError, errors.PermissionDeniedError, errors.TLSError)


class BulkJob:
    """A running ``create_many`` job: iterate it for results, use it as a context manager.

    Build it with :meth:`Customers.create_many`. Iterating starts it (so does ``async with``);
    results come in completion order. Leaving ``async with`` (or breaking out of an
    ``async for`` outside one) stops the workers cleanly: rows being sent stay ``in_flight`` in
    the journal and are reconciled by the next run.

    Results must be consumed: the job holds at most a small queue of them and its workers wait
    while it is full (that is what keeps memory flat). A sync iterable is read on the event
    loop; for a source that blocks (a socket, a slow pipe) pass an async iterable.

    Attributes:
        stats: Live counters (:class:`BulkStats`).
        limiter: The rate limiter the job applies on top of the client's own, or None.
    """

    def __init__(
        self,
        customers: Customers,
        rows: Iterable[CustomerCreate | Mapping[str, Any]]
        | AsyncIterable[CustomerCreate | Mapping[str, Any]],
        *,
        concurrency: int,
        batch_size: int,
        journal: str | os.PathLike[str] | None,
        job_id: str | None,
        rate: float | None,
        burst: int | None,
        adaptive: bool,
        max_auth_failures: int,
    ) -> None:
        problems = []
        if type(concurrency) is not int or concurrency < 1:
            problems.append(f"concurrency must be an int >= 1, got {concurrency!r}")
        if type(batch_size) is not int or not 1 <= batch_size <= proto.MAX_BULK:
            problems.append(f"batch_size must be an int from 1 to {proto.MAX_BULK}")
        if type(max_auth_failures) is not int or max_auth_failures < 1:
            problems.append("max_auth_failures must be an int >= 1")
        if burst is not None and rate is None:
            problems.append("burst needs a rate")
        given: object = rows  # checked at run time too: callers may not be type-checked
        if not isinstance(given, Iterable | AsyncIterable):
            problems.append(f"rows must be an iterable or async iterable, not {type(rows)}")
        if problems:
            raise ConfigurationError("; ".join(problems))
        client = customers._client
        self._client = client
        self._rows = rows
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.max_auth_failures = max_auth_failures
        self._journal_path = journal
        self._job_id = job_id
        self.stats = BulkStats()
        try:
            self.limiter: Limiter | None = _default_limiter(client, rate, burst, adaptive)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        self._circuit = _Circuit(CIRCUIT_THRESHOLD)
        # No per-row deadline: a row held by the circuit or a pause is waiting, not failing.
        retrier = Retrier(attrs.evolve(client.retry, deadline=None))
        self._retrier = retrier
        # The client only ever awaits acquire(), which an already-done awaitable satisfies.
        job_limiter = _JobLimiter(self._circuit, self.limiter, client.limiter)
        self._view = _job_client(client, job_limiter, self)
        size = max(16, 2 * concurrency * batch_size)
        self._queue: asyncio.Queue[_Row | None] = asyncio.Queue(size)
        # Set by a worker once the input queue is half empty: the reader, held by a full
        # queue, is woken once per half queue of rows instead of once per row taken.
        self._room = asyncio.Event()
        self._low = size // 2
        self._results: asyncio.Queue[Any] = asyncio.Queue(max(64, size))
        self._verified = asyncio.Event()
        self._journal: Journal | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._supervisor: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._auth_failures = 0
        self._started = False
        self._entered = False
        self._finished = False
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"BulkJob(concurrency={self.concurrency}, batch_size={self.batch_size}, "
            f"limiter={self.limiter!r}, stats={self.stats!r})"
        )

    # --- lifecycle -------------------------------------------------------------------------

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
        if self._error is not None:
            raise self._error

    async def aclose(self) -> None:
        """Stop every worker (rows being sent stay in flight) and close the journal. Idempotent."""
        if self._closed:
            return
        self._closed = True
        tasks = [t for t in (self._supervisor, *self._tasks, self._circuit.probe_task) if t]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._journal is not None:
            await self._journal.aclose()
        if not self._finished:
            logger.info("bulk job closed before its end: %s", _stats_line(self.stats))
            if self._error is None:
                self._error = ChargeOverError("the bulk job was closed before its end")
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
        if self._client.closed:
            raise ChargeOverError("the client is closed")
        if self._journal_path is not None:
            from customer_sdk._journal import Journal  # sqlite3 only for journaled jobs

            self._journal = await Journal.open(self._journal_path, self._job_id)
            logger.info("bulk job journal opened (%d rows recorded)", self._journal.max_index + 1)
        else:
            self._verified.set()
        logger.info(
            "bulk job started: concurrency %d, batch size %d, limiter %r",
            self.concurrency,
            self.batch_size,
            self.limiter,
        )
        loop = asyncio.get_running_loop()
        reader = loop.create_task(self._guard(self._read), name="customer-sdk-bulk-reader")
        workers = [
            loop.create_task(self._guard(self._work), name=f"customer-sdk-bulk-{n}")
            for n in range(self.concurrency)
        ]
        self._tasks = [reader, *workers]
        self._supervisor = loop.create_task(
            self._supervise(reader, workers), name="customer-sdk-bulk-supervisor"
        )

    async def _supervise(
        self, reader: asyncio.Task[None], workers: list[asyncio.Task[None]]
    ) -> None:
        outcomes = await asyncio.gather(reader, *workers, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, asyncio.CancelledError
            ):
                self._error = self._error or outcome
        probe = self._circuit.probe_task
        if probe is not None:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)
        if self._error is not None:
            logger.error(
                "bulk job stopped: %s; %s", type(self._error).__name__, _stats_line(self.stats)
            )
        else:
            logger.info("bulk job finished: %s", _stats_line(self.stats))
        await self._results.put(_END)

    def _stop(self, error: BaseException) -> None:
        """Stop the job with ``error`` (raised by the iterator after the results so far).

        Every reader and worker task is cancelled, the calling one included: rows being sent
        stay in flight in the journal.
        """
        if self._error is None:
            self._error = error
        for task in self._tasks:
            task.cancel()

    async def _guard(self, step: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run a reader or worker; any failure of its own stops the whole job."""
        # The coroutine is made here, not by the caller: a task cancelled before it ever
        # ran would otherwise leave a never-awaited coroutine behind.
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._stop(exc)
            raise

    # --- reading ---------------------------------------------------------------------------

    async def _read(self) -> None:
        journal = self._journal
        cursor: JournalCursor | None = None
        if journal is not None:
            from customer_sdk._journal import JournalCursor

            cursor = JournalCursor(journal)
        rows = self._rows
        index = -1
        if isinstance(rows, AsyncIterable):
            async for raw in rows:
                index += 1
                await self._take(index, raw, cursor)
        else:
            stats = self.stats
            queue = self._queue
            # A plain loop, not an async generator: a hop per row cost as much as the rest.
            for raw in rows:
                index += 1
                if cursor is None:
                    stats.rows_read = index + 1
                    row, rejected = _prepare(index, raw)
                    if rejected is not None:
                        await self._emit(rejected)
                    elif queue.full():
                        assert row is not None
                        await self._enqueue(row)
                    else:
                        # What queue.put() does when there is room, without its coroutine.
                        queue.put_nowait(row)
                else:
                    await self._take(index, raw, cursor)
                if index % 256 == 255:
                    # A sync iterable never yields to the loop by itself: let workers run.
                    await asyncio.sleep(0)
        self._verified.set()
        for _ in range(self.concurrency):
            await self._queue.put(None)

    async def _take(self, index: int, raw: object, cursor: JournalCursor | None) -> None:
        """Validate one input row, check it against the journal, and queue or settle it."""
        self.stats.rows_read = index + 1
        row, rejected = _prepare(index, raw)
        if cursor is None:
            if rejected is not None:
                await self._emit(rejected)
            else:
                assert row is not None
                await self._enqueue(row)
            return
        from customer_sdk._journal import row_hash

        journal = self._journal
        assert journal is not None
        content_hash = row_hash(row.wire if row is not None else raw)
        entry = await cursor.get(index)
        if entry is not None and entry.hash != content_hash:
            raise JournalMismatchError(
                f"row {index} differs from the row the journal {journal.path!r} recorded; "
                "this journal belongs to another input (use a new journal path)"
            )
        if index >= journal.max_index:
            self._verified.set()  # every recorded row checked: workers may send
        key = row.key if row is not None else (rejected.key if rejected else None)
        if entry is not None and entry.state == "done":
            await self._emit(_from_journal(index, key, entry))
            return
        if rejected is not None:
            # Never sent, so no need to wait for the commit: a rerun would reject it again.
            text = None if rejected.error is None else _error_text(rejected.error)
            journal.record_outcomes_nowait(
                [(index, content_hash, True, rejected.outcome.value, None, text)]
            )
            await self._emit(rejected)
            return
        assert row is not None
        row.hash = content_hash
        if entry is not None and entry.state in ("in_flight", "failed"):
            if row.key is not None:
                row.prior = _resumed_error()
            elif entry.state == "in_flight":
                # Sent once and never confirmed, with no key to check: never resent.
                unknown = OutcomeUnknownError(
                    "the row was in flight when a previous run stopped and has no "
                    "external_key to check; not resent to avoid a duplicate",
                    external_key=None,
                    last_error="previous run stopped",
                )
                result = RowResult(index, None, RowOutcome.UNKNOWN, None, unknown)
                await self._finish([(row, result)])
                return
        else:
            journal.record_pending(index, content_hash)
        await self._enqueue(row)

    async def _enqueue(self, row: _Row) -> None:
        queue = self._queue
        if queue.full() and not self._verified.is_set():
            # Holding every send until the journal is verified would need an unbounded
            # buffer; past one queue of rows, the rows already checked may go.
            self._verified.set()
        while queue.full():
            self._room.clear()
            await self._room.wait()
        queue.put_nowait(row)

    def _count(self, result: RowResult) -> None:
        stats = self.stats
        name = result.outcome.value  # each outcome's value names its BulkStats counter
        setattr(stats, name, getattr(stats, name) + 1)
        if result.resumed:
            stats.resumed += 1

    async def _emit(self, result: RowResult) -> None:
        self._count(result)
        await self._results.put(result)

    # --- working ---------------------------------------------------------------------------

    async def _work(self) -> None:
        await self._verified.wait()
        queue = self._queue
        size = self.batch_size
        results = self._results
        room = self._room
        low = self._low
        while True:
            # What queue.get() does when a row is waiting, without its coroutine.
            row = await queue.get() if queue.empty() else queue.get_nowait()
            if not room.is_set() and queue.qsize() <= low:
                room.set()
            if row is None:
                return
            if size == 1 or row.prior is not None:
                result = await self._send_one(row, journaled=False)
                if self._journal is None and not results.full():
                    # _finish's path with nothing to record and room for the result, inline.
                    self._count(result)
                    results.put_nowait(result)
                    self._check(result)
                else:
                    await self._finish([(row, result)])
                continue
            batch = [row]
            alone: list[_Row] = []  # rows to reconcile first: never inside a _bulk call
            while len(batch) < size:
                try:
                    more = queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if not room.is_set() and queue.qsize() <= low:
                    room.set()
                if more is None:
                    queue.put_nowait(None)  # this worker's (or another's) stop: keep it
                    break
                (batch if more.prior is None else alone).append(more)
            await self._send_batch(batch)
            for other in alone:
                await self._finish([(other, await self._send_one(other, journaled=False))])

    async def _mark_in_flight(self, rows: list[_Row]) -> None:
        if self._journal is not None:
            await self._journal.record_in_flight([(r.index, r.hash) for r in rows])

    async def _send_one(self, row: _Row, *, journaled: bool) -> RowResult:
        """Create one row to a final result, reconciling first when ``row.prior`` is set."""
        if not journaled and self._journal is not None:
            await self._mark_in_flight([row])
        view = self._view
        circuit = self._circuit
        rounds = 0
        while True:
            opened = circuit.opened
            run = self._retrier.start()
            try:
                if row.prior is None:
                    created = await view.customers._create_wire(row.wire, run)
                else:
                    request = proto.create_request(view.base_url, orjson.dumps(row.wire))
                    call = _CreateCall(view.customers, row.key, request, run)
                    created = await call.run(row.prior)
            except ChargeOverError as exc:
                outcome, retry, prior = _judge(row, exc)
                if retry and circuit.opened == opened:
                    rounds += 1
                if not retry or rounds > ROW_ROUNDS:
                    return RowResult(row.index, row.key, outcome, None, exc)
                row.prior = prior or row.prior
                continue
            return RowResult(
                row.index,
                row.key,
                RowOutcome.CREATED if created.created else RowOutcome.EXISTED,
                created.customer_id,
                None,
            )

    async def _send_batch(self, batch: list[_Row]) -> None:
        """Send rows through ``POST /api/v3/_bulk`` and settle each row by its own item."""
        await self._mark_in_flight(batch)
        view = self._view
        request = proto.bulk_request(view.base_url, [r.wire for r in batch])
        run = self._retrier.start()
        while True:
            try:
                items = proto.parse_bulk(await view._send(request, run), len(batch))
                break
            except ChargeOverError as exc:
                kind = proto.classify(exc)
                if kind is Outcome.NOT_SENT or kind is Outcome.THROTTLED:
                    # Nothing was stored: the same batch may go again.
                    if not view._too_long(exc) and await view._wait_or_stop(
                        run, exc, "bulk", "resend"
                    ):
                        continue
                    prior = None
                elif kind is Outcome.FATAL:
                    await self._finish(
                        [
                            (r, RowResult(r.index, r.key, RowOutcome.FAILED, None, exc))
                            for r in batch
                        ]
                    )
                    return
                elif kind is Outcome.REJECTED:
                    # The whole call was refused (nothing stored): each row goes on its own,
                    # so each gets its own answer.
                    prior = None
                else:
                    # Ambiguous: any item may have been stored. Each row is reconciled by its
                    # key (found → existed, not found → resent; no key → unknown).
                    prior = (
                        exc
                        if kind is Outcome.AMBIGUOUS
                        else errors.ConnectionLostError(
                            f"the _bulk answer was unreadable ({type(exc).__name__})"
                        )
                    )
                logger.warning(
                    "_bulk call of %d rows failed (%s); settling each row on its own",
                    len(batch),
                    type(exc).__name__,
                )
                for r in batch:
                    r.prior = prior
                    await self._finish([(r, await self._send_one(r, journaled=True))])
                return
        done: list[tuple[_Row, RowResult]] = []
        rest: list[_Row] = []
        for r, item in zip(batch, items, strict=True):
            if item.error is None:
                result = RowResult(r.index, r.key, RowOutcome.CREATED, item.customer_id, None)
                done.append((r, result))
            else:
                r.prior = item.error
                rest.append(r)
        if done:
            await self._finish(done)
        for r in rest:
            # The item's own failure, handled as a single create's would be (faults.md):
            # a keyed 400 is looked up, a 5xx reconciled, a 429 resent, a 401 stops.
            await self._finish([(r, await self._send_one(r, journaled=True))])

    async def _finish(self, pairs: list[tuple[_Row, RowResult]]) -> None:
        """Record results durably, then count and hand them out; stop on repeated auth errors."""
        if self._journal is not None:
            await self._journal.record_outcomes(
                [
                    (
                        row.index,
                        row.hash,
                        _final(result),
                        result.outcome.value,
                        result.customer_id,
                        None if result.error is None else _error_text(result.error),
                    )
                    for row, result in pairs
                ]
            )
        for _, result in pairs:
            await self._emit(result)
            if self._check(result):
                return

    def _check(self, result: RowResult) -> bool:
        """Stop the job on a closed client or repeated auth errors; True when stopped."""
        error = result.error
        if error is not None and self._client.closed:
            # Every further row would fail the same way.
            self._stop(ChargeOverError("the client was closed while the bulk job ran"))
            return True
        if isinstance(error, _FATAL_TYPES):
            self._auth_failures += 1
            if self._auth_failures >= self.max_auth_failures:
                logger.error(
                    "bulk job stopping: %d rows in a row refused (%s)",
                    self._auth_failures,
                    type(error).__name__,
                )
                self._stop(error)
                return True
        else:
            self._auth_failures = 0
        return False

    # --- the circuit -------------------------------------------------------------------------

    def on_send(self) -> None:
        """Count a request of the job's view of the client (see ``_client._SendObserver``)."""
        self.stats.http_requests += 1

    def on_answer(self, result: int | ChargeOverError) -> None:
        """Count a 429, and tell the circuit whether this looked like an outage."""
        if type(result) is int:
            if result == 429:
                self.stats.throttled += 1
            self._observe(result < 500)
        elif isinstance(result, _OUTAGE_ERRORS):
            self._observe(False)

    def _observe(self, ok: bool) -> None:
        circuit = self._circuit
        if circuit.record(ok):
            self.stats.circuit_opened += 1
            logger.warning(
                "bulk job: %d outage-like failures in a row; holding every worker and probing",
                circuit.threshold,
            )
            # Not once closed: aclose() has already cancelled every task it knows of.
            if not self._closed and (circuit.probe_task is None or circuit.probe_task.done()):
                circuit.probe_task = asyncio.get_running_loop().create_task(
                    self._probe(), name="customer-sdk-bulk-probe"
                )

    async def _probe(self) -> None:
        """While the circuit is open, send one harmless lookup at doubling intervals."""
        circuit = self._circuit
        view = self._view
        probe = Retrier(attrs.evolve(self._retrier.policy, attempts=1))
        request = proto.find_by_key_request(view.base_url, _PROBE_KEY)
        delay = PROBE_FIRST
        while True:
            await self._retrier.sleep(delay)
            if circuit.closed:
                return
            # Any answer below 500 closes the circuit (via the observing transport).
            with contextlib.suppress(ChargeOverError):
                await view._send(request, probe.start())
            delay = min(delay * 2, PROBE_MAX)


def _default_limiter(
    client: ChargeOverClient, rate: float | None, burst: int | None, adaptive: bool
) -> Limiter | None:
    """The job's own limiter (the client's limiter always applies as well)."""
    # Waits go through the retry policy's sleep, as the client's default PauseGate's do, so a
    # policy with an injected or disabled sleep (tests) covers the job's pauses too.
    sleep = client._retrier.sleep
    if rate is not None:
        if adaptive:
            return AdaptiveLimiter(initial_rate=rate, sleep=sleep)
        return TokenBucket(rate, 1 if burst is None else burst, sleep=sleep)
    if adaptive or not client._limiter_given:
        # No rate given and the client has no limiter of its own: find the limit.
        return AdaptiveLimiter(sleep=sleep)
    return None  # the caller's limiter (e.g. a shared RedisLimiter) governs alone


def _prepare(index: int, raw: object) -> tuple[_Row | None, RowResult | None]:
    """Validate one input row: a row to send, or its REJECTED result."""
    try:
        wire = wire_of(raw)
    except ValidationError as exc:
        key = raw.get("external_key") if isinstance(raw, Mapping) else None
        key = key if isinstance(key, str) and key else None
        return None, RowResult(index, key, RowOutcome.REJECTED, None, exc)
    return _Row(index, wire.get("external_key"), wire, ""), None


def _judge(row: _Row, exc: ChargeOverError) -> tuple[RowOutcome, bool, ChargeOverError | None]:
    """A row's failed attempt: its outcome if final, whether to try again, and from where."""
    if isinstance(exc, errors.BadRequestError | ValidationError):
        return RowOutcome.REJECTED, False, None
    if isinstance(exc, (*_FATAL_TYPES, errors.RedirectError, errors.NotFoundError)):
        # Nothing stored, and nothing said against the row itself (a 404 is a wrong base path,
        # say): FAILED, so a re-run with the journal sends it again; REJECTED would be final.
        return RowOutcome.FAILED, False, None
    if isinstance(exc, errors.RateLimitError | errors.ConnectError):
        return RowOutcome.FAILED, True, None  # nothing was stored
    if isinstance(
        exc,
        OutcomeUnknownError
        | errors.TransportError
        | errors.ServerError
        | errors.MalformedResponseError,
    ):
        if row.key is None:
            return RowOutcome.UNKNOWN, False, None
        if isinstance(exc, OutcomeUnknownError) and exc.created:
            # A 2xx proved it was created (faults.md CREATED_ID_UNKNOWN): the next round only
            # looks it up, it never POSTs again.
            return RowOutcome.UNKNOWN, True, _created_error()
        # It may exist: the next round looks the key up before sending anything.
        return RowOutcome.UNKNOWN, True, _resumed_error()
    return RowOutcome.FAILED, False, None  # e.g. the client was closed


def _final(result: RowResult) -> bool:
    """Whether a result is final in the journal (a re-run skips it) or retried."""
    if result.outcome is RowOutcome.FAILED:
        return False
    # A keyed unknown can still be settled by a lookup on the next run.
    return not (result.outcome is RowOutcome.UNKNOWN and result.key is not None)


def _from_journal(index: int, key: str | None, entry: JournalEntry) -> RowResult:
    """A done row's result as the journal recorded it (its error kept as text only)."""
    error = ChargeOverError(entry.error) if entry.error else None
    outcome = RowOutcome(entry.outcome or "unknown")
    return RowResult(index, key, outcome, entry.customer_id, error, resumed=True)


def _stats_line(stats: BulkStats) -> str:
    return (
        f"{stats.rows_read} read, {stats.created} created, {stats.existed} existed, "
        f"{stats.rejected} rejected, {stats.unknown} unknown, {stats.failed} failed, "
        f"{stats.http_requests} requests, {stats.throttled} throttled"
    )
