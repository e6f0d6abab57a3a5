"""What a journaled bulk job writes about a row around its send.

``docs/architecture.md`` ("The journal") gives the argument.

- A row new to the journal is covered by the send window as a worker takes it
  (:func:`window_to_wait_for`); a keyless one leaves only once that window is durable.
- A row with a record of its own (sent before, by this run or an earlier one) is marked in
  flight on its own (:func:`before_send`): durably when keyless, lazily when keyed.
- A row stopped before any request of it left is recorded ``failed`` (:func:`unsent`).

The workers call in; nothing here sends a request.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from customer_sdk._bulk._results import Row, RowOutcome

if TYPE_CHECKING:
    from customer_sdk._journal import Journal

__all__ = ["before_send", "unsent", "window_to_wait_for"]


def window_to_wait_for(journal: Journal, row: Row) -> asyncio.Future[Any] | None:
    """Cover a row new to the journal by the send window; the commit to await before its send.

    A keyless row leaves only once a window covering it is durable; a keyed one does not wait:
    the server's unique key guards it.

    Args:
        journal: The job's journal.
        row: A row with no record in it, about to be sent.

    Returns:
        None, or a future to await (it raises the commit's error, ``sqlite3.Error``: the job
        then stops, its promise not being durable).
    """
    return journal.cover(row.index, row.key is not None)


async def before_send(journal: Journal, rows: list[Row]) -> None:
    """Before rows are sent: wait for their send window, or mark them in flight.

    Args:
        journal: The job's journal.
        rows: The rows about to be sent (one request's).

    Raises:
        sqlite3.Error: A commit failed: the job stops.
        RuntimeError: The journal is closed.
    """
    again: list[Row] = []
    for r in rows:
        if not r.new:
            again.append(r)
        elif (window := window_to_wait_for(journal, r)) is not None:
            await window
    if again:
        durable = journal.mark_in_flight([(r.index, r.hash, r.key is not None) for r in again])
        if durable is not None:
            await durable


def unsent(journal: Journal, row: Row) -> None:
    """A row stopped (the job was stopped or closed) before any request of it was sent.

    Without this it would stay in flight in the journal (inside the send window, or by its own
    mark), and a keyless row in flight is reported unknown by the next run although it never
    left (e.g. waiting for a shared limiter's slot when the job stopped on
    LimiterUnavailableError, docs/faults.md F27). Recorded as failed, so the next run sends
    it. No await: the task is being cancelled.

    Args:
        journal: The job's journal.
        row: The row.
    """
    error = "ChargeOverError: the job stopped before the row was sent"
    journal.record_outcomes_nowait(
        [(row.index, row.hash, False, RowOutcome.FAILED.value, None, error)]
    )
