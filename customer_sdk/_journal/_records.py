"""What the journal records about a row: its state, its entry, and the hash of its content.

These are plain values shared by the journal's storage (:mod:`._schema`), its API
(:mod:`._journal`) and the bulk job that reads them back; nothing here touches SQLite.
"""

from __future__ import annotations

import enum
import hashlib

import attrs
import orjson

__all__ = ["JournalEntry", "RowState", "row_hash"]


class RowState(enum.StrEnum):
    """Where a row is in its life, as recorded in the journal.

    ``in_flight`` (recorded before its request goes out) → ``done`` (final: never sent again)
    or ``failed`` (sent again by the next run). ``pending`` (read, not yet sent) is only
    found in journals of earlier versions: it is read as no record at all.
    """

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    FAILED = "failed"


@attrs.frozen
class JournalEntry:
    """One row's record.

    Attributes:
        index: The row's 0-based index in the input.
        hash: The hash of the row's canonical content (see :func:`row_hash`).
        state: Its state.
        outcome: The outcome name once done or failed (``created``, ``existed``, ...), else None.
        customer_id: The customer's id when known.
        error: The error text of a rejected, unknown or failed row.
    """

    index: int
    hash: str
    state: RowState
    outcome: str | None = None
    customer_id: int | None = None
    error: str | None = None


def row_hash(content: object) -> str:
    """A stable hash of a row's content: its wire dict, or the raw row when it was invalid.

    Keys are sorted, so two rows with the same fields in another order hash alike. A resumed
    job compares each input row's hash with the journal's, so an input edited between runs is
    refused instead of resumed on the wrong rows.

    Args:
        content: The wire dict of a valid row, or the raw input row.

    Returns:
        32 hex characters (128 bits of SHA-256).
    """
    try:
        data = orjson.dumps(content, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError:
        data = repr(content).encode("utf-8", "replace")
    return hashlib.sha256(data).hexdigest()[:32]
