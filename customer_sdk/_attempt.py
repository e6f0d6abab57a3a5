"""Around one request: who is told (a bulk job's observer, the caller's hooks) and the DEBUG log.

Used by :meth:`customer_sdk._engine.Engine.send` only, kept apart so the engine stays short.
Nothing here logs or reports a query, a body, a header we send or a key.
"""

from __future__ import annotations

import logging
import time
from typing import Final, Protocol

from customer_sdk._hooks import RequestSent, ResponseReceived
from customer_sdk._protocol import HttpRequest, HttpResponse
from customer_sdk._retry import Run
from customer_sdk.errors import ChargeOverError

__all__ = ["SendObserver", "log_attempt", "request_sent", "response_received"]

logger: Final = logging.getLogger("customer_sdk")


class SendObserver(Protocol):
    """Told of every request an engine sends (a bulk job's counters and outage circuit)."""

    def on_send(self) -> None:
        """A request is about to go out."""

    def on_answer(self, result: int | ChargeOverError) -> None:
        """It was answered with this status, or failed in the transport with this error.

        Args:
            result: The HTTP status, or the SDK error of a request that got no answer.
        """


def request_sent(request: HttpRequest, run: Run) -> RequestSent:
    """The hook event for ``request``, about to go out as the call's ``run.requests``-th.

    Args:
        request: The request.
        run: The call's budget (already counting this request).

    Returns:
        The event.
    """
    return RequestSent(method=request.method, path=request.path, attempt=run.requests)


def response_received(
    request: HttpRequest,
    run: Run,
    started: float,
    resp: HttpResponse | None,
    exc: ChargeOverError | None,
) -> ResponseReceived:
    """The hook event for ``request``'s end: an answer, or a transport failure.

    Args:
        request: The request.
        run: The call's budget.
        started: ``time.perf_counter()`` when it was sent.
        resp: The response, or None.
        exc: The transport's error, when there is no response.

    Returns:
        The event.
    """
    return ResponseReceived(
        method=request.method,
        path=request.path,
        attempt=run.requests,
        elapsed=time.perf_counter() - started,
        status=resp.status if resp is not None else getattr(exc, "status", None),
        headers=resp.headers if resp is not None else {},
        error=exc,
    )


def log_attempt(request: HttpRequest, result: str, started: float, run: Run) -> None:
    """Log one attempt at DEBUG: method, path (never the query: it may hold a key), result.

    Args:
        request: The request.
        result: Its status, or its error's type name.
        started: ``time.perf_counter()`` when it was sent.
        run: The call's budget (its request count is the attempt).
    """
    logger.debug(
        "%s %s -> %s in %.1f ms (attempt %d)",
        request.method,
        request.path,
        result,
        (time.perf_counter() - started) * 1000,
        run.requests,
    )
