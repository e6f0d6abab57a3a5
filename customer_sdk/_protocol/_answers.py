"""Deciphering the answers of single-customer calls: a create, a GET of one, a query.

Sans-I/O: every function takes an :class:`HttpResponse` and returns the result or raises the
mapped SDK exception (a non-2xx through :func:`~._status.error_for`). Wire rules cite
``docs/chargeover-api.md``, "Create" and "Looking customers up". Nothing here builds a request
or decides a retry. The envelope itself is read in :mod:`._envelope`; the ``_bulk`` call's
answer in :mod:`._bulk_items`.
"""

from __future__ import annotations

from typing import Any

import orjson

from customer_sdk._protocol._envelope import HttpResponse, parse_envelope, short_text
from customer_sdk._protocol._status import error_for
from customer_sdk.errors import MalformedResponseError

__all__ = ["parse_created", "parse_list", "parse_object"]


def parse_created(resp: HttpResponse) -> tuple[int, str | None]:
    """Decipher the answer to a create.

    docs/chargeover-api.md, "Create": success is HTTP 201 with ``response.id`` and a
    ``Location`` header. Any 2xx with an id is accepted.

    Args:
        resp: The response.

    Returns:
        The new ``customer_id`` and the ``Location`` header.

    Raises:
        APIError: The mapped subclass for any non-2xx status.
        MalformedResponseError: A 2xx without a parseable ``response.id``: the customer was
            probably created, but its id is unknown.
    """
    if not 200 <= resp.status < 300:
        raise error_for(resp)
    # The hot path of every create: read the id straight from the JSON, no Envelope object.
    try:
        data = orjson.loads(resp.body)
    except orjson.JSONDecodeError:
        data = None
    body = data.get("response") if isinstance(data, dict) else None
    if isinstance(body, dict):
        cid = body.get("id")
        if type(cid) is int and cid > 0:
            return cid, resp.headers.get("Location")
    what = "no JSON envelope" if not isinstance(data, dict) else "no response.id"
    excerpt = short_text(resp.body, 120, resp.secrets)
    raise MalformedResponseError(f"HTTP {resp.status} with {what}: {excerpt}", status=resp.status)


def parse_object(resp: HttpResponse) -> dict[str, Any]:
    """Decipher a GET of one object.

    Args:
        resp: The response.

    Returns:
        The ``response`` object.

    Raises:
        APIError: The mapped subclass for any non-2xx status (404: ``response`` is null).
        MalformedResponseError: A 2xx whose ``response`` is not an object.
    """
    if not 200 <= resp.status < 300:
        raise error_for(resp)
    env = parse_envelope(resp.body)
    if env is None or not isinstance(env.response, dict):
        raise MalformedResponseError(
            f"HTTP {resp.status}: expected an object in response", status=resp.status
        )
    return env.response


def parse_list(resp: HttpResponse) -> list[dict[str, Any]]:
    """Decipher a query: ``response`` is a list (``[]`` when nothing matches).

    Args:
        resp: The response.

    Returns:
        The objects of the list (non-object items are dropped).

    Raises:
        APIError: The mapped subclass for any non-2xx status.
        MalformedResponseError: A 2xx whose ``response`` is not a list.
    """
    if not 200 <= resp.status < 300:
        raise error_for(resp)
    env = parse_envelope(resp.body)
    if env is None or not isinstance(env.response, list):
        raise MalformedResponseError(
            f"HTTP {resp.status}: expected a list in response", status=resp.status
        )
    return [item for item in env.response if isinstance(item, dict)]
