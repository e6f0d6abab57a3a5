"""Reading lines at most :data:`LINE_LIMIT` at a time, and counting them as editors do.

Both readers read their file a bounded line at a time, so memory per record is bounded by
this limit, never by the file. :class:`Lines` is the CSV reader's line source for the csv
module: it counts LF (as editors, ``grep -n`` and ``sed -n`` do; CR only in a file without
any LF), so a reported row can be found in the file, and it tracks the quote characters of the
current record, so a record too big to parse can be skipped to its end. Kept apart from the
readers because it is the one piece that knows how a physical line ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Final

from customer_sdk._rows._cells import CELL_LIMIT

__all__ = ["LINE_LIMIT", "LineTooLong", "Lines"]

LINE_LIMIT: Final = 64 * CELL_LIMIT
"""The longest line read at once: characters of a CSV line, bytes of a JSONL line (4 MiB)."""


class LineTooLong(Exception):
    """A physical line is longer than LINE_LIMIT: its record is skipped."""


class Lines:
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
        # Of the current record: its length so far, whether an odd number of quote characters
        # was seen (inside a quoted value), whether its last line was cut at LINE_LIMIT.
        self.size = 0
        self.odd = False
        self.cut = False
        self.quote = '"'

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self._f.readline(LINE_LIMIT)
        if not line:
            raise StopIteration
        self.size += len(line)
        if self.quote in line:
            self.odd ^= line.count(self.quote) % 2 == 1
        if line.endswith("\n"):
            self.newlines += 1
            self._lf = True
        elif line.endswith("\r"):
            self.newlines += not self._lf
        elif len(line) == LINE_LIMIT:
            self.cut = True
            raise LineTooLong  # not handed to the csv module: it would end the record here
        self.cut = False
        return line

    def skip_record(self) -> None:
        """Read on, a bounded line at a time, to the end of a record the parser gave up on."""
        while self.cut or self.odd:
            try:
                next(self)
            except StopIteration:
                return
            except LineTooLong:
                continue
