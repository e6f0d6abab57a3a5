"""customer_sdk: the async Python SDK for ChargeOver's customer API.

Create customers with one ``await``, retried through any network fault without ever creating a
duplicate::

    async with ChargeOverClient.from_env() as client:
        created = await client.customers.create(company="Acme", external_key="acme-1")

Public names are re-exported here; everything in a ``_module`` is private. The exception tree is
drawn in :mod:`customer_sdk.errors`.
"""

import logging

from customer_sdk import errors
from customer_sdk._bulk import BulkJob, BulkStats, RowOutcome, RowResult
from customer_sdk._client import ChargeOverClient, Customers
from customer_sdk._fields import CustomerFields
from customer_sdk._flags import Flags
from customer_sdk._hooks import Hooks, RequestSent, ResponseReceived
from customer_sdk._listing import CustomerList, Page, PageIterator
from customer_sdk._logging import configure_from_env as _configure_log
from customer_sdk._models import CreatedCustomer, CustomerCreate
from customer_sdk._ratelimit import AdaptiveLimiter, Limiter, PauseGate, TokenBucket
from customer_sdk._raw import RawCustomers, RawResponse
from customer_sdk._read import Customer
from customer_sdk._retry_policy import RetryEvent, RetryPolicy
from customer_sdk._update import CustomerUpdateFields, DeletedCustomer, UpdatedCustomer
from customer_sdk._version import __version__
from customer_sdk.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ChargeOverError,
    ConfigurationError,
    ConnectError,
    ConnectionLostError,
    ExternalKeyReservedError,
    JournalMismatchError,
    LimiterUnavailableError,
    MalformedResponseError,
    NotFoundError,
    OutageError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    RequestTimeoutError,
    ServerError,
    TLSError,
    TransportError,
    ValidationError,
)

# A library adds no handler of its own but this one: without it, Python's last-resort handler
# prints the SDK's WARNINGs to stderr in an application that never configured logging.
logging.getLogger("customer_sdk").addHandler(logging.NullHandler())
# CHARGEOVER_LOG=debug|info turns the log on without any code (README.md, "Logging").
_configure_log()

__all__ = [
    "APIError",
    "AdaptiveLimiter",
    "AuthenticationError",
    "BadRequestError",
    "BulkJob",
    "BulkStats",
    "ChargeOverClient",
    "ChargeOverError",
    "ConfigurationError",
    "ConnectError",
    "ConnectionLostError",
    "CreatedCustomer",
    "Customer",
    "CustomerCreate",
    "CustomerFields",
    "CustomerList",
    "CustomerUpdateFields",
    "Customers",
    "DeletedCustomer",
    "ExternalKeyReservedError",
    "Flags",
    "Hooks",
    "JournalMismatchError",
    "Limiter",
    "LimiterUnavailableError",
    "MalformedResponseError",
    "NotFoundError",
    "OutageError",
    "OutcomeUnknownError",
    "Page",
    "PageIterator",
    "PauseGate",
    "PermissionDeniedError",
    "RateLimitError",
    "RawCustomers",
    "RawResponse",
    "RedirectError",
    "RequestSent",
    "RequestTimeoutError",
    "ResponseReceived",
    "RetryEvent",
    "RetryPolicy",
    "RowOutcome",
    "RowResult",
    "ServerError",
    "TLSError",
    "TokenBucket",
    "TransportError",
    "UpdatedCustomer",
    "ValidationError",
    "__version__",
    "errors",
]


def __getattr__(name: str) -> object:
    """The deprecated ``customer_sdk.TimeoutError``: :class:`RequestTimeoutError`."""
    if name == "TimeoutError":
        return errors.__getattr__(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
