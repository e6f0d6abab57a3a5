"""The job-facing journal: open it for a job, record row states, read them back, close it.

:class:`Journal` is what the bulk job holds. It turns "row 7 is about to be sent" into the
rows of :mod:`._schema` and hands them to the :class:`~._writer.Writer` thread, awaiting the
commit, and paying for an fsync, only where the job's correctness depends on it
(``docs/architecture.md``, "The journal", gives the whole argument):

- :meth:`Journal.mark_in_flight`, before a row's request goes out. A *keyless* row's mark is
  durable (committed with an fsync) before the call's future resolves, and the worker awaits it:
  after any crash, a keyless row that may have been sent is ``in_flight`` and is never sent
  again (there is no key to check it by). The mark is written when the row is queued
  (:meth:`Journal.mark_queued`), so its fsync, shared with the rows queued with it, is usually
  done before a worker takes the row. A *keyed* row's mark is lazy: it rides with the next
  commit and nobody waits. The server's unique ``external_key`` protects a keyed row: if the
  mark is lost, the next run sends the row again, the server refuses the taken key, and the
  row is reconciled by lookup (``docs/faults.md`` F25) — never created twice.
- A row's outcome is committed, without an fsync, before its result is handed to the caller,
  so a killed run never handed out a result the journal does not hold. The bulk job writes it
  with :meth:`Journal.record_outcomes_nowait` (gathered for a few ms into one commit) and
  holds the result until :meth:`Journal.committed` resolves; the worker meanwhile sends its
  next row. :meth:`Journal.record_outcomes` is the awaited form.

Rows read but not yet sent are not recorded at all: a row with no entry is sent as new.

It stores no credentials and no customer data: only indexes, content hashes, outcomes, ids and
error texts (which the SDK's exceptions keep free of credentials). It sends no HTTP request,
decides nothing about retries, and does not stop two processes sharing one file (the command
line holds a lock beside it).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Iterable, Mapping, Sequence
from time import time
from typing import Any, Final

from customer_sdk._journal._records import JournalEntry, RowState
from customer_sdk._journal._schema import (
    count_states,
    outcome_row,
    outcome_rows,
    read_entries,
    setup,
    state_rows,
)
from customer_sdk._journal._writer import Kind, Writer

__all__ = ["Journal"]

_IN_FLIGHT: Final = RowState.IN_FLIGHT.value
_CHUNK: Final = 1024  # entries per read: what a resuming cursor holds in memory at most

Outcome = tuple[int, str, bool, str, int | None, str | None]
"""``(index, hash, final, outcome, customer_id, error)`` of one finished row."""


class Journal:
    """A job's durable row states in one SQLite file; open it with :meth:`open`.

    Args:
        path: The database file.
        job_id: The input's fingerprint (None when the caller gives none).

    Attributes:
        path: The database file.
        job_id: The input's fingerprint.
        max_index: The highest row index recorded before this run (-1 for none).
    """

    def __init__(self, path: str | os.PathLike[str], job_id: str | None) -> None:
        self.path = os.fspath(path)
        self.job_id = job_id
        self.max_index = -1
        self._writer = Writer(self.path, asyncio.get_running_loop())
        # Keyless rows on the send queue: their mark's write sequence and their hash.
        self._queued: dict[int, tuple[int, str]] = {}

    def __repr__(self) -> str:
        return f"Journal(path={self.path!r})"

    @property
    def commits(self) -> int:
        """Transactions committed so far (group commit makes them fewer than writes)."""
        return self._writer.commits

    @classmethod
    async def open(cls, path: str | os.PathLike[str], job_id: str | None) -> Journal:
        """Open (or create) a journal and check it belongs to this job.

        Args:
            path: The database file.
            job_id: The input's fingerprint; must equal the one the journal was made with.

        Returns:
            The open journal (its writer thread running).

        Raises:
            JournalMismatchError: The journal was made for another job_id.
            sqlite3.Error: The file is not a usable database.
        """
        journal = cls(path, job_id)
        journal._writer.start()
        try:
            check = functools.partial(setup, path=journal.path, job_id=job_id)
            journal.max_index = await journal._writer.submit("read", check, durable=True)
        except BaseException:
            await journal.aclose()
            raise
        return journal

    def _submit(self, kind: Kind, payload: Any) -> asyncio.Future[Any]:
        return self._writer.submit(kind, payload)

    @property
    def syncs(self) -> int:
        """Commits made durable with an fsync (``synchronous=FULL``) so far."""
        return self._writer.syncs

    def mark_queued(self, index: int, content_hash: str, keyed: bool) -> None:
        """A row goes onto the send queue: a keyless row's in-flight mark is written now.

        Its commit with an fsync starts at once, shared with every row queued meanwhile, so by
        the time a worker takes the row (:meth:`mark_in_flight`) it is usually durable and the
        worker does not wait. The price: after a crash, the keyless rows that were queued but
        not yet sent are ``in_flight`` too, so they are reported unknown, never resent. A keyed
        row records nothing here.

        Args:
            index: The row's index.
            content_hash: Its :func:`~customer_sdk._journal.row_hash`.
            keyed: Whether it has an ``external_key``.
        """
        if not keyed and not self._writer.closed:
            rows = state_rows([(index, content_hash)], RowState.IN_FLIGHT)
            self._queued[index] = (self._writer.write_nowait(rows, durable=True), content_hash)

    def mark_in_flight(self, rows: Sequence[tuple[int, str, bool]]) -> asyncio.Future[Any] | None:
        """Record rows as in flight before sending them: durably for keyless rows, lazily for keyed.

        Args:
            rows: ``(index, hash, keyed)`` of each row about to be sent.

        Returns:
            None when there is nothing to wait for (every row keyed, or keyless rows whose
            marks from :meth:`mark_queued` are already durable); else a future to await before
            sending, resolved once every keyless row's mark is committed with an fsync.

        Raises:
            RuntimeError: The journal is closed.
        """
        writer = self._writer
        if writer.closed:
            raise RuntimeError("the journal is closed")
        if len(rows) == 1:
            index, content_hash, has_key = rows[0]
            if has_key:  # the common case, without lists
                writer.write_nowait([(index, content_hash, _IN_FLIGHT, None, None, None, time())])
                return None
        keyed: list[tuple[int, str]] = []
        keyless: list[tuple[int, str]] = []
        queued = 0  # the latest mark_queued write among the keyless rows
        for index, content_hash, has_key in rows:
            if has_key:
                keyed.append((index, content_hash))
            elif (entry := self._queued.pop(index, None)) is not None:
                queued = max(queued, entry[0])
            else:
                keyless.append((index, content_hash))
        if keyless:
            # Submitted after every earlier write: its fsync covers the queued marks too.
            return writer.submit(
                "write", state_rows(keyed + keyless, RowState.IN_FLIGHT), durable=True
            )
        if keyed:
            writer.write_nowait(state_rows(keyed, RowState.IN_FLIGHT))
        return writer.synced(queued) if queued else None

    async def record_in_flight(self, entries: Iterable[tuple[int, str]]) -> None:
        """Durably record rows as in flight (committed with an fsync); await before sending.

        Args:
            entries: ``(index, hash)`` of each row about to be sent.

        Raises:
            RuntimeError: The journal is closed.
            sqlite3.Error: The commit failed (the job must stop: the promise is not durable).
        """
        await self._writer.submit("write", state_rows(entries, RowState.IN_FLIGHT), durable=True)

    async def record_outcomes(self, outcomes: Iterable[Outcome]) -> None:
        """Record rows' outcomes, committed (no fsync) when this returns; one commit for all.

        A commit survives a kill of the process; a power cut may take the last ones back to the
        rows' earlier states, which the next run reconciles (``docs/architecture.md``).

        Args:
            outcomes: Per row ``(index, hash, final, outcome, customer_id, error)``: ``final``
                True means ``done`` (never sent again), False ``failed`` (retried next run);
                ``outcome`` is the outcome's name; ``error`` the error text, or None.

        Raises:
            RuntimeError: The journal is closed.
            sqlite3.Error: The commit failed (the job must stop: the promise is not durable).
        """
        await self._submit("write", outcome_rows(outcomes))

    def record_outcomes_nowait(self, outcomes: Iterable[Outcome]) -> None:
        """Queue outcomes for a commit within a few ms, without waiting for it.

        :meth:`committed` gives a future for that commit: await it before handing the results
        out. Nothing happens once the journal is closed.

        Args:
            outcomes: As :meth:`record_outcomes`.
        """
        if not self._writer.closed:
            self._writer.write_nowait(outcome_rows(outcomes))

    def record_outcome_nowait(
        self,
        index: int,
        content_hash: str,
        final: bool,
        outcome: str,
        customer_id: int | None,
        error: str | None,
    ) -> None:
        """:meth:`record_outcomes_nowait` for one row (the common case, without lists).

        Args:
            index: The row's index.
            content_hash: Its hash.
            final: True for ``done``, False for ``failed``.
            outcome: The outcome's name.
            customer_id: The customer's id, if known.
            error: The error text, or None.
        """
        row = outcome_row(index, content_hash, final, outcome, customer_id, error)
        self._writer.write_nowait([row])

    def committed(self) -> asyncio.Future[Any]:
        """A future resolved once every record queued so far is committed (no fsync implied).

        Returns:
            The future; it raises the commit's error (``sqlite3.Error``) if that failed.
        """
        return self._writer.committed()

    async def read(self, start: int, limit: int = _CHUNK) -> list[JournalEntry]:
        """Read entries with ``index >= start`` in index order, at most ``limit``.

        Args:
            start: The first index wanted.
            limit: The most entries returned.

        Returns:
            The entries.

        Raises:
            RuntimeError: The journal is closed.
            sqlite3.Error: The read failed.
        """
        query = functools.partial(read_entries, start=start, limit=limit)
        result: list[JournalEntry] = await self._submit("read", query)
        return result

    async def counts(self) -> Mapping[str, int]:
        """How many rows are in each state (for reports and tests).

        Returns:
            State name to count.

        Raises:
            RuntimeError: The journal is closed.
            sqlite3.Error: The read failed.
        """
        result: dict[str, int] = await self._submit("read", count_states)
        return result

    async def aclose(self) -> None:
        """Commit what is queued, close the database and stop the thread. Idempotent.

        Keyless rows still on the send queue (marked in flight by :meth:`mark_queued`, never
        taken by a worker: the job stopped first) are recorded ``failed`` first, so the next
        run sends them instead of reporting them unknown: they never left. Only a crash leaves
        such rows in flight.

        Raises:
            sqlite3.Error: The last commit failed (what was queued is not durable).
        """
        writer = self._writer
        if self._queued and not writer.closed:
            unsent = [(index, content_hash) for index, (_, content_hash) in self._queued.items()]
            self._queued.clear()
            writer.write_nowait(state_rows(unsent, RowState.FAILED), durable=True)
        await writer.close()
