"""The retried writes to an existing customer: an update (PUT) and a delete (DELETE).

Both are idempotent: a PUT sets the same fields again, a DELETE of a deleted customer deletes
nothing more. So, unlike a create (:mod:`customer_sdk._create`), they are simply sent again after
any transient failure — a refused connection, a 429, a reset, a timeout, a 5xx, a cut answer —
through tenacity's loop (:meth:`customer_sdk._retry.Retrier.retrying`) and the call's budget.
Refusals (401, 403, TLS) and rejections (400, 404) are raised at once (docs/faults.md).

One answer needs care: a DELETE retried after an attempt whose answer was lost, answered 404.
The lost attempt may have deleted the customer, or the customer may have been gone already (or
deleted by someone else in between): the two cannot be told apart. The call then succeeds with
``confirmed=False`` instead of raising :class:`~customer_sdk.errors.NotFoundError` for a delete
that most likely was ours. A 404 on the first attempt (or after failures that prove nothing was
sent) is a :class:`~customer_sdk.errors.NotFoundError`.

This module sends through the engine (seen as the :class:`Writer` protocol); requests are
built and answers deciphered by :mod:`customer_sdk._protocol`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

from customer_sdk import _protocol as proto
from customer_sdk._flags import Flags
from customer_sdk._protocol import HttpRequest, HttpResponse, Outcome
from customer_sdk._retry import Retrier, Run
from customer_sdk._update import DeletedCustomer, UpdatedCustomer
from customer_sdk.errors import ChargeOverError, NotFoundError

__all__ = ["Writer", "delete", "delete_customer", "update", "update_customer"]

# The failures after which the server may have carried the request out.
_MAY_HAVE_RUN: Final = frozenset({Outcome.AMBIGUOUS, Outcome.CREATED_ID_UNKNOWN})


class Writer(Protocol):
    """What a write needs of the engine: where, its flags, sending, and its retry policy."""

    @property
    def base_url(self) -> str:
        """The API's base URL, without ``/api/v3``."""

    @property
    def flags(self) -> Flags:
        """The side-effect flags every write carries."""

    @property
    def retrier(self) -> Retrier:
        """The compiled retry policy."""

    async def send(self, request: HttpRequest, run: Run) -> HttpResponse:
        """Send one request (see :meth:`customer_sdk._engine.Engine.send`)."""

    def too_long(self, exc: ChargeOverError) -> bool:
        """Whether a 429's ``Retry-After`` is above the cap."""


def _resendable(writer: Writer) -> Callable[[BaseException], bool]:
    def resendable(exc: BaseException) -> bool:
        # Anything but a refusal or a rejection: those would only come back the same.
        return (
            isinstance(exc, ChargeOverError)
            and proto.classify(exc) not in {Outcome.FATAL, Outcome.REJECTED}
            and not writer.too_long(exc)
        )

    return resendable


async def update_customer(writer: Writer, request: HttpRequest, run: Run) -> UpdatedCustomer:
    """Send a PUT until it is answered, resending after transient failures.

    Args:
        writer: The engine.
        request: The PUT, built once (its URL carries the flags on every attempt).
        run: The call's budget.

    Returns:
        The id ChargeOver answered and the requests made.

    Raises:
        NotFoundError: No such customer.
        ChargeOverError: Any other refusal at once; a transient failure once the budget is spent.
    """

    async def attempt() -> int:
        return proto.parse_updated(await writer.send(request, run))

    retrying = writer.retrier.retrying(
        run,
        operation="update",
        retry=_resendable(writer),
        action="resend",
    )
    customer_id: int = await retrying(attempt)
    return UpdatedCustomer(customer_id=customer_id, attempts=run.requests)


async def delete_customer(
    writer: Writer, request: HttpRequest, customer_id: int, run: Run
) -> DeletedCustomer:
    """Send a DELETE until it is answered, resending after transient failures.

    Args:
        writer: The engine.
        request: The DELETE, built once.
        customer_id: The id (for the result).
        run: The call's budget.

    Returns:
        The result; ``confirmed`` is False for a 404 after an attempt whose answer was lost.

    Raises:
        NotFoundError: No such customer, and no attempt of this call can have deleted it.
        ChargeOverError: Any other refusal at once; a transient failure once the budget is spent.
    """
    may_have_run = False

    async def attempt() -> bool:
        nonlocal may_have_run
        try:
            proto.parse_deleted(await writer.send(request, run))
        except NotFoundError:
            if may_have_run:
                return False  # gone: by our lost attempt, or before it (see the module doc)
            raise
        except ChargeOverError as exc:
            may_have_run = may_have_run or proto.classify(exc) in _MAY_HAVE_RUN
            raise
        return True

    retrying = writer.retrier.retrying(
        run,
        operation="delete",
        retry=_resendable(writer),
        action="resend",
    )
    confirmed: bool = await retrying(attempt)
    return DeletedCustomer(customer_id=customer_id, attempts=run.requests, confirmed=confirmed)


async def update(
    writer: Writer, customer_id: int, body: bytes, run: Run | None = None
) -> UpdatedCustomer:
    """``PUT`` the fields in ``body`` to one customer, resent after transient failures.

    Args:
        writer: The engine (its flags go in the URL).
        customer_id: ChargeOver's id (already checked by the caller).
        body: The serialised fields to change.
        run: The call's budget, or None for a fresh one (a raw response reads its answer).

    Returns:
        The id answered and the requests made.

    Raises:
        NotFoundError: No such customer.
        ChargeOverError: Any other failure, after retries.
    """
    request = proto.update_request(writer.base_url, customer_id, body)
    request = proto.with_query(request, writer.flags.query)
    return await update_customer(writer, request, run or writer.retrier.start())


async def delete(writer: Writer, customer_id: int, run: Run | None = None) -> DeletedCustomer:
    """``DELETE`` one customer, resent after transient failures.

    Args:
        writer: The engine (its flags go in the URL).
        customer_id: ChargeOver's id (already checked by the caller).
        run: The call's budget, or None for a fresh one (a raw response reads its answer).

    Returns:
        The result; ``confirmed`` is False for a 404 after a lost answer.

    Raises:
        NotFoundError: No such customer (and no attempt of this call can have deleted it).
        ChargeOverError: Any other failure, after retries.
    """
    request = proto.delete_request(writer.base_url, customer_id)
    request = proto.with_query(request, writer.flags.query)
    return await delete_customer(writer, request, customer_id, run or writer.retrier.start())
