"""The journal's writer thread: every SQLite call, grouped into one commit per batch.

Why a thread. SQLite calls block (an fsync takes milliseconds), and the event loop must keep
sending requests meanwhile, so every statement runs on one dedicated thread with the journal's
only connection. The loop hands it operations through a queue and awaits a future per
operation; the thread resolves them with one ``call_soon_threadsafe`` per commit.

Group commit. The thread takes every operation queued since its last commit and runs them in
one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``): with 16 workers each awaiting
"in flight", one fsync covers all 16 instead of 16 fsyncs in a row. Writes keep their order,
and a read queued after a write sees it. An awaited write returns only once its group is
committed; a failed commit rolls the whole group back and fails every waiter of the group with
the error (the job then stops: its promise is not durable).

What survives (``docs/faults.md`` F25):

- **kill -9 / a crash of the process**: every commit that returned. A commit has written the
  WAL through the OS before it returns, and the OS keeps the file when the process dies. Lost:
  only what was queued without waiting (``pending`` rows and outcomes of rows never sent), which
  the next run derives from the input again. A row whose request went out is at least
  ``in_flight``, so the next run looks it up instead of sending it blindly.
- **a power cut or OS crash**: the same, because ``synchronous=FULL`` fsyncs the WAL at every
  commit (``NORMAL`` would fsync only at checkpoints, losing the last commits) — provided the
  disk honours fsync. The ``-wal`` file is part of the journal until it is checkpointed: copy
  or move the three files together, or none.

:class:`Writer` is the loop's side (submit, write without waiting, close); ``_GroupCommitter``
the thread's (drain, commit, settle). Neither runs job logic or knows row states: they execute
what they are handed (:mod:`._schema` builds the statements' parameters).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from typing import Any, Final, Literal

from customer_sdk._journal._schema import UPSERT, connect

__all__ = ["Kind", "Writer"]

Kind = Literal["write", "read", "close"]
"""``write``: a list of :data:`~._schema.UPSERT` parameter tuples; ``read``: a function of the
connection whose result is the future's; ``close``: commit what is queued and stop."""

_Op = tuple[Kind, Any, "asyncio.Future[Any] | None"]
_Done = list[tuple["asyncio.Future[Any] | None", Any]]
# Seconds between checks, while idle, that the event loop is still open.
_LOOP_CHECK: Final = 0.25


class Writer:
    """The loop's side of the journal's thread: operations in, futures out.

    Args:
        path: The database file.
        loop: The event loop whose futures the thread resolves.

    Attributes:
        closed: Whether :meth:`close` was called (every later submit raises).
    """

    def __init__(self, path: str, loop: asyncio.AbstractEventLoop) -> None:
        self.path = path
        self._ops: queue.SimpleQueue[_Op] = queue.SimpleQueue()
        self._loop = loop
        self._committer = _GroupCommitter(path, self._ops, loop)
        self._thread = threading.Thread(
            target=self._committer.run, name="customer-sdk-journal", daemon=True
        )
        self.closed = False

    @property
    def commits(self) -> int:
        """Transactions committed so far (fewer than writes: see group commit)."""
        return self._committer.commits

    def start(self) -> None:
        """Start the thread (it opens the database first)."""
        self._thread.start()

    def submit(self, kind: Kind, payload: Any) -> asyncio.Future[Any]:
        """Queue an operation and return the future its group's commit resolves.

        Args:
            kind: ``write``, ``read`` or ``close``.
            payload: The rows to upsert, the read function, or None.

        Returns:
            The future: the read's result, or None.

        Raises:
            RuntimeError: The writer is closed.
        """
        if self.closed:
            raise RuntimeError("the journal is closed")
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._ops.put((kind, payload, fut))
        return fut

    def write_nowait(self, rows: list[tuple[Any, ...]]) -> None:
        """Queue rows for the next commit without a future (ignored once closed).

        Args:
            rows: :data:`~._schema.UPSERT` parameter tuples.
        """
        if not self.closed:
            self._ops.put(("write", rows, None))

    async def close(self) -> None:
        """Commit what is queued, close the database and stop the thread. Idempotent.

        Raises:
            sqlite3.Error: The last commit failed (what was queued is not durable).
        """
        if self.closed:
            return
        fut = self.submit("close", None)
        self.closed = True
        try:
            await asyncio.shield(fut)
        finally:
            # The thread exits right after resolving the close: wait for that without blocking
            # the loop (and without an executor thread of its own).
            for _ in range(1000):
                if not self._thread.is_alive():
                    break
                await asyncio.sleep(0.001)


class _GroupCommitter:
    """The thread's side: drain the queue, run each group in one transaction, settle futures."""

    def __init__(
        self, path: str, ops: queue.SimpleQueue[_Op], loop: asyncio.AbstractEventLoop
    ) -> None:
        self._path = path
        self._ops = ops
        self._loop = loop
        self.commits = 0

    def run(self) -> None:
        """The thread's body: until the close, take every queued operation and commit them."""
        try:
            conn = connect(self._path)
        except sqlite3.Error as exc:
            self._fail_all(exc)
            return
        closing = False
        try:
            while not closing:
                first = self._next()
                if first is None:
                    return  # the loop is closed: nobody can close the journal any more
                ops = [first]
                while True:
                    try:
                        ops.append(self._ops.get_nowait())
                    except queue.Empty:
                        break
                closing, done, error = self._commit_group(conn, ops)
                if closing:
                    conn.close()
                if done:
                    self._resolve_all(done, error)
        finally:
            # Also when settling the futures failed (their event loop was closed under an
            # unclosed journal): the thread ends, and its connection must not be left to the
            # garbage collector (a ResourceWarning on Python 3.13).
            conn.close()
        self._drain_after_close()

    def _next(self) -> _Op | None:
        """The next operation, or None once the event loop is closed under an open journal.

        Waiting forever would keep this thread and its SQLite connection alive until the
        process exits (e.g. ``asyncio.run`` returning while a journaled job was still open).
        """
        while True:
            try:
                return self._ops.get(timeout=_LOOP_CHECK)
            except queue.Empty:
                if self._loop.is_closed():
                    return None

    def _commit_group(
        self, conn: sqlite3.Connection, ops: list[_Op]
    ) -> tuple[bool, _Done, BaseException | None]:
        # One transaction for the whole group; returns (closing, futures to settle, error).
        done: _Done = []
        closing = False
        try:
            conn.execute("BEGIN IMMEDIATE")
            rows: list[tuple[Any, ...]] = []
            for kind, payload, fut in ops:
                if kind == "write":
                    rows.extend(payload)  # one executemany for the whole group
                else:
                    if rows:
                        conn.executemany(UPSERT, rows)
                        rows = []
                    if kind == "read":
                        done.append((fut, payload(conn)))
                        continue
                    closing = True
                if fut is not None:
                    done.append((fut, None))
            if rows:
                conn.executemany(UPSERT, rows)
            conn.execute("COMMIT")
            self.commits += 1
        except BaseException as exc:  # resolve every waiter, whatever broke
            if conn.in_transaction:
                conn.rollback()
            failed: _Done = [(fut, None) for _, _, fut in ops if fut is not None]
            return closing or any(kind == "close" for kind, _, _ in ops), failed, exc
        return closing, done, None

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

    def _resolve_all(self, done: _Done, exc: BaseException | None) -> None:
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
