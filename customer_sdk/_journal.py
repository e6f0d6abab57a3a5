"""The durable job journal (SQLite) that makes a bulk import resumable.

Each input row has one journal row, keyed by its 0-based index and checked by a hash of its
canonical wire content, moving through these states::

    pending ──> in_flight ──> done      (created / existed / rejected / unknown without a key)
                          └─> failed    (retried by the next run; a keyed row is looked up first)

``in_flight`` is committed durably *before* the row's request is sent, and the outcome is
committed before the row's result is handed to the caller, so a run killed at any point leaves
every row it may have sent in ``in_flight`` or later: the next run reconciles those by lookup
(faults.md F25) instead of sending them blindly again.

All SQLite work runs on one writer thread, never on the event loop. The thread drains every
operation queued since its last commit and commits them in one transaction (group commit): with
16 workers waiting, one fsync covers 16 state changes instead of 16 fsyncs in a row. The
database is in WAL mode with ``synchronous=FULL`` so a commit survives a power cut.

The journal stores no credentials and no customer data: only indexes, content hashes,
outcomes, ids and error texts (which the SDK's exceptions keep free of credentials). This module
sends no HTTP request and decides nothing about retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import os
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs
import orjson

from customer_sdk.errors import JournalMismatchError

__all__ = ["Journal", "JournalCursor", "JournalEntry", "RowState", "row_hash"]

_SCHEMA_VERSION: Final = "1"
_ERROR_LIMIT: Final = 512
_CHUNK: Final = 1024


class RowState(enum.StrEnum):
    """Where a row is in its life, as recorded in the journal."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    FAILED = "failed"


@attrs.frozen
class JournalEntry:
    """One row's record.

    Attributes:
        index: The row's 0-based index in the input.
        hash: The hash of the row's canonical content (see :func:`row_hash`).
        state: Its state.
        outcome: The outcome name once done or failed (``created``, ``existed``, ...), else None.
        customer_id: The customer's id when known.
        error: The error text of a rejected, unknown or failed row.
    """

    index: int
    hash: str
    state: RowState
    outcome: str | None = None
    customer_id: int | None = None
    error: str | None = None


