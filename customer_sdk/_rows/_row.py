"""The values the row reader hands out: a :class:`Row`, the file-level error, and a row's shard.

Plain values, shared by the readers, the command line and its sharding; nothing here opens a
file or converts a cell.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import attrs

from customer_sdk.errors import FieldError

__all__ = ["FileFormat", "Row", "RowFileError", "shard_of"]

FileFormat = Literal["csv", "jsonl"]


class RowFileError(Exception):
    """The file as a whole cannot be read as rows (missing, empty or broken header).

    Raised before the first row; a problem with one record is a :class:`Row` with errors instead.
    """


@attrs.frozen(kw_only=True)
class Row:
    """One record of the input file.

    Attributes:
        line: The 1-based line of the file where the record starts, counting LF line ends
            as editors and ``grep -n`` do (a CSV record may span lines inside quotes).
        key: The record's ``external_key`` as read, or None when it has none.
        wire: The validated wire dict ready to send (a read-only
            :class:`~customer_sdk._convert.CheckedWire`, which ``create_many`` does not
            validate again), or None when the record is invalid.
        errors: Every problem with the record (empty when ``wire`` is set).
    """

    line: int
    key: str | None
    wire: dict[str, Any] | None
    errors: tuple[FieldError, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the record is valid and can be sent."""
        return self.wire is not None


def shard_of(row: Row, shards: int) -> int:
    """The shard (0-based) a row belongs to: a stable hash of its key, else of its line number.

    sha256 rather than ``hash()``: Python salts ``hash(str)`` per process, and every process
    of a sharded import must agree on every row.

    Args:
        row: The row.
        shards: How many shards there are.

    Returns:
        A number in ``range(shards)``.

    Raises:
        ZeroDivisionError: ``shards`` is 0.
    """
    basis = f"k:{row.key}" if row.key else f"line:{row.line}"
    digest = hashlib.sha256(basis.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % shards
