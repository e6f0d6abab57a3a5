"""The sandbox's ``PUT`` and ``DELETE /api/v3/customer/{id}``, and every write's side effects.

An update changes only the fields sent, checked by the server's own type rules (the create's,
with no field required); a delete removes the customer and keeps its ``external_key`` reserved
(docs/chargeover-api.md, "Update and delete", "Idempotency"). Either may be dealt one of
:data:`~customer_sdk.sandbox._faults.CHANGE_FAULTS` (``update:`` / ``delete:`` rules), so a test
can lose a write's answer after it landed and watch the client resend it.

Side effects: ChargeOver's ``_flag_emails``, ``_flag_webhooks``, ``_flag_quickbooks`` and
``_flag_events`` query parameters turn each side effect off for one request when ``0``
(docs/chargeover-api.md, "Query flags"). The sandbox sends no e-mail and fires no webhook; it
answers :attr:`WritesReadBack.side_effects` from the audit log: which effects each stored,
changed or deleted write would have set off, so a test can check that ``--no-emails`` reached
the server. Every message text below says whether it is ChargeOver's (cited) or invented.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qsl

import attrs
import orjson
from aiohttp import web

from customer_sdk._flags import FLAG_PARAMS
from customer_sdk._protocol import CUSTOMER_PATH
from customer_sdk.sandbox import _answers, _wire
from customer_sdk.sandbox._answers import NOT_FOUND
from customer_sdk.sandbox._audit import Arrival
from customer_sdk.sandbox._state import State
from customer_sdk.sandbox._store import INVALID, NO_DATA

__all__ = ["WRITE_KINDS", "SideEffects", "Writes", "WritesReadBack", "fired_effects"]

#: The request kinds that may set side effects off.
WRITE_KINDS: Final = frozenset({"create", "bulk", "update", "delete"})


def fired_effects(query: str) -> frozenset[str]:
    """The side effects a write with this query string sets off.

    Args:
        query: The raw query string.

    Returns:
        The names (``emails``, ``webhooks``, ``quickbooks``, ``events``) not turned off by a
        ``_flag_<name>=0`` parameter (ChargeOver's PHP SDK sends them as integers).
    """
    params = dict(parse_qsl(query, keep_blank_values=True))
    return frozenset(name for name, param in FLAG_PARAMS if params.get(param) != "0")


@attrs.frozen
class SideEffects:
    """The side effects one stored, changed or deleted write would have set off.

    Attributes:
        method: ``POST``, ``PUT`` or ``DELETE``.
        path: The request path.
        kind: ``create``, ``bulk``, ``update`` or ``delete``.
        fired: The effects set off: ``emails``, ``webhooks``, ``quickbooks``, ``events``.
    """

    method: str
    path: str
    kind: str
    fired: frozenset[str]


class WritesReadBack:
    """The side effects of the sandbox's writes (a base of ``Sandbox``; it sets ``_state``)."""

    _state: State

    @property
    def side_effects(self) -> list[SideEffects]:
        """One record per write that stored, changed or deleted a customer, in audit order."""
        return [
            SideEffects(e.method, e.path, e.kind, fired_effects(e.query))
            for e in self._state.audit.entries
            if e.kind in WRITE_KINDS and e.committed
        ]


class Writes:
    """The handlers of ``PUT`` and ``DELETE /api/v3/customer/{id}``.

    Args:
        state: The sandbox state.
    """

    __slots__ = ("_state",)

    def __init__(self, state: State) -> None:
        self._state = state

    async def answer(
        self, request: web.BaseRequest, body: bytes, fault: str | None, arrival: Arrival
    ) -> web.StreamResponse:
        """Answer an update or a delete under an optional fault.

        Args:
            request: The request.
            body: Its body.
            fault: The fault dealt to it, or None.
            arrival: What the audit entry needs of the request.

        Returns:
            The answer, or :func:`~customer_sdk.sandbox._answers.gone` once a fault reset
            the connection.
        """
        audit = self._state.audit
        if fault in ("reset_before_commit", "500_before_commit", "503_before_commit") or (
            fault in ("400", "401", "403")
        ):
            if fault == "reset_before_commit":
                audit.record(arrival, None, fault)
                return _answers.reset(request)
            status, message = _answers.ERROR_ANSWERS[fault]
            audit.record(arrival, status, fault)
            return _answers.error_response(status, message, None if status >= 500 else False)
        method, path = arrival[0], arrival[1]
        cid = int(path[len(CUSTOMER_PATH) + 1 :])
        if method == "PUT":
            status, answer = self.update(cid, body)
        else:
            status, answer = self.delete(cid)
        done = int(status < 300)
        if fault == "reset_after_commit":
            audit.record(arrival, None, fault, done)
            return _answers.reset(request)
        if fault in ("500_after_commit", "503_after_commit"):
            code, message = _answers.ERROR_ANSWERS[fault]
            audit.record(arrival, code, fault, done)
            return _answers.error_response(code, message, None)
        audit.record(arrival, status, None, done)
        headers = {"Content-Type": _wire.JSON}
        if status == 202:
            # cited: the recorded 202 carries a Location header (tests/recordings/update_202.json).
            headers["Location"] = f"{self._state.base_url}{path}"
        return _answers.json_response(status, answer, headers)

    def update(self, customer_id: int, body: bytes) -> tuple[int, bytes]:
        """Change the fields sent of one customer.

        Args:
            customer_id: The id in the path.
            body: The request body: a JSON object of the fields to change.

        Returns:
            202 with ``response: {"id": N}`` (cited: tests/recordings/update_202.json), or a
            400 / 404 envelope.
        """
        payload = _parse(body)
        if not isinstance(payload, dict):
            problem: str | None = payload
        else:
            try:
                problem = self._state.store.update(customer_id, payload)
            except KeyError:
                # cited: ChargeOver's recorded 404 text for an unknown id (tests/recordings/
                # get_404.json, a GET); that a PUT answers the same is inferred.
                return 404, _wire.envelope(404, None, NOT_FOUND)
        if problem is not None:
            # cited or invented as the message is: _store's INVALID / NO_DATA are ChargeOver's,
            # DUPLICATE_KEY is invented (see each in _store).
            return 400, _wire.envelope(400, False, problem)
        # cited: the recorded 202 body (tests/recordings/update_202.json), plus "details".
        return 202, _wire.envelope(202, {"id": customer_id})

    def delete(self, customer_id: int) -> tuple[int, bytes]:
        """Delete one customer; its ``external_key`` stays reserved.

        Args:
            customer_id: The id in the path.

        Returns:
            200 with ``response: true`` (cited: tests/recordings/delete_200.json), or a 404.
        """
        try:
            self._state.store.delete(customer_id)
        except KeyError:
            # cited: the recorded 404 text (tests/recordings/get_404.json, a GET); inferred
            # for a DELETE.
            return 404, _wire.envelope(404, None, NOT_FOUND)
        return 200, _wire.envelope(200, True)


def _parse(body: bytes) -> Any:
    """The JSON object of an update's body, or the 400 message as a str."""
    if not body.strip():
        return NO_DATA  # cited: the recorded text of an empty create (create_400_no_data.json)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return INVALID  # cited: documented (docs/chargeover-api.md, "Errors")
    if payload == {}:
        return NO_DATA  # cited as above: the recorded answer to an empty object
    return payload if isinstance(payload, dict) else INVALID
