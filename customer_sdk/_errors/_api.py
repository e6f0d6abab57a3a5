"""What ChargeOver answered: an error status (the :class:`APIError` tree), or a bad success.

Every class here is built from a response by :mod:`customer_sdk._protocol` (status ->
exception, docs/chargeover-api.md "Errors"); kept apart from the transport errors, which carry
no answer, and from the SDK's own stops in :mod:`._safety`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from customer_sdk._errors._base import ChargeOverError

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ExternalKeyReservedError",
    "MalformedResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RedirectError",
    "ServerError",
]


class APIError(ChargeOverError):
    """ChargeOver answered with an error status.

    Args:
        status: The HTTP status code (trusted over the envelope's ``code``).
        message: The envelope's message, or a short tag-stripped excerpt of a non-JSON body.
        code: The envelope's ``code`` if present.
        details: The envelope's ``details`` object (empty when absent).
        headers: The response headers (e.g. ``Retry-After``, a request id); empty when unknown.

    Attributes:
        status: The HTTP status code.
        code: The envelope's ``code`` field, or None.
        details: The envelope's ``details`` mapping.
        headers: The response's headers, read-only (those ChargeOver sent back, never ours).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: int | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details: Mapping[str, Any] = details if details is not None else {}
        self.headers: Mapping[str, str] = headers if headers is not None else {}

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}" if self.message else f"HTTP {self.status}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, message={self.message!r})"


class BadRequestError(APIError):
    """HTTP 400: the request was rejected (invalid field, duplicate key, bad JSON)."""


class ExternalKeyReservedError(BadRequestError):
    """A keyed create got a 400, yet no customer with that ``external_key`` can be found.

    ChargeOver keeps a deleted customer's key reserved forever, so the create keeps failing while
    the lookup finds nothing. The server's own message is kept in ``message``: it may also be an
    ordinary validation error that the local checks could not foresee.

    Attributes:
        external_key: The key that could not be created nor found.
    """

    def __init__(self, status: int, message: str, *, external_key: str, **kw: Any) -> None:
        super().__init__(status, message, **kw)
        self.external_key = external_key

    def __str__(self) -> str:
        return (
            f"HTTP {self.status}: {self.message} (no customer with this external_key exists: "
            "the key may be reserved by a deleted customer, or the payload was rejected)"
        )


class AuthenticationError(APIError):
    """HTTP 401: missing or wrong credentials. Never retried."""


class PermissionDeniedError(APIError):
    """HTTP 403: the credentials may not do this. Never retried."""


class NotFoundError(APIError):
    """HTTP 404: no such object."""


class RateLimitError(APIError):
    """HTTP 429: over the account's rate limit.

    Attributes:
        retry_after: Seconds the server asked to wait (parsed from ``Retry-After`` or
            ``retry-after-ms``), or None when absent or invalid.
    """

    def __init__(self, status: int, message: str, *, retry_after: float | None, **kw: Any) -> None:
        super().__init__(status, message, **kw)
        self.retry_after = retry_after


class ServerError(APIError):
    """HTTP 5xx: a ChargeOver or proxy failure; the request may have been processed."""


class RedirectError(APIError):
    """HTTP 3xx: redirects are never followed for a create (aiohttp would re-POST the body).

    Attributes:
        location: The ``Location`` header, if any.
    """

    def __init__(self, status: int, message: str, *, location: str | None, **kw: Any) -> None:
        super().__init__(status, message, **kw)
        self.location = location


class MalformedResponseError(ChargeOverError):
    """A success status came with a body that is not the documented envelope.

    Attributes:
        status: The HTTP status of the response.
    """

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status
