"""Building requests: URLs, the ``where`` escaping, and each call's method and body.

Sans-I/O: a request is a plain :class:`HttpRequest` value that the transport sends byte for byte.
Wire rules cite ``docs/chargeover-api.md``. Nothing here reads a response.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple
from urllib.parse import quote

import orjson

API_PREFIX: Final = "/api/v3"
CUSTOMER_PATH: Final = f"{API_PREFIX}/customer"
BULK_PATH: Final = f"{API_PREFIX}/_bulk"
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
    r"""Escape a value for a ``where`` clause: backslash, then ``,`` and ``:`` get a backslash.

    docs/chargeover-api.md, "Looking customers up": escape ``,`` and ``:`` inside a value with a
    backslash, then URL-encode. The backslash itself is escaped first so ``a\,b`` round-trips.

    Args:
        value: The raw value.

    Returns:
        The escaped value (not yet URL-encoded).
    """
    return value.replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")


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
    """Build ``GET /api/v3/customer?where=external_key:EQUALS:{key}``.

    The query form is used rather than ``/customer/external_key:{key}`` because any key
    round-trips through it, including ``/``, ``:``, ``,`` and non-ASCII (docs/chargeover-api.md).

    Args:
        base: The normalised base URL.
        key: The external key, verbatim.

    Returns:
        The request, its query fully percent-encoded.
    """
    clause = "external_key:EQUALS:" + escape_where_value(key)
    return HttpRequest(
        "GET", f"{base}{CUSTOMER_PATH}?where={quote(clause, safe='')}&limit=1", CUSTOMER_PATH
    )


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
