r"""The sandbox's customer table: server-side validation, storage, ``where`` queries.

It plays ChargeOver's database: a create is checked the way the server checks it (``company``
required, field types per the table of docs/chargeover-api.md, unique and never-reusable
``external_key``), stored as the wide, loose object ChargeOver reads back, and found again by id,
by key or by the clauses of a ``where`` filter (parsed by :mod:`customer_sdk.sandbox._where`).
This module does no I/O, knows nothing of HTTP or faults, and keeps everything in memory.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

from customer_sdk._fields import (
    BOOL_FIELDS,
    DELIVERY_FIELDS,
    FIELD_NAMES,
    INT_FIELDS,
    LIST_FIELDS,
    STR_FIELDS,
)
from customer_sdk.sandbox._where import READ_ONLY, match, sort_key_of

__all__ = [
    "DUPLICATE_KEY",
    "INVALID",
    "NO_DATA",
    "Store",
    "check_payload",
]

# cited: ChargeOver's documented 400 text (docs/chargeover-api.md, "Errors": [S2], [S7]).
INVALID: Final = "Missing or invalid parameter."
# cited: ChargeOver's recorded text for a create of {} (tests/recordings/create_400_no_data.json).
NO_DATA: Final = "A required parameter was missing: No data."
# invented: the duplicate-key text is not documented (docs/chargeover-api.md, "Errors"):
# clients must not match on it.
DUPLICATE_KEY: Final = "Another customer already exists with this external_key."

_INT, _BOOL, _DELIVERY, _STR, _LIST = range(5)
_KIND: Final[dict[str, int]] = {
    **dict.fromkeys(INT_FIELDS, _INT),
    **dict.fromkeys(BOOL_FIELDS, _BOOL),
    **dict.fromkeys(DELIVERY_FIELDS, _DELIVERY),
    **dict.fromkeys(STR_FIELDS, _STR),
    **dict.fromkeys(LIST_FIELDS, _LIST),
}


def _default(name: str) -> Any:
    """What an unset field reads back as: ids null, custom fields null, other text ""."""
    kind = _KIND[name]
    if kind == _INT or name.startswith("custom_"):
        return None
    if kind == _BOOL:
        return 0 if name == "no_procfees" else False
    if kind == _DELIVERY:
        return "email"
    if kind == _LIST:
        return []
    return ""


# Every stored object starts as a copy of this (docs/chargeover-api.md, "Looking customers up": the
# object read back is wide and loose).
_TEMPLATE: Final[dict[str, Any]] = {name: _default(name) for name in FIELD_NAMES}


def check_payload(payload: object) -> str | None:
    """Check a create body the way the server does (types only, not the SDK's stricter rules).

    Args:
        payload: The parsed JSON body.

    Returns:
        None when valid, else the 400 message.
    """
    if not isinstance(payload, dict):
        return INVALID
    if not payload:
        return NO_DATA
    company = payload.get("company")
    if type(company) is not str or not company.strip():
        return INVALID
    for name, value in payload.items():
        kind = _KIND.get(name)
        if kind is None or value is None:
            continue  # unknown fields are kept as sent; null means unset
        if kind == _STR:
            ok = type(value) is str
        elif kind == _INT:
            ok = type(value) is int  # not bool: True is no id
        elif kind == _BOOL:
            # ChargeOver writes no_procfees back as the number 0 (tests/recordings/
            # list_200_2026.json), and takes it back the same way.
            ok = type(value) is bool or (type(value) is int and value in (0, 1))
        elif kind == _DELIVERY:
            ok = value in ("email", "print")
        else:
            ok = type(value) is list and all(type(t) is str for t in value)
        if not ok:
            return INVALID
    return None


class Store:
    """The customers, their keys, and when each was stored.

    Ids are handed out from 1 upwards and never reused. A deleted customer's ``external_key``
    stays reserved: a create with it fails while lookups find nothing (docs/chargeover-api.md,
    "Idempotency").

    Args:
        clock: Monotonic seconds, for the ``lag`` fault's visibility check.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.customers: dict[int, dict[str, Any]] = {}
        self._by_key: dict[str, int] = {}
        self._reserved: set[str] = set()
        self._born: dict[int, float] = {}
        self._next_id = 1
        self._clock = clock
        self._stamp_second = -1
        self._stamp = ""

    def _now_text(self) -> str:
        """The current local time as ChargeOver writes it: ``2015-03-19 08:55:33``."""
        # docs/chargeover-api.md, "Looking customers up"; formatted once a second, not per create.
        now = int(time.time())
        if now != self._stamp_second:
            self._stamp_second = now
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        return self._stamp

    def create(self, payload: object) -> tuple[dict[str, Any] | None, str]:
        """Validate and store one customer.

        Args:
            payload: The parsed JSON body of the create.

        Returns:
            ``(customer, "")`` when stored, or ``(None, message)`` for a 400.
        """
        problem = check_payload(payload)
        if problem is not None:
            return None, problem
        assert isinstance(payload, dict)
        key = payload.get("external_key")
        if key and key in self._reserved:
            return None, DUPLICATE_KEY
        cid = self._next_id
        self._next_id = cid + 1
        obj: dict[str, Any] = {"customer_id": cid}
        obj.update(_TEMPLATE)
        obj["tags"] = []  # the template's list must not be shared by every tagless customer
        for name, value in payload.items():
            if value is not None and name not in READ_ONLY:
                obj[name] = list(value) if type(value) is list else value
        # ChargeOver returns no_procfees as the number 0/1 while other flags are bools.
        obj["no_procfees"] = int(bool(obj["no_procfees"]))
        obj["write_datetime"] = obj["mod_datetime"] = self._now_text()
        # ChargeOver sets an opaque token per customer ("8c3nxe47hrdt" in
        # tests/recordings/get_200.json); the id in it keeps it unique.
        obj["token"] = f"{secrets.token_hex(4)}{cid:x}"
        self.customers[cid] = obj
        self._born[cid] = self._clock()
        if key:
            self._by_key[key] = cid
            self._reserved.add(key)
        return obj, ""

    def by_key(self, key: str) -> dict[str, Any] | None:
        """The live customer with this ``external_key``, or None (also for a deleted one).

        Args:
            key: The key.

        Returns:
            The stored object, or None.
        """
        cid = self._by_key.get(key)
        return None if cid is None else self.customers.get(cid)

    def delete(self, customer_id: int) -> None:
        """Remove a customer; its ``external_key`` stays reserved.

        Args:
            customer_id: The id.

        Raises:
            KeyError: No such customer.
        """
        obj = self.customers.pop(customer_id)
        self._born.pop(customer_id, None)
        key = obj.get("external_key")
        if isinstance(key, str):
            self._by_key.pop(key, None)

    def update(self, customer_id: int, payload: dict[str, Any]) -> str | None:
        """Change the fields of one customer that ``payload`` sets (an update, issue 13).

        The create's type rules, no field required (a stand-in company is checked when none is
        sent); ``null`` leaves a field as it is. A new ``external_key`` must be free (never held).

        Args:
            customer_id: The id.
            payload: The parsed JSON object of the update.

        Returns:
            None when changed, else the 400 message.

        Raises:
            KeyError: No such customer.
        """
        obj = self.customers[customer_id]
        problem = check_payload({"company": "stand-in", **payload})
        if problem is not None:
            return problem
        key, old = payload.get("external_key"), obj.get("external_key")
        if key and key != old:
            if key in self._reserved:
                return DUPLICATE_KEY
            if isinstance(old, str):
                self._by_key.pop(old, None)  # the old key stays reserved, as after a delete
            self._by_key[key] = customer_id
            self._reserved.add(key)
        for name, value in payload.items():
            if value is not None and name not in READ_ONLY:
                obj[name] = list(value) if type(value) is list else value
        obj["no_procfees"] = int(bool(obj["no_procfees"]))
        obj["mod_datetime"] = self._now_text()
        return None

    def visible(self, customer_id: int, lag: float) -> bool:
        """Whether a customer is visible to a read that lags ``lag`` seconds behind writes.

        Args:
            customer_id: The id.
            lag: Customers stored less than this many seconds ago are invisible.

        Returns:
            True if it exists and is old enough.
        """
        born = self._born.get(customer_id)
        return born is not None and (lag <= 0 or self._clock() - born >= lag)

    def query(
        self,
        clauses: list[tuple[str, str, str | None]],
        *,
        order: list[tuple[str, bool]],
        limit: int,
        offset: int,
        lag: float = 0.0,
    ) -> list[dict[str, Any]]:
        """Run a ``where`` query.

        Args:
            clauses: From :func:`~customer_sdk.sandbox._where.parse_where` (AND-ed).
            order: ``(field, descending)`` pairs; empty means ``customer_id`` ascending.
            limit: The page size.
            offset: Rows to skip.
            lag: Hide customers stored less than this many seconds ago (the ``lag`` fault).

        Returns:
            The matching customer objects of the page.
        """
        candidates: Iterable[dict[str, Any]]
        for field, op, value in clauses:
            if field == "external_key" and op == "EQUALS":
                # The lookup every reconcile makes: an index hit, not a table scan.
                obj = self.by_key(value or "")
                candidates = [] if obj is None else [obj]
                break
        else:
            candidates = self.customers.values()
        rows = [
            obj
            for obj in candidates
            if all(match(obj.get(f), op, v) for f, op, v in clauses)
            and (lag <= 0 or self.visible(obj["customer_id"], lag))
        ]
        for field, descending in reversed(order):
            rows.sort(key=sort_key_of(field), reverse=descending)
        return rows[offset : offset + limit]
