"""A bulk job's workers: each takes rows off the queue and sends them until the input ends.

A row goes as one ``POST /api/v3/customer`` through the engine's create machine
(:mod:`customer_sdk._create`), so a bulk job never resends blindly either; with
``batch_size > 1`` rows go in ``POST /api/v3/_bulk`` calls of up to 25, and each row is then
settled by its own item's answer. On top of a single create, a row gets a few *rounds*: when
its budget is spent on transient failures it is given a fresh one (an outage held by the
circuit does not count), and a row that may already exist starts its next round with a lookup.

With a journal, a row is covered by the send window or marked in flight before it is sent
(:mod:`._marks`), and a worker takes a row only once it may send it (it acquires its request's
slot and rate first, :meth:`~._policy.JobLimiter.hold`); results are recorded before they are
handed out (:class:`~customer_sdk._bulk._outlet.Outlet`).

An upsert (``update_existing``): a keyed row whose create ends in "found by key" — the key was
taken, or an attempt's answer was lost — gets its fields PUT to the customer found, and is
``updated``. Found means PUT, whether or not our own lost POST may have made the customer: a
found customer cannot be told from one that existed before, and a PUT of the row's own fields
changes nothing more if it was ours. That rule also makes it resumable with no state of its
own: a row killed anywhere between its POST and the journaled ``updated`` is ``in_flight``, so
the next run looks its key up, finds it, and PUTs again (idempotent) — never a duplicate, never
a lost update.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

import orjson

from customer_sdk import _protocol as proto
from customer_sdk import _write as write
from customer_sdk import errors
from customer_sdk._bulk import _marks as marks
from customer_sdk._bulk._circuit import Circuit
from customer_sdk._bulk._intake import Intake
from customer_sdk._bulk._outlet import Outlet
from customer_sdk._bulk._policy import JobLimiter
from customer_sdk._bulk._results import Row, RowOutcome, RowResult, judge
from customer_sdk._protocol import Outcome
from customer_sdk.errors import BadRequestError, ChargeOverError

if TYPE_CHECKING:
    from customer_sdk._engine import Engine

__all__ = ["Workers"]

logger: Final = logging.getLogger("customer_sdk")

# After a row's own retry budget is spent on transient failures (not an outage: those are held
# by the circuit), it is given this many fresh budgets before it is reported FAILED.
ROW_ROUNDS: Final = 2


class Workers:
    """What every worker task runs.

    Args:
        engine: The job's engine (its limiter, budget without deadline, observer).
        intake: The queue of rows to send.
        outlet: Where results go.
        circuit: The outage circuit (a round that saw it open is not counted).
        batch_size: Rows per request; above 1, ``_bulk`` calls.
        limiter: The job's limiter (acquired ahead of taking a row when journaled).
    """

    def __init__(
        self,
        engine: Engine,
        intake: Intake,
        outlet: Outlet,
        circuit: Circuit,
        batch_size: int,
        limiter: JobLimiter | None = None,
    ) -> None:
        self._engine = engine
        # Journaled: each worker acquires for its next request before it takes a row, so the
        # rows it holds while waiting for a slot or the rate are none (docs/faults.md F25).
        self._ahead = limiter if outlet.journal is not None else None
        self._intake = intake
        self._outlet = outlet
        self._circuit = circuit
        self._batch_size = batch_size
        #: Upsert: PUT the fields of a row whose ``external_key`` a customer already has.
        self.update_existing = False

    async def work(self) -> None:
        """One worker: send rows until the end-of-input marker."""
        intake = self._intake
        await intake.verified.wait()
        queue, room, low = intake.queue, intake.room, intake.low
        outlet = self._outlet
        size = self._batch_size
        ahead = self._ahead
        while True:
            if ahead is not None:
                try:
                    await ahead.acquire()
                except ChargeOverError:
                    pass  # the row's own request meets it again, and settles the row
                else:
                    ahead.hold()
            # What queue.get() does when a row is waiting, without its coroutine.
            row = await queue.get() if queue.empty() else queue.get_nowait()
            if not room.is_set() and queue.qsize() <= low:
                room.set()
            if row is None:
                if ahead is not None:
                    ahead.release_ahead()
                await outlet.drain()  # results held for their journal commit
                return
            if size == 1 or row.prior is not None:
                result = await self._send_one(row, journaled=False)
                if not outlet.finish_now(row, result):
                    await outlet.finish([(row, result)])
                continue
            batch = [row]
            alone: list[Row] = []  # rows to reconcile first: never inside a _bulk call
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
                await outlet.finish([(other, await self._send_one(other, journaled=False))])

    async def _send_one(self, row: Row, *, journaled: bool) -> RowResult:
        """Create one row to a final result, reconciling first when ``row.prior`` is set."""
        journal = self._outlet.journal
        if not journaled and journal is not None:
            try:
                if not row.new:
                    await marks.before_send(journal, [row])
                elif (window := marks.window_to_wait_for(journal, row)) is not None:
                    await window
            except asyncio.CancelledError:
                if row.prior is None:
                    marks.unsent(journal, row)
                raise
        engine = self._engine
        circuit = self._circuit
        rounds = 0
        body = orjson.dumps(row.wire)  # once: every round sends the same bytes
        maybe_sent = row.prior is not None  # an earlier run may have sent it
        while True:
            opened = circuit.opened
            run = engine.retrier.start()
            try:
                if row.prior is None:
                    created = await engine.create(body, row.key, run)
                else:
                    created = await engine.resume_create(body, row.key, row.prior, run)
            except asyncio.CancelledError:
                if not maybe_sent and run.requests == 0 and journal is not None:
                    marks.unsent(journal, row)
                raise
            except ChargeOverError as exc:
                maybe_sent = maybe_sent or run.requests > 0
                outcome, retry, prior = judge(row, exc)
                if retry and circuit.opened == opened:
                    rounds += 1
                if not retry or rounds > ROW_ROUNDS or circuit.failure is not None:
                    # The circuit gave up (an outage past max_outage): no more rounds.
                    return RowResult(row.index, row.key, outcome, None, exc)
                row.prior = prior or row.prior
                continue
            if not created.created and self.update_existing and row.key is not None:
                return await self._update_row(row, created.customer_id, body)
            return RowResult(
                row.index,
                row.key,
                RowOutcome.CREATED if created.created else RowOutcome.EXISTED,
                created.customer_id,
                None,
                recovered=created.recovered,
            )

    async def _update_row(self, row: Row, customer_id: int, body: bytes) -> RowResult:
        """PUT a found row's fields to its customer (the upsert); the PUT's own retries."""
        try:
            await write.update(self._engine, customer_id, body)
        except ChargeOverError as exc:
            # Rejected by the server: final. Anything else (a 404 of a customer deleted since
            # the lookup, a budget spent): FAILED, so a re-run looks it up and PUTs again.
            rejected = isinstance(exc, BadRequestError)
            outcome = RowOutcome.REJECTED if rejected else RowOutcome.FAILED
            return RowResult(row.index, row.key, outcome, customer_id, exc)
        return RowResult(row.index, row.key, RowOutcome.UPDATED, customer_id, None)

    async def _send_batch(self, batch: list[Row]) -> None:
        """Send rows through ``POST /api/v3/_bulk`` and settle each row by its own item."""
        outlet = self._outlet
        journal = outlet.journal
        run = self._engine.retrier.start()
        try:
            if journal is not None:
                await marks.before_send(journal, batch)
            items = await self._engine.bulk([r.wire for r in batch], run)
        except asyncio.CancelledError:
            if journal is not None and run.requests == 0:
                for r in batch:
                    if r.prior is None:
                        marks.unsent(journal, r)  # taken, never sent: the next run sends it
            raise
        except ChargeOverError as exc:
            kind = proto.classify(exc)
            # A limiter that gave no slot: nothing was sent (docs/faults.md F27).
            if kind is Outcome.FATAL or isinstance(exc, errors.LimiterUnavailableError):
                failed = RowOutcome.FAILED
                await outlet.finish(
                    [(r, RowResult(r.index, r.key, failed, None, exc)) for r in batch]
                )
                return
            prior: ChargeOverError | None = None
            if kind is Outcome.AMBIGUOUS:
                # Any item may have been stored: each row is reconciled by its key (found →
                # existed, not found → resent; no key → unknown).
                prior = exc
            elif kind is Outcome.CREATED_ID_UNKNOWN:
                prior = errors.ConnectionLostError(
                    f"the _bulk answer was unreadable ({type(exc).__name__})"
                )
            elif kind is Outcome.REJECTED:
                # The call was refused whole (a 4xx): ChargeOver documents no all-or-nothing
                # for _bulk (docs/chargeover-api.md, "Bulk"), so never resend blindly. A keyed
                # row is looked up first (found → existed, else sent on its own); a keyless
                # one cannot be checked and is UNKNOWN.
                prior = errors.ConnectionLostError(
                    f"the _bulk call was refused whole ({type(exc).__name__}); "
                    "its items may or may not have been stored"
                )
            # else NOT_SENT or THROTTLED past the budget: nothing was stored, and each row
            # goes on its own to get its own answer.
            logger.warning(
                "_bulk call of %d rows failed (%s); settling each row on its own",
                len(batch),
                type(exc).__name__,
            )
            for r in batch:
                r.prior = prior
                await outlet.finish([(r, await self._send_one(r, journaled=True))])
            return
        done: list[tuple[Row, RowResult]] = []
        rest: list[Row] = []
        for r, item in zip(batch, items, strict=True):
            if item.error is None:
                result = RowResult(r.index, r.key, RowOutcome.CREATED, item.customer_id, None)
                done.append((r, result))
            else:
                r.prior = item.error
                rest.append(r)
        if done:
            await outlet.finish(done)
        for r in rest:
            # The item's own failure, handled as a single create's would be (docs/faults.md):
            # a keyed 400 is looked up, a 5xx reconciled, a 429 resent, a 401 stops.
            await outlet.finish([(r, await self._send_one(r, journaled=True))])
