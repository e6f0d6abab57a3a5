"""Raw responses: a call's parsed result together with the HTTP answer that settled it.

``client.customers.with_raw_response`` has the single-request calls of ``client.customers``
(``create``, ``get``, ``find_by_external_key``, ``update``, ``delete``, ``count``) with the same
arguments, and ``page`` for one request of a listing (``list`` reads many); each runs the plain
call's own code path (validation, flags, retries, hooks) and returns a :class:`RawResponse`
holding the status, headers and body of the last answer the call read (for a create reconciled
by a lookup, that lookup's answer) beside the usual result. Failures raise the same
exceptions; an :class:`~customer_sdk.APIError` carries its own ``status`` and ``headers``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Generic, TypeVar, Unpack, overload

import attrs

from customer_sdk import _write as write
from customer_sdk._customer_writes import create_body, flagged, update_body
from customer_sdk._engine import Engine
from customer_sdk._fields import CustomerFields
from customer_sdk._flags import Flags
from customer_sdk._listing import Page, count_customers, read_page
from customer_sdk._models import CreatedCustomer, CustomerCreate
from customer_sdk._options import engine_for
from customer_sdk._query import WhereArg, build_query, check_id, checked_value
from customer_sdk._read import Customer
from customer_sdk._retry import Run
from customer_sdk._update import CustomerUpdateFields, DeletedCustomer, UpdatedCustomer
from customer_sdk.errors import ConfigurationError

__all__ = ["RawCustomers", "RawResponse"]

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class RawResponse(Generic[T]):
    """A call's result and the HTTP answer it came from.

    Attributes:
        parsed: What the plain call returns (a ``CreatedCustomer``, a ``Customer``, ...).
        status: The HTTP status of the last answer the call read.
        headers: Its response headers (read-only).
        body: Its body, as received (after decompression).
        attempts: HTTP requests the call made.
    """

    parsed: T
    status: int | None
    headers: Mapping[str, str] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)
    attempts: int


def _raw(parsed: T, run: Run) -> RawResponse[T]:
    return RawResponse(
        parsed=parsed, status=run.status, headers=run.headers, body=run.body, attempts=run.requests
    )


class RawCustomers:
    """``client.customers.with_raw_response``: the customer calls, returning raw responses.

    Args:
        engine: The client's (or view's) engine.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @overload
    async def create(
        self,
        customer: CustomerCreate | Mapping[str, Any],
        /,
        *,
        flags: Flags | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (an HTTP request's, not this call's)
        deadline: float | None = None,
    ) -> RawResponse[CreatedCustomer]: ...

    @overload
    async def create(
        self,
        /,
        *,
        flags: Flags | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (an HTTP request's, not this call's)
        deadline: float | None = None,
        **fields: Unpack[CustomerFields],
    ) -> RawResponse[CreatedCustomer]: ...

    async def create(
        self,
        customer: CustomerCreate | Mapping[str, Any] | None = None,
        /,
        *,
        flags: Flags | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (an HTTP request's, not this call's)
        deadline: float | None = None,
        **fields: Any,
    ) -> RawResponse[CreatedCustomer]:
        """As ``Customers.create``, with the answer that settled the call.

        Args:
            customer: The customer, as a model or mapping.
            flags: Side effects ChargeOver may set off, as for ``Customers.create`` (in the
                URL of every attempt). None: the account's settings.
            timeout: Seconds one HTTP request of this call may take.
            deadline: Seconds this call may take in all.
            **fields: The customer's fields, when no ``customer`` is given.

        Returns:
            The raw response; ``parsed`` is the :class:`CreatedCustomer`.

        Raises:
            ValidationError: As ``Customers.create``, before any I/O.
            TypeError: ``flags`` is not a :class:`Flags`, or both a customer and fields.
            ChargeOverError: As ``Customers.create``.
        """
        # The plain create's steps in its order: body, flags, then the call's options.
        body, key = create_body(customer, fields)
        engine = engine_for(flagged(self._engine, flags), timeout, deadline)
        run = engine.retrier.start()
        return _raw(await engine.create(body, key, run), run)

    async def get(
        self,
        customer_id: int,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (an HTTP request's, not this call's)
        deadline: float | None = None,
    ) -> RawResponse[Customer]:
        """As ``Customers.get``, with the answer.

        Args:
            customer_id: ChargeOver's id.
            timeout: Seconds one HTTP request of this call may take.
            deadline: Seconds this call may take in all.

        Returns:
            The raw response; ``parsed`` is the :class:`Customer`.

        Raises:
            ChargeOverError: As ``Customers.get``.
        """
        check_id(customer_id)
        engine = engine_for(self._engine, timeout, deadline)
        run = engine.retrier.start()
        return _raw(await engine.get(customer_id, run), run)

    async def find_by_external_key(
        self,
        key: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (an HTTP request's, not this call's)
        deadline: float | None = None,
    ) -> RawResponse[Customer | None]:
        """As ``Customers.find_by_external_key``, with the answer.

        Args:
            key: The external key.
            timeout: Seconds one HTTP request of this call may take.
            deadline: Seconds this call may take in all.

        Returns:
            The raw response; ``parsed`` is the customer, or None when none has the key.

        Raises:
            ChargeOverError: As ``Customers.find_by_external_key``.
        """
        checked_value(key, "external_key")
        engine = engine_for(self._engine, timeout, deadline)
        run = engine.retrier.start()
        return _raw(await engine.lookup(key, run), run)

    async def update(
        self,
        customer_id: int,
        /,
        *,
        flags: Flags | None = None,
        **fields: Unpack[CustomerUpdateFields],
    ) -> RawResponse[UpdatedCustomer]:
        """As ``Customers.update``, with the answer (the PUT's, or its last resend's).

        Args:
            customer_id: ChargeOver's id.
            flags: Side effects ChargeOver may set off (see :class:`Flags`).
            **fields: The fields to change, by wire name.

        Returns:
            The raw response; ``parsed`` is the :class:`UpdatedCustomer`.

        Raises:
            ConfigurationError: The id is not a positive int (before any I/O).
            ValidationError: A field is invalid, or none is given (before any I/O).
            NotFoundError: No such customer.
            ChargeOverError: As ``Customers.update``.
        """
        body = update_body(customer_id, fields)
        writer = flagged(self._engine, flags)
        run = writer.retrier.start()
        return _raw(await write.update(writer, customer_id, body, run), run)

    async def delete(
        self, customer_id: int, /, *, flags: Flags | None = None
    ) -> RawResponse[DeletedCustomer]:
        """As ``Customers.delete``, with the answer (a 404 when ``confirmed`` is False).

        Args:
            customer_id: ChargeOver's id.
            flags: Side effects ChargeOver may set off (see :class:`Flags`).

        Returns:
            The raw response; ``parsed`` is the :class:`DeletedCustomer`.

        Raises:
            ConfigurationError: The id is not a positive int (before any I/O).
            NotFoundError: No such customer (and no attempt of this call can have deleted it).
            ChargeOverError: As ``Customers.delete``.
        """
        check_id(customer_id)
        writer = flagged(self._engine, flags)
        run = writer.retrier.start()
        return _raw(await write.delete(writer, customer_id, run), run)

    async def count(self, where: WhereArg = None) -> RawResponse[int]:
        """As ``Customers.count``, with the answer.

        Args:
            where: A filter in any form ``Customers.list`` takes; None counts every customer.

        Returns:
            The raw response; ``parsed`` is the number of matching customers.

        Raises:
            ConfigurationError: Naming every problem of ``where``, before any I/O.
            ChargeOverError: As ``Customers.count``.
        """
        query = build_query(where)
        run = self._engine.retrier.start()
        return _raw(await count_customers(self._engine, query, run), run)

    async def page(
        self,
        where: WhereArg = None,
        *,
        order: str | Iterable[str] | None = None,
        page_size: int | None = None,
        offset: int = 0,
    ) -> RawResponse[Page]:
        """One request of ``Customers.list``: the page at ``offset``, with the answer.

        ``Customers.list(...).pages()`` reads every page; this reads one, for a caller that
        wants its headers or keeps its own offset.

        Args:
            where: The filter, as ``Customers.list`` takes it.
            order: The order, as ``Customers.list`` takes it (``customer_id:ASC`` is added as
                the tie-breaker).
            page_size: Rows asked for, 1 to 500 (default 100).
            offset: Rows of the listing before the page (a multiple of ``page_size`` gives
                the pages ``list`` reads).

        Returns:
            The raw response; ``parsed`` is the :class:`Page` (empty past the listing's end;
            ``last`` when shorter than ``page_size``; ``number`` counts from 1 in pages of
            ``page_size`` from offset 0).

        Raises:
            ConfigurationError: Naming every problem of the arguments, before any I/O.
            ChargeOverError: As a page of ``Customers.list``.
        """
        bad_offset = type(offset) is not int or offset < 0
        problem = f"offset must be an int >= 0, got {offset!r}"
        try:
            query = build_query(where, order, page_size)
        except ConfigurationError as exc:
            # One error naming every problem, the offset's with the others.
            raise ConfigurationError(f"{exc}; {problem}" if bad_offset else str(exc)) from None
        if bad_offset:
            raise ConfigurationError(problem)
        run = self._engine.retrier.start()
        number = offset // query.page_size + 1
        return _raw(await read_page(self._engine, query, offset, number, run), run)
