"""The one way a request goes out: a frozen configuration and :meth:`Sender.send`.

Every request of the SDK (a create, a read, a lookup, a ``_bulk`` call, an update, a delete)
passes through :meth:`Sender.send`: it waits for a limiter slot, signs the request under
signature auth, checks the call's deadline, counts it in the call's budget, tells the observer
and the hooks, and reports the answer (a 429's ``Retry-After``) back to the limiter. It never
retries: the retried calls built on it are :class:`~customer_sdk._engine.Engine`'s. Kept
apart from them so that the per-request path, which every attempt runs, reads in one place.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

import attrs
from multidict import CIMultiDict

from customer_sdk import _protocol as proto
from customer_sdk._attempt import SendObserver, log_attempt, request_sent, response_received
from customer_sdk._auth import Auth, BasicAuth
from customer_sdk._flags import NO_FLAGS, Flags
from customer_sdk._hooks import Hooks, both_on_retry, call_hook
from customer_sdk._protocol import HttpRequest, HttpResponse
from customer_sdk._ratelimit import Limiter, no_wait_check
from customer_sdk._retry import Retrier, Run
from customer_sdk._retry_policy import RetryPolicy
from customer_sdk._transport import AiohttpTransport
from customer_sdk.errors import ChargeOverError, ConnectError, RateLimitError

__all__ = ["Sender"]

logger: Final = logging.getLogger("customer_sdk")


@attrs.frozen(kw_only=True)
class Sender:
    """One frozen request configuration and the one way a request goes out under it.

    The base of :class:`~customer_sdk._engine.Engine`, which adds the retried calls; derive
    a variant with ``attrs.evolve(engine, limiter=..., retry=..., observer=...)``: the variant
    shares the transport (pool, headers, auth) and sees the same 429 pauses when its limiter
    wraps this one's.

    Attributes:
        base_url: ``scheme://host[:port][/prefix]``, without ``/api/v3``.
        transport: The connection pool that moves the bytes.
        auth: The auth scheme. Basic auth is baked into the transport's headers once;
            a signature is computed per request here.
        limiter: Every request waits for a slot here and reports 429s and successes to it.
        retry: The retry policy.
        observer: Told of every request sent, or None.
        flags: The side-effect flags every write (create, ``_bulk``, update, delete) carries
            in its query string (docs/chargeover-api.md, "Query flags"); none by default.
        timeout: Seconds one request may take, instead of the transport's; None for its own.
        hooks: The caller's request hooks, or None.
    """

    base_url: str
    transport: AiohttpTransport
    auth: Auth
    limiter: Limiter
    retry: RetryPolicy
    observer: SendObserver | None = None
    flags: Flags = NO_FLAGS
    timeout: float | None = None
    hooks: Hooks | None = None
    # Derived once per configuration (and again by attrs.evolve), never per request.
    retrier: Retrier = attrs.field(init=False, repr=False, eq=False)
    _limiter_now: Callable[[], bool] = attrs.field(init=False, repr=False, eq=False)
    _signs: bool = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        policy, hooks = self.retry, self.hooks
        if hooks is not None and hooks.on_retry is not None:
            policy = attrs.evolve(policy, on_retry=both_on_retry(policy.on_retry, hooks.on_retry))
        object.__setattr__(self, "retrier", Retrier(policy))
        object.__setattr__(self, "_limiter_now", no_wait_check(self.limiter))
        object.__setattr__(self, "_signs", not isinstance(self.auth, BasicAuth))

    @property
    def closed(self) -> bool:
        """True once the transport (the client) is closed."""
        return self.transport.closed

    def too_long(self, exc: ChargeOverError) -> bool:
        """Whether ``exc`` is a 429 whose ``Retry-After`` is above the policy's cap.

        A single call told to wait that long fails fast rather than hang (docs/faults.md F14).

        Args:
            exc: A failed attempt's error.

        Returns:
            True for such a 429.
        """
        return (
            isinstance(exc, RateLimitError)
            and exc.retry_after is not None
            and exc.retry_after > self.retry.retry_after_cap
        )

    async def send(self, request: HttpRequest, run: Run) -> HttpResponse:
        """Send one request under the limiter and the call's deadline; tell the observer.

        Args:
            request: The built request.
            run: The call's budget; the request is counted in it.

        Returns:
            The response, any status (:mod:`customer_sdk._protocol` interprets it).

        Raises:
            ConnectError: The limiter's wait spent the call's deadline (nothing was sent).
            ChargeOverError: The transport's errors (see ``AiohttpTransport.send``).
        """
        if not self._limiter_now():  # the limiter is open for nearly every request
            await self.limiter.acquire()
        headers: CIMultiDict[str] | None = None
        if self._signs:
            # A signature covers the exact URL and body of each request (docs/chargeover-api.md,
            # "Base URL and auth"), so it cannot be a session default like Basic auth.
            headers = CIMultiDict(
                Authorization=self.auth.header(request.method, request.url, request.body)
            )
        remaining = run.remaining()
        if remaining is not None and remaining <= 0:
            # The limiter's wait (a shared queue, a long Retry-After pause) spent the call's
            # deadline. Sending now with no time left would turn a clean "not sent" into an
            # ambiguous outcome (docs/faults.md) for nothing.
            raise ConnectError("the call's deadline passed before the request could be sent")
        run.requests += 1
        debug = logger.isEnabledFor(logging.DEBUG)
        started = time.perf_counter() if debug else 0.0
        observer, hooks = self.observer, self.hooks
        if observer is not None:
            observer.on_send()
        if hooks is not None:
            started = time.perf_counter()
            call_hook(hooks.on_request, request_sent(request, run))
        try:
            resp = await self.transport.send(request, headers, remaining, self.timeout)
        except ChargeOverError as exc:
            if observer is not None:
                observer.on_answer(exc)
            if debug:
                log_attempt(request, type(exc).__name__, started, run)
            if hooks is not None:
                call_hook(hooks.on_response, response_received(request, run, started, None, exc))
            raise
        run.status, run.headers, run.body = resp.status, resp.headers, resp.body
        if debug:
            log_attempt(request, str(resp.status), started, run)
        if observer is not None:
            observer.on_answer(resp.status)
        if hooks is not None:
            call_hook(hooks.on_response, response_received(request, run, started, resp, None))
        if resp.status == 429:
            ra = proto.parse_retry_after(resp.headers)
            self.limiter.on_throttled(None if ra is None else min(ra, self.retry.retry_after_cap))
        else:
            self.limiter.on_success()
        return resp
