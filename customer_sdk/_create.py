"""The create state machine: one customer created at most once, whatever fails.

A create is not idempotent and ChargeOver has no idempotency key (``docs/chargeover-api.md``,
"Idempotency"); the caller's unique ``external_key`` is the only handle. So every failed POST
is acted on by *what the server may have done* — its class in ``docs/faults.md``:

==================  ==================================================================
class               what the next attempt does
==================  ==================================================================
NOT_SENT            POST again after a backoff
THROTTLED           POST again after ``Retry-After`` (above the cap: fail fast)
AMBIGUOUS           wait, look the key up: found → done (``created=False``); else POST
CREATED_ID_UNKNOWN  look the key up at once, and only ever look it up again: never POST
REJECTED, keyed     look the key up at once (a 400 may mean "exists"): found → done;
                    not found → :class:`ExternalKeyReservedError` when the message says
                    the key is taken, else the 400 as it was (or keep looking when an
                    earlier attempt may have created it: the lookup may lag, F23)
anything else       raised as is (401, 403, TLS, other 400s)
==================  ==================================================================

Without a key an AMBIGUOUS or CREATED_ID_UNKNOWN failure is never resent: the call ends in
:class:`OutcomeUnknownError`. Once any attempt may have created the customer, running out of
budget also ends in :class:`OutcomeUnknownError`, never a plain error inviting a blind resend.

The loop is tenacity's (:meth:`customer_sdk._retry.Retrier.retrying`): one attempt settles the
previous failure (a lookup where its class asks for one) and then POSTs; the predicate retries
exactly the failures the table above resends or reconciles. This module sends through an
:class:`~customer_sdk._engine.Engine` (seen here only as the :class:`Sender` protocol) and
knows no wire format.
"""

from __future__ import annotations

import enum
from typing import Protocol

from customer_sdk import _protocol as proto
from customer_sdk._models import CreatedCustomer
from customer_sdk._protocol import HttpRequest, HttpResponse, Outcome
from customer_sdk._read import Customer
from customer_sdk._retry import Retrier, Run
from customer_sdk.errors import (
    BadRequestError,
    ChargeOverError,
    ExternalKeyReservedError,
    OutageError,
    OutcomeUnknownError,
)

__all__ = ["CreateCall", "Sender", "created_result"]


class Sender(Protocol):
    """What a create needs of the engine: sending, looking up, and its retry policy."""

    @property
    def retrier(self) -> Retrier:
        """The compiled retry policy."""

    async def send(self, request: HttpRequest, run: Run) -> HttpResponse:
        """Send one request (see :meth:`customer_sdk._engine.Engine.send`)."""

    async def lookup(self, key: str, run: Run | None = None) -> Customer | None:
        """Look a key up, retried (see :meth:`customer_sdk._engine.Engine.lookup`)."""

    def too_long(self, exc: ChargeOverError) -> bool:
        """Whether a 429's ``Retry-After`` is above the cap."""


def created_result(
    cid: int,
    created: bool,
    run: Run,
    location: str | None,
    key: str | None,
    recovered: bool = False,
) -> CreatedCustomer:
    """A create's result.

    Args:
        cid: The customer's id.
        created: Whether this call created it.
        run: The call's budget (its request count is reported).
        location: The 201's ``Location`` header, if any.
        key: The ``external_key`` sent.
        recovered: Found by key after an attempt of its own may have created it.

    Returns:
        The result.
    """
    return CreatedCustomer(
        customer_id=cid,
        created=created,
        attempts=run.requests,
        location=location,
        external_key=key,
        recovered=recovered,
        status=run.status,
        headers=run.headers,
    )


class _Next(enum.Enum):
    """What the next attempt does before (or instead of) POSTing."""

    POST = enum.auto()  # POST again: nothing was sent, or a lookup proved nothing was made
    LOOKUP = enum.auto()  # look up, then POST if not found (after an ambiguous failure)
    LOOKUP_ONLY = enum.auto()  # look up, and never POST (the customer was created)


