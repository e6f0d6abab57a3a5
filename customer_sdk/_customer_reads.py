"""The read side of the customer resource: get, look up, list and count (a base of Customers).

Each method checks its arguments before any I/O and hands the call to the engine
(:meth:`~customer_sdk._engine.Engine.read`: a retried GET) or to :mod:`customer_sdk._listing`.
"""

from __future__ import annotations

from collections.abc import Iterable

from customer_sdk._engine import Engine
from customer_sdk._listing import CustomerList, count_customers, get_by_field
from customer_sdk._options import engine_for
from customer_sdk._query import WhereArg, build_query, check_id, checked_value
from customer_sdk._raw import RawCustomers
from customer_sdk._read import Customer

__all__ = ["CustomerReads"]


class CustomerReads:
    """``get``, the lookups, ``list`` and ``count`` of the customer resource."""

    _engine: Engine

    @property
    def with_raw_response(self) -> RawCustomers:
        """The single-request calls, each returning a :class:`~customer_sdk.RawResponse`.

        ``create``, ``get``, ``find_by_external_key``, ``update``, ``delete`` and ``count``, and
        ``page`` for one request of a listing (``list`` reads many).

        ``(await client.customers.with_raw_response.get(7)).headers`` — the status, headers
        and body of the answer that settled the call, beside the parsed result.
        """
        return RawCustomers(self._engine)

    async def get(
        self,
        customer_id: int,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (an HTTP request's, not this call's)
        deadline: float | None = None,
    ) -> Customer:
        """Fetch one customer by id (``GET /api/v3/customer/{id}``), retrying transient failures.

        Args:
            customer_id: ChargeOver's id.
            timeout: Seconds one HTTP request of this call may take, instead of the client's.
            deadline: Seconds this call may take in all, retries included.

        Returns:
            The customer.

        Raises:
            NotFoundError: No such customer.
            ChargeOverError: Any other failure, after retries.
        """
        check_id(customer_id)
        return await engine_for(self._engine, timeout, deadline).get(customer_id)

    async def find_by_external_key(
        self,
        key: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (an HTTP request's, not this call's)
        deadline: float | None = None,
    ) -> Customer | None:
        r"""Look a customer up by ``external_key``, retrying transient failures.

        Any key round-trips exactly: ``,`` and ``:`` are escaped for the ``where`` filter (and
        nothing else, as ChargeOver's escape-syntax page says) and the whole clause is
        percent-encoded.

        Args:
            key: The external key.
            timeout: Seconds one HTTP request of this call may take, instead of the client's.
            deadline: Seconds this call may take in all, retries included.

        Returns:
            The customer, or None when no customer has that key.

        Raises:
            ChargeOverError: On a failure that retries could not overcome.
        """
        return await engine_for(self._engine, timeout, deadline).lookup(
            checked_value(key, "external_key")
        )

    # This name shadows the builtin inside the class body: methods below it annotate with
    # ``Sequence`` or ``builtins.list``, never ``list[...]`` (mypy: "not valid as a type").
    def list(
        self,
        where: WhereArg = None,
        *,
        order: str | Iterable[str] | None = None,
        page_size: int | None = None,
    ) -> CustomerList:
        r"""Every customer matching ``where``, read page by page (``GET /api/v3/customer``).

        Nothing is sent until the result is iterated: ``async for c in
        client.customers.list(where={"bill_state": "MN"}): ...`` yields :class:`Customer`
        objects; ``.pages()`` yields one :class:`Page` per request instead. Each page is a
        retried GET (``limit``/``offset``); the listing ends at the first page shorter than
        ``page_size``. Memory stays at one page; leaving the loop early leaves nothing open.

        Args:
            where: ChargeOver's filter. A string in its own syntax (``"company:CONTAINS:acme"``,
                clauses joined by ``,``; escape ``,`` and ``:`` in values yourself); a mapping
                of EQUALS clauses (``{"external_key": "k,1"}``; values escaped for you,
                ``None`` means ``IS:NULL``); or a sequence of clause strings and
                ``(field, op, value)`` / ``(field, "IS:NULL")`` tuples (values escaped).
                Operators: EQUALS NOTEQUALS GT LT GTE LTE CONTAINS IS:NULL ISNOT:NULL.
            order: ``"field:ASC"`` / ``"field:DESC"``, several comma-joined or as a
                sequence. ``customer_id:ASC`` is added as the tie-breaker (and is the default)
                so that offset paging is stable.
            page_size: Rows per request, 1 to 500 (default 100; ChargeOver documents neither
                number, see docs/chargeover-api.md, "Paging").

        Returns:
            The listing (an async iterable of :class:`Customer`).

        Raises:
            ConfigurationError: Naming every problem of the arguments, before any I/O.
        """
        return CustomerList(self._engine, build_query(where, order, page_size))

    async def count(self, where: WhereArg = None) -> int:
        """Count the customers matching ``where`` (``GET /api/v3/customer/_count``), retried.

        Args:
            where: A filter in any form :meth:`list` takes; None counts every customer.

        Returns:
            The number of matching customers.

        Raises:
            ConfigurationError: Naming every problem of ``where``, before any I/O.
            ChargeOverError: On a failure that retries could not overcome.
        """
        return await count_customers(self._engine, build_query(where))

    async def get_by_external_key(self, key: str) -> Customer:
        """Fetch the customer with this ``external_key``, retrying transient failures.

        Like :meth:`find_by_external_key`, but a missing customer is an error.

        Args:
            key: The external key.

        Returns:
            The customer.

        Raises:
            NotFoundError: No customer has that key.
            ChargeOverError: On a failure that retries could not overcome.
        """
        return await get_by_field(self._engine, "external_key", checked_value(key, "external_key"))

    async def get_by_token(self, token: str) -> Customer:
        """Fetch the customer with this ``token`` (ChargeOver's own opaque id), retried.

        Sent as ``where=token:EQUALS:...``: ``token`` is a filterable customer field
        (docs/chargeover-api.md, "The ``where`` filter").

        Args:
            token: The customer's token, e.g. ``"8c3nxe47hrdt"``.

        Returns:
            The customer.

        Raises:
            NotFoundError: No customer has that token.
            ChargeOverError: On a failure that retries could not overcome.
        """
        return await get_by_field(self._engine, "token", checked_value(token, "token"))
