"""The job-facing journal: open it for a job, record row states, read them back, close it.

:class:`Journal` is what the bulk job holds. It turns "row 7 is about to be sent" into the
rows of :mod:`._schema` and hands them to the :class:`~._writer.Writer` thread, awaiting the
commit only where the job's correctness depends on it:

- :meth:`Journal.record_in_flight` is awaited *before* a row's request goes out, and
  :meth:`Journal.record_outcomes` *before* the row's result is handed to the caller; so a run
  killed at any point leaves every row it may have sent ``in_flight`` or later, and the next run
  reconciles those by lookup (``docs/faults.md`` F25) instead of sending them blindly again.
- :meth:`Journal.record_pending` and :meth:`Journal.record_outcomes_nowait` (rows never sent)
  ride along with the next commit: losing them loses nothing the input cannot tell again.

It stores no credentials and no customer data: only indexes, content hashes, outcomes, ids and
error texts (which the SDK's exceptions keep free of credentials). It sends no HTTP request,
decides nothing about retries, and does not stop two processes sharing one file (the command
line holds a lock beside it).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Iterable, Mapping
from typing import Any, Final

from customer_sdk._journal._records import JournalEntry, RowState
from customer_sdk._journal._schema import (
    count_states,
    outcome_rows,
    read_entries,
    setup,
    state_rows,
)
from customer_sdk._journal._writer import Kind, Writer

__all__ = ["Journal"]

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
            journal.max_index = await journal._submit("read", check)
        except BaseException:
            await journal.aclose()
            raise
        return journal

    def _submit(self, kind: Kind, payload: Any) -> asyncio.Future[Any]:
        return self._writer.submit(kind, payload)

    def record_pending(self, index: int, content_hash: str) -> None:
        """Queue a row as pending; it is committed with the next durable write (no wait).

        Args:
            index: The row's index.
            content_hash: Its :func:`~customer_sdk._journal.row_hash`.
        """
        if not self._writer.closed:
            self._writer.write_nowait(state_rows([(index, content_hash)], RowState.PENDING))

    async def record_in_flight(self, entries: Iterable[tuple[int, str]]) -> None:
        """Durably record rows as in flight; call (and await) before sending them.

        Args:
            entries: ``(index, hash)`` of each row about to be sent.

        Raises:
            RuntimeError: The journal is closed.
            sqlite3.Error: The commit failed (the job must stop: the promise is not durable).
        """
        await self._submit("write", state_rows(entries, RowState.IN_FLIGHT))

    async def record_outcomes(self, outcomes: Iterable[Outcome]) -> None:
        """Durably record rows' outcomes (one commit for all of them).

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
        """Queue outcomes without waiting for their commit (for rows that were never sent).

        Args:
            outcomes: As :meth:`record_outcomes`.
        """
        if not self._writer.closed:
            self._writer.write_nowait(outcome_rows(outcomes))

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

        Raises:
            sqlite3.Error: The last commit failed (what was queued is not durable).
        """
        await self._writer.close()
