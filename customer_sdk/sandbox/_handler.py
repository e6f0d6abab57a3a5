"""The sandbox's request path: classify a request, pass it through the gates, route it.

Every request is checked in a fixed order: an outage, then authorization, then the shared token
bucket, then the fault dealt to it (a ``429@V`` answers here), then its endpoint. A request
refused by a gate takes no fault draw or script step. This module reads the body and routes; the
endpoints, the faults' answers, the auth check and the bucket live in their own modules.
"""

from __future__ import annotations

import time

from aiohttp import web

from customer_sdk._protocol import BULK_PATH, CUSTOMER_PATH
from customer_sdk.sandbox import _answers, _wire
from customer_sdk.sandbox._audit import Arrival
from customer_sdk.sandbox._customers import is_id
from customer_sdk.sandbox._endpoints import Endpoints
from customer_sdk.sandbox._ratelimit import retry_after_header
from customer_sdk.sandbox._state import State
from customer_sdk.sandbox._store import INVALID
from customer_sdk.sandbox._writes import Writes

__all__ = ["Handler", "classify"]


def classify(method: str, path: str, query: str) -> str:
    """The kind of a request, which picks its fault rule and its handler.

    A lookup is a GET with a ``where`` filter or by the ``external_key:`` path form
    (docs/chargeover-api.md, "Looking customers up").

    Args:
        method: The HTTP method.
        path: The path, without the query.
        query: The raw query string.

    Returns:
        ``create``, ``lookup``, ``get``, ``bulk``, ``update``, ``delete`` or ``other``.
    """
    if path == CUSTOMER_PATH:
        if method == "POST":
            return "create"
        if method == "GET" and (query.startswith("where=") or "&where=" in query):
            return "lookup"
    elif path.startswith(CUSTOMER_PATH + "/") and method in ("PUT", "DELETE"):
        if is_id(path[len(CUSTOMER_PATH) + 1 :]):
            return "update" if method == "PUT" else "delete"
    elif path.startswith(CUSTOMER_PATH + "/") and method == "GET":
        tail = path[len(CUSTOMER_PATH) + 1 :]
        if tail.startswith("external_key:"):
            return "lookup"
        if is_id(tail):
            return "get"
    elif path == BULK_PATH and method == "POST":
        return "bulk"
    return "other"


class Handler:
    """The ``aiohttp.web.Server`` handler: one call answers one request.

    Args:
        state: The sandbox state.
    """

    __slots__ = ("_endpoints", "_state", "_writes")

    def __init__(self, state: State) -> None:
        self._state = state
        self._endpoints = Endpoints(state)
        self._writes = Writes(state)

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        """Answer one request: outage, auth, rate limit, fault, then the endpoint.

        Args:
            request: The request.

        Returns:
            The answer (or :func:`~customer_sdk.sandbox._answers.gone` once the socket was
            reset or closed).
        """
        state = self._state
        arrived = time.monotonic()
        method = request.method
        path, _, query = request.raw_path.partition("?")
        kind = classify(method, path, query)
        arrival = (method, path, query, kind, arrived)
        counters = state.counters
        counters["requests"] += 1
        counters[kind] += 1
        body = b""
        if request.can_read_body:
            try:
                body = await request.read()
            except Exception:  # the client went away mid-body, or sent too much
                # Too much (over client_max_size) still gets its 400; a client that left gets
                # nothing, and the audit must say which (status None = no status line sent).
                transport = request.transport
                sent = transport is not None and not transport.is_closing()
                state.audit.record(arrival, 400 if sent else None)
                return _answers.error_response(400, INVALID)
        refused = self._gate(request, body, arrival)
        if refused is not None:
            return refused
        fault = state.dealer.draw(kind) if kind != "other" else None
        if fault is not None and fault.startswith("429@"):
            counters["throttled"] += 1
            state.audit.record(arrival, 429, fault)
            return _answers.throttled_response(_wire.retry_after_value(fault[4:]))
        endpoints = self._endpoints
        if kind == "create":
            return await endpoints.create(request, body, fault, arrival)
        if kind == "bulk":
            return await endpoints.bulk(request, body, fault, arrival)
        if kind in ("lookup", "get"):
            return await endpoints.read(request, fault, arrival)
        if kind in ("update", "delete"):
            return await self._writes.answer(request, body, fault, arrival)
        return endpoints.other(arrival)

    def _gate(
        self, request: web.BaseRequest, body: bytes, arrival: Arrival
    ) -> web.StreamResponse | None:
        """The answer of a request refused by an outage, auth or the rate limit, else None."""
        state = self._state
        arrived = arrival[4]
        if state.outage_until and arrived < state.outage_until:
            state.audit.record(arrival, 503, "outage")
            return _answers.error_response(503, _answers.UNAVAILABLE, None)
        problem = state.credentials.problem(
            request.headers.get("Authorization"),
            body,
            lambda: f"{state.scheme}://{request.host}{request.raw_path}",
            now=time.time(),
            max_age=state.signature_max_age,
        )
        if problem is not None:
            state.audit.record(arrival, 401)
            return _answers.error_response(401, problem)
        bucket = state.bucket
        if bucket is not None:
            wait = bucket.take()
            if wait > 0.0:
                state.counters["throttled"] += 1
                state.audit.record(arrival, 429)
                return _answers.throttled_response(retry_after_header(state.retry_after, wait))
        return None
