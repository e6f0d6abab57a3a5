"""The journal's writer thread: every SQLite call, grouped into one commit per batch.

Why a thread. SQLite calls block (an fsync takes milliseconds), and the event loop must keep
sending requests meanwhile, so every statement runs on one dedicated thread with the journal's
only connection. The loop hands it operations through a queue and awaits a future per
operation; the thread resolves them with one ``call_soon_threadsafe`` per commit.

Group commit. The thread takes every operation queued since its last commit and runs them in
one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``): with 16 workers each recording a row, one
commit covers all 16. Writes keep their order, and a read queued after a write sees it. An
awaited write returns only once its group is committed; a failed commit rolls the whole group
back and fails every waiter of the group with the error (the job then stops: its promise is
not durable).

Durability per group. Each operation says whether it must survive a power cut. A group holding
one that must is committed under ``synchronous=FULL`` (its commit fsyncs the WAL); any other
group under ``synchronous=NORMAL`` (the commit writes the WAL through the OS, no fsync). An
fsync flushes the whole WAL file, so a FULL commit also makes every NORMAL commit before it
durable. Lazy writes (:meth:`Writer.write_nowait`) are gathered on the loop for up to
:data:`LAZY_DELAY` and handed to the thread as one operation, ahead of any operation submitted
after them. Durability is tracked by sequence number: :meth:`Writer.synced` waits until an
operation is covered by an fsync, starting one if none is under way.

What survives (``docs/faults.md`` F25, ``docs/architecture.md`` "The journal"):

- **kill -9 / a crash of the process**: every commit, FULL or NORMAL. A commit has written the
  WAL through the OS before it returns, and the OS keeps the file when the process dies. Lost:
  only lazy writes not yet handed on or committed (keyed rows' in-flight marks and outcomes of
  the last few ms): the server's unique key settles the keyed rows, and no result was handed
  out before its outcome's commit.
- **a power cut or OS crash**: every FULL commit and every commit before it; the NORMAL commits
  after the last FULL one may be lost (SQLite recovers a prefix of the WAL: its frames carry
  cumulative checksums), provided the disk honours fsync. The ``-wal`` file is part of the
  journal until it is checkpointed: copy or move the three files together, or none.

:class:`Writer` is the loop's side (submit, write without waiting, close);
:class:`~._group.GroupCommitter` the thread's (drain, commit, settle). Neither runs job logic or
knows row states: they execute what they are handed (:mod:`._schema` builds the parameters).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import queue
import threading
from typing import Any, Final

from customer_sdk._journal._group import GroupCommitter, Kind, Op

__all__ = ["DURABLE_DELAY", "LAZY_DELAY", "Kind", "Writer"]

LAZY_DELAY: Final = 0.05
"""Seconds lazy writes wait on the loop for company before going to the thread (unless an
operation submitted meanwhile takes them along, or :meth:`Writer.flush`): one commit per 50 ms
instead of one per row. Each commit costs the event loop about a dozen hand-overs of the GIL
to the thread (one per SQLite call), so fewer commits is what keeps a journaled import near an
unjournaled one's speed (benchmarks P7); at 20 ms a journaled import spent about 10 % more CPU.
Nobody waits on them but the results held for their commit (:mod:`customer_sdk._bulk._outlet`),
and a crash loses at most these last 50 ms of outcomes, of results never handed out."""

DURABLE_DELAY: Final = 0.001
"""Seconds a write that will be needed durable waits for company before its fsync starts (a
waiter in :meth:`Writer.synced` starts it at once)."""


def _retrieve(fut: asyncio.Future[Any]) -> None:
    # A lazy write's future may have no waiter: its error is the next waiter's too, so
    # asyncio must not log it as never retrieved.
    if not fut.cancelled():
        fut.exception()


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
        self._ops: queue.SimpleQueue[Op] = queue.SimpleQueue()
        self._loop = loop
        # Rows written without a wait, not yet handed on; the future their commit resolves (None
        # exactly when nothing is buffered); the timer handing them on; the future of the last
        # operation handed on.
        self._lazy: list[tuple[Any, ...]] = []
        self._lazy_fut: asyncio.Future[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last: asyncio.Future[Any] | None = None
        # Durability by sequence number: each operation handed on gets the next ``_seq``; every
        # operation up to ``_synced`` is known fsynced; ``_syncing`` is the last durable one
        # handed on; ``_need`` the highest one somebody needs durable; waiters by seq.
        self._seq = self._synced = self._syncing = self._need = 0
        self._waiters: list[tuple[int, int, asyncio.Future[Any]]] = []
        self._tie = itertools.count()
        self._kick_handle: asyncio.Handle | None = None
        self._committer = GroupCommitter(path, self._ops, loop)
        self._thread = threading.Thread(
            target=self._committer.run, name="customer-sdk-journal", daemon=True
        )
        self.closed = False

    @property
    def commits(self) -> int:
        """Transactions committed so far (fewer than writes: see group commit)."""
        return self._committer.commits

    @property
    def syncs(self) -> int:
        """Transactions committed under ``synchronous=FULL`` (each one an fsync of the WAL)."""
        return self._committer.syncs

    def start(self) -> None:
        """Start the thread (it opens the database first)."""
        self._thread.start()

    def submit(self, kind: Kind, payload: Any, *, durable: bool = False) -> asyncio.Future[Any]:
        """Queue an operation and return the future its group's commit resolves.

        Lazy writes queued before it are handed on first, so it is committed after them.

        Args:
            kind: ``write``, ``call`` or ``close``.
            payload: The rows to upsert, the function to call, or None.
            durable: The commit must survive a power cut (its group commits with an fsync).

        Returns:
            The future: the call's result, or None.

        Raises:
            RuntimeError: The writer is closed.
        """
        if self.closed:
            raise RuntimeError("the journal is closed")
        if self._lazy_fut is not None:
            self.flush()
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._put(kind, payload, fut, durable)
        return fut

    def _put(self, kind: Kind, payload: Any, fut: asyncio.Future[Any], durable: bool) -> None:
        self._seq += 1
        self._ops.put((kind, payload, fut, durable))
        self._last = fut
        if durable:
            # Its commit fsyncs the WAL: every operation up to it is then durable.
            self._syncing = seq = self._seq
            fut.add_done_callback(lambda f: self._on_synced(f, seq))

    def write_nowait(self, rows: list[tuple[Any, ...]], *, durable: bool = False) -> int:
        """Queue rows for a commit soon, without waiting.

        Rows written within :data:`LAZY_DELAY` go to the thread together (one wake-up and one
        commit, not one per call), and always before anything submitted after them. With
        ``durable``, a commit with an fsync is started at once (unless one is under way: then
        right after it), so that :meth:`synced` seldom has to wait. Ignored once closed.

        Args:
            rows: :data:`~._schema.UPSERT` parameter tuples.
            durable: The rows will be needed durable soon.

        Returns:
            The sequence number the rows' commit will have (for :meth:`synced`).
        """
        if self.closed:
            return 0
        if self._lazy_fut is None:  # the buffer is empty
            self._timer = self._loop.call_later(LAZY_DELAY, self.flush)
            self._lazy_fut = self._loop.create_future()
            self._lazy_fut.add_done_callback(_retrieve)
        self._lazy.extend(rows)
        seq = self._seq + 1  # the buffer is always the next operation handed on
        if durable and seq > self._need:
            self._need = seq
            if self._kick_handle is None:
                # Soon, not now: the rows queued meanwhile go in the same commit.
                self._kick_handle = self._loop.call_later(DURABLE_DELAY, self._kick)
        return seq

    def add(self, row: tuple[Any, ...]) -> asyncio.Future[Any]:
        """:meth:`write_nowait` of one row, not durable: the bulk job's per-row path.

        One call and no list per row (each result of a bulk job is written here).

        Args:
            row: One :data:`~._schema.UPSERT` parameter tuple.

        Returns:
            The future the row's commit resolves (:meth:`committed`, as it stands after it).
        """
        fut = self._lazy_fut
        if fut is None:  # the buffer is empty
            if self.closed:
                return self.committed()
            self._timer = self._loop.call_later(LAZY_DELAY, self.flush)
            self._lazy_fut = fut = self._loop.create_future()
            fut.add_done_callback(_retrieve)
        self._lazy.append(row)
        return fut

    def synced(self, seq: int) -> asyncio.Future[Any] | None:
        """Wait until the operation ``seq`` (and every one before it) is committed with an fsync.

        Args:
            seq: A sequence number from :meth:`write_nowait` with ``durable=True`` (a write
                already committed without an fsync cannot be made durable by a later one
                that writes nothing: SQLite then writes no WAL frame to sync).

        Returns:
            None when it already is; else a future resolved once it is (it raises the commit's
            error if that failed).
        """
        if seq <= self._synced:
            return None
        fut: asyncio.Future[Any] = self._loop.create_future()
        heapq.heappush(self._waiters, (seq, next(self._tie), fut))
        self._need = max(self._need, seq)
        self._kick()
        return fut

    def _kick(self) -> None:
        """Start a commit with an fsync if one is needed and none is under way."""
        if self._kick_handle is not None:
            self._kick_handle.cancel()  # called early (a waiter): the timer has nothing left
            self._kick_handle = None
        if self.closed or self._need <= self._synced or self._syncing > self._synced:
            return  # nothing needed, or the commit under way kicks again when it is done
        if self._lazy_fut is not None:
            # The buffer goes next, durable: its fsync covers ``_need`` and all before it.
            self._need = max(self._need, self._seq + 1)
            self.flush()
        else:
            fut: asyncio.Future[Any] = self._loop.create_future()
            fut.add_done_callback(_retrieve)
            self._put("write", [], fut, True)

    def _on_synced(self, fut: asyncio.Future[Any], seq: int) -> None:
        """A durable commit is done: wake the waiters it covers, and start the next one."""
        waiters = self._waiters
        error = None if fut.cancelled() else fut.exception()
        if error is not None:
            while waiters:  # the job stops on it: every waiter hears why
                waiter = heapq.heappop(waiters)[2]
                if not waiter.done():
                    waiter.set_exception(error)
            return
        self._synced = max(self._synced, seq)
        while waiters and waiters[0][0] <= self._synced:
            waiter = heapq.heappop(waiters)[2]
            if not waiter.done():
                waiter.set_result(None)
        self._kick()

    def committed(self) -> asyncio.Future[Any]:
        """A future resolved once every write queued so far is committed (fsync or not).

        Returns:
            The future of the last write queued (already done when all are committed); it
            raises the commit's error if that failed.
        """
        fut = self._last if self._lazy_fut is None else self._lazy_fut
        if fut is None:  # nothing was ever written
            fut = self._loop.create_future()
            fut.set_result(None)
        return fut

    def flush(self) -> None:
        """Hand the rows written without a wait to the thread now, not after :data:`LAZY_DELAY`.

        For a caller about to wait for their commit (:meth:`committed`).
        """
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        fut = self._lazy_fut
        if fut is not None:
            rows = self._lazy
            self._lazy, self._lazy_fut = [], None
            # Durable when it holds rows somebody needs durable.
            self._put("write", rows, fut, self._need > self._seq)

    async def close(self) -> None:
        """Commit what is queued (with an fsync), close the database and stop the thread.

        Idempotent.

        Raises:
            sqlite3.Error: The last commit failed (what was queued is not durable).
        """
        if self.closed:
            return
        fut = self.submit("close", None, durable=True)
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
