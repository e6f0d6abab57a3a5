"""Reading many customers: a listing paged by ``limit``/``offset``, a count, a get by field.

:class:`CustomerList` is what ``client.customers.list(...)`` returns: iterate it for every
matching :class:`~customer_sdk.Customer`, or call :meth:`CustomerList.pages` for one
:class:`Page` per request. Each page is one ``GET /api/v3/customer`` sent through
:meth:`Engine.read <customer_sdk._engine.Engine.read>`, so it is retried like any read
(docs/faults.md) and paced by the client's limiter. A page is read whole before it is handed
out and nothing is held between pages but the offset, so a loop that stops early (``break``,
an exception, cancellation) leaves no request, connection or task behind, and memory stays
at one page however long the listing.

The listing ends at the first page shorter than the page size (or empty), as ChargeOver's own
paging example does (docs/chargeover-api.md, "Paging"). Requests are built and answers
deciphered by :mod:`customer_sdk._protocol`; the arguments are checked by
:mod:`customer_sdk._query`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

import attrs

from customer_sdk import _protocol as proto
from customer_sdk._engine import Engine
from customer_sdk._query import ListQuery
from customer_sdk._read import Customer
from customer_sdk._retry import Run
from customer_sdk.errors import NotFoundError

__all__ = [
    "CustomerList",
    "Page",
    "PageIterator",
    "count_customers",
    "get_by_field",
    "read_page",
]

# invented: raised by the SDK itself when a unique-field query finds nothing (ChargeOver answers
# such a query with 200 and an empty list, docs/chargeover-api.md, "Looking customers up").
_NO_MATCH: Final = "No customer has this {field}."


@attrs.frozen
class Page:
    """One page of a listing: the customers of one request.

    Attributes:
        customers: The page's customers, in the listing's order.
        offset: The ``offset`` the page was asked for (how many rows came before it).
        number: The page's number, from 1.
        last: True when this page ended the listing (it was shorter than the page size).
    """

    customers: tuple[Customer, ...]
    offset: int
    number: int
    last: bool

    def __len__(self) -> int:
        return len(self.customers)


class PageIterator:
    """Reads a listing one page (one retried GET) at a time.

    A page that could not be read raises, and the iterator stays where it was: calling
    ``__anext__`` again asks for the same page (an ``async for`` loop ends at the exception).

    Args:
        engine: The client's engine.
        query: The checked listing.
    """

    __slots__ = ("_done", "_engine", "_number", "_offset", "_query")

    def __init__(self, engine: Engine, query: ListQuery) -> None:
        self._engine = engine
        self._query = query
        self._offset = 0
        self._number = 0
        self._done = False

    def __aiter__(self) -> PageIterator:
        return self

    async def __anext__(self) -> Page:
        """Read the next page.

        Returns:
            The page (never an empty one).

        Raises:
            StopAsyncIteration: The listing has ended.
            ChargeOverError: A page could not be read, after retries.
        """
        if self._done:
            raise StopAsyncIteration
        # On a failure (after the engine's retries) or a cancellation nothing changes: asking
        # again reads the same page, so a caller's own retry never skips one.
        page = await read_page(self._engine, self._query, self._offset, self._number + 1)
        self._done = page.last
        if not page.customers:
            raise StopAsyncIteration
        self._offset += len(page)
        self._number = page.number
        return page

    async def aclose(self) -> None:
        """End the iteration: no further request is sent. Idempotent."""
        self._done = True


class _CustomerIterator:
    """Every customer of a listing, holding one page at a time (nothing is read ahead)."""

    __slots__ = ("_current", "_index", "_pages")

    def __init__(self, pages: PageIterator) -> None:
        self._pages = pages
        self._current: tuple[Customer, ...] = ()
        self._index = 0

    def __aiter__(self) -> _CustomerIterator:
        return self

    async def __anext__(self) -> Customer:
        while self._index >= len(self._current):
            page = await self._pages.__anext__()
            self._current, self._index = page.customers, 0
        customer = self._current[self._index]
        self._index += 1
        return customer

    async def aclose(self) -> None:
        self._current = ()
        await self._pages.aclose()


class CustomerList:
    """The customers matching a query, read page by page when iterated.

    Each ``async for`` over it starts a fresh listing from the first page; nothing is sent
    before that. ``async for customer in client.customers.list(...)`` yields customers;
    ``async for page in client.customers.list(...).pages()`` yields :class:`Page` objects.

    Args:
        engine: The client's engine.
        query: The checked listing.
    """

    __slots__ = ("_engine", "_query")

    def __init__(self, engine: Engine, query: ListQuery) -> None:
        self._engine = engine
        self._query = query

    def __aiter__(self) -> AsyncIterator[Customer]:
        return _CustomerIterator(PageIterator(self._engine, self._query))

    def pages(self) -> PageIterator:
        """Iterate the listing page by page (one request per page).

        Returns:
            An async iterator of :class:`Page`; ``aclose()`` ends it early.
        """
        return PageIterator(self._engine, self._query)

    def __repr__(self) -> str:
        # The clauses may hold personal data (an e-mail, a key): only their fields are shown.
        fields = [clause.partition(":")[0] for clause in self._query.where]
        return f"CustomerList(where_fields={fields!r}, order={list(self._query.order)!r})"


async def read_page(
    engine: Engine, query: ListQuery, offset: int, number: int, run: Run | None = None
) -> Page:
    """Read the page of a listing at ``offset`` (one ``GET /api/v3/customer``), retried.

    Args:
        engine: The client's engine.
        query: The checked listing.
        offset: Rows before the page.
        number: The page's number, from 1.
        run: The budget to spend, or None for a fresh one.

    Returns:
        The page; empty past the listing's end.

    Raises:
        ChargeOverError: On a failure retries could not overcome.
    """
    request = proto.list_request(engine.base_url, query.where, query.order, query.page_size, offset)
    rows = await engine.read(request, proto.parse_list, operation="list", run=run)
    customers = tuple(Customer.from_wire(row) for row in rows)
    # docs/chargeover-api.md, "Paging": a short (or empty) page is the last one.
    return Page(customers, offset, number, len(rows) < query.page_size)


async def count_customers(engine: Engine, query: ListQuery, run: Run | None = None) -> int:
    """Count the customers matching ``query.where`` (``GET /api/v3/customer/_count``), retried.

    Args:
        engine: The client's engine.
        query: The checked query (its order and page size are not used).
        run: The budget to spend, or None for a fresh one.

    Returns:
        The number of matching customers.

    Raises:
        ChargeOverError: On a failure retries could not overcome.
    """
    request = proto.count_request(engine.base_url, query.where)
    return await engine.read(request, proto.parse_count, operation="count", run=run)


async def get_by_field(engine: Engine, field: str, value: str) -> Customer:
    """The customer whose unique ``field`` (``external_key``, ``token``) equals ``value``.

    Args:
        engine: The client's engine.
        field: The field (unique per customer).
        value: The value, verbatim (checked by the caller).

    Returns:
        The customer.

    Raises:
        NotFoundError: No customer has that value.
        ChargeOverError: On a failure retries could not overcome.
    """
    request = proto.find_by_field_request(engine.base_url, field, value)
    for obj in await engine.read(request, proto.parse_list, operation="lookup"):
        # As in Engine.lookup: never adopt a customer whose value differs (a server that
        # ignored the escapes).
        if obj.get(field) == value:
            return Customer.from_wire(obj)
    raise NotFoundError(404, _NO_MATCH.format(field=field))
