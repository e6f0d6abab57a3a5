r"""The arguments of a listing or a count: ``where``, ``order`` and ``page_size``, checked.

A caller's filter comes in three forms, all turned into ChargeOver's ``field:OP:value`` clauses
(docs/chargeover-api.md, "The ``where`` filter"):

- a string in ChargeOver's own syntax (``"bill_state:EQUALS:MN"``, several clauses joined by
  ``,``), sent as written: the caller escapes ``,`` and ``:`` inside its values;
- a mapping, one EQUALS clause per item (``{"external_key": "k,1"}``), ``None`` meaning
  ``IS:NULL``; values are escaped here;
- a sequence of such strings and of ``(field, op, value)`` tuples (values escaped here), with
  ``(field, "IS:NULL")`` / ``(field, "ISNOT:NULL")`` for the value-less operators.

Values are escaped by the one rule, :func:`customer_sdk._protocol.escape_where_value`. Every
problem is collected and raised at once as a :class:`~customer_sdk.errors.ConfigurationError`,
before any I/O. This module does no I/O and knows nothing of pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

import attrs

from customer_sdk._protocol import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, escape_where_value
from customer_sdk._rules import encodable
from customer_sdk.errors import ConfigurationError

__all__ = [
    "ListQuery",
    "OPERATORS",
    "WhereArg",
    "build_query",
    "check_id",
    "checked_value",
    "where_clauses",
]

#: docs/chargeover-api.md, "The ``where`` filter": the operators that take a value.
OPERATORS: Final = frozenset({"EQUALS", "NOTEQUALS", "GT", "LT", "GTE", "LTE", "CONTAINS"})
#: The value-less operators, written ``field:IS:NULL`` / ``field:ISNOT:NULL``.
NULL_OPERATORS: Final = frozenset({"IS:NULL", "ISNOT:NULL"})
_FIELD: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Split on "," or ":" not preceded by a backslash: the escapes of docs/chargeover-api.md.
_CLAUSES: Final = re.compile(r"(?<!\\),")
_PARTS: Final = re.compile(r"(?<!\\):")

WhereArg = (
    str
    | Mapping[str, str | int | None]
    | Iterable[str | tuple[str, str] | tuple[str, str, str | int]]
    | None
)


@attrs.frozen
class ListQuery:
    """A checked listing: clauses ready for the wire, a stable order, a page size.

    Attributes:
        where: ``field:OP:value`` clauses, values escaped (AND-ed).
        order: ``field:ASC|DESC`` items, ending with ``customer_id`` so pages are stable.
        page_size: Rows asked for per request.
    """

    where: tuple[str, ...] = ()
    order: tuple[str, ...] = ("customer_id:ASC",)
    page_size: int = DEFAULT_PAGE_SIZE


def _text_value(value: object, where: str, problems: list[str]) -> str | None:
    """A clause value as text, or None after noting why it cannot be one."""
    if type(value) is int:
        return str(value)
    if not isinstance(value, str):
        problems.append(f"{where}: a value must be a str or an int, got {type(value).__name__}")
        return None
    if not (value.isascii() or encodable(value)):
        problems.append(f"{where}: the value holds a lone surrogate, which cannot be sent")
        return None
    return value


def _field_ok(field: object, where: str, problems: list[str]) -> bool:
    if isinstance(field, str) and _FIELD.match(field):
        return True
    problems.append(f"{where}: {field!r} is not a field name")
    return False


def _raw_clauses(text: str, where: str, problems: list[str]) -> list[str]:
    """Check a where string in ChargeOver's syntax; return its clauses, operators upper-cased."""
    if not (text.isascii() or encodable(text)):
        problems.append(f"{where}: the text holds a lone surrogate, which cannot be sent")
        return []
    out = []
    for clause in _CLAUSES.split(text):
        parts = _PARTS.split(clause, maxsplit=2)
        if len(parts) < 3:
            problems.append(f"{where}: {clause!r} is not field:OP:value")
            continue
        field, op, value = parts[0], parts[1].upper(), parts[2]
        if not _field_ok(field, where, problems):
            continue
        if f"{op}:{value.upper()}" in NULL_OPERATORS:
            out.append(f"{field}:{op}:NULL")
        elif op in OPERATORS:
            out.append(f"{field}:{op}:{value}")
        else:
            problems.append(f"{where}: unknown operator {parts[1]!r} in {clause!r}")
    return out


def _tuple_clause(item: tuple[object, ...], where: str, problems: list[str]) -> str | None:
    """One ``(field, op, value)`` or ``(field, "IS:NULL")`` item as an escaped clause."""
    field, op = item[0], item[1] if len(item) > 1 else None
    if not _field_ok(field, where, problems):
        return None
    upper = op.upper() if isinstance(op, str) else None
    if len(item) == 2 and upper in NULL_OPERATORS:
        return f"{field}:{upper}"
    if len(item) != 3 or upper not in OPERATORS:
        problems.append(
            f"{where}: expected (field, op, value) with op one of {', '.join(sorted(OPERATORS))}"
            ", or (field, 'IS:NULL' | 'ISNOT:NULL')"
        )
        return None
    value = _text_value(item[2], where, problems)
    return None if value is None else f"{field}:{upper}:{escape_where_value(value)}"


