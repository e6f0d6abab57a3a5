"""A bulk job's workers: each takes rows off the queue and sends them until the input ends.

A row goes as one ``POST /api/v3/customer`` through the engine's create machine
(:mod:`customer_sdk._create`), so a bulk job never resends blindly either; with
``batch_size > 1`` rows go in ``POST /api/v3/_bulk`` calls of up to 25, and each row is then
settled by its own item's answer. On top of a single create, a row gets a few *rounds*: when
its budget is spent on transient failures it is given a fresh one (an outage held by the
circuit does not count), and a row that may already exist starts its next round with a lookup.

With a journal, rows are marked in flight before they are sent; their results are recorded
before they are handed out (:class:`~customer_sdk._bulk._outlet.Outlet`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

import orjson

from customer_sdk import _protocol as proto
from customer_sdk import errors
from customer_sdk._bulk._circuit import Circuit
from customer_sdk._bulk._intake import Intake
from customer_sdk._bulk._outlet import Outlet
from customer_sdk._bulk._results import Row, RowOutcome, RowResult, judge
from customer_sdk._protocol import Outcome
from customer_sdk.errors import ChargeOverError

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
    """

    def __init__(
        self, engine: Engine, intake: Intake, outlet: Outlet, circuit: Circuit, batch_size: int
    ) -> None:
        self._engine = engine
        self._intake = intake
        self._outlet = outlet
        self._circuit = circuit
        self._batch_size = batch_size

    async def work(self) -> None:
        """One worker: send rows until the end-of-input marker."""
        intake = self._intake
        await intake.verified.wait()
        queue, room, low = intake.queue, intake.room, intake.low
        outlet = self._outlet
        size = self._batch_size
        while True:
            # What queue.get() does when a row is waiting, without its coroutine.
            row = await queue.get() if queue.empty() else queue.get_nowait()
            if not room.is_set() and queue.qsize() <= low:
                room.set()
            if row is None:
                return
            if size == 1 or row.prior is not None:
                result = await self._send_one(row, journaled=False)
                if not outlet.emit_now(result):
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

    async def _mark_in_flight(self, rows: list[Row]) -> None:
        journal = self._outlet.journal
        if journal is not None:
            await journal.record_in_flight([(r.index, r.hash) for r in rows])

    async def _send_one(self, row: Row, *, journaled: bool) -> RowResult:
        """Create one row to a final result, reconciling first when ``row.prior`` is set."""
        if not journaled and self._outlet.journal is not None:
            await self._mark_in_flight([row])
        engine = self._engine
        circuit = self._circuit
        rounds = 0
        body = orjson.dumps(row.wire)  # once: every round sends the same bytes
        while True:
            opened = circuit.opened
            run = engine.retrier.start()
            try:
                if row.prior is None:
                    created = await engine.create(body, row.key, run)
                else:
                    created = await engine.resume_create(body, row.key, row.prior, run)
            except ChargeOverError as exc:
                outcome, retry, prior = judge(row, exc)
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
                recovered=created.recovered,
            )

    async def _send_batch(self, batch: list[Row]) -> None:
        """Send rows through ``POST /api/v3/_bulk`` and settle each row by its own item."""
        await self._mark_in_flight(batch)
        outlet = self._outlet
        try:
            items = await self._engine.bulk([r.wire for r in batch], self._engine.retrier.start())
        except ChargeOverError as exc:
            kind = proto.classify(exc)
            if kind is Outcome.FATAL:
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
