"""The answer of ``POST /api/v3/_bulk``: one :class:`BulkItem` per request the call carried.

Kept apart from the single calls' answers (:mod:`._answers`) because a ``_bulk`` answer is a
list of small envelopes, each succeeding or failing on its own (docs/chargeover-api.md, "Bulk"):
each item is mapped exactly as a single create's answer would be, through the same
:func:`~._status.error_for`.
"""

from __future__ import annotations

from typing import NamedTuple

import orjson

from customer_sdk._protocol._envelope import HttpResponse, parse_envelope
from customer_sdk._protocol._status import error_for
from customer_sdk._secrets import Secrets
from customer_sdk.errors import ChargeOverError, MalformedResponseError

__all__ = ["BulkItem", "parse_bulk"]


class BulkItem(NamedTuple):
    """One item's own answer inside a ``_bulk`` response.

    Attributes:
        status: The item's ``code`` (its HTTP status), or 0 when the item was unreadable.
        customer_id: The new customer's id for a 2xx item with ``response.id``, else None.
        error: The exception this item maps to (as a single create's answer would), or None.
    """

    status: int
    customer_id: int | None
    error: ChargeOverError | None


def parse_bulk(resp: HttpResponse, count: int) -> list[BulkItem]:
    """Decipher the answer to ``POST /api/v3/_bulk``: one :class:`BulkItem` per request sent.

    docs/chargeover-api.md, "Bulk": the envelope's ``response._bulk`` is a list, in request
    order, of per-item ``{"code", "status", "message", "response"}``; items succeed or fail on
    their own.
    Each item is mapped exactly as a single create's answer would be (its ``code`` standing in
    for the HTTP status), so the caller can run the same failure classes (docs/faults.md) per item.

    Args:
        resp: The response.
        count: How many requests the call carried.

    Returns:
        The items, in request order.

    Raises:
        APIError: The mapped subclass for a non-2xx status of the whole call.
        MalformedResponseError: A 2xx whose body is not an envelope with a ``_bulk`` list of
            exactly ``count`` items: which items were stored is then unknown.
    """
    if not 200 <= resp.status < 300:
        raise error_for(resp)
    env = parse_envelope(resp.body)
    listing = (
        env.response.get("_bulk") if env is not None and isinstance(env.response, dict) else None
    )
    if not isinstance(listing, list) or len(listing) != count:
        got = "no _bulk list" if not isinstance(listing, list) else f"{len(listing)} items"
        raise MalformedResponseError(
            f"HTTP {resp.status} _bulk answer with {got} for {count} requests", status=resp.status
        )
    return [_bulk_item(item, resp.secrets) for item in listing]


def _bulk_item(item: object, secrets: Secrets) -> BulkItem:
    code = item.get("code") if isinstance(item, dict) else None
    if type(code) is not int or not 100 <= code <= 599:
        # Unreadable: whether this item was stored is unknown (status 0 classifies AMBIGUOUS).
        return BulkItem(0, None, MalformedResponseError("unreadable _bulk item", status=0))
    if 200 <= code < 300:
        body = item.get("response") if isinstance(item, dict) else None
        cid = body.get("id") if isinstance(body, dict) else None
        if type(cid) is int and cid > 0:
            return BulkItem(code, cid, None)
        return BulkItem(
            code,
            None,
            MalformedResponseError(f"_bulk item {code} without response.id", status=code),
        )
    # The item is its own small envelope: map it as a whole response with that status.
    return BulkItem(code, None, error_for(HttpResponse(code, {}, orjson.dumps(item), secrets)))
