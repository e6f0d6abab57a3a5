"""Everything a sandbox request reads or changes, in one place the facade and handlers share.

:class:`State` holds the settings that may change while the sandbox runs (stall length, lookup
lag, signature age, Retry-After form, fault plan, token bucket, outage), the customer store, the
audit log and counters, and the stop signal that cuts stalls short. The public
:class:`~customer_sdk.sandbox.Sandbox` writes it; the request handlers read it. This module
answers no request and does no I/O beyond waiting on the stop signal.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Any

from customer_sdk.sandbox._audit import AuditLog
from customer_sdk.sandbox._authcheck import Credentials
from customer_sdk.sandbox._faults import FaultDealer
from customer_sdk.sandbox._ratelimit import RetryAfterMode, TokenBucket
from customer_sdk.sandbox._store import Store

__all__ = ["State"]


class State:
    """The sandbox's shared, mutable state (its attributes are the settings of ``Sandbox``).

    Args:
        credentials: The API user requests must authenticate as.
        scheme: ``http`` or ``https``, for the URL a signature signs.
        dealer: Deals each request its fault.
        bucket: The shared token bucket, or None for no rate limit.
        retry_after: How a rate-limit 429 states its wait.
        stall_seconds: How long the ``stall`` faults hold.
        lookup_lag: Under the ``lag`` fault, how long a new customer stays invisible.
        signature_max_age: How far (seconds) a signature's timestamp may be from now.
    """

    __slots__ = (
        "audit",
        "base_url",
        "bucket",
        "counters",
        "credentials",
        "dealer",
        "lookup_lag",
        "on_commit",
        "outage_until",
        "retry_after",
        "scheme",
        "signature_max_age",
        "stall_seconds",
        "stopping",
        "store",
    )

    def __init__(
        self,
        *,
        credentials: Credentials,
        scheme: str,
        dealer: FaultDealer,
        bucket: TokenBucket | None,
        retry_after: RetryAfterMode,
        stall_seconds: float,
        lookup_lag: float,
        signature_max_age: float,
    ) -> None:
        self.credentials = credentials
        self.scheme = scheme
        self.dealer = dealer
        self.bucket = bucket
        self.retry_after: RetryAfterMode = retry_after
        self.stall_seconds = stall_seconds
        self.lookup_lag = lookup_lag
        self.signature_max_age = signature_max_age
        self.store = Store()
        self.counters: collections.Counter[str] = collections.Counter()
        self.audit = AuditLog(self.counters)
        self.on_commit: Callable[[dict[str, Any]], None] | None = None
        self.outage_until = 0.0  # time.monotonic() deadline; 0: no outage
        self.stopping: asyncio.Event | None = None  # set by a stop; None before the first start
        self.base_url: str | None = None

    async def hold(self, seconds: float) -> bool:
        """Wait ``seconds``, unless the sandbox stops meanwhile.

        Args:
            seconds: How long.

        Returns:
            True when the wait ran out; False when a stop cut it short (or had happened).
        """
        stopping = self.stopping
        if stopping is None or stopping.is_set():
            return False
        try:
            async with asyncio.timeout(seconds):
                await stopping.wait()
        except TimeoutError:
            return True
        return False
