"""Request hooks: a small typed interface told of every request sent, answer and retry.

Hooks are for metrics and tracing (an OpenTelemetry recipe is in ``docs/hooks.md``). They are
called synchronously in the request's task, so they must be quick; an exception a hook raises is
logged and swallowed, because a hook failing after a create left must not turn its outcome into
an error the caller would retry. Events carry the method and the path, never the query (it may
hold a customer's ``external_key``), headers we send or credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Final, TypeVar

import attrs

from customer_sdk._retry_policy import RetryEvent
from customer_sdk.errors import ChargeOverError

__all__ = ["Hooks", "RequestSent", "ResponseReceived", "call_hook"]

logger: Final = logging.getLogger("customer_sdk")
E = TypeVar("E")


@attrs.frozen(kw_only=True)
class RequestSent:
    """A request is about to be handed to the connection pool.

    Attributes:
        method: ``GET`` or ``POST``.
        path: The URL's path, e.g. ``/api/v3/customer`` (no query).
        attempt: The call's request count, this one included.
    """

    method: str
    path: str
    attempt: int


@attrs.frozen(kw_only=True)
class ResponseReceived:
    """A request ended: answered with a status, or failed in the transport.

    Attributes:
        method: ``GET`` or ``POST``.
        path: The URL's path (no query).
        attempt: The call's request count, this one included.
        elapsed: Seconds from :class:`RequestSent` to here (pool wait included).
        status: The HTTP status, or None when no answer arrived.
        headers: The response headers (empty when no answer arrived).
        error: The SDK error of a request that got no answer, else None.
    """

    method: str
    path: str
    attempt: int
    elapsed: float
    status: int | None
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    error: ChargeOverError | None = None


@attrs.frozen(kw_only=True)
class Hooks:
    """Callbacks for every request of a client: ``ChargeOverClient(..., hooks=Hooks(...))``.

    Attributes:
        on_request: Called with a :class:`RequestSent` before each request.
        on_response: Called with a :class:`ResponseReceived` after each request.
        on_retry: Called with a :class:`~customer_sdk.RetryEvent` before each retry (as
            ``RetryPolicy.on_retry``, which is still called too).
    """

    on_request: Callable[[RequestSent], None] | None = None
    on_response: Callable[[ResponseReceived], None] | None = None
    on_retry: Callable[[RetryEvent], None] | None = None


def call_hook(hook: Callable[[E], None] | None, event: E) -> None:
    """Call ``hook`` with ``event``; an exception it raises is logged, never propagated.

    Args:
        hook: The callback, or None.
        event: What happened.
    """
    if hook is None:
        return
    try:
        hook(event)
    except Exception as exc:  # a broken hook must not change a request's outcome
        logger.warning("a customer_sdk hook raised %s; ignored", type(exc).__name__)


def both_on_retry(
    first: Callable[[RetryEvent], None] | None, second: Callable[[RetryEvent], None] | None
) -> Callable[[RetryEvent], None] | None:
    """One ``on_retry`` calling the policy's then the hooks' (either may be None).

    Args:
        first: The retry policy's own callback.
        second: The hooks' callback (guarded by :func:`call_hook`).

    Returns:
        The combined callback, or ``first`` when there is no second.
    """
    if second is None:
        return first

    def on_retry(event: RetryEvent) -> None:
        if first is not None:
            first(event)
        call_hook(second, event)

    return on_retry
