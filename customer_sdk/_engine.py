"""The request engine: the one way a request goes out, shared by the client and bulk jobs.

An :class:`Engine` is a frozen configuration — where to send (base URL, transport, auth), how
fast (limiter), how hard to try (retry policy) and who is told (observer) — plus the four things
done with it:

- :meth:`Engine.send`: one request under the limiter, the call's deadline and the observer;
- :meth:`Engine.read`: a GET retried through every transient failure (a GET is safe to repeat);
- :meth:`Engine.create`: a POST that never makes a duplicate, reconciled by ``external_key``
  (the state machine lives in :mod:`customer_sdk._create`);
- :meth:`Engine.bulk`: one ``POST /api/v3/_bulk`` call, resent only while nothing was stored.

Updates and deletes (idempotent, simply resent) run in :mod:`customer_sdk._write` on an engine;
:meth:`Engine.with_flags` gives the variant whose writes carry the side-effect flags.

A bulk job runs on a variant made with ``attrs.evolve`` (its own limiter, a retry policy
without a per-call deadline, an observer counting requests for its outage circuit); the
client's engine is never changed or copied by hand. Requests are built and answers deciphered
by :mod:`customer_sdk._protocol`; bytes move in :mod:`customer_sdk._transport`; retries run
through :mod:`customer_sdk._retry`. This module builds no URL and parses no JSON itself.
``docs/architecture.md`` traces one create and one bulk import through it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar

import attrs
from multidict import CIMultiDict

from customer_sdk import _protocol as proto
from customer_sdk._attempt import SendObserver, log_attempt, request_sent, response_received
from customer_sdk._auth import Auth, BasicAuth
from customer_sdk._create import CreateCall, created_result
from customer_sdk._flags import NO_FLAGS, Flags
from customer_sdk._hooks import Hooks, both_on_retry, call_hook
from customer_sdk._models import CreatedCustomer
from customer_sdk._protocol import BulkItem, HttpRequest, HttpResponse, Outcome
from customer_sdk._ratelimit import Limiter, no_wait_check
from customer_sdk._read import Customer
from customer_sdk._retry import Retrier, Run
from customer_sdk._retry_policy import RetryPolicy
from customer_sdk._transport import AiohttpTransport
from customer_sdk.errors import ChargeOverError, ConnectError, RateLimitError

__all__ = ["Engine", "SendObserver"]

logger: Final = logging.getLogger("customer_sdk")
T = TypeVar("T")


def _transient(exc: BaseException) -> bool:
    # A GET may be repeated after anything but a refusal: FATAL (401/403/TLS) and REJECTED
    # (400/404) answers would only come back the same.
    return isinstance(exc, ChargeOverError) and proto.classify(exc) not in {
        Outcome.FATAL,
        Outcome.REJECTED,
    }


@attrs.frozen(kw_only=True)
class Engine:
    """One frozen request configuration and the calls made with it.

    Derive a variant with ``attrs.evolve(engine, limiter=..., retry=..., observer=...)``: the
    variant shares the transport (pool, headers, auth) and sees the same 429 pauses when its
    limiter wraps this one's.

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

    async def read(
        self,
        request: HttpRequest,
        parse: Callable[[HttpResponse], T],
        *,
        operation: str,
        run: Run | None = None,
    ) -> T:
        """Send a GET and parse it, retrying every transient failure.

        Parsing is inside the attempt, so a cut or malformed 200 is retried like a reset.

        Args:
            request: The GET.
            parse: Turns the response into the result, or raises the mapped SDK error.
            operation: Its name in logs and retry events (``get``, ``lookup``).
            run: The budget to spend (a create's, when reconciling); a new one if None.

        Returns:
            What ``parse`` returned.

        Raises:
            ChargeOverError: A refusal at once; any other failure once the budget is spent.
        """
        run = run or self.retrier.start()
        first: list[ChargeOverError] = []
        # The first attempt outside tenacity, as a create's: a read answered at once (nearly
        # all: every page of a listing) builds no retry loop. A tenacity loop is a reference
        # cycle (its per-thread state lists bound methods of the loop) that held the run, and
        # so the last page's body, until the collector ran (tests/test_gc_cycles.py).
        try:
            return parse(await self.send(request, run))
        except ChargeOverError as exc:
            if not self._retry_read(exc):
                raise
            first.append(exc)

        async def attempt() -> T:
            if first:
                raise first.pop()  # the loop starts from the first attempt's failure
            return parse(await self.send(request, run))

        retrying = self.retrier.retrying(run, operation=operation, retry=self._retry_read)
        return await retrying(attempt)

    def _retry_read(self, exc: BaseException) -> bool:
        return isinstance(exc, ChargeOverError) and _transient(exc) and not self.too_long(exc)

    async def get(self, customer_id: int, run: Run | None = None) -> Customer:
        """Read one customer by id, retried.

        Args:
            customer_id: ChargeOver's id (already checked by the caller).
            run: The budget to spend, or None for a fresh one.

        Returns:
            The customer.

        Raises:
            NotFoundError: No such customer.
            ChargeOverError: Any other failure, after retries.
        """
        request = proto.get_request(self.base_url, customer_id)
        obj = await self.read(request, proto.parse_object, operation="get", run=run)
        return Customer.from_wire(obj)

    async def lookup(self, key: str, run: Run | None = None) -> Customer | None:
        """Find the customer with ``external_key == key``, retried.

        Args:
            key: A non-empty key (checked by the caller).
            run: The budget to spend, or None for a fresh one.

        Returns:
            The customer, or None when no customer has the key.

        Raises:
            ChargeOverError: On a failure retries could not overcome.
        """
        request = proto.find_by_key_request(self.base_url, key)
        for obj in await self.read(request, proto.parse_list, operation="lookup", run=run):
            # The filter is exact, but compare anyway: a server that ignored the escapes
            # must not make us adopt somebody else's customer.
            if obj.get("external_key") == key:
                return Customer.from_wire(obj)
        return None

    def create(
        self, body: bytes, key: str | None, run: Run | None = None
    ) -> Coroutine[Any, Any, CreatedCustomer]:
        """Create a customer from its serialised body, never making a duplicate.

        Args:
            body: The JSON body, serialised once: the bytes signed are the bytes sent.
            key: The body's ``external_key``, the only handle to reconcile by.
            run: The budget to spend, or None for a fresh one.

        Returns:
            The call as a coroutine that holds only ``body`` and ``key`` (not the model or
            dict they came from: see :meth:`Customers.create`).
        """
        return self._create(body, key, run)

    async def _create(self, body: bytes, key: str | None, run: Run | None) -> CreatedCustomer:
        request = proto.with_query(proto.create_request(self.base_url, body), self.flags.query)
        run = run or self.retrier.start()
        run.key = key  # retry logs name the create by its key's hash, never the key
        # The first attempt inline, outside tenacity: a create that succeeds at once (nearly
        # all of them) never builds a retry loop (benchmarks P1).
        try:
            resp = await self.send(request, run)
            cid, location = proto.parse_created(resp)
        except ChargeOverError as exc:
            return await CreateCall(self, key, request, run).run(exc)
        return created_result(cid, True, run, location, key)

    def resume_create(
        self, body: bytes, key: str | None, prior: ChargeOverError, run: Run
    ) -> Coroutine[Any, Any, CreatedCustomer]:
        """Carry on a create whose earlier attempt failed with ``prior`` (a bulk job's row).

        Args:
            body: The JSON body.
            key: Its ``external_key``.
            prior: The earlier attempt's failure; it is settled first (a lookup when the
                customer may exist), exactly as if this call's own POST had failed so.
            run: The budget to spend.

        Returns:
            The call as a coroutine.
        """
        request = proto.with_query(proto.create_request(self.base_url, body), self.flags.query)
        return CreateCall(self, key, request, run).run(prior)

    async def bulk(self, payloads: list[dict[str, Any]], run: Run) -> list[BulkItem]:
        """One ``POST /api/v3/_bulk`` call, resent only while nothing can have been stored.

        Args:
            payloads: Up to 25 create bodies (docs/chargeover-api.md, "Bulk").
            run: The call's budget.

        Returns:
            Each item's own answer, in request order.

        Raises:
            ChargeOverError: The call's failure once it may not be resent; the caller settles
                each row by its class (docs/faults.md).
        """
        request = proto.with_query(proto.bulk_request(self.base_url, payloads), self.flags.query)

        async def attempt() -> list[BulkItem]:
            return proto.parse_bulk(await self.send(request, run), len(payloads))

        def resendable(exc: BaseException) -> bool:
            # Only NOT_SENT and THROTTLED prove that no item was stored.
            return (
                isinstance(exc, ChargeOverError)
                and proto.classify(exc) in {Outcome.NOT_SENT, Outcome.THROTTLED}
                and not self.too_long(exc)
            )

        retrying = self.retrier.retrying(run, operation="bulk", retry=resendable, action="resend")
        return await retrying(attempt)

    def with_flags(self, flags: Flags | None) -> Engine:
        """This engine, or a variant whose writes carry ``flags`` (this one when None).

        Args:
            flags: The side-effect flags, or None to keep this engine's.

        Returns:
            The engine to send with (same transport, limiter and policy).
        """
        if flags is None or flags == self.flags:
            return self
        return attrs.evolve(self, flags=flags)
