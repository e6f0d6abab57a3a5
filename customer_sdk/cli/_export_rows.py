"""One customer as one output record of ``customer-sdk export``: a CSV row or a JSONL line.

The columns are exactly what ``customer-sdk import`` reads (``FIELD_NAMES`` of
:mod:`customer_sdk._fields`: the create fields, in wire order), written the way the import
converts them back (:mod:`customer_sdk._rows._cells`): in CSV an unset value is an empty cell,
an int is digits, a flag is ``true``/``false`` and ``tags`` is ``;``-separated; in JSONL every
column is a key with its native JSON value (``null`` when unset, ``tags`` a list). Read-only
fields (``customer_id``, ``token``, the datetimes, the balances) are not written: an import could
not send them.

Two things CSV cannot carry back exactly, because the import trims cells and splits ``tags`` on
``;``: text with leading or trailing whitespace, and a tag holding ``;``.
:func:`csv_loss` names them so the command can warn; JSONL carries both. Nothing here does I/O.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from customer_sdk._fields import FIELD_NAMES
from customer_sdk._read import Customer

__all__ = ["COLUMNS", "csv_cells", "csv_loss", "jsonl_line"]

#: The output's columns: the fields ``customer-sdk import`` reads, in wire order.
COLUMNS: Final = FIELD_NAMES


def _values(customer: Customer) -> list[Any]:
    return [getattr(customer, name) for name in COLUMNS]


def _cell(value: Any) -> str:
    """One value as the import's CSV converter reads it back."""
    if value is None:
        return ""
    if type(value) is bool:
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ";".join(value)
    return str(value)


def csv_cells(customer: Customer) -> list[str]:
    """A customer's CSV row, one cell per column of :data:`COLUMNS`.

    Args:
        customer: The customer read back.

    Returns:
        The cells, as text.
    """
    return [_cell(value) for value in _values(customer)]


def csv_loss(customer: Customer) -> str | None:
    """What of this customer a CSV row cannot carry back exactly through ``import``, if anything.

    Args:
        customer: The customer read back.

    Returns:
        The first column that would change, with why; None when the row round-trips.
    """
    for name, value in zip(COLUMNS, _values(customer), strict=True):
        if isinstance(value, str) and value != value.strip():
            return f"{name} has leading or trailing whitespace (CSV cells are trimmed)"
        if isinstance(value, tuple) and any(";" in tag or tag != tag.strip() for tag in value):
            return f"{name} holds a tag with ';' or outer spaces (CSV tags are split on ';')"
    return None


def jsonl_line(customer: Customer) -> bytes:
    """A customer's JSONL line: every column a key, native JSON values, a newline at the end.

    Args:
        customer: The customer read back.

    Returns:
        The UTF-8 line.
    """
    record = {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in zip(COLUMNS, _values(customer), strict=True)
    }
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
