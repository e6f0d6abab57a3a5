"""The customer endpoints as the sandbox plays them, when nothing goes wrong.

Create (``POST /api/v3/customer``), get by id, look up (``where`` query, plain listing or the
``external_key:`` path form) and ``POST /api/v3/_bulk``, each turned into a status and the exact
envelope bytes ChargeOver sends (docs/chargeover-api.md). Every stored customer is counted and
handed to ``on_commit``. This module does not know about faults, auth, the rate limit or the
socket, and records nothing in the audit log.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import unquote

import orjson

from customer_sdk._protocol import CUSTOMER_PATH, MAX_BULK
from customer_sdk.sandbox import _wire
from customer_sdk.sandbox._answers import NOT_FOUND
from customer_sdk.sandbox._listing import list_answer
from customer_sdk.sandbox._state import State
from customer_sdk.sandbox._store import INVALID, NO_DATA

__all__ = ["KEY_PREFIX", "CustomerApi", "created_body", "is_id"]

#: The path form of a lookup by key (docs/chargeover-api.md, "Looking customers up").
KEY_PREFIX: Final = CUSTOMER_PATH + "/external_key:"
_BULK_URIS: Final = (CUSTOMER_PATH, CUSTOMER_PATH.removeprefix("/api/v3"))
# invented: ChargeOver's text for an oversized _bulk is not recorded (the limit of 25 is,
# docs/chargeover-api.md, "Bulk").
_TOO_MANY: Final = f"Too many requests in one bulk call: the limit is {MAX_BULK}."


def is_id(text: str) -> bool:
    """Whether a path segment is a customer id.

    Args:
        text: The segment.

    Returns:
        True for ASCII digits only, of a sane length (so ``int()`` of it is cheap and safe).
    """
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()


def created_body(customer_id: int) -> bytes:
    """The 201 body of a create (docs/chargeover-api.md, "Create").

    Args:
        customer_id: The new customer's id.

    Returns:
        The envelope bytes, ``response`` being ``{"id": customer_id}``.
    """
    return b'{"code":201,"status":"OK","message":"","details":{},"response":{"id":%d}}' % (
        customer_id
    )


class CustomerApi:
    """The customer endpoints over the sandbox's store.

    Args:
        state: The sandbox state (its store, counters and ``on_commit``).
    """

    __slots__ = ("_state",)

    def __init__(self, state: State) -> None:
        self._state = state

    def commit(self, payload: object) -> tuple[dict[str, Any] | None, str]:
        """Store one create payload; count it and call ``on_commit``.

        Args:
            payload: The parsed create body.

        Returns:
            The stored customer and "", or None and the 400 message.
        """
        obj, message = self._state.store.create(payload)
        if obj is not None:
            self._state.counters["committed"] += 1
            callback = self._state.on_commit
            if callback is not None:
                callback(obj)
        return obj, message

    def create(self, body: bytes) -> tuple[dict[str, Any] | None, str]:
        """Parse and store the body of a create.

        Args:
            body: The request body.

        Returns:
            The stored customer and "", or None and the 400 message (docs/chargeover-api.md,
            "Errors": an empty body is "No data", bad JSON "Missing or invalid parameter").
        """
        if not body.strip():
            return None, NO_DATA
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None, INVALID
        return self.commit(payload)

    def bulk(self, body: bytes) -> tuple[int, bytes, int]:
        """Run a ``_bulk`` body (docs/chargeover-api.md, "Bulk").

        Args:
            body: The request body: a JSON array of at most 25 requests.

        Returns:
            The status, the envelope bytes and how many customers were stored.
        """
        if not body.strip():
            return 400, _wire.envelope(400, False, NO_DATA), 0
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError:
            return 400, _wire.envelope(400, False, INVALID), 0
        if not isinstance(items, list):
            return 400, _wire.envelope(400, False, INVALID), 0
        if not items:
            return 400, _wire.envelope(400, False, NO_DATA), 0
        if len(items) > MAX_BULK:
            return 400, _wire.envelope(400, False, _TOO_MANY), 0
        results: list[dict[str, Any]] = []
        committed = 0
        for item in items:  # each item succeeds or fails on its own ("Bulk")
            result = self._bulk_item(item)
            if result["code"] == 201:
                committed += 1
            results.append(result)
        return 200, _wire.envelope(200, {"_bulk": results}), committed

    def _bulk_item(self, item: object) -> dict[str, Any]:
        """Run one ``_bulk`` item; return its ``{code, status, message, response}``."""
        if isinstance(item, dict):
            method = str(item.get("request_method", "")).upper()
            uri = item.get("uri")
            if method == "POST" and uri in _BULK_URIS:
                obj, message = self.commit(item.get("payload"))
                if obj is not None:
                    cid = obj["customer_id"]
                    return {"code": 201, "status": "OK", "message": "", "response": {"id": cid}}
                return {"code": 400, "status": "Error", "message": message, "response": False}
            if method == "GET" and isinstance(uri, str) and uri.startswith(CUSTOMER_PATH + "/"):
                tail = uri[len(CUSTOMER_PATH) + 1 :]
                obj = self._state.store.customers.get(int(tail)) if is_id(tail) else None
                if obj is not None:
                    return {"code": 200, "status": "OK", "message": "", "response": obj}
                # cited: the recorded 404 text (tests/recordings/get_404.json).
                return {"code": 404, "status": "Error", "message": NOT_FOUND, "response": None}
        return {"code": 400, "status": "Error", "message": INVALID, "response": False}

    def get(self, path: str, lag: float) -> tuple[int, bytes]:
        """``GET /api/v3/customer/{id}`` (the path already known to end in an id).

        Args:
            path: The request path.
            lag: Customers stored less than this many seconds ago are invisible (0: none).

        Returns:
            The status (200 or 404) and the envelope bytes.
        """
        cid = int(path[len(CUSTOMER_PATH) + 1 :])
        store = self._state.store
        obj = store.customers.get(cid)
        if obj is None or (lag > 0 and not store.visible(cid, lag)):
            return 404, _wire.envelope(404, None, NOT_FOUND)
        return 200, _wire.envelope(200, obj)

    def lookup(self, path: str, query: str, lag: float) -> tuple[int, bytes]:
        """A ``where`` query, a plain listing or the ``external_key:`` path form.

        Args:
            path: The request path.
            query: The raw query string.
            lag: Customers stored less than this many seconds ago are invisible (0: none).

        Returns:
            The status and the envelope bytes: one object for the path form, else a list.
        """
        store = self._state.store
        if path.startswith(KEY_PREFIX):
            obj = store.by_key(unquote(path[len(KEY_PREFIX) :]))
            if obj is None or (lag > 0 and not store.visible(obj["customer_id"], lag)):
                return 404, _wire.envelope(404, None, NOT_FOUND)
            return 200, _wire.envelope(200, obj)
        return list_answer(store, query, lag)
