"""The job-facing journal: open it for a job, record row states, read them back, close it.

:class:`Journal` is what the bulk job holds. It turns "row 7 is about to be sent" into the
rows of :mod:`._schema` and hands them to the :class:`~._writer.Writer` thread, awaiting the
commit, and paying for an fsync, only where the job's correctness depends on it
(``docs/architecture.md``, "The journal", gives the whole argument):

- :meth:`Journal.cover`, as a worker takes a row for its first send: the *send window*, one
  number in the journal (the row at index -1, :mod:`._window`), says that every row below it
  with no record of its own may have been sent. It moves ahead of the workers (256 rows,
  or 0.2 s of sending at the measured rate if that is more), one small write per move, so a
  row costs no write of its own before its send. A *keyless* row is sent only once a window
  covering it is durable (committed with an fsync, shared by every row it covers; the worker
  awaits it only if it is not done yet):
  after any crash, a keyless row that may have been sent is inside the window with no
  outcome, and is never sent again (there is no key to check it by). A *keyed* row does not
  wait, and a window moved for keyed rows only is not fsynced: the server's unique
  ``external_key`` protects them (if the window is lost, the next run sends the row again,
  the server refuses the taken key, and the row is reconciled by lookup, ``docs/faults.md``
  F25), and a keyed row inside the window starts with a lookup. An orderly close
  (:meth:`Journal.aclose` with ``unsent_from``) pulls the window back to the first row no
  worker took, so only a crash leaves unsent rows inside it.
- :meth:`Journal.mark_in_flight`, before a row with a record of its own is sent again (a
  ``failed`` row of an earlier run, a keyed row that was in flight): a keyless row's mark is
  durable (committed with an fsync) before the call's future resolves; a keyed row's mark is
  lazy, riding the next commit.
- A row's outcome is committed, without an fsync, before its result is handed to the caller,
  so a killed run never handed out a result the journal does not hold. The bulk job writes it
  with :meth:`Journal.record_outcome_nowait` (gathered for up to 50 ms into one commit) and
  holds the result until that commit's future resolves; the worker meanwhile sends its next
  row.

A row with no record above the window is sent as new.

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
from customer_sdk._journal._window import SendWindow
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
        window: The send window's end recorded before this run: a row below it with no record
            may have been sent by that run (0 for none).
    """

    def __init__(self, path: str | os.PathLike[str], job_id: str | None) -> None:
        self.path = os.fspath(path)
        self.job_id = job_id
        self.max_index = -1
        self.window = 0
        self._writer = Writer(self.path, asyncio.get_running_loop())
        self._send = SendWindow(self._writer)

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
            found = await journal._writer.submit("call", check, durable=True)
            journal.max_index, journal.window = found
            journal._send.resume(journal.window)
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

    def cover(self, index: int, keyed: bool) -> asyncio.Future[Any] | None:
        """A worker takes a row for its first send: make sure the send window covers it.

        For rows with no record of their own, in about index order (workers take rows in
        order). When ``index`` comes within half the window's reach of its end, the end moves
        to ``index`` plus a new reach (:data:`~._window.WINDOW` rows, or more at a high send
        rate) in a commit that starts at once (:mod:`._window`).

        Args:
            index: The row's index.
            keyed: Whether it has an ``external_key``.

        Returns:
            None when the row may be sent now (every keyed row: the server's unique key
            guards it); else a future resolved once a window covering this keyless row is
            committed with an fsync. It raises that commit's error (``sqlite3.Error``).

        Raises:
            RuntimeError: The journal is closed.
        """
        return self._send.cover(index, keyed)

    def mark_in_flight(self, rows: Sequence[tuple[int, str, bool]]) -> asyncio.Future[Any] | None:
        """Record rows sent again as in flight: durably for keyless rows, lazily for keyed.

        For rows with a record of their own (rows new to the journal are covered by
        :meth:`cover` instead).

        Args:
            rows: ``(index, hash, keyed)`` of each row about to be sent.

        Returns:
            None when every row is keyed (nothing to wait for); else a future to await before
            sending, resolved once every row's mark is committed with an fsync.

        Raises:
            RuntimeError: The journal is closed.
        """
        writer = self._writer
        if writer.closed:
            raise RuntimeError("the journal is closed")
        marks = state_rows(
            [(index, content_hash) for index, content_hash, _ in rows], RowState.IN_FLIGHT
        )
        if all(keyed for _, _, keyed in rows):
            writer.write_nowait(marks)
            return None
        return writer.submit("write", marks, durable=True)

    def record_outcomes_nowait(self, outcomes: Iterable[Outcome]) -> None:
        """Queue outcomes for a commit within 50 ms, without waiting for it.

        :meth:`committed` gives a future for that commit (:meth:`flush` starts it at once):
        await it before handing the results out. A commit survives a kill of the process; a
        power cut may take the last ones back to the rows' earlier states, which the next run
        reconciles (``docs/architecture.md``). Nothing happens once the journal is closed.

        Args:
            outcomes: Per row ``(index, hash, final, outcome, customer_id, error)``: ``final``
                True means ``done`` (never sent again), False ``failed`` (retried next run);
                ``outcome`` is the outcome's name; ``error`` the error text, or None.
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
    ) -> asyncio.Future[Any]:
        """:meth:`record_outcomes_nowait` for one row (a bulk job's per-row path, no lists).

        Args:
            index: The row's index.
            content_hash: Its hash.
            final: True for ``done``, False for ``failed``.
            outcome: The outcome's name.
            customer_id: The customer's id, if known.
            error: The error text, or None.

        Returns:
            The future of its commit, as :meth:`committed` would give right after this call.
        """
        row = outcome_row(index, content_hash, final, outcome, customer_id, error)
        return self._writer.add(row)

    def flush(self) -> None:
        """Start the commit of the records queued without a wait now, not within 50 ms.

        For a caller about to wait for that commit (:meth:`committed`).
        """
        self._writer.flush()

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
        result: list[JournalEntry] = await self._submit("call", query)
        return result

    async def counts(self) -> Mapping[str, int]:
        """How many rows are in each state (for reports and tests).

        Returns:
            State name to count.

        Raises:
            RuntimeError: The journal is closed.
            sqlite3.Error: The read failed.
        """
        result: dict[str, int] = await self._submit("call", count_states)
        return result

    async def aclose(self, unsent_from: int | None = None) -> None:
        """Commit what is queued, close the database and stop the thread. Idempotent.

        Args:
            unsent_from: The lowest index no worker took (an orderly stop): the send window is
                pulled back to it, so the next run sends the rows from there on as new instead
                of reporting the keyless ones unknown (they never left). Never below the
                window of an earlier run: its rows may have been sent by that run. None keeps
                the window where it is.

        Raises:
            sqlite3.Error: The last commit failed (what was queued is not durable).
        """
        writer = self._writer
        if unsent_from is not None and not writer.closed:
            self._send.pull_back(unsent_from)
        await writer.close()
