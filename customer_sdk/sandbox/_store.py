r"""The sandbox's customer table: server-side validation, storage, ``where`` queries.

It plays ChargeOver's database: a create is checked the way the server checks it (``company``
required, field types per the table of chargeover-api.md, unique and never-reusable
``external_key``), stored as the wide, loose object ChargeOver reads back, and found again by id,
by key or by a ``where`` filter whose escapes invert
:func:`customer_sdk._protocol.escape_where_value`. This module does no I/O, knows nothing of HTTP
or faults, and keeps everything in memory.
"""

from __future__ import annotations

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

__all__ = [
    "DUPLICATE_KEY",
    "INVALID",
    "NO_DATA",
    "Store",
    "WhereError",
    "check_payload",
    "parse_order",
    "parse_where",
]

#: chargeover-api.md, "Errors": the 400 messages of a create.
INVALID: Final = "Missing or invalid parameter."
NO_DATA: Final = "A required parameter was missing: No data."
# The duplicate-key text is not documented (chargeover-api.md): clients must not match on it.
DUPLICATE_KEY: Final = "Another customer already exists with this external_key."

_INT, _BOOL, _DELIVERY, _STR, _LIST = range(5)
_KIND: Final[dict[str, int]] = {
    **dict.fromkeys(INT_FIELDS, _INT),
    **dict.fromkeys(BOOL_FIELDS, _BOOL),
    **dict.fromkeys(DELIVERY_FIELDS, _DELIVERY),
    **dict.fromkeys(STR_FIELDS, _STR),
    **dict.fromkeys(LIST_FIELDS, _LIST),
}
_READ_ONLY: Final = frozenset({"customer_id", "write_datetime", "mod_datetime"})
_QUERYABLE: Final = frozenset(FIELD_NAMES) | _READ_ONLY


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


# Every stored object starts as a copy of this (chargeover-api.md, "Looking customers up": the
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
            ok = type(value) is bool
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
    stays reserved: a create with it fails while lookups find nothing (chargeover-api.md,
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
        # chargeover-api.md, "Looking customers up"; formatted once a second, not per create.
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
            if value is not None and name not in _READ_ONLY:
                obj[name] = list(value) if type(value) is list else value
        # ChargeOver returns no_procfees as the number 0/1 while other flags are bools.
        obj["no_procfees"] = int(bool(obj["no_procfees"]))
        obj["write_datetime"] = obj["mod_datetime"] = self._now_text()
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
            clauses: From :func:`parse_where` (AND-ed).
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
            if all(_match(obj.get(f), op, v) for f, op, v in clauses)
            and (lag <= 0 or self.visible(obj["customer_id"], lag))
        ]
        for field, descending in reversed(order):
            rows.sort(key=_sort_key_of(field), reverse=descending)
        return rows[offset : offset + limit]


class WhereError(ValueError):
    """A ``where``, ``order``, ``limit`` or ``offset`` parameter the server cannot use."""


def _split_escaped(text: str) -> list[list[str]]:
    r"""Split on unescaped ``,`` (clauses) and ``:`` (parts), dropping the escaping ``\``."""
    clauses: list[list[str]] = []
    parts: list[str] = []
    buf: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, None)
            if nxt is None:
                raise WhereError("a where value ends in a lone backslash")
            buf.append(nxt)
        elif ch == ":":
            parts.append("".join(buf))
            buf = []
        elif ch == ",":
            parts.append("".join(buf))
            clauses.append(parts)
            parts, buf = [], []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    clauses.append(parts)
    return clauses


_OPS: Final = frozenset({"EQUALS", "NOTEQUALS", "GT", "LT", "GTE", "LTE", "CONTAINS"})


def parse_where(text: str) -> list[tuple[str, str, str | None]]:
    r"""Parse a decoded ``where`` parameter into ``(field, op, value)`` clauses.

    chargeover-api.md, "Looking customers up": ``field:OP:value`` clauses, comma-joined (AND),
    ops EQUALS NOTEQUALS GT LT GTE LTE CONTAINS IS:NULL ISNOT:NULL; ``\`` escapes ``,`` ``:``
    and itself inside a value. This inverts :func:`customer_sdk._protocol.escape_where_value`.

    Args:
        text: The ``where`` value after URL-decoding.

    Returns:
        The clauses; ``value`` is None for IS:NULL / ISNOT:NULL (op ``IS`` / ``ISNOT``).

    Raises:
        WhereError: A clause that is not ``field:OP:value``, an unknown field or op.
    """
    out: list[tuple[str, str, str | None]] = []
    for parts in _split_escaped(text):
        if len(parts) < 3:
            raise WhereError(f"where clause {':'.join(parts)!r} is not field:OP:value")
        field, op = parts[0], parts[1].upper()
        if field not in _QUERYABLE:
            raise WhereError(f"unknown where field {field!r}")
        if op in ("IS", "ISNOT") and len(parts) == 3 and parts[2].upper() == "NULL":
            out.append((field, op, None))
        elif op in _OPS:
            out.append((field, op, ":".join(parts[2:])))  # an unescaped ":" stays in the value
        else:
            raise WhereError(f"unknown where operator {parts[1]!r}")
    return out


def parse_order(text: str | None) -> list[tuple[str, bool]]:
    """Parse ``order=field:ASC|DESC[,field:...]``.

    Args:
        text: The parameter, or None.

    Returns:
        ``(field, descending)`` pairs.

    Raises:
        WhereError: An unknown field or direction.
    """
    out: list[tuple[str, bool]] = []
    for item in (text or "").split(","):
        if not item:
            continue
        field, _, direction = item.partition(":")
        direction = direction.upper() or "ASC"
        if field not in _QUERYABLE or direction not in ("ASC", "DESC"):
            raise WhereError(f"bad order {item!r}")
        out.append((field, direction == "DESC"))
    return out


def _sort_key_of(field: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    """A sort key on one field: nulls first, then numbers, then text (never compared across)."""

    def key(obj: dict[str, Any]) -> tuple[int, Any]:
        """Sort key of one stored object."""
        value = obj.get(field)
        if value is None:
            return (0, 0)
        if isinstance(value, int | float):
            return (1, value)
        return (2, str(value))

    return key


def _coerce(stored: Any, value: str) -> Any:
    """Turn the query's text into the stored value's type; None when it cannot be."""
    if type(stored) is bool:
        lowered = value.lower()
        return True if lowered in ("1", "true") else False if lowered in ("0", "false") else None
    if type(stored) is int:
        try:
            return int(value)
        except ValueError:
            return None
    if type(stored) is list:
        return None
    return value


def _match(stored: Any, op: str, value: str | None) -> bool:
    """Whether one stored value passes one clause (SQL-like: null matches only IS NULL)."""
    if value is None:  # IS / ISNOT NULL
        empty = stored is None or stored == "" or stored == []
        return empty if op == "IS" else not empty
    if stored is None:
        return False
    if op == "CONTAINS":
        # ChargeOver filters with SQL LIKE: case-insensitive substring; tags match one tag.
        needle = value.casefold()
        if type(stored) is list:
            return any(needle in str(t).casefold() for t in stored)
        return needle in str(stored).casefold()
    # EQUALS is exact (not case-folded) so that any external_key round-trips exactly.
    target = _coerce(stored, value)
    if target is None:
        return op == "NOTEQUALS"
    if op == "EQUALS":
        return bool(stored == target)
    if op == "NOTEQUALS":
        return bool(stored != target)
    if op == "GT":
        return bool(stored > target)
    if op == "LT":
        return bool(stored < target)
    if op == "GTE":
        return bool(stored >= target)
    return bool(stored <= target)  # LTE
