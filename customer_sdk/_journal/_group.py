"""The thread's side of the journal's writer: drain the queue, commit each group, settle futures.

:class:`GroupCommitter` runs on the journal's own thread (:mod:`._writer` starts it). It takes
every operation queued since its last commit, runs them in one transaction, and commits it
under ``synchronous=FULL`` when any of them asked for durability, else under ``NORMAL``: the
level is a per-connection setting, switched between transactions only when it changes. It runs
no job logic and knows no row states: it executes what it is handed.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
from typing import Any, Final, Literal

from customer_sdk._journal._schema import connect, has_json, upsert

__all__ = ["GroupCommitter", "Kind", "Op"]

Kind = Literal["write", "call", "close"]
"""``write``: a list of :data:`~._schema.UPSERT` parameter tuples; ``call``: a function of the
connection (a read, or another statement), whose result is the future's; ``close``: commit what
is queued and stop."""

Op = tuple[Kind, Any, "asyncio.Future[Any] | None", bool]
"""``(kind, payload, future or None, durable)``: one queued operation."""

_Done = list[tuple["asyncio.Future[Any] | None", Any]]
# Seconds between checks, while idle, that the event loop is still open.
_LOOP_CHECK: Final = 0.25


class GroupCommitter:
    """The thread's side: drain the queue, run each group in one transaction, settle futures.

    Args:
        path: The database file.
        ops: The queue of operations the loop fills.
        loop: The event loop whose futures are resolved.

    Attributes:
        commits: Transactions committed.
        syncs: Those committed under ``synchronous=FULL`` (an fsync each).
    """

    def __init__(
        self, path: str, ops: queue.SimpleQueue[Op], loop: asyncio.AbstractEventLoop
    ) -> None:
        self._path = path
        self._ops = ops
        self._loop = loop
        self._level = "FULL"  # what connect() set
        self.commits = 0
        self.syncs = 0
        self._json = False  # whether groups go in one JSON statement (schema.upsert)

    def run(self) -> None:
        """The thread's body: until the close, take every queued operation and commit them."""
        try:
            conn = connect(self._path)
            json = has_json(conn)
        except sqlite3.Error as exc:
            self._fail_all(exc)
            return
        closing = False
        self._json = json
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

    def _next(self) -> Op | None:
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
        self, conn: sqlite3.Connection, ops: list[Op]
    ) -> tuple[bool, _Done, BaseException | None]:
        # One transaction for the whole group; returns (closing, futures to settle, error).
        done: _Done = []
        rows: list[tuple[Any, ...]]
        closing = False
        durable = any(op[3] for op in ops)
        try:
            level = "FULL" if durable else "NORMAL"
            if level != self._level:
                # Between transactions only: SQLite refuses it inside one.
                conn.execute(f"PRAGMA synchronous={level}")
                self._level = level
            if all(op[0] == "write" for op in ops):
                rows = [row for op in ops for row in op[1]]
                if len(rows) == 1 or (rows and self._json):
                    # One statement, its own transaction (autocommit): the thread releases
                    # and retakes the GIL once, instead of also for BEGIN and COMMIT, each
                    # time making the event loop's thread wait for it.
                    upsert(conn, rows, self._json)
                    self.commits += 1
                    self.syncs += durable
                    return False, [(op[2], None) for op in ops if op[2] is not None], None
            conn.execute("BEGIN IMMEDIATE")
            rows = []
            for kind, payload, fut, _ in ops:
                if kind == "write":
                    rows.extend(payload)  # one executemany for the whole group
                else:
                    if rows:
                        upsert(conn, rows, self._json)
                        rows = []
                    if kind == "call":
                        done.append((fut, payload(conn)))
                        continue
                    closing = True
                if fut is not None:
                    done.append((fut, None))
            if rows:
                upsert(conn, rows, self._json)
            conn.execute("COMMIT")
            self.commits += 1
            self.syncs += durable
        except BaseException as exc:  # resolve every waiter, whatever broke
            if conn.in_transaction:
                conn.rollback()
            failed: _Done = [(op[2], None) for op in ops if op[2] is not None]
            return closing or any(op[0] == "close" for op in ops), failed, exc
        return closing, done, None

    def _fail_all(self, exc: BaseException) -> None:
        # The database never opened: every operation fails with why, until the close.
        while True:
            kind, _, fut, _ = self._ops.get()
            if kind == "close":
                self._resolve(fut, None, None)
                return
            self._resolve(fut, None, exc)

    def _drain_after_close(self) -> None:
        closed = RuntimeError("the journal is closed")
        while True:
            try:
                _, _, fut, _ = self._ops.get_nowait()
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
