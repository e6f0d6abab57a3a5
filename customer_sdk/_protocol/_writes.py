"""The writes to an existing customer: PUT and DELETE by id, their answers, and the flags.

Sans-I/O, like the rest of the package: requests are plain :class:`HttpRequest` values, answers
are deciphered into results or the mapped SDK exception. Wire rules cite
``docs/chargeover-api.md``, "Update and delete" and "Query flags".
"""

from __future__ import annotations

import orjson

from customer_sdk._protocol._envelope import HttpResponse, short_text
from customer_sdk._protocol._requests import CUSTOMER_PATH, HttpRequest
from customer_sdk._protocol._status import error_for
from customer_sdk.errors import MalformedResponseError

__all__ = ["delete_request", "parse_deleted", "parse_updated", "update_request", "with_query"]


def with_query(request: HttpRequest, query: str) -> HttpRequest:
    """The request with ``query`` (already encoded, e.g. the side-effect flags) appended.

    docs/chargeover-api.md, "Query flags": the flags go in the query string of the request
    itself, so they are part of the URL that is sent (and signed) on every attempt.

    Args:
        request: The built request.
        query: ``name=value`` pairs joined by ``&``; "" leaves the request as it is.

    Returns:
        The request, its path (for logs) unchanged.
    """
    if not query:
        return request
    sep = "&" if "?" in request.url else "?"
    return request._replace(url=f"{request.url}{sep}{query}")


def update_request(base: str, customer_id: int, body: bytes) -> HttpRequest:
    """Build ``PUT /api/v3/customer/{id}`` with the fields to change.

    Args:
        base: The normalised base URL.
        customer_id: The id.
        body: The serialised fields (only those to change).

    Returns:
        The request.
    """
    path = f"{CUSTOMER_PATH}/{int(customer_id)}"
    return HttpRequest("PUT", base + path, path, body)


def delete_request(base: str, customer_id: int) -> HttpRequest:
    """Build ``DELETE /api/v3/customer/{id}``.

    Args:
        base: The normalised base URL.
        customer_id: The id.

    Returns:
        The request.
    """
    path = f"{CUSTOMER_PATH}/{int(customer_id)}"
    return HttpRequest("DELETE", base + path, path)


def _response_of(resp: HttpResponse) -> object:
    try:
        data = orjson.loads(resp.body)
    except orjson.JSONDecodeError:
        return None
    return data.get("response") if isinstance(data, dict) else None


def parse_updated(resp: HttpResponse) -> int:
    """Decipher the answer to an update.

    docs/chargeover-api.md, "Update and delete": success is **202** with ``response.id``
    (``tests/recordings/update_202.json``); any 2xx with an id is accepted.

    Args:
        resp: The response.

    Returns:
        The customer's id.

    Raises:
        APIError: The mapped subclass for any non-2xx status (404: no such customer).
        MalformedResponseError: A 2xx without a readable ``response.id``.
    """
    if not 200 <= resp.status < 300:
        raise error_for(resp)
    body = _response_of(resp)
    cid = body.get("id") if isinstance(body, dict) else None
    if type(cid) is int and cid > 0:
        return cid
    raise MalformedResponseError(
        f"HTTP {resp.status} update answer without response.id: {short_text(resp.body, 120)}",
        status=resp.status,
    )


def parse_deleted(resp: HttpResponse) -> None:
    """Decipher the answer to a delete.

    docs/chargeover-api.md, "Update and delete": success is 200 with ``response: true``
    (``tests/recordings/delete_200.json``).

    Args:
        resp: The response.

    Raises:
        APIError: The mapped subclass for any non-2xx status (404: no such customer).
        MalformedResponseError: A 2xx whose ``response`` is not ``true``.
    """
    if not 200 <= resp.status < 300:
        raise error_for(resp)
    if _response_of(resp) is not True:
        raise MalformedResponseError(
            f"HTTP {resp.status} delete answer without response true: {short_text(resp.body, 120)}",
            status=resp.status,
        )