class CreateCall:
    """One create after its first POST failed: a state machine driven by tenacity.

    Args:
        sender: The engine.
        key: The ``external_key`` sent, or None.
        request: The POST, built once (the same bytes on every attempt).
        run: The call's budget, shared with its lookups.
    """

    __slots__ = (
        "_created",
        "_given",
        "_may_exist",
        "_next",
        "_pending",
        "_request",
        "_run",
        "_sender",
        "key",
    )

    def __init__(self, sender: Sender, key: str | None, request: HttpRequest, run: Run) -> None:
        self._sender = sender
        self.key = key
        self._request = request
        self._run = run
        self._next = _Next.POST
        # The failure the first attempt starts from (set by run()).
        self._given: ChargeOverError | None = None
        # The failure handed to tenacity as retryable; anything else raised is final.
        self._pending: ChargeOverError | None = None
        # Set once any attempt may have created the customer: from then on, running out of
        # budget means "unknown", never a plain error that invites a blind resend.
        self._may_exist = False
        # Set once a 2xx proved the create happened (its id unreadable): from then on the
        # customer is only ever looked up, and an unknown outcome says so.
        self._created = False

    async def run(self, failure: ChargeOverError) -> CreatedCustomer:
        """Carry on after an attempt failed with ``failure``, until success or a final error.

        Args:
            failure: The first POST's failure (or, for a resumed bulk row, an earlier run's).

        Returns:
            The created or found customer.

        Raises:
            OutcomeUnknownError: The customer may exist and could not be confirmed.
            ExternalKeyReservedError: A keyed 400 whose key no customer has.
            ChargeOverError: Any other final failure, as it was raised.
        """
        self._given = failure
        retrying = self._sender.retrier.retrying(
            self._run, operation="create", retry=self._retryable, action=self._action
        )
        try:
            return await retrying(self._attempt)
        except ChargeOverError as exc:
            if (
                self._may_exist
                and not isinstance(exc, OutcomeUnknownError)
                and (self._retryable(exc) or isinstance(exc, OutageError))
            ):
                # The budget ran out (or a bulk job gave up on an outage) while the customer
                # may exist: never a plain error, which would read as "not sent".
                raise self._unknown(exc, self._why_unconfirmed()) from exc
            raise

    def _retryable(self, exc: BaseException) -> bool:
        # _on_failure only lets a failure through (rather than raising a final error) when the
        # next attempt can act on it; cancellation and final errors are never retried.
        return exc is self._pending

    def _action(self, _: BaseException) -> str:
        # RetryEvent.action names only "resend" or "lookup" (its documented values): whether a
        # POST may follow the lookup is this machine's business.
        return "resend" if self._next is _Next.POST else "lookup"

    def _why_unconfirmed(self) -> str:
        if self._next is _Next.LOOKUP_ONLY:
            return "created customer not visible to lookups in time"
        if self._next is _Next.LOOKUP:
            return "create not confirmed before the retry budget ran out"
        return "create not confirmed"

    async def _attempt(self) -> CreatedCustomer:
        given = self._given
        if given is not None:  # the first attempt starts from the failure run() was given
            self._given = None
            return await self._on_failure(given)
        if self._next is not _Next.POST:
            # A retry after a waited failure: settle it by lookup before any POST.
            found = await self._lookup()
            if found is not None:
                return self._found(found)
            if self._next is _Next.LOOKUP_ONLY:
                assert self._pending is not None
                raise self._pending  # still retryable: look again after a wait
        try:
            resp = await self._sender.send(self._request, self._run)
            cid, location = proto.parse_created(resp)
        except ChargeOverError as exc:
            return await self._on_failure(exc)
        return created_result(cid, True, self._run, location, self.key)

    async def _on_failure(self, exc: ChargeOverError) -> CreatedCustomer:
        """Act on one failed POST by its class: a result, a final error, or a retry."""
        outcome = proto.classify(exc)
        if outcome is Outcome.NOT_SENT or outcome is Outcome.THROTTLED:
            if self._sender.too_long(exc):
                # Retry-After above the cap: a single call fails fast (docs/faults.md F14).
                if self._may_exist:
                    raise self._unknown(exc, "create not confirmed") from exc
                raise exc
            return self._retry(exc, _Next.POST)
        if outcome is Outcome.AMBIGUOUS or outcome is Outcome.CREATED_ID_UNKNOWN:
            self._created = self._created or outcome is Outcome.CREATED_ID_UNKNOWN
            if self.key is None:
                raise self._unknown(
                    exc,
                    "the create may have happened and there is no external_key to check; "
                    "not resent to avoid a duplicate",
                ) from exc
            self._may_exist = True
            if outcome is Outcome.AMBIGUOUS:
                return self._retry(exc, _Next.LOOKUP)  # wait, then look up (the write may lag)
            # A cut 201 means it was created: look up at once, and never POST again.
            return await self._look_now(exc)
        if outcome is Outcome.REJECTED and isinstance(exc, BadRequestError) and self.key:
            # A 400 on a keyed create may be a duplicate key (ours or older): the message text
            # is undocumented, so decide by lookup (docs/chargeover-api.md, "Errors").
            if not self._may_exist:
                found = await self._lookup()
                if found is not None:
                    return self._found(found)
                if not proto.says_key_taken(exc.message):
                    # No customer has the key and the server did not say it is taken: an
                    # ordinary bad request, e.g. the recorded "A required parameter was
                    # missing: No data." (tests/recordings/create_400_no_data.json).
                    raise exc
                raise ExternalKeyReservedError(
                    exc.status,
                    exc.message,
                    external_key=self.key,
                    code=exc.code,
                    details=exc.details,
                    headers=exc.headers,
                ) from exc
            # After an earlier ambiguous attempt the 400 is most likely our own create, not
            # yet visible to lookups (F23): keep looking until found or out of budget.
            return await self._look_now(exc)
        raise exc

    async def _look_now(self, exc: ChargeOverError) -> CreatedCustomer:
        found = await self._lookup()
        if found is not None:
            return self._found(found)
        return self._retry(exc, _Next.LOOKUP_ONLY)

    def _retry(self, exc: ChargeOverError, then: _Next) -> CreatedCustomer:
        """Hand ``exc`` to tenacity as retryable, the next attempt doing ``then``."""
        self._next = then
        self._pending = exc
        raise exc

    async def _lookup(self) -> int | None:
        assert self.key is not None
        try:
            found = await self._sender.lookup(self.key, self._run)
        except ChargeOverError as lookup_exc:
            raise self._unknown(lookup_exc, "create could not be reconciled") from lookup_exc
        return None if found is None else found.customer_id

    def _found(self, cid: int) -> CreatedCustomer:
        # Found by key: recovered when an attempt of ours may have made it (its answer lost),
        # else the key was already taken before this call.
        return created_result(cid, False, self._run, None, self.key, recovered=self._may_exist)

    def _unknown(self, exc: ChargeOverError, why: str) -> OutcomeUnknownError:
        return OutcomeUnknownError(
            why,
            external_key=self.key,
            last_error=f"{type(exc).__name__}: {exc}",
            created=self._created,
        )
