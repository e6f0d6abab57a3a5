"""The sandbox's audit log: one :class:`AuditEntry` per request, and waiting for one.

Every request the sandbox receives leaves exactly one entry, appended when its answer is decided;
a stalled commit that lands late replaces its entry in place. :meth:`AuditLog.wait_for` lets a
test await an entry (the start of a stall, the moment a stalled commit lands). This module keeps
the entries and the counters they feed; it does not decide what a request gets, and does no I/O.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import TypeAlias

import attrs

__all__ = ["Arrival", "AuditEntry", "AuditLog"]


@attrs.frozen
class AuditEntry:
    """One request the sandbox received, and what it did with it.

    Attributes:
        method: The HTTP method.
        path: The request path, without the query.
        kind: ``create``, ``get``, ``lookup``, ``bulk`` or ``other``.
        status: The status sent, or None when no status line went out (reset, close, garbage,
            stall).
        fault: The fault that fired (``outage`` during an outage), or None.
        committed: Customers stored by this request.
        time: ``time.monotonic()`` when it arrived.
        query: The raw (still percent-encoded) query string, "" when none.
    """

    method: str
    path: str
    kind: str
    status: int | None
    fault: str | None
    committed: int
    time: float
    query: str = ""


#: What the request path knows of a request before its answer: method, path, query, kind, and
#: the ``time.monotonic()`` of its arrival (the first five fields of an :class:`AuditEntry`).
Arrival: TypeAlias = tuple[str, str, str, str, float]


class AuditLog:
    """The entries, in arrival order of their answers, and the waiters on them.

    Args:
        counters: The sandbox's counters; a recorded fault adds one to ``faulted``.
    """

    __slots__ = ("_waiters", "counters", "entries")

    def __init__(self, counters: collections.Counter[str]) -> None:
        self.counters = counters
        self.entries: list[AuditEntry] = []
        self._waiters: list[tuple[Callable[[AuditEntry], bool], asyncio.Future[AuditEntry]]] = []

    def record(
        self,
        arrival: Arrival,
        status: int | None,
        fault: str | None = None,
        committed: int = 0,
    ) -> AuditEntry:
        """Append one entry (and count a fault that fired).

        Args:
            arrival: The request's method, path, query, kind and arrival time.
            status: The status sent, or None when no status line went out.
            fault: The fault that fired, or None.
            committed: Customers stored by the request.

        Returns:
            The entry appended.
        """
        method, path, query, kind, arrived = arrival
        entry = AuditEntry(method, path, kind, status, fault, committed, arrived, query)
        self.entries.append(entry)
        if fault is not None:
            self.counters["faulted"] += 1
        if self._waiters:
            self._notify(entry)
        return entry

    def amend(self, entry: AuditEntry, committed: int) -> None:
        """Replace an entry whose commit landed late (a stall), keeping its place.

        Args:
            entry: The entry recorded when the stall began.
            committed: Customers the late commit stored.
        """
        new = attrs.evolve(entry, committed=committed)
        entries = self.entries
        for i in range(len(entries) - 1, -1, -1):  # the stalled entry is near the end
            if entries[i] is entry:
                entries[i] = new
                break
        if self._waiters:
            self._notify(new)

    async def wait_for(self, predicate: Callable[[AuditEntry], bool]) -> AuditEntry:
        """Wait until an entry satisfies ``predicate`` (an existing one counts).

        Args:
            predicate: Tests one entry.

        Returns:
            The first matching entry.
        """
        for entry in self.entries:
            if predicate(entry):
                return entry
        future: asyncio.Future[AuditEntry] = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._waiters.append(waiter)
        try:
            return await future
        finally:
            self._waiters.remove(waiter)

    def _notify(self, entry: AuditEntry) -> None:
        """Resolve the waiters that ``entry`` satisfies."""
        for predicate, future in self._waiters:
            if not future.done() and predicate(entry):
                future.set_result(entry)
