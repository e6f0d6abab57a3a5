"""Resuming: each input row checked against what the journal recorded before this run.

A row already done is handed out from the journal; a row that was in flight (its own mark, or
no record inside an earlier run's send window) starts with a lookup when keyed, or is reported
UNKNOWN when keyless (it may exist and cannot be checked, so it is never resent); a row that
differs from the recorded one means the journal belongs to another input. A row new to the
journal goes on to the workers, to be covered by the send window as one takes it
(``docs/architecture.md``, "The journal").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from customer_sdk._bulk._outlet import Outlet
from customer_sdk._bulk._prepare import prepare
from customer_sdk._bulk._results import (
    Row,
    RowOutcome,
    RowResult,
    error_text,
    from_journal,
    resumed_error,
)
from customer_sdk.errors import JournalMismatchError, OutcomeUnknownError

if TYPE_CHECKING:
    from customer_sdk._journal import Journal, JournalEntry

__all__ = ["JournalCheck"]


class JournalCheck:
    """Checks input rows, in order, against the journal's records of an earlier run.

    Args:
        outlet: Where rows settled without sending go (its journal is the one checked).
        row_hash: :func:`~customer_sdk._journal.row_hash`.
        repeat: The REJECTED result of a row whose key an earlier row had, else None.
        verified: Set once every recorded row has been checked (workers may send).
    """

    __slots__ = ("_journal", "_outlet", "_repeat", "_row_hash", "_verified", "_window")

    def __init__(
        self,
        outlet: Outlet,
        row_hash: Callable[[object], str],
        repeat: Callable[[Row], RowResult | None] | None,
        verified: asyncio.Event,
    ) -> None:
        journal = outlet.journal
        assert journal is not None
        self._outlet = outlet
        self._journal: Journal = journal
        self._row_hash = row_hash
        self._repeat = repeat
        self._verified = verified
        # Rows from here on are new to the journal unless it has a record of them.
        self._window = journal.window

    def check(
        self, index: int, raw: object, entry: JournalEntry | None
    ) -> Row | Coroutine[Any, Any, None]:
        """Check one input row against the journal (no await: nearly every row only goes on).

        Args:
            index: The row's index.
            raw: The input row.
            entry: What the journal recorded for it before this run, or None.

        Returns:
            The row to queue, or what settles it without sending (a coroutine to await).

        Raises:
            JournalMismatchError: The journal recorded another row at this index.
        """
        outlet, journal = self._outlet, self._journal
        outlet.stats.rows_read = index + 1
        row, rejected = prepare(index, raw)
        content_hash = self._row_hash(row.wire if row is not None else raw)
        repeat = self._repeat
        if row is not None and row.key is not None and repeat is not None:
            # Hashed as the row it is (above), so a journal of any earlier run still matches.
            row, rejected = (None, first) if (first := repeat(row)) is not None else (row, None)
        if entry is None:
            if row is not None and index >= self._window:
                # New to the journal (nearly every row of a first run): the send window covers
                # it once a worker takes it (docs/architecture.md, "The journal").
                row.hash = content_hash
                row.new = True
                if index >= journal.max_index and not self._verified.is_set():
                    self._verified.set()  # every recorded row checked: workers may send
                return row
        elif entry.hash != content_hash:
            raise JournalMismatchError(
                f"row {index} differs from the row the journal {journal.path!r} recorded; "
                "this journal belongs to another input (use a new journal path)"
            )
        if index >= journal.max_index:
            self._verified.set()  # every recorded row checked: workers may send
        key = row.key if row is not None else (rejected.key if rejected else None)
        if entry is not None and entry.state == "done":
            return outlet.emit(from_journal(index, key, entry, outlet.secrets))
        if rejected is not None:
            # Never sent, so no need to wait for the commit: a rerun would reject it again.
            text = None if rejected.error is None else error_text(rejected.error, outlet.secrets)
            journal.record_outcomes_nowait(
                [(index, content_hash, True, rejected.outcome.value, None, text)]
            )
            return outlet.emit(rejected)
        assert row is not None
        row.hash = content_hash
        # No record, but inside the window of an earlier run: it may have been sent by it.
        sent_before = entry is None and index < journal.window
        if sent_before or (entry is not None and entry.state in ("in_flight", "failed")):
            if row.key is not None:
                row.prior = resumed_error()
            elif sent_before or (entry is not None and entry.state == "in_flight"):
                # Sent once and never confirmed, with no key to check: never resent.
                unknown = OutcomeUnknownError(
                    "the row was in flight when a previous run stopped and has no "
                    "external_key to check; not resent to avoid a duplicate",
                    external_key=None,
                    last_error="previous run stopped",
                )
                result = RowResult(index, None, RowOutcome.UNKNOWN, None, unknown)
                return outlet.finish([(row, result)])
        # Sent again: it gets a mark of its own before it leaves (row.new stays False).
        return row
