"""An error answer -> its exception: the HTTP status decides (docs/chargeover-api.md, "Errors").

One function, :func:`error_for`, used for every non-2xx answer and every failed ``_bulk`` item,
so a status maps to the same exception whichever call it answered. Kept apart from the
success-side parsing in :mod:`._answers` because it is the one place that builds
an :class:`~customer_sdk.errors.APIError`: every text it takes from the response (message,
``details``, ``Location``, header values, a body excerpt) is scrubbed of the credentials first
(``docs/faults.md`` "Secrets and hostile input").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from multidict import CIMultiDict

from customer_sdk._protocol._classes import parse_retry_after
from customer_sdk._protocol._envelope import HttpResponse, parse_envelope, short_text
from customer_sdk._secrets import Secrets
from customer_sdk.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    ServerError,
)

__all__ = ["error_for"]


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