def row_hash(content: object) -> str:
    """A stable hash of a row's content: its wire dict, or the raw row when it was invalid.

    Keys are sorted, so two rows with the same fields in another order hash alike.

    Args:
        content: The wire dict of a valid row, or the raw input row.

    Returns:
        32 hex characters (128 bits of SHA-256).
    """
    try:
        data = orjson.dumps(content, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError:
        data = repr(content).encode("utf-8", "replace")
    return hashlib.sha256(data).hexdigest()[:32]


_Op = tuple[str, Any, "asyncio.Future[Any] | None"]

_UPSERT: Final = (
    "INSERT INTO rows (idx, hash, state, outcome, customer_id, error, updated) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(idx) DO UPDATE SET hash = excluded.hash, "
    "state = excluded.state, outcome = excluded.outcome, "
    "customer_id = excluded.customer_id, error = excluded.error, updated = excluded.updated"
)


class Journal:
    """A job's durable row states in one SQLite file; open it with :meth:`open`.

    Args:
        path: The database file.
        job_id: The input's fingerprint (None when the caller gives none).
    """

    def __init__(self, path: str | os.PathLike[str], job_id: str | None) -> None:
        self.path = os.fspath(path)
        self.job_id = job_id
        self.max_index = -1
        self._ops: queue.SimpleQueue[_Op] = queue.SimpleQueue()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="customer-sdk-journal", daemon=True)
        self._closed = False
        self.commits = 0

    def __repr__(self) -> str:
        return f"Journal(path={self.path!r})"

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
        journal._thread.start()
        try:
            journal.max_index = await journal._submit("read", journal._setup)
        except BaseException:
            await journal.aclose()
            raise
        return journal

    # --- the writer thread -----------------------------------------------------------------

    def _setup(self, conn: sqlite3.Connection) -> int:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS rows (idx INTEGER PRIMARY KEY, hash TEXT NOT NULL, "
            "state TEXT NOT NULL, outcome TEXT, customer_id INTEGER, error TEXT, updated REAL)"
        )
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("version", _SCHEMA_VERSION), ("job_id", self.job_id), ("created", time.time())],
            )
        else:
            if meta.get("version") != _SCHEMA_VERSION:
                raise JournalMismatchError(
                    f"journal {self.path!r} has schema version {meta.get('version')!r}, "
                    f"expected {_SCHEMA_VERSION}"
                )
            if meta.get("job_id") != self.job_id:
                raise JournalMismatchError(
                    f"journal {self.path!r} belongs to another input (job_id "
                    f"{meta.get('job_id')!r}, this job has {self.job_id!r}); "
                    "use a new journal path for a new input"
                )
        (top,) = conn.execute("SELECT coalesce(max(idx), -1) FROM rows").fetchone()
        return int(top)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: in WAL mode NORMAL may lose the last commits on power loss; each commit
            # here is a promise ("in flight before sent") that must survive one.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=5000")
        except sqlite3.Error as exc:
            self._fail_all(exc)
            return
        closing = False
        while not closing:
            ops = [self._ops.get()]
            while True:
                try:
                    ops.append(self._ops.get_nowait())
                except queue.Empty:
                    break
            done: list[tuple[asyncio.Future[Any] | None, Any]] = []
            error: BaseException | None = None
            try:
                conn.execute("BEGIN IMMEDIATE")
                rows: list[tuple[Any, ...]] = []
                for kind, payload, fut in ops:
                    if kind == "write":
                        rows.extend(payload)  # one executemany for the whole group
                    else:
                        if rows:
                            conn.executemany(_UPSERT, rows)
                            rows = []
                        if kind == "read":
                            done.append((fut, payload(conn)))
                            continue
                        closing = True
                    if fut is not None:
                        done.append((fut, None))
                if rows:
                    conn.executemany(_UPSERT, rows)
                conn.execute("COMMIT")
                self.commits += 1
            except BaseException as exc:  # resolve every waiter, whatever broke
                error = exc
                if conn.in_transaction:
                    conn.rollback()
                done = [(fut, None) for _, _, fut in ops if fut is not None]
                closing = closing or any(kind == "close" for kind, _, _ in ops)
            if closing:
                conn.close()
            if done:
                self._resolve_all(done, error)
        self._drain_after_close()

    def _fail_all(self, exc: BaseException) -> None:
        # The database never opened: every operation fails with why, until the close.
        while True:
            kind, _, fut = self._ops.get()
            if kind == "close":
                self._resolve(fut, None, None)
                return
            self._resolve(fut, None, exc)

    def _drain_after_close(self) -> None:
        closed = RuntimeError("the journal is closed")
        while True:
            try:
                _, _, fut = self._ops.get_nowait()
            except queue.Empty:
                return
            self._resolve(fut, None, closed)

    def _resolve(
        self, fut: asyncio.Future[Any] | None, result: Any, exc: BaseException | None
    ) -> None:
        if fut is not None:
            self._resolve_all([(fut, result)], exc)

    def _resolve_all(
        self, done: list[tuple[asyncio.Future[Any] | None, Any]], exc: BaseException | None
    ) -> None:
        # One wake-up of the loop per commit, not one per waiter.
        def settle() -> None:
            for fut, result in done:
                if fut is None or fut.done():
                    continue
                if exc is not None:
                    fut.set_exception(exc)
                else:
                    fut.set_result(result)

        # RuntimeError: the loop is closed, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(settle)

    def _submit(self, kind: str, payload: Any) -> asyncio.Future[Any]:
        if self._closed:
            raise RuntimeError("the journal is closed")
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._ops.put((kind, payload, fut))
        return fut

    # --- the API the job uses --------------------------------------------------------------

    @staticmethod
    def _rows(entries: Iterable[tuple[int, str]], state: RowState) -> list[tuple[Any, ...]]:
        # Pending and in-flight rows carry no outcome, id or error (a re-send clears them).
        now = time.time()
        return [(i, h, state.value, None, None, None, now) for i, h in entries]

    def record_pending(self, index: int, content_hash: str) -> None:
        """Queue a row as pending; it is committed with the next durable write (no wait).

        Args:
            index: The row's index.
            content_hash: Its :func:`row_hash`.
        """
        if not self._closed:
            self._ops.put(("write", self._rows([(index, content_hash)], RowState.PENDING), None))

    async def record_in_flight(self, entries: Iterable[tuple[int, str]]) -> None:
        """Durably record rows as in flight; call (and await) before sending them.

        Args:
            entries: ``(index, hash)`` of each row about to be sent.

        Raises:
            RuntimeError: The journal is closed.
            sqlite3.Error: The commit failed (the job must stop: the promise is not durable).
        """
        await self._submit("write", self._rows(entries, RowState.IN_FLIGHT))

    @staticmethod
    def _outcome_rows(
        outcomes: Iterable[tuple[int, str, bool, str, int | None, str | None]],
    ) -> list[tuple[Any, ...]]:
        now = time.time()
        return [
            (
                index,
                content_hash,
                (RowState.DONE if final else RowState.FAILED).value,
                outcome,
                customer_id,
                None if error is None else error[:_ERROR_LIMIT],
                now,
            )
            for index, content_hash, final, outcome, customer_id, error in outcomes
        ]

    async def record_outcomes(
        self, outcomes: Iterable[tuple[int, str, bool, str, int | None, str | None]]
    ) -> None:
        """Durably record rows' outcomes (one commit for all of them).

        Args:
            outcomes: Per row ``(index, hash, final, outcome, customer_id, error)``: ``final``
                True means ``done`` (never sent again), False ``failed`` (retried next run);
                ``outcome`` is the outcome's name; ``error`` the error text, or None.

        Raises:
            RuntimeError: The journal is closed.
            sqlite3.Error: The commit failed (the job must stop: the promise is not durable).
        """
        await self._submit("write", self._outcome_rows(outcomes))

    def record_outcomes_nowait(
        self, outcomes: Iterable[tuple[int, str, bool, str, int | None, str | None]]
    ) -> None:
        """Queue outcomes without waiting for their commit (for rows that were never sent).

        Args:
            outcomes: As :meth:`record_outcomes`.
        """
        if not self._closed:
            self._ops.put(("write", self._outcome_rows(outcomes), None))

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

        def query(conn: sqlite3.Connection) -> list[JournalEntry]:
            cur = conn.execute(
                "SELECT idx, hash, state, outcome, customer_id, error FROM rows "
                "WHERE idx >= ? ORDER BY idx LIMIT ?",
                (start, limit),
            )
            return [JournalEntry(r[0], r[1], RowState(r[2]), r[3], r[4], r[5]) for r in cur]

        result: list[JournalEntry] = await self._submit("read", query)
        return result

    async def counts(self) -> Mapping[str, int]:
        """How many rows are in each state (for reports and tests).

        Returns:
            State name to count.
        """

        def query(conn: sqlite3.Connection) -> dict[str, int]:
            return dict(conn.execute("SELECT state, count(*) FROM rows GROUP BY state").fetchall())

        result: dict[str, int] = await self._submit("read", query)
        return result

    async def aclose(self) -> None:
        """Commit what is queued, close the database and stop the thread. Idempotent."""
        if self._closed:
            return
        fut = self._submit("close", None)
        self._closed = True
        try:
            await asyncio.shield(fut)
        finally:
            # The thread exits right after resolving the close: wait for that without blocking
            # the loop (and without an executor thread of its own).
            for _ in range(1000):
                if not self._thread.is_alive():
                    break
                await asyncio.sleep(0.001)


class JournalCursor:
    """Walks a journal's entries in index order alongside the input (a merge join).

    The journal is read in chunks as the input advances, so resuming a job of 10^6 rows never
    holds more than one chunk of entries in memory.

    Args:
        journal: The open journal.
    """

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._buffer: deque[JournalEntry] = deque()
        self._next = 0
        self._exhausted = journal.max_index < 0

    async def get(self, index: int) -> JournalEntry | None:
        """The entry for ``index``; indexes must be asked for in increasing order.

        Args:
            index: The input row's index.

        Returns:
            Its entry from before this run, or None.
        """
        buf = self._buffer
        while True:
            while buf and buf[0].index < index:
                buf.popleft()
            if buf or self._exhausted:
                break
            if index > self._journal.max_index:
                self._exhausted = True
                break
            start = max(self._next, index)
            chunk = await self._journal.read(start)
            if not chunk:
                self._exhausted = True
                break
            buf.extend(chunk)
            self._next = chunk[-1].index + 1
        if buf and buf[0].index == index:
            return buf.popleft()
        return None
