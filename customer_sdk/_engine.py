"""The request engine: every call the client and bulk jobs make, on one configuration.

An :class:`Engine` is a frozen configuration — where to send (base URL, transport, auth), how
fast (limiter), how hard to try (retry policy) and who is told (observer) — plus the four things
done with it:

- :meth:`Engine.send`: one request under the limiter, the call's deadline and the observer
  (with the configuration itself, in :class:`customer_sdk._sender.Sender`, Engine's base);
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

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import attrs

from customer_sdk import _protocol as proto
from customer_sdk._attempt import SendObserver
from customer_sdk._create import CreateCall, created_result
from customer_sdk._flags import Flags
from customer_sdk._models import CreatedCustomer
from customer_sdk._protocol import BulkItem, HttpRequest, HttpResponse, Outcome
from customer_sdk._read import Customer
from customer_sdk._retry import Run
from customer_sdk._sender import Sender
from customer_sdk.errors import ChargeOverError

__all__ = ["Engine", "SendObserver"]

T = TypeVar("T")


def _transient(exc: BaseException) -> bool:
    # A GET may be repeated after anything but a refusal: FATAL (401/403/TLS) and REJECTED
    # (400/404) answers would only come back the same.
    return isinstance(exc, ChargeOverError) and proto.classify(exc) not in {
        Outcome.FATAL,
        Outcome.REJECTED,
    }


@attrs.frozen(kw_only=True)
class Engine(Sender):
    """One frozen request configuration and the calls made with it.

    The configuration (its attributes) and :meth:`send` are :class:`Sender`'s; this adds the
    calls built on ``send``: retried reads, the create that never duplicates, the ``_bulk``
    call. Derive a variant with ``attrs.evolve(engine, limiter=..., retry=..., observer=...)``:
    the variant shares the transport (pool, headers, auth) and sees the same 429 pauses when
    its limiter wraps this one's.
    """

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