def where_clauses(where: object, problems: list[str]) -> list[str]:
    """Turn any accepted ``where`` form into escaped clauses, noting every problem.

    Args:
        where: A string, a mapping (EQUALS), a sequence of strings and tuples, or None.
        problems: Where each problem found is appended.

    Returns:
        The clauses (only the valid ones, when ``problems`` grew).
    """
    if where is None:
        return []
    if isinstance(where, str):
        return _raw_clauses(where, "where", problems)
    out: list[str] = []
    if isinstance(where, Mapping):
        for field, value in where.items():
            label = f"where[{field!r}]"
            if not _field_ok(field, label, problems):
                continue
            if value is None:
                out.append(f"{field}:IS:NULL")
                continue
            text = _text_value(value, label, problems)
            if text is not None:
                out.append(f"{field}:EQUALS:{escape_where_value(text)}")
        return out
    if not isinstance(where, Iterable):
        problems.append(f"where must be a str, a mapping or a sequence, got {type(where).__name__}")
        return []
    for i, item in enumerate(where):
        label = f"where[{i}]"
        if isinstance(item, str):
            out.extend(_raw_clauses(item, label, problems))
        elif isinstance(item, tuple) and 2 <= len(item) <= 3:
            clause = _tuple_clause(item, label, problems)
            if clause is not None:
                out.append(clause)
        else:
            problems.append(f"{label}: expected a clause string or a tuple, got {item!r}")
    return out


def _order_items(order: object, problems: list[str]) -> list[str]:
    """Check ``field[:ASC|DESC]`` items; ``customer_id`` is appended as the tie-breaker."""
    items: list[object] = []
    if isinstance(order, str):
        items = [item for item in order.split(",") if item]
    elif isinstance(order, Iterable):
        items = list(order)
    elif order is not None:
        problems.append(f"order must be a str or a sequence, got {type(order).__name__}")
    out = []
    for item in items:
        field, _, direction = item.partition(":") if isinstance(item, str) else ("", "", "")
        direction = direction.upper() or "ASC"
        if not _FIELD.match(field) or direction not in ("ASC", "DESC"):
            problems.append(f"order: {item!r} is not field:ASC or field:DESC")
            continue
        out.append(f"{field}:{direction}")
    # docs/chargeover-api.md, "Paging": offset paging needs a stable order; ids are unique.
    if not any(item.partition(":")[0] == "customer_id" for item in out):
        out.append("customer_id:ASC")
    return out


def build_query(
    where: WhereArg = None, order: str | Iterable[str] | None = None, page_size: int | None = None
) -> ListQuery:
    """Check a listing's arguments and build its query.

    Args:
        where: The filter (see the module docstring for its forms).
        order: ``"field:ASC|DESC"``, several comma-joined or as a sequence; default
            ``customer_id:ASC``.
        page_size: Rows per request, 1 to :data:`~customer_sdk._protocol.MAX_PAGE_SIZE`;
            default :data:`~customer_sdk._protocol.DEFAULT_PAGE_SIZE`.

    Returns:
        The query.

    Raises:
        ConfigurationError: Naming every problem of every argument.
    """
    problems: list[str] = []
    clauses = where_clauses(where, problems)
    # A value ending in "\" reads as an escaped "," when another clause follows it: the escape
    # syntax (docs/chargeover-api.md, "Escaping") has no way to say otherwise.
    for clause in clauses[:-1]:
        if clause.endswith("\\"):
            problems.append(
                f"where: the value of {clause.partition(':')[0]!r} ends with a backslash, which "
                "ChargeOver would read as escaping the ',' after it; put that clause last"
            )
    items = _order_items(order, problems)
    size = DEFAULT_PAGE_SIZE if page_size is None else page_size
    if type(size) is not int or not 1 <= size <= MAX_PAGE_SIZE:
        problems.append(f"page_size must be an int from 1 to {MAX_PAGE_SIZE}, got {size!r}")
    if problems:
        raise ConfigurationError("; ".join(problems))
    return ListQuery(tuple(clauses), tuple(items), size)


def check_id(customer_id: object) -> None:
    """Refuse anything but a positive int as a customer id (before any I/O).

    Args:
        customer_id: The id given.

    Raises:
        ConfigurationError: Not a positive int (a bool is not an id).
    """
    if type(customer_id) is not int or customer_id < 1:
        raise ConfigurationError(f"customer_id must be a positive int, got {customer_id!r}")


def checked_value(value: object, name: str) -> str:
    """Check a unique value looked up by (an ``external_key``, a ``token``).

    Args:
        value: The value given.
        name: Its field's name, for the message.

    Returns:
        The value.

    Raises:
        ConfigurationError: Not a non-empty str, or it holds a lone surrogate.
    """
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name} must be a non-empty str")
    if not (value.isascii() or encodable(value)):
        raise ConfigurationError(f"{name} holds a lone surrogate, which cannot be sent")
    return value
