"""Reading a CSV or JSONL file record by record, each with the line it starts on.

:func:`read_rows` streams the file: it is opened when iteration starts and closed when it
ends, and holds one record at a time. The two readers find the records and their lines; each
record's values go to :func:`~customer_sdk._rows._cells.make_row`.

- CSV: read with ``newline=""`` so that CR/LF inside a quoted cell reach the model (which
  refuses them) instead of being mangled, ``utf-8-sig`` (a BOM is not part of the first
  column's name) and ``surrogateescape`` (one undecodable byte is that cell's problem, not the
  file's). Blank lines are skipped. A record the csv module cannot parse ends the read, with
  an error saying so: it cannot find where the next record begins.
- JSONL: one JSON object per line; a line that is not one is that row's error.

Line numbers count LF as editors and ``grep -n`` do (:class:`_Lines`), so a reported row can
be found in the file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import orjson

from customer_sdk._rows._cells import make_row
from customer_sdk._rows._files import detect_format
from customer_sdk._rows._row import FileFormat, Row, RowFileError
from customer_sdk.errors import FieldError

__all__ = ["read_rows"]


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


def _read_csv(f: IO[str]) -> Iterator[Row]:
    lines = _Lines(f)
    reader = csv.reader(lines)
    names = _header(reader)
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
        if not cells or all(c == "" for c in cells):
            continue  # a blank line is not a record
        extra: list[FieldError] = []
        if len(cells) > len(names):
            extra.append(
                FieldError("$", f"the row has {len(cells)} cells, the header {len(names)}")
            )
        values = {n: c for n, c in zip(names, cells, strict=False) if n}
        unnamed = [c for n, c in zip(names, cells, strict=False) if not n and c]
        if unnamed:
            extra.append(FieldError("$", "a value sits under a column without a name"))
        yield make_row(start, values, extra)


def _read_jsonl(f: IO[bytes]) -> Iterator[Row]:
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
        yield make_row(line, obj, [])


def read_rows(path: Path, fmt: FileFormat | None = None) -> Iterator[Row]:
    """Stream the rows of a CSV or JSONL file, one record at a time.

    The file is opened when iteration starts and closed when it ends (or the iterator is
    closed). Undecodable bytes do not stop the read: that record is reported as not UTF-8.

    Args:
        path: The input file.
        fmt: ``"csv"`` or ``"jsonl"``; detected when None (see
            :func:`~customer_sdk._rows.detect_format`).

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
                yield from _read_jsonl(fb)
        else:
            # newline="" lets the csv module see the CR/LF inside quoted cells (so they can be
            # refused by the model, not silently mangled); surrogateescape keeps a bad byte
            # from aborting the whole file.
            with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as ft:
                yield from _read_csv(ft)
    except OSError as exc:
        raise RowFileError(f"cannot read {path}: {exc.strerror or exc}") from None
