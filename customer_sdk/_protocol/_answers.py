"""Deciphering answers: the envelope and its variations, status → exception, ``_bulk`` items.

Sans-I/O: every function takes an :class:`HttpResponse` (or its body) and returns the result or
raises the mapped SDK exception. Wire rules cite ``docs/chargeover-api.md``, "The envelope" and
"Errors". Nothing here builds a request or decides a retry.

This is where a server's text first enters the SDK, so every text an exception takes from a
response (message, ``details``, ``Location``, an excerpt of the body) goes through the
response's :class:`~customer_sdk._secrets.Secrets` first: a server that echoes the credentials
into its error body cannot put them into an exception, a log, a journal or a report
(``docs/faults.md`` "Secrets and hostile input").
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import attrs
import orjson
from multidict import CIMultiDict

from customer_sdk._protocol._classes import parse_retry_after
from customer_sdk._secrets import NO_SECRETS, Secrets
from customer_sdk.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ChargeOverError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    ServerError,
)

MESSAGE_LIMIT: Final = 512


class HttpResponse(NamedTuple):
    """One complete HTTP response, as the transport read it.

    Attributes:
        status: The HTTP status code.
        headers: Response headers (case-insensitive mapping from the transport).
        body: The whole body (decompressed), possibly empty.
        secrets: What any text taken from this response must be scrubbed of: the credentials
            it was requested with (the transport sets them; none by default).
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    secrets: Secrets = NO_SECRETS


_TAG: Final = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_SPACE: Final = re.compile(r"\s+")


def short_text(body: bytes, limit: int = MESSAGE_LIMIT, secrets: Secrets = NO_SECRETS) -> str:
    """A short, tag-stripped excerpt of a non-JSON body (a proxy's HTML page, say).

    Args:
        body: The raw body.
        limit: The most characters to return.
        secrets: Masked before the text is cut, so a cut never leaves half a secret.

    Returns:
        Text with tags, scripts and styles removed and whitespace folded, at most ``limit``
        characters; ``(empty body)`` for an empty body.
    """
    text = body[: limit * 16].decode("utf-8", "replace")
    text = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text))).strip()
    if not text:
        return "(empty body)"
    text = secrets.scrub(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@attrs.frozen
class Envelope:
    """ChargeOver's response envelope, parsed tolerantly.

    Attributes:
        code: The ``code`` field, or None when absent or not an int.
        message: The ``message`` field ("" when absent).
        details: The ``details`` object ({} when absent: every 2015 recording lacks it).
        response: The ``response`` field: object, list, int, false or null.
    """

    code: int | None
    message: str
    details: Mapping[str, Any]
    response: Any


def parse_envelope(body: bytes, secrets: Secrets = NO_SECRETS) -> Envelope | None:
    """Parse an envelope; None when the body is not a JSON object.

    Args:
        body: The raw body.
        secrets: Masked in the message (before it is cut) and in every string of
            ``details``; ``response`` is data, returned as it was sent.

    Returns:
        The envelope, or None for non-JSON, a truncated body, or JSON that is not an object.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    code = data.get("code")
    message = data.get("message")
    details = data.get("details")
    if secrets:
        message = secrets.scrub(message) if isinstance(message, str) else message
        details = secrets.scrub_value(details) if isinstance(details, dict) else details
    return Envelope(
        code=code if type(code) is int else None,
        message=message[:MESSAGE_LIMIT] if isinstance(message, str) else "",
        details=details if isinstance(details, dict) else {},
        response=data.get("response"),
    )


_STATUS_ERRORS: Final[dict[int, type[APIError]]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
}


def error_for(resp: HttpResponse) -> APIError:
    """Map an error status to its exception. The HTTP status decides, not the envelope's code.

    Any other 4xx is a :class:`BadRequestError`; the caller caps ``retry_after`` itself.

    Args:
        resp: A response whose status is not 2xx.

    Returns:
        The exception to raise (not raised here).
    """
    secrets = resp.secrets
    env = parse_envelope(resp.body, secrets)
    if env is not None:
        message = env.message or f"HTTP {resp.status}"
        kw: dict[str, Any] = {"code": env.code, "details": env.details}
    else:
        message, kw = short_text(resp.body, secrets=secrets), {}
    # Header values are server text too: an echoing proxy may put the credentials in one.
    kw["headers"] = _scrubbed(resp.headers, secrets) if secrets else resp.headers
    status = resp.status
    if status == 429:
        return RateLimitError(status, message, retry_after=parse_retry_after(resp.headers), **kw)
    if 300 <= status < 400:
        location = resp.headers.get("Location")
        location = None if location is None else secrets.scrub(location)
        return RedirectError(status, message, location=location, **kw)
    if status >= 500:
        return ServerError(status, message, **kw)
    return _STATUS_ERRORS.get(status, BadRequestError)(status, message, **kw)


def _scrubbed(headers: Mapping[str, str], secrets: Secrets) -> Mapping[str, str]:
    """The headers with every value scrubbed (a copy, case-insensitive like the original)."""
    return CIMultiDict((name, secrets.scrub(value)) for name, value in headers.items())


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
