"""The transport errors: no usable HTTP answer arrived (docs/faults.md, "Failure classes").

Kept apart from :mod:`._api` because nothing here comes from ChargeOver's own words: these are
raised by the transport (connect, timeout, reset, TLS) and by the engine's deadline check.
"""

from __future__ import annotations

from customer_sdk._errors._base import ChargeOverError

__all__ = [
    "ConnectError",
    "ConnectionLostError",
    "RequestTimeoutError",
    "TLSError",
    "TransportError",
]


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


class ConnectionLostError(TransportError):
    """The connection broke after the request was written (reset, closed, body cut, bad status)."""


class TLSError(TransportError):
    """The TLS handshake failed, e.g. an untrusted certificate. Never retried."""
