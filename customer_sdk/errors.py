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
only names the types. No exception here ever holds credentials: messages from servers are
truncated to 512 characters with HTML tags stripped.
"""

from __future__ import annotations

import warnings
from typing import Any

from customer_sdk._errors._api import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ExternalKeyReservedError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    ServerError,
)
from customer_sdk._errors._base import (
    ChargeOverError,
    ConfigurationError,
    FieldError,
    ValidationError,
)
from customer_sdk._errors._safety import (
    JournalMismatchError,
    LimiterUnavailableError,
    OutageError,
    OutcomeUnknownError,
)
from customer_sdk._errors._transport import (
    ConnectError,
    ConnectionLostError,
    RequestTimeoutError,
    TLSError,
    TransportError,
)

# In the tree's order, which the reference page (docs/reference/errors.md) follows.
__all__ = [
    "ChargeOverError",
    "ConfigurationError",
    "FieldError",
    "ValidationError",
    "TransportError",
    "ConnectError",
    "RequestTimeoutError",
    "ConnectionLostError",
    "TLSError",
    "APIError",
    "BadRequestError",
    "ExternalKeyReservedError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "RedirectError",
    "MalformedResponseError",
    "OutcomeUnknownError",
    "OutageError",
    "JournalMismatchError",
    "LimiterUnavailableError",
]


# The classes are written by branch in customer_sdk._errors (each module short), but this is
# where users meet them: tracebacks, reprs and pickles keep naming customer_sdk.errors.X.
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name


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
