"""The failures report: a CSV of every problem of every row that was not created or found.

One line per problem: a row with three bad fields has three lines, each naming its field, so
the report can be fixed field by field and the fixed rows imported again. The report is
hostile input's way into a spreadsheet, so every cell that a spreadsheet would run as a formula
(``=``, ``+``, ``-``, ``@``, tab, CR) is prefixed with ``'`` ("CSV injection"), and every cell is
masked with :func:`~customer_sdk._progress.scrub` (``docs/faults.md`` "Secrets and hostile
input"). This module decides nothing about the rows; it writes what it is given.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from customer_sdk._progress._scrub import scrub
from customer_sdk.errors import FieldError

__all__ = ["FailureReport"]

# Spreadsheets execute a cell that starts with one of these as a formula ("CSV injection"):
# a customer name like "=HYPERLINK(...)" must not become one in the failures report.
_FORMULA: Final = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA) else text


class FailureReport:
    """The failures CSV: one line per problem of every row that did not end created/existed.

    Columns: ``row`` (the line in the input file), ``external_key``, ``outcome``, ``field`` (empty
    when the problem is the whole row's) and ``reason``. The file is created up front, so after a
    clean run it holds just the header rather than a stale report from an earlier run.

    Args:
        path: Where to write; an existing file is replaced.
        secrets: Values to mask in every cell.

    Attributes:
        secrets: Values masked in every cell written from now on (the CLI sets them once the
            credentials are known).
        lines: Problem lines written so far (the header not counted).

    Raises:
        OSError: The file cannot be created.
    """

    HEADER: Final = ("row", "external_key", "outcome", "field", "reason")

    def __init__(self, path: Path, *, secrets: Iterable[str] = ()) -> None:
        self.path = path
        self.secrets = tuple(secrets)
        # backslashreplace: a key or column name read from bytes that are not UTF-8 carries
        # surrogate escapes (see _rows), and one such row must not crash the whole import.
        self._file = path.open("w", encoding="utf-8", errors="backslashreplace", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(self.HEADER)
        self.lines = 0

    def add(
        self,
        row: int,
        key: str | None,
        outcome: str,
        problems: Iterable[FieldError] = (),
        reason: str = "",
    ) -> None:
        """Write one line per field problem, or a single line with ``reason`` when there are none.

        Args:
            row: The row's line in the input file.
            key: Its ``external_key``, if any.
            outcome: ``rejected``, ``unknown``, ``failed``, or ``unfinished`` (the job stopped
                before the row had a result).
            problems: Field problems (one line each).
            reason: The whole-row reason, used when ``problems`` is empty.
        """
        items = [(p.path, p.message) for p in problems] or [("", reason)]
        for field, why in items:
            self._writer.writerow(
                [
                    row,
                    _cell(scrub(key or "", self.secrets)),
                    outcome,
                    _cell(field),
                    _cell(scrub(why, self.secrets)),
                ]
            )
            self.lines += 1

    def close(self) -> None:
        """Flush and close the file. Idempotent."""
        self._file.close()
