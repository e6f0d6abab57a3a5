"""From one record's values to a :class:`~customer_sdk._rows.Row`: convert the cells, validate.

Columns (CSV) and keys (JSONL) are ChargeOver's wire field names
(``docs/chargeover-api.md`` "The customer object"). CSV cells are text, converted here: an
empty cell is unset, ints are digits, flags are ``true/false/1/0/yes/no``, ``tags`` is
``;``-separated. JSONL values may be native JSON (numbers, booleans, a list of tags) or the
same strings; native values are passed on for the model to check.

A text value over :data:`CELL_LIMIT` (64 KiB of UTF-8) rejects its row, naming its column
(``bill_addr1: cell is 200,000 bytes, over the 65,536-byte limit``): ChargeOver's fields are
short, and a cell that size is a broken export (an unclosed quote swallowing the rest of the
file, say), not data. The readers bound what reaches this module and ask
:func:`take_oversized` only about a record longer than :data:`SHORT` characters (see
:mod:`~customer_sdk._rows._readers`), so a normal row pays nothing for the check.

Then the SDK's one converter (:func:`customer_sdk._convert.structure_wire`) validates the
converted values, once: a valid record carries a
:class:`~customer_sdk._convert.CheckedWire` that the bulk job does not check again. Every
problem, of the conversion or of the converter, ends up in the row's errors; none is raised.
Nothing here reads a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from customer_sdk._convert import CheckedWire, structure_wire
from customer_sdk._fields import BOOL_FIELDS, FIELD_NAMES, INT_FIELDS
from customer_sdk._rows._row import Row
from customer_sdk.errors import FieldError, ValidationError

__all__ = ["CELL_LIMIT", "SHORT", "convert_fields", "make_row", "take_oversized"]

_KNOWN: Final = frozenset(FIELD_NAMES)
_INTS: Final = frozenset(INT_FIELDS)
_BOOLS: Final = frozenset(BOOL_FIELDS)
_TRUE: Final = frozenset({"true", "1", "yes", "y"})
_FALSE: Final = frozenset({"false", "0", "no", "n"})
# A cell echoed into an error message is cut here: it may be long, and it is customer data.
_ECHO: Final = 40
CELL_LIMIT: Final = 65_536
"""The most bytes (UTF-8) one cell or JSON text value may hold; a longer one rejects its row."""
SHORT: Final = CELL_LIMIT // 4
"""A text of at most this many characters cannot be over :data:`CELL_LIMIT` (4 bytes a
character at most)."""


def take_oversized(values: dict[str, Any]) -> list[FieldError]:
    """Remove the text values over :data:`CELL_LIMIT` bytes, and name each with its size.

    Removed so that nothing downstream converts, echoes or reports them (a key that size is
    not carried into every report line).

    Args:
        values: Field name to cell text or JSON value; changed in place.

    Returns:
        One error per oversized value, on its name.
    """
    out: list[FieldError] = []
    for name, value in list(values.items()):
        if not isinstance(value, str) or len(value) <= SHORT:
            continue
        size = len(value) if value.isascii() else len(value.encode("utf-8", "surrogateescape"))
        if size > CELL_LIMIT:
            del values[name]
            out.append(
                FieldError(name, f"cell is {size:,} bytes, over the {CELL_LIMIT:,}-byte limit")
            )
    return out


def _echo(value: str) -> str:
    return repr(value if len(value) <= _ECHO else value[:_ECHO] + "…")


def _encodable(value: str) -> bool:
    """False when the text holds a surrogate (an undecodable byte kept by surrogateescape).

    One C-level encode instead of a Python loop over every character of every cell.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _convert(name: str, value: Any, out: list[FieldError]) -> Any:
    """Convert one cell (or JSON value) to the model's type; None means unset."""
    if isinstance(value, str) and not value.isascii() and not _encodable(value):
        # surrogateescape kept the undecodable bytes: say so instead of sending mojibake.
        out.append(FieldError(name, "is not valid UTF-8"))
        return None
    if name in _INTS:
        if isinstance(value, str):
            text = value.strip()
            if text == "":
                return None
            if text.isascii() and text.isdigit():
                return int(text)
            out.append(FieldError(name, f"expected a whole number, got {_echo(value)}"))
            return None
        return value  # native JSON: the model checks the type
    if name in _BOOLS:
        if isinstance(value, str):
            text = value.strip().lower()
            if text == "":
                return None
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            out.append(
                FieldError(name, f"expected true/false/1/0/yes/no, got {_echo(value)}"),
            )
            return None
        return value
    if name == "tags":
        if isinstance(value, str):
            tags = [t.strip() for t in value.split(";")]
            return [t for t in tags if t] or None
        return value
    if isinstance(value, str) and value == "":
        return None
    return value


def convert_fields(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """Convert text cells (or JSON values) of one record to model values.

    Unknown names with a value are reported; unknown names left empty are ignored (a spare
    column in a spreadsheet is not an error until somebody fills it in).

    Args:
        values: Field name to cell text or JSON value.

    Returns:
        The converted values (unset ones left out) and the conversion problems found.
    """
    out: list[FieldError] = []
    fields: dict[str, Any] = {}
    for name, raw in values.items():
        if raw is None or (isinstance(raw, str) and raw == ""):
            continue
        if name not in _KNOWN:
            out.append(FieldError(name, "unknown column (not a ChargeOver customer field)"))
            continue
        value = _convert(name, raw, out)
        if value is not None:
            fields[name] = value
    return fields, out


def make_row(line: int, values: Mapping[str, Any], extra: list[FieldError]) -> Row:
    """Convert and validate one record into a :class:`~customer_sdk._rows.Row`.

    Args:
        line: The line the record starts on.
        values: Field name to cell text or JSON value.
        extra: Problems the reader already found with the record (e.g. too many cells).

    Returns:
        The row: its wire dict when there are no problems at all, else every problem.
    """
    raw_key = values.get("external_key")
    key = raw_key if isinstance(raw_key, str) and raw_key.strip() else None
    fields, errors = convert_fields(values)
    errors = extra + errors
    try:
        # The one validation of the row (the cells are typed values by now): the result is
        # a CheckedWire, which the bulk job's wire_of() passes on without checking it again.
        wire = CheckedWire(structure_wire(fields, owned=True))
    except ValidationError as exc:
        # Problems the conversion already named are not repeated by the converter.
        named = {e.path for e in errors}
        errors += [e for e in exc.errors if e.path not in named]
        wire = None
    if errors:
        return Row(line=line, key=key, wire=None, errors=tuple(errors))
    return Row(line=line, key=key, wire=wire)
