"""Sans-I/O protocol: build ChargeOver requests and decipher responses; classify failures.

Everything about the wire that is not moving bytes lives here: URLs, the ``where`` escaping, the
envelope and all the ways it varies, status → exception mapping, ``Retry-After`` parsing and the
failure classes of ``docs/faults.md``. It does no I/O and knows nothing of aiohttp, so each rule is
tested on plain values. Wire rules cite ``docs/chargeover-api.md`` (the contract gathered from
ChargeOver's developer docs, https://developer.chargeover.com/apidocs/rest/).
"""

from __future__ import annotations

import enum
import html
import math
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Final, NamedTuple
from urllib.parse import quote

import attrs
import orjson

from customer_sdk.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ChargeOverError,
    ConnectError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    ServerError,
    TLSError,
    TransportError,
)

API_PREFIX: Final = "/api/v3"
CUSTOMER_PATH: Final = f"{API_PREFIX}/customer"
BULK_PATH: Final = f"{API_PREFIX}/_bulk"
MAX_BULK: Final = 25  # docs/chargeover-api.md, "Bulk": up to 25 requests in one call
MESSAGE_LIMIT: Final = 512


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


class HttpResponse(NamedTuple):
    """One complete HTTP response, as the transport read it.

    Attributes:
        status: The HTTP status code.
        headers: Response headers (case-insensitive mapping from the transport).
        body: The whole body (decompressed), possibly empty.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes


class Outcome(enum.Enum):
    """What the server may have done, per ``docs/faults.md``; the retry action follows from it."""

    NOT_SENT = "not sent"
    THROTTLED = "throttled"
    AMBIGUOUS = "ambiguous"
    CREATED_ID_UNKNOWN = "created, id unknown"
    REJECTED = "rejected"
    FATAL = "fatal"


# --- requests -------------------------------------------------------------------------------


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

_TAG: Final = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_SPACE: Final = re.compile(r"\s+")


def short_text(body: bytes, limit: int = MESSAGE_LIMIT) -> str:
    """A short, tag-stripped excerpt of a non-JSON body (a proxy's HTML page, say).

    Args:
        body: The raw body.
        limit: The most characters to return.

    Returns:
        Text with tags, scripts and styles removed and whitespace folded, at most ``limit``
        characters; ``(empty body)`` for an empty body.
    """
    text = body[: limit * 16].decode("utf-8", "replace")
    text = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text))).strip()
    if not text:
        return "(empty body)"
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


def parse_envelope(body: bytes) -> Envelope | None:
    """Parse an envelope; None when the body is not a JSON object.

    Args:
        body: The raw body.

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
    env = parse_envelope(resp.body)
    if env is not None:
        message = env.message or f"HTTP {resp.status}"
        kw: dict[str, Any] = {"code": env.code, "details": env.details}
    else:
        message, kw = short_text(resp.body), {}
    status = resp.status
    if status == 429:
        return RateLimitError(status, message, retry_after=parse_retry_after(resp.headers), **kw)
    if 300 <= status < 400:
        return RedirectError(status, message, location=resp.headers.get("Location"), **kw)
    if status >= 500:
        return ServerError(status, message, **kw)
    return _STATUS_ERRORS.get(status, BadRequestError)(status, message, **kw)


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
    raise MalformedResponseError(
        f"HTTP {resp.status} with {what}: {short_text(resp.body, 120)}", status=resp.status
    )


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


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP-date).

    Invalid values (negative, inf, nan, junk) give None so the caller falls back to its backoff;
    a date in the past gives 0. No cap is applied here.

    Args:
        headers: Response headers.
        now: The current Unix time (for tests); defaults to ``time.time()``.

    Returns:
        Seconds, or None.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        value = _finite_non_negative(raw_ms)
        if value is not None:
            return value / 1000.0
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    value = _finite_non_negative(raw)
    if value is not None:
        return value
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive parse means it lacked the zone
        return None
    delta = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, delta)


def _finite_non_negative(raw: str) -> float | None:
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    if math.isfinite(value) and value >= 0:
        return value
    return None


def classify(exc: ChargeOverError) -> Outcome:
    """The failure class of a create's failed attempt (docs/faults.md's table).

    Args:
        exc: The SDK exception of the attempt.

    Returns:
        Its class. A 400 is REJECTED here; whether it means "exists" is decided by a lookup.
    """
    if isinstance(exc, TLSError):
        return Outcome.FATAL
    if isinstance(exc, ConnectError):
        return Outcome.NOT_SENT
    if isinstance(exc, TransportError):
        # Status and headers arrived, then the body broke: a 2xx means the create happened.
        if exc.status is not None and 200 <= exc.status < 300:
            return Outcome.CREATED_ID_UNKNOWN
        return Outcome.AMBIGUOUS
    if isinstance(exc, MalformedResponseError):
        return Outcome.CREATED_ID_UNKNOWN if 200 <= exc.status < 300 else Outcome.AMBIGUOUS
    if isinstance(exc, RateLimitError):
        return Outcome.THROTTLED
    if isinstance(exc, ServerError):
        return Outcome.AMBIGUOUS
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return Outcome.FATAL
    return Outcome.REJECTED


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
    return [_bulk_item(item) for item in listing]


def _bulk_item(item: object) -> BulkItem:
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
    return BulkItem(code, None, error_for(HttpResponse(code, {}, orjson.dumps(item))))
