"""Reading a CSV or JSONL file record by record, each with the line it starts on.

:func:`read_rows` streams the file: it is opened when iteration starts and closed when it
ends, and holds one record at a time. The two readers find the records and their lines; each
record's values go to :func:`~customer_sdk._rows._cells.make_row`.

- CSV: read with ``newline=""`` so that CR/LF inside a quoted cell reach the model (which
  refuses them) instead of being mangled, ``utf-8-sig`` (a BOM is not part of the first
  column's name) and ``surrogateescape`` (one undecodable byte is that cell's problem, not the
  file's). The delimiter is sniffed among ``,`` ``;`` and tab
  (:func:`~customer_sdk._rows._header.sniff_delimiter`). Cells are what a spreadsheet shows:
  surrounding whitespace is trimmed, and an integral number in an id column (``1.0``, as a
  spreadsheet re-exports ``1``) is that whole number. Blank lines are skipped. A record the
  csv module cannot parse ends the read, with an error saying so: it cannot find where the
  next record begins.
- JSONL: one JSON object per line; a line that is not one is that row's error.

Line numbers count LF as editors and ``grep -n`` do (:class:`_Lines`), so a reported row can
be found in the file.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

import orjson

from customer_sdk._fields import FIELD_NAMES, INT_FIELDS
from customer_sdk._rows._cells import make_row
from customer_sdk._rows._files import detect_format
from customer_sdk._rows._header import sniff_delimiter
from customer_sdk._rows._row import FileFormat, Row, RowFileError
from customer_sdk.errors import FieldError

__all__ = ["read_header", "read_rows"]

# How much of a CSV file the delimiter is judged from.
_SNIFF: Final = 16 * 1024
_KNOWN: Final = frozenset(FIELD_NAMES)
_INTS: Final = frozenset(INT_FIELDS)
# "1.0" or "12.00": a spreadsheet's rendering of a whole number in a column it typed as a number.
_INTEGRAL: Final = re.compile(r"([0-9]+)\.0+")


class _Lines:
    """The file's lines for the csv module, counting LF to know where each record starts.

    ``csv.reader.line_num`` counts a lone CR inside a quoted cell as a line too; editors,
    ``grep -n`` and ``sed -n`` count only LF, and the reported row number must lead there.
    A file with no LF at all uses CR-only line ends (classic Mac exports): there each CR ends
    a line, as an editor shows it, or every row would be reported as line 1.
    """

    def __init__(self, f: IO[str]) -> None:
        self._f = f
        self.newlines = 0
        self._lf = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._f)
        if line.endswith("\n"):
            self.newlines += 1
            self._lf = True
        elif not self._lf and line.endswith("\r"):
            self.newlines += 1
        return line


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


def _cell(name: str, cell: str) -> str:
    """A trimmed CSV cell as the spreadsheet meant it: ``1.0`` in an id column is ``1``."""
    if name in _INTS and (m := _INTEGRAL.fullmatch(cell)):
        return m[1]
    return cell


def _open_csv(f: IO[str]) -> tuple[_Lines, Iterator[list[str]], list[str]]:
    """Sniff the delimiter from the start of ``f``, rewind, and read the header."""
    delimiter = sniff_delimiter(f.read(_SNIFF))
    f.seek(0)  # utf-8-sig: the rewound decoder skips the BOM again
    lines = _Lines(f)
    reader = csv.reader(lines, delimiter=delimiter)
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
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # The csv module cannot re-synchronise inside a broken record (e.g. a cell over
            # csv.field_size_limit()): stop rather than guess where the next record begins, and
            # say so, or every row after this one would vanish from the counts and the report.
            why = f"{exc}; reading stopped here: no later row of the file was imported"
            yield Row(line=start, key=None, wire=None, errors=(FieldError("$", why),))
            return
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
        if any(c for n, _, c in columns if not n):
            extra.append(FieldError("$", "a value sits under a column without a name"))
        yield make_row(start, values, extra)


def _read_jsonl(f: IO[bytes], ignored: set[str] | None) -> Iterator[Row]:
    for line, raw in enumerate(f, start=1):
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
        yield make_row(line, obj, [])


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
                yield from _read_jsonl(fb, ignored)
        else:
            with _open_text(path) as ft:
                yield from _read_csv(ft, ignored)
    except OSError as exc:
        raise RowFileError(f"cannot read {path}: {exc.strerror or exc}") from None
