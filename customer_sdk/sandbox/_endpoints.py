"""The sandbox's endpoint handlers: each customer endpoint under the fault dealt to it.

A handler runs its endpoint (:mod:`customer_sdk.sandbox._customers`), lets the fault break the
answer where it strikes (:mod:`customer_sdk.sandbox._faulted`), and records the request's audit
entry. Requests reach a handler only once they passed the outage, auth and rate-limit gates and
were dealt their fault (:mod:`customer_sdk.sandbox._handler`); this module checks none of those.
"""

from __future__ import annotations

from aiohttp import web

from customer_sdk._protocol import COUNT_PATH, CUSTOMER_PATH
from customer_sdk.sandbox import _answers, _wire
from customer_sdk.sandbox._audit import Arrival
from customer_sdk.sandbox._customers import CustomerApi, created_body
from customer_sdk.sandbox._faulted import SUCCESS_SHAPED, FaultedAnswers
from customer_sdk.sandbox._listing import count_answer
from customer_sdk.sandbox._state import State
from customer_sdk.sandbox._store import INVALID

__all__ = ["Endpoints"]


class Endpoints:
    """The handlers of ``create``, ``bulk``, ``lookup``/``get`` and ``other`` requests.

    Args:
        state: The sandbox state.
    """

    __slots__ = ("_api", "_faulted", "_state")

    def __init__(self, state: State) -> None:
        self._state = state
        self._api = CustomerApi(state)
        self._faulted = FaultedAnswers(state)

    async def create(
        self, request: web.BaseRequest, body: bytes, fault: str | None, arrival: Arrival
    ) -> web.StreamResponse:
        """``POST /api/v3/customer`` under an optional fault.

        Args:
            request: The request.
            body: Its body.
            fault: The fault dealt to it, or None.
            arrival: What the audit entry needs of the request.

        Returns:
            The answer (docs/chargeover-api.md, "Create": a 201 with
            ``response.id`` and a ``Location`` header), broken as the fault says.
        """
        api = self._api
        if fault is not None:
            early = await self._faulted.early(
                request, fault, arrival, lambda: int(api.create(body)[0] is not None)
            )
            if early is not None:
                return early
        obj, message = api.create(body)
        if obj is None:
            if fault is None or fault in SUCCESS_SHAPED:
                self._state.audit.record(arrival, 400)
                return _answers.error_response(400, message)
            failed = _wire.envelope(400, False, message)
            return await self._faulted.after_commit(request, fault, arrival, 0, (400, failed, {}))
        cid = obj["customer_id"]
        ok = created_body(cid)
        location = {"Location": f"{self._state.base_url}{CUSTOMER_PATH}/{cid}"}
        if fault is None:
            self._state.audit.record(arrival, 201, None, 1)
            headers = {"Content-Type": _wire.JSON, **location}
            return web.Response(body=ok, status=201, headers=headers)
        return await self._faulted.after_commit(request, fault, arrival, 1, (201, ok, location))

    async def bulk(
        self, request: web.BaseRequest, body: bytes, fault: str | None, arrival: Arrival
    ) -> web.StreamResponse:
        """``POST /api/v3/_bulk`` under an optional fault (a success is a 200).

        Args:
            request: The request.
            body: Its body.
            fault: The fault dealt to it, or None.
            arrival: What the audit entry needs of the request.

        Returns:
            The answer (docs/chargeover-api.md, "Bulk"), broken as the fault says.
        """
        api = self._api
        if fault is not None:
            early = await self._faulted.early(request, fault, arrival, lambda: api.bulk(body)[2])
            if early is not None:
                return early
        status, answer, committed = api.bulk(body)
        if fault is None or (status != 200 and fault in SUCCESS_SHAPED):
            self._state.audit.record(arrival, status, None, committed)
            return _answers.json_response(status, answer)
        done: tuple[int, bytes, dict[str, str]] = (status, answer, {})
        return await self._faulted.after_commit(request, fault, arrival, committed, done)

    async def read(
        self, request: web.BaseRequest, fault: str | None, arrival: Arrival
    ) -> web.StreamResponse:
        """A lookup or a GET by id under an optional fault.

        Args:
            request: The request.
            fault: The fault dealt to it, or None.
            arrival: What the audit entry needs of the request.

        Returns:
            The answer (docs/chargeover-api.md, "Looking customers up"), broken as the fault
            says.
        """
        if fault is not None:
            broken = await self._faulted.read(request, fault, arrival)
            if broken is not None:
                return broken
        _, path, query, kind, _ = arrival
        lag = self._state.lookup_lag if fault == "lag" else 0.0
        if kind == "lookup":
            status, body = self._api.lookup(path, query, lag)
        else:
            status, body = self._api.get(path, lag)
        self._state.audit.record(arrival, status, fault)
        if fault == "truncated_200" and status == 200:
            return self._faulted.truncated(request, status, body)
        return _answers.json_response(status, body)

    def other(self, arrival: Arrival) -> web.StreamResponse:
        """A plain listing, ``_count``, or the 400 of an unknown endpoint (the redirect target too).

        Args:
            arrival: What the audit entry needs of the request.

        Returns:
            The listing, or the 400 envelope.
        """
        method, path, query, _, _ = arrival
        if method == "GET" and path == CUSTOMER_PATH:  # a plain listing, no where filter
            status, body = self._api.lookup(path, query, 0.0)
            self._state.audit.record(arrival, status)
            return _answers.json_response(status, body)
        if method == "GET" and path == COUNT_PATH:  # docs/chargeover-api.md, "Counting"
            status, body = count_answer(self._state.store, query)
            self._state.audit.record(arrival, status)
            return _answers.json_response(status, body)
        # docs/chargeover-api.md, "Errors": an unknown endpoint is a 400.
        self._state.audit.record(arrival, 400)
        return _answers.error_response(400, INVALID)
