"""Building requests: URLs, the ``where`` escaping, and each call's method and body.

Sans-I/O: a request is a plain :class:`HttpRequest` value that the transport sends byte for byte.
Wire rules cite ``docs/chargeover-api.md``. Nothing here reads a response.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, NamedTuple
from urllib.parse import quote

import orjson

API_PREFIX: Final = "/api/v3"
CUSTOMER_PATH: Final = f"{API_PREFIX}/customer"
BULK_PATH: Final = f"{API_PREFIX}/_bulk"
COUNT_PATH: Final = f"{CUSTOMER_PATH}/_count"
MAX_BULK: Final = 25  # docs/chargeover-api.md, "Bulk": up to 25 requests in one call


class HttpRequest(NamedTuple):
    """One HTTP request, fully built: what the transport sends, byte for byte.

    Attributes:
        method: ``GET`` or ``POST``.
        url: The absolute URL, already percent-encoded (sent as is).
        path: The path without the query, for logs (a query may hold a customer's key).
        body: The exact body bytes, or None.
    """

    method: str
    url: str
    path: str
    body: bytes | None = None


def escape_where_value(value: str) -> str:
    r"""Escape a value for a ``where`` clause: ``,`` and ``:`` get a backslash, nothing else.

    The one escaping rule of the SDK (lookups, listings and counts all use it). It is exactly
    what ChargeOver's escape-syntax page says (docs/chargeover-api.md, "Escaping"): the
    reserved characters are ``:`` and ``,``, escaped with a backslash. A backslash is sent as
    it is; the page gives it no meaning. The caller URL-encodes the whole clause afterwards.

    Args:
        value: The raw value.

    Returns:
        The escaped value (not yet URL-encoded).
    """
    return value.replace(",", "\\,").replace(":", "\\:")


def where_query(where: Sequence[str], order: Sequence[str] = ()) -> str:
    """The ``where=`` and ``order=`` parameters of a query, percent-encoded.

    Clauses are joined with ``,`` (AND), order items likewise; each whole parameter is
    percent-encoded (``quote(..., safe="")``), separators included, so ``&``, ``#``, ``%``,
    ``+``, spaces and non-ASCII travel intact (docs/chargeover-api.md, "Escaping").

    Args:
        where: ``field:OP:value`` clauses, values already escaped.
        order: ``field:ASC|DESC`` items.

    Returns:
        ``where=...&order=...`` (either part left out when empty), or "".
    """
    parts = []
    if where:
        parts.append("where=" + quote(",".join(where), safe=""))
    if order:
        parts.append("order=" + quote(",".join(order), safe=""))
    return "&".join(parts)


def list_request(
    base: str, where: Sequence[str], order: Sequence[str], limit: int, offset: int
) -> HttpRequest:
    """Build one page of ``GET /api/v3/customer?where=...&order=...&limit=N&offset=M``.

    docs/chargeover-api.md, "Paging": ``limit`` and ``offset`` select a slice of a stable
    ``order``; ``limit`` is always sent, as no default page size is documented.

    Args:
        base: The normalised base URL.
        where: Clauses, values already escaped (AND-ed).
        order: Order items.
        limit: The page size.
        offset: Rows to skip.

    Returns:
        The request; its ``path`` carries no query (a filter may hold personal data).
    """
    query = where_query(where, order)
    paging = f"limit={int(limit)}&offset={int(offset)}"
    query = f"{query}&{paging}" if query else paging
    return HttpRequest("GET", f"{base}{CUSTOMER_PATH}?{query}", CUSTOMER_PATH)


def count_request(base: str, where: Sequence[str]) -> HttpRequest:
    """Build ``GET /api/v3/customer/_count[?where=...]`` (docs/chargeover-api.md, "Counting").

    Args:
        base: The normalised base URL.
        where: Clauses, values already escaped (AND-ed); none counts every customer.

    Returns:
        The request.
    """
    query = where_query(where)
    url = f"{base}{COUNT_PATH}" + (f"?{query}" if query else "")
    return HttpRequest("GET", url, COUNT_PATH)


def create_request(base: str, body: bytes) -> HttpRequest:
    """Build ``POST /api/v3/customer``.

    Args:
        base: The normalised base URL (scheme and host, no trailing slash).
        body: The serialised customer.

    Returns:
        The request.
    """
    return HttpRequest("POST", base + CUSTOMER_PATH, CUSTOMER_PATH, body)


def get_request(base: str, customer_id: int) -> HttpRequest:
    """Build ``GET /api/v3/customer/{id}``.

    Args:
        base: The normalised base URL.
        customer_id: The id.

    Returns:
        The request.
    """
    path = f"{CUSTOMER_PATH}/{int(customer_id)}"
    return HttpRequest("GET", base + path, path)


def find_by_key_request(base: str, key: str) -> HttpRequest:
    """Build ``GET /api/v3/customer?where=external_key:EQUALS:{key}&limit=1``.

    The query form is used rather than ``/customer/external_key:{key}`` because any key
    round-trips through it, including ``/``, ``:``, ``,`` and non-ASCII (docs/chargeover-api.md).

    Args:
        base: The normalised base URL.
        key: The external key, verbatim.

    Returns:
        The request, its query fully percent-encoded.
    """
    return find_by_field_request(base, "external_key", key)


def find_by_field_request(base: str, field: str, value: str) -> HttpRequest:
    """Build ``GET /api/v3/customer?where={field}:EQUALS:{value}&limit=1``.

    Args:
        base: The normalised base URL.
        field: A filterable field that is unique per customer (``external_key``, ``token``;
            docs/chargeover-api.md, "The ``where`` filter").
        value: The value, verbatim (escaped here).

    Returns:
        The request, its query fully percent-encoded.
    """
    query = where_query([f"{field}:EQUALS:{escape_where_value(value)}"])
    return HttpRequest("GET", f"{base}{CUSTOMER_PATH}?{query}&limit=1", CUSTOMER_PATH)


def bulk_request(base: str, payloads: list[dict[str, Any]]) -> HttpRequest:
    """Build ``POST /api/v3/_bulk`` carrying up to 25 customer creates.

    Args:
        base: The normalised base URL.
        payloads: Wire dicts of the customers, at most :data:`MAX_BULK`.

    Returns:
        The request.

    Raises:
        ValueError: If more than 25 payloads are given.
    """
    if not 0 < len(payloads) <= MAX_BULK:
        raise ValueError(f"a _bulk call carries 1 to {MAX_BULK} requests, got {len(payloads)}")
    items = [{"request_method": "POST", "uri": CUSTOMER_PATH, "payload": p} for p in payloads]
    return HttpRequest("POST", base + BULK_PATH, BULK_PATH, orjson.dumps(items))


# --- responses ------------------------------------------------------------------------------
