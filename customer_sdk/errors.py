"""The public exception tree of customer_sdk.

Every error the SDK raises derives from :class:`ChargeOverError`; no aiohttp, tenacity or cattrs
exception ever reaches the caller (they are translated at the boundary where they happen, and
never chained, because aiohttp's exceptions carry request headers with credentials)::

    ChargeOverError
    ├── ConfigurationError          bad client settings (also a ValueError)
    ├── ValidationError             a model or row is invalid; raised before any I/O
    ├── TransportError              no usable HTTP answer
    │   ├── ConnectError            no connection (failed, or none free in time): nothing sent
    │   ├── RequestTimeoutError     no answer in time (may have been processed); a TimeoutError
    │   ├── ConnectionLostError     reset / closed / cut body / garbage status line
    │   └── TLSError                certificate or handshake failure (never retried)
    ├── APIError                    ChargeOver answered with an error status
    │   ├── BadRequestError         400
    │   │   └── ExternalKeyReservedError   400 on a keyed create, and no customer has that key
    │   ├── AuthenticationError     401
    │   ├── PermissionDeniedError   403
    │   ├── NotFoundError           404
    │   ├── RateLimitError          429 (``retry_after``)
    │   ├── ServerError             5xx
    │   └── RedirectError           3xx (never followed on a create)
    ├── MalformedResponseError      a 2xx whose body is not the documented envelope
    ├── OutcomeUnknownError         a create may have happened; the SDK cannot find out
    ├── OutageError                 a bulk job's server did not answer for too long; it stopped
    ├── JournalMismatchError        a bulk job's journal was made for another input
    └── LimiterUnavailableError     a shared limiter (Redis) gave no slot: nothing was sent

What is retried, and how, is described in :mod:`customer_sdk` and ``docs/faults.md``; this module
only defines the types. No exception here ever holds credentials: messages from servers are
truncated to 512 characters with HTML tags stripped.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ChargeOverError",
    "ConfigurationError",
    "ConnectError",
    "ConnectionLostError",
    "ExternalKeyReservedError",
    "FieldError",
    "JournalMismatchError",
    "LimiterUnavailableError",
    "MalformedResponseError",
    "NotFoundError",
    "OutageError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RateLimitError",
    "RedirectError",
    "ServerError",
    "TLSError",
    "RequestTimeoutError",
    "TransportError",
    "ValidationError",
]


class ChargeOverError(Exception):
    """Root of every exception raised by customer_sdk.

    Args:
        message: A human-readable description, free of credentials.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ConfigurationError(ChargeOverError, ValueError):
    """The client was configured in a way that is refused (e.g. plain HTTP to a remote host)."""


@attrs.frozen
class FieldError:
    """One problem with one field of a model or input row.

    Attributes:
        path: Where the problem is, e.g. ``company`` or ``tags[2]``.
        message: What is wrong, e.g. ``expected str, got int``.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ValidationError(ChargeOverError, ValueError):
    """Input failed local validation; nothing was sent.

    Every problem is reported at once, each with its field path.

    Args:
        errors: Each problem found, in field order.
        model: The name of the model being validated.

    Attributes:
        errors: The problems, as :class:`FieldError` records.
    """

    def __init__(self, errors: Sequence[FieldError], model: str = "CustomerCreate") -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        n = len(self.errors)
        listing = "; ".join(str(e) for e in self.errors)
        super().__init__(f"{n} invalid field{'s' if n != 1 else ''} in {model}: {listing}")


class TransportError(ChargeOverError):
    """The HTTP exchange failed before a complete answer arrived.

    Attributes:
        status: The HTTP status if the status line and headers had arrived before the failure
            (e.g. a 201 whose body was cut off), else None.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ConnectError(TransportError):
    """Nothing was sent: the connection could not be opened, or there was no time left.

    Raised for a refused connection, a DNS failure or a connect timeout, when the call's
    deadline passed while it waited for the rate limiter, and when a request's timeout ran out
    while it was queued for a pooled connection (docs/faults.md F28), before anything was sent.
    """


class RequestTimeoutError(TransportError, TimeoutError):
    """No (complete) answer arrived in time; the server may still have processed the request.

    Also a subclass of the builtin :class:`TimeoutError`, so ``except TimeoutError`` catches it.
    It was named ``TimeoutError``, which shadowed the builtin; that name still works, with a
    :class:`DeprecationWarning`.
    """


def __getattr__(name: str) -> Any:
    """The deprecated ``customer_sdk.errors.TimeoutError``: :class:`RequestTimeoutError`."""
    if name == "TimeoutError":
        warnings.warn(
            "customer_sdk.errors.TimeoutError is deprecated: use RequestTimeoutError "
            "(a subclass of the builtin TimeoutError)",
            DeprecationWarning,
            stacklevel=2,
        )
        return RequestTimeoutError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ConnectionLostError(TransportError):
    """The connection broke after the request was written (reset, closed, body cut, bad status)."""


class TLSError(TransportError):
    """The TLS handshake failed, e.g. an untrusted certificate. Never retried."""


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


class OutcomeUnknownError(ChargeOverError):
    """A create may or may not have happened, and the SDK cannot find out which.

    Raised instead of a blind resend when a create without ``external_key`` failed ambiguously,
    or when the retry budget ran out before a keyed create could be reconciled.

    Args:
        message: What happened.
        external_key: The create's key, if it had one (look it up later to settle the outcome).
        last_error: The last error seen, as its type name and message.
        created: True when the server is known to have created the customer (it answered 2xx,
            but the id could neither be read nor found by lookup in time): look it up later,
            never send it again.

    Attributes:
        external_key: The create's key, or None.
        last_error: Description of the last underlying failure.
        created: Whether the create is known to have happened.
    """

    def __init__(
        self, message: str, *, external_key: str | None, last_error: str, created: bool = False
    ) -> None:
        super().__init__(f"{message} (last error: {last_error})")
        self.external_key = external_key
        self.last_error = last_error
        self.created = created


class OutageError(ChargeOverError):
    """A bulk job stopped because its server did not answer (or answered only 5xx) too long.

    Raised by ``create_many``'s job after the results so far, and given as the error of every
    row it held unsent (``failed``: nothing of those rows was sent, a re-run sends them).
    ``docs/faults.md`` F26 says how long a job waits: ``max_outage`` once the server has
    answered, about 20 s when it never answered at all (refused, DNS, a silent host).

    Args:
        message: What happened, naming the host and the last failure.
        host: ``host[:port]`` of the base URL.
        answered: Whether the server gave any HTTP answer during the job.
        held: Seconds the job waited for it.
        cause: The last failure seen, e.g. ``ConnectError: cannot connect: ...`` or
            ``HTTP 503``.

    Attributes:
        host: As given.
        answered: As given.
        held: As given.
        cause: As given.
    """

    def __init__(self, message: str, *, host: str, answered: bool, held: float, cause: str) -> None:
        super().__init__(message)
        self.host = host
        self.answered = answered
        self.held = held
        self.cause = cause


class JournalMismatchError(ChargeOverError):
    """A bulk job's journal was made for another input, so resuming from it is refused.

    Raised before anything is sent when the journal's ``job_id`` differs from the job's, and
    when a row's content differs from what the journal recorded for that row index.
    """


class LimiterUnavailableError(ChargeOverError):
    """A shared rate limiter's store (Redis) could not grant a request slot: nothing was sent.

    Raised by :class:`customer_sdk.contrib.redis.RedisLimiter` (which re-exports it) rather
    than ever sending unmetered. A bulk job stops on it, resumably (docs/faults.md F27).
    """
