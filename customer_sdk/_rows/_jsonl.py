"""Reading a JSONL file: one JSON object per line, each line's problems its own row's.

A line that is no JSON object is that row's error; a line over :data:`~._lines.LINE_LIMIT`
bytes is rejected and skipped in bounded reads; a BOM before the first line is dropped. Each
object goes to :func:`~customer_sdk._rows._cells.make_row`, as a CSV record's cells do. Kept
apart from the CSV reader (:mod:`._readers`), with which it shares nothing but the limits:
JSONL has no header, no delimiter and no quoting.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Final

import orjson

from customer_sdk._fields import FIELD_NAMES
from customer_sdk._rows._cells import SHORT, make_row, take_oversized
from customer_sdk._rows._lines import LINE_LIMIT
from customer_sdk._rows._row import Row
from customer_sdk.errors import FieldError

__all__ = ["read_jsonl"]

_KNOWN: Final = frozenset(FIELD_NAMES)


def read_jsonl(f: IO[bytes], ignored: set[str] | None) -> Iterator[Row]:
    """The rows of a JSONL file, one per non-blank line.

    Args:
        f: The file, opened in binary mode.
        ignored: None to report an unknown key as the row's error; else a set that collects
            the unknown keys, whose values are dropped.

    Yields:
        One row per non-blank line, in file order.
    """
    line = 0
    while raw := f.readline(LINE_LIMIT):
        line += 1
        if len(raw) == LINE_LIMIT and not raw.endswith(b"\n"):
            size = len(raw)
            while rest := f.readline(LINE_LIMIT):  # skipped in bounded reads
                size += len(rest)
                if rest.endswith(b"\n"):
                    break
            why = f"the line is {size:,} bytes, over the {LINE_LIMIT:,}-byte limit; skipped"
            yield Row(line=line, key=None, wire=None, errors=(FieldError("$", why),))
            continue
        text = raw.strip()
        if line == 1:
            text = text.removeprefix(b"\xef\xbb\xbf")
        if not text:
            continue
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            why = str(exc).partition(":")[0]
            yield Row(line=line, key=None, wire=None, errors=(FieldError("$", f"bad JSON: {why}"),))
            continue
        if not isinstance(obj, dict):
            errors = (FieldError("$", f"expected a JSON object, got {type(obj).__name__}"),)
            yield Row(line=line, key=None, wire=None, errors=errors)
            continue
        if ignored is not None:
            # JSONL has no header: unknown keys can only be dropped (and noted) row by row.
            unknown = obj.keys() - _KNOWN
            ignored.update(unknown)
            obj = {k: v for k, v in obj.items() if k not in unknown}
        yield make_row(line, obj, take_oversized(obj) if len(raw) > SHORT else [])
