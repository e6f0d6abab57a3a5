"""The live controls of a sandbox: the settings a test turns, and what it reads back.

:class:`LiveSettings` changes the settings every request reads (stall length, lookup lag,
signature age, Retry-After form, ``on_commit``, the fault plan, the token bucket, an outage);
:class:`ReadBack` shows what the sandbox did (the audit log, counters, stored customers). Both
work on the shared :class:`~customer_sdk.sandbox._state.State`, so a change reaches requests
already being served; :class:`~customer_sdk.sandbox.Sandbox` is built from them. This module
neither serves nor answers requests.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from typing import Any

from customer_sdk.sandbox._audit import AuditEntry
from customer_sdk.sandbox._faults import FaultDealer, parse_faults
from customer_sdk.sandbox._ratelimit import RetryAfterMode, make_bucket
from customer_sdk.sandbox._state import State
from customer_sdk.sandbox._store import Store

__all__ = ["LiveSettings", "ReadBack"]


class LiveSettings:
    """The settings of a running sandbox (a base of ``Sandbox``; it sets ``_state``)."""

    _state: State
    seed: int

    @property
    def retry_after(self) -> RetryAfterMode:
        """How a rate-limit 429 states its wait: ``seconds``, ``date`` or ``none``."""
        return self._state.retry_after

    @retry_after.setter
    def retry_after(self, value: RetryAfterMode) -> None:
        self._state.retry_after = value

    @property
    def stall_seconds(self) -> float:
        """How long the ``stall`` faults hold."""
        return self._state.stall_seconds

    @stall_seconds.setter
    def stall_seconds(self, value: float) -> None:
        self._state.stall_seconds = value

    @property
    def lookup_lag(self) -> float:
        """Under the ``lag`` fault, how long (seconds) a new customer stays invisible."""
        return self._state.lookup_lag

    @lookup_lag.setter
    def lookup_lag(self, value: float) -> None:
        self._state.lookup_lag = value

    @property
    def signature_max_age(self) -> float:
        """How far (seconds) a signature's timestamp may be from now."""
        return self._state.signature_max_age

    @signature_max_age.setter
    def signature_max_age(self, value: float) -> None:
        self._state.signature_max_age = value

    @property
    def on_commit(self) -> Callable[[dict[str, Any]], None] | None:
        """Called with each customer as it is stored (before its answer goes out), or None."""
        return self._state.on_commit

    @on_commit.setter
    def on_commit(self, callback: Callable[[dict[str, Any]], None] | None) -> None:
        self._state.on_commit = callback

    def set_faults(self, spec: str | None) -> None:
        """Replace the fault plan; scripts restart and the RNGs are re-seeded with ``seed``.

        Args:
            spec: The new SPEC, or None for no faults.

        Raises:
            FaultSpecError: If it does not parse (the old plan stays).
        """
        self._state.dealer = FaultDealer(parse_faults(spec), self.seed)

    def set_rate(self, rate: float | None, burst: int | None = None) -> None:
        """Replace the shared token bucket (it starts full).

        Args:
            rate: Requests per second, or None for no limit.
            burst: The bucket size; None means ``ceil(rate)``.

        Raises:
            ValueError: On a non-positive rate or a burst below 1.
        """
        self._state.bucket = make_bucket(rate, burst)

    def start_outage(self, seconds: float) -> None:
        """Answer every request with a 503 JSON envelope for ``seconds`` (docs/faults.md, F26).

        Args:
            seconds: How long, from now.
        """
        self._state.outage_until = time.monotonic() + seconds

    def end_outage(self) -> None:
        """End an outage now."""
        self._state.outage_until = 0.0


class ReadBack:
    """What a sandbox did, for tests to check (a base of ``Sandbox``; it sets ``_state``)."""

    _state: State

    @property
    def audit(self) -> list[AuditEntry]:
        """Every request received, in the order their answers were decided (live list)."""
        return self._state.audit.entries

    @property
    def counters(self) -> collections.Counter[str]:
        """Counts: ``requests``, each kind, ``committed``, ``faulted`` and ``throttled``."""
        return self._state.counters

    @property
    def customers(self) -> dict[int, dict[str, Any]]:
        """The stored customers by ``customer_id``, each as a GET returns it (live view)."""
        return self._state.store.customers

    @property
    def _store(self) -> Store:
        """The customer store (tests reach in to drive its clock)."""
        return self._state.store

    def by_key(self, key: str) -> dict[str, Any] | None:
        """The stored customer with this ``external_key``.

        Args:
            key: The key.

        Returns:
            The customer object, or None (also when it was deleted).
        """
        return self._state.store.by_key(key)

    def delete(self, customer_id: int) -> None:
        """Delete a customer; its ``external_key`` stays reserved.

        A create with that key then gets a 400 while lookups find nothing (docs/chargeover-api.md,
        "Idempotency").

        Args:
            customer_id: The id.

        Raises:
            KeyError: No such customer.
        """
        self._state.store.delete(customer_id)

    async def wait_for_audit(self, predicate: Callable[[AuditEntry], bool]) -> AuditEntry:
        """Wait until an audit entry satisfies ``predicate`` (an existing one counts).

        Entries are checked when recorded and again when a late commit amends them, so this
        can await, e.g., the start of a stall or the moment a stalled commit lands. Put a
        timeout around it (``asyncio.timeout``).

        Args:
            predicate: Tests one entry.

        Returns:
            The first matching entry.
        """
        return await self._state.audit.wait_for(predicate)
