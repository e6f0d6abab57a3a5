r"""The ``where`` and ``order`` parameters of a customer query, as the sandbox reads them.

docs/chargeover-api.md, "Looking customers up": ``field:OP:value`` clauses, comma-joined (AND),
with ``\`` escaping ``,`` and ``:`` inside a value; ``order=field:ASC|DESC``. This module
parses them and tests one stored value against one clause; it does not hold customers, run a
query's paging, or know of HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from customer_sdk._models import FIELD_NAMES

__all__ = [
    "QUERYABLE",
    "READ_ONLY",
    "WhereError",
    "match",
    "parse_order",
    "parse_where",
    "sort_key_of",
]

#: The fields the server sets itself; a create cannot set them, a query can filter on them.
READ_ONLY: Final = frozenset({"customer_id", "token", "write_datetime", "mod_datetime"})
#: Every field a ``where`` or ``order`` may name.
QUERYABLE: Final = frozenset(FIELD_NAMES) | READ_ONLY


class WhereError(ValueError):
    """A ``where``, ``order``, ``limit`` or ``offset`` parameter the server cannot use."""


def _split_escaped(text: str) -> list[list[str]]:
    r"""Split on unescaped ``,`` (clauses) and ``:`` (parts), dropping the escaping ``\``.

    docs/chargeover-api.md, "Escaping": only ``\,`` and ``\:`` are escapes; any other
    backslash is an ordinary character of the value.
    """
    clauses: list[list[str]] = []
    parts: list[str] = []
    buf: list[str] = []
    i, end = 0, len(text)
    while i < end:
        ch = text[i]
        if ch == "\\" and i + 1 < end and text[i + 1] in ",:":
            buf.append(text[i + 1])
            i += 2
            continue
        if ch == ":":
            parts.append("".join(buf))
            buf = []
        elif ch == ",":
            parts.append("".join(buf))
            clauses.append(parts)
            parts, buf = [], []
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf))
    clauses.append(parts)
    return clauses


_OPS: Final = frozenset({"EQUALS", "NOTEQUALS", "GT", "LT", "GTE", "LTE", "CONTAINS"})


def parse_where(text: str) -> list[tuple[str, str, str | None]]:
    r"""Parse a decoded ``where`` parameter into ``(field, op, value)`` clauses.

    docs/chargeover-api.md, "Looking customers up": ``field:OP:value`` clauses, comma-joined (AND),
    ops EQUALS NOTEQUALS GT LT GTE LTE CONTAINS IS:NULL ISNOT:NULL; ``\`` escapes ``,`` and
    ``:`` inside a value (any other backslash is kept). This inverts
    :func:`customer_sdk._protocol.escape_where_value`.

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
        if field not in QUERYABLE:
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
        if field not in QUERYABLE or direction not in ("ASC", "DESC"):
            raise WhereError(f"bad order {item!r}")
        out.append((field, direction == "DESC"))
    return out


def sort_key_of(field: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    """A sort key on one field: nulls first, then numbers, then text (never compared across).

    Args:
        field: The field to sort on.

    Returns:
        The key function for ``list.sort``.
    """

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


def match(stored: Any, op: str, value: str | None) -> bool:
    """Whether one stored value passes one clause (SQL-like: null matches only IS NULL).

    Args:
        stored: The customer's value of the clause's field.
        op: The clause's operator (``IS`` / ``ISNOT`` when ``value`` is None).
        value: The clause's value, or None for IS:NULL / ISNOT:NULL.

    Returns:
        True when the value passes.
    """
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
