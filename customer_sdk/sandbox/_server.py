"""The public :class:`Sandbox`: its construction and its lifecycle.

``Sandbox`` is a facade. Its settings live on a shared :class:`~customer_sdk.sandbox._state.State`
(so a change reaches the requests being served) and are turned and read back through the bases
of :mod:`customer_sdk.sandbox._controls`; the server lifecycle is
:class:`~customer_sdk.sandbox._app.App`, and the request path is
:mod:`customer_sdk.sandbox._handler` and the modules it routes to. This module answers no
request itself.

What the sandbox does not do: persist anything, implement any endpoint but the customer ones of
docs/chargeover-api.md, or check the SDK's stricter client-side rules (CR/LF, positive ids,
e-mail shape) — only the server's own type checks.
"""

from __future__ import annotations

import secrets
import ssl
from types import TracebackType
from typing import Self

from customer_sdk.sandbox._answers import REDIRECT_TARGET
from customer_sdk.sandbox._app import App
from customer_sdk.sandbox._audit import AuditEntry
from customer_sdk.sandbox._authcheck import Credentials
from customer_sdk.sandbox._controls import LiveSettings, ReadBack
from customer_sdk.sandbox._faults import FaultDealer, parse_faults
from customer_sdk.sandbox._ratelimit import RetryAfterMode, make_bucket
from customer_sdk.sandbox._state import State
from customer_sdk.sandbox._writes import WritesReadBack

__all__ = ["REDIRECT_TARGET", "AuditEntry", "Sandbox"]


class Sandbox(LiveSettings, ReadBack, WritesReadBack):
    """A local, stateful ChargeOver customer API that breaks on demand.

    Use it as ``async with Sandbox() as sb:`` (or ``await sb.start()`` / ``await sb.stop()``)
    and point a client at ``sb.base_url`` with ``sb.username`` / ``sb.password``. It serves
    the endpoints of docs/chargeover-api.md with real envelopes, checks HTTP Basic and signature
    auth, throttles with a token bucket shared by all clients, and injects the faults of a
    SPEC (see :mod:`customer_sdk.sandbox`). Settings can change while it runs.

    Args:
        host: The address to bind.
        port: The port; 0 picks a free one.
        username: The API username; None makes a random one.
        password: The API password; None makes a random one.
        rate: Requests per second granted by the shared token bucket; None for no limit.
        burst: The bucket's size; None means ``ceil(rate)``.
        retry_after: How a rate-limit 429 states its wait: ``seconds`` (the ceiling of the
            wait for the next token), ``date`` (an HTTP-date) or ``none`` (no header).
        faults: The fault SPEC, or None.
        seed: Seeds the fault RNGs, so a SPEC plays out the same way each run.
        ssl_context: Serve HTTPS with this server context.
        stall_seconds: How long the ``stall`` faults hold.
        lookup_lag: Under the ``lag`` fault, customers stored less than this many seconds ago
            are invisible.
        signature_max_age: How far (seconds) a signature's timestamp may be from now.

    Raises:
        FaultSpecError: If ``faults`` does not parse.
        ValueError: On a bad ``rate``, ``burst`` or ``retry_after``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str | None = None,
        password: str | None = None,
        rate: float | None = None,
        burst: int | None = None,
        retry_after: RetryAfterMode = "seconds",
        faults: str | None = None,
        seed: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        stall_seconds: float = 5.0,
        lookup_lag: float = 0.5,
        signature_max_age: float = 300.0,
    ) -> None:
        if retry_after not in ("seconds", "date", "none"):
            raise ValueError(f"retry_after must be seconds, date or none, got {retry_after!r}")
        self.host = host
        self.port = port
        self.username = username if username is not None else "sandbox_" + secrets.token_hex(6)
        self.password = password if password is not None else secrets.token_urlsafe(24)
        self.seed = seed
        self.ssl_context = ssl_context
        self._state = State(
            credentials=Credentials(self.username, self.password),
            scheme="https" if ssl_context is not None else "http",
            dealer=FaultDealer(parse_faults(faults), seed),
            bucket=make_bucket(rate, burst),
            retry_after=retry_after,
            stall_seconds=stall_seconds,
            lookup_lag=lookup_lag,
            signature_max_age=signature_max_age,
        )
        self._app = App(self._state)

    def __repr__(self) -> str:
        base_url = self._state.base_url
        return f"Sandbox(base_url={base_url!r}, username={self.username!r}, password=***)"

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with an SSL context).

        Raises:
            RuntimeError: Before :meth:`start`.
        """
        if self._state.base_url is None:
            raise RuntimeError("the sandbox is not running: await start() first")
        return self._state.base_url

    async def start(self) -> None:
        """Bind and start serving.

        Raises:
            RuntimeError: If already running.
            OSError: If the address cannot be bound.
        """
        await self._app.start(self.host, self.port, self.ssl_context)

    async def stop(self) -> None:
        """Stop serving and close every connection; in-flight stalls end at once.

        A stalled create whose stall is cut short by the stop is not committed. Idempotent.
        """
        await self._app.stop()

    async def __aenter__(self) -> Self:
        """Start serving; return the sandbox."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop serving."""
        await self.stop()
