"""Reading a CSV or JSONL file record by record, each with the line it starts on.

:func:`read_rows` streams the file: it is opened when iteration starts and closed when it
ends, and holds one record at a time. It reads a CSV file here, and a JSONL file (one JSON
object per line; a line that is not one is that row's error) with
:func:`~customer_sdk._rows._jsonl.read_jsonl`; each record's values go to
:func:`~customer_sdk._rows._cells.make_row`.

A CSV file is read with ``newline=""`` so that CR/LF inside a quoted cell reach the model
(which refuses them) instead of being mangled, ``utf-8-sig`` (a BOM is not part of the first
column's name) and ``surrogateescape`` (one undecodable byte is that cell's problem, not the
file's). The delimiter is sniffed among ``,`` ``;`` and tab
(:func:`~customer_sdk._rows._header.sniff_delimiter`). Cells are what a spreadsheet shows:
surrounding whitespace is trimmed, and an integral number in an id column (``1.0``, as a
spreadsheet re-exports ``1``) is that whole number. Blank lines are skipped. A record the csv
module cannot parse ends the read, with an error saying so: it cannot find where the next
record begins.

Oversized input is bounded, and rejects only its row. A cell over ``CELL_LIMIT`` (64 KiB) is
rejected by :func:`~customer_sdk._rows._cells.make_row`, naming its column; for that the csv
module's own cell limit (``csv.field_size_limit``, 128 KiB by default, whose error used to end
the read) is raised to :data:`_PARSE_LIMIT` (1 Mi characters) while a record is parsed, so a
cell up to that size is parsed whole and the reader stays in step with the records. Beyond
it, or when one physical line is over :data:`LINE_LIMIT` (4 Mi characters, 64 cells at the
limit), the record is rejected without its column named and skipped: lines are read at most
:data:`LINE_LIMIT` at a time, and the record's end is found by counting quote characters (an
odd count: a quoted value goes on to the next line). A JSONL line over :data:`LINE_LIMIT`
bytes is rejected and skipped the same way, in bounded reads. Memory per record is thus
bounded by these limits, never by the file.

Line numbers count LF as editors and ``grep -n`` do
(:class:`~customer_sdk._rows._lines.Lines`), so a reported row can be found in the file.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

from customer_sdk._fields import FIELD_NAMES, INT_FIELDS
from customer_sdk._rows._cells import CELL_LIMIT, SHORT, make_row, take_oversized
from customer_sdk._rows._files import detect_format
from customer_sdk._rows._header import sniff_delimiter
from customer_sdk._rows._jsonl import read_jsonl
from customer_sdk._rows._lines import LINE_LIMIT, Lines, LineTooLong
from customer_sdk._rows._row import FileFormat, Row, RowFileError
from customer_sdk.errors import FieldError

__all__ = ["LINE_LIMIT", "read_header", "read_rows"]

_PARSE_LIMIT: Final = 16 * CELL_LIMIT
# csv's message when a cell passes csv.field_size_limit().
_FIELD_LIMIT: Final = "field larger than field limit"


# How much of a CSV file the delimiter is judged from.
_SNIFF: Final = 16 * 1024
_KNOWN: Final = frozenset(FIELD_NAMES)
_INTS: Final = frozenset(INT_FIELDS)
# "1.0" or "12.00": a spreadsheet's rendering of a whole number in a column it typed as a number.
_INTEGRAL: Final = re.compile(r"([0-9]+)\.0+")


def _header(reader: Iterator[list[str]]) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise RowFileError("the CSV file is empty (no header row)") from None
    except csv.Error as exc:
        raise RowFileError(f"the CSV header cannot be parsed: {exc}") from None
    names = [h.strip() for h in header]
    if not any(names):
        raise RowFileError("the CSV header row is empty")
    dupes = sorted({n for n in names if names.count(n) > 1 and n})
    if dupes:
        raise RowFileError(f"the CSV header repeats column(s): {', '.join(dupes)}")
    return names


def _next_cells(reader: Iterator[list[str]], lines: Lines) -> list[str] | None:
    """The next record's cells, or None when it is too big to parse (its rest not yet read).

    Raises StopIteration at the end, and csv.Error for a record broken otherwise.
    """
    lines.size = 0
    lines.odd = False
    # Process-wide, so raised around each record only, and put back for any other reader.
    default = csv.field_size_limit(_PARSE_LIMIT)
    try:
        return next(reader)
    except LineTooLong:
        return None
    except csv.Error as exc:
        if str(exc).startswith(_FIELD_LIMIT):
            return None
        raise
    finally:
        csv.field_size_limit(default)


def _skipped(lines: Lines, start: int) -> Row:
    """Skip the rest of a record too big to parse, and reject it."""
    lines.skip_record()
    why = (
        f"the record is {lines.size:,} characters, with a cell over {_PARSE_LIMIT:,} characters "
        f"or a line over {LINE_LIMIT:,} (a cell may hold {CELL_LIMIT:,} bytes); skipped"
    )
    return Row(line=start, key=None, wire=None, errors=(FieldError("$", why),))


def _cell(name: str, cell: str) -> str:
    """A trimmed CSV cell as the spreadsheet meant it: ``1.0`` in an id column is ``1``."""
    if name in _INTS and (m := _INTEGRAL.fullmatch(cell)):
        return m[1]
    return cell


def _open_csv(f: IO[str]) -> tuple[Lines, Iterator[list[str]], list[str]]:
    """Sniff the delimiter from the start of ``f``, rewind, and read the header."""
    delimiter = sniff_delimiter(f.read(_SNIFF))
    f.seek(0)  # utf-8-sig: the rewound decoder skips the BOM again
    lines = Lines(f)
    reader = csv.reader(lines, delimiter=delimiter)
    lines.quote = reader.dialect.quotechar or '"'  # to find the end of a skipped record
    return lines, reader, _header(reader)


def _read_csv(f: IO[str], ignored: set[str] | None) -> Iterator[Row]:
    lines, reader, names = _open_csv(f)
    # With a collector, unknown columns are dropped (and collected); else each row that fills
    # one reports it.
    keep = [ignored is None or n in _KNOWN for n in names]
    if ignored is not None:
        ignored.update(n for n, k in zip(names, keep, strict=True) if n and not k)
    while True:
        start = lines.newlines + 1
        try:
            cells = _next_cells(reader, lines)
        except StopIteration:
            return
        except csv.Error as exc:
            # The csv module cannot re-synchronise inside a broken record: stop rather than
            # guess where the next record begins, and say so, or every row after this one
            # would vanish from the counts and the report.
            why = f"{exc}; reading stopped here: no later row of the file was imported"
            yield Row(line=start, key=None, wire=None, errors=(FieldError("$", why),))
            return
        if cells is None:
            yield _skipped(lines, start)
            continue
        cells = [c.strip() for c in cells]
        if not cells or all(c == "" for c in cells):
            continue  # a blank line (or one of blank cells only) is not a record
        extra: list[FieldError] = []
        if len(cells) > len(names):
            extra.append(
                FieldError("$", f"the row has {len(cells)} cells, the header {len(names)}")
            )
        columns = list(zip(names, keep, cells, strict=False))
        values = {n: _cell(n, c) for n, k, c in columns if n and k}
        if lines.size > SHORT:  # only a long record may hold an oversized cell
            extra += take_oversized(values)
        if any(c for n, _, c in columns if not n):
            extra.append(FieldError("$", "a value sits under a column without a name"))
        yield make_row(start, values, extra)


def read_header(path: Path) -> list[str]:
    """The column names of a CSV file's header, read with the delimiter :func:`read_rows` uses.

    Args:
        path: The CSV file.

    Returns:
        The names, stripped, in header order (an unnamed column is ``""``).

    Raises:
        RowFileError: The file cannot be opened, or its header is missing, empty, broken or
            repeats a name.
    """
    try:
        with _open_text(path) as ft:
            return _open_csv(ft)[2]
    except OSError as exc:
        raise RowFileError(f"cannot read {path}: {exc.strerror or exc}") from None


def _open_text(path: Path) -> IO[str]:
    # newline="" lets the csv module see the CR/LF inside quoted cells (so they can be refused
    # by the model, not silently mangled); surrogateescape keeps a bad byte from aborting the
    # whole file.
    return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")


def read_rows(
    path: Path, fmt: FileFormat | None = None, *, ignored: set[str] | None = None
) -> Iterator[Row]:
    """Stream the rows of a CSV or JSONL file, one record at a time.

    The file is opened when iteration starts and closed when it ends (or the iterator is
    closed). Undecodable bytes do not stop the read: that record is reported as not UTF-8.

    Args:
        path: The input file.
        fmt: ``"csv"`` or ``"jsonl"``; detected when None (see
            :func:`~customer_sdk._rows.detect_format`).
        ignored: None to report a value under an unknown column (or JSONL key) as that row's
            error; else a set that collects the unknown names, whose values are dropped.

    Yields:
        One :class:`~customer_sdk._rows.Row` per record, in file order; invalid records
        carry their errors.

    Raises:
        RowFileError: The file cannot be opened, or its CSV header is missing or broken.
    """
    fmt = fmt or detect_format(path)
    try:
        if fmt == "jsonl":
            with path.open("rb") as fb:
                yield from read_jsonl(fb, ignored)
        else:
            with _open_text(path) as ft:
                yield from _read_csv(ft, ignored)
    except OSError as exc:
        raise RowFileError(f"cannot read {path}: {exc.strerror or exc}") from None
