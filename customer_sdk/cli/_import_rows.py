"""The import's rows: which ones this process imports, and what became of each.

:class:`RowLedger` is the bookkeeping between the input file and
:meth:`Customers.create_many <customer_sdk.Customers.create_many>`: it reads the file (only the
rows of this process's ``--shard``), hands the valid rows' wire dicts to the job, counts every
outcome in a :class:`~customer_sdk._progress.Tally`, groups every problem by reason for the
summary (:class:`~customer_sdk._progress.Problems`) and writes each one to the failures
report. Before that, :func:`check_columns` refuses a CSV header with an unknown column. This
module parses no options, opens no client and draws nothing: it is handed the file, the shard
and the report, and is told each result.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from customer_sdk._bulk import FirstSeen, RowResult, duplicate_error
from customer_sdk._progress import FailureReport, Problems, Tally
from customer_sdk._rows import (
    FileFormat,
    Row,
    detect_format,
    read_header,
    read_rows,
    scan_file,
    shard_of,
    unknown_columns,
)
from customer_sdk.cli._common import fail, reason
from customer_sdk.errors import FieldError, ValidationError

__all__ = ["RowLedger", "check_columns", "job_fingerprint"]

Shard = tuple[int, int]
"""``(i, n)``: shard ``i`` of ``n``, as ``--shard i/n`` parses."""


def job_fingerprint(path: Path, fmt: FileFormat | None, shard: Shard | None) -> tuple[str, int]:
    """The job id the journal is bound to, and about how many rows this process will import.

    The id is the file's sha256, so a journal written for another file is refused by the
    journal itself (:class:`~customer_sdk.errors.JournalMismatchError`). With ``--shard i/n``
    the id gets a ``#shardi/n`` suffix: shards are separate jobs over one file, and each one's
    journal must refuse every other shard's.

    Args:
        path: The input file.
        fmt: ``csv``, ``jsonl``, or None to go by the extension.
        shard: This process's shard, or None for the whole file.

    Returns:
        ``(job_id, rows)``. ``rows`` is an estimate for the progress line: the file's lines (less
        the CSV header), divided by the shard count rounded up; blank lines and a shard's
        uneven share make the real count differ.

    Raises:
        RowFileError: The file cannot be read or its format not told.
    """
    fmt = fmt or detect_format(path)
    digest, lines = scan_file(path, quoted=fmt == "csv")
    rows = lines if fmt == "jsonl" else max(lines - 1, 0)  # CSV: not the header
    if shard is not None:
        rows = -(-rows // shard[1])
        # A journal written by another shard (or for another file) is refused by the
        # journal itself, because the job id differs.
        digest = f"{digest}#shard{shard[0]}/{shard[1]}"
    return digest, rows


def check_columns(path: Path, fmt: FileFormat | None, *, ignore_unknown: bool) -> None:
    """Refuse a CSV header naming a column that is not a ChargeOver field, before any row is sent.

    A misspelt column (``compnay``) would otherwise be rejected on every row that fills it, or
    worse, left unnoticed on the rows that leave it empty. JSONL has no header: an unknown key
    stays that row's problem (or is dropped with ``--ignore-unknown-columns``).

    Args:
        path: The input file.
        fmt: ``csv``, ``jsonl``, or None to go by the extension.
        ignore_unknown: ``--ignore-unknown-columns``: unknown columns are allowed (and dropped).

    Raises:
        UsageError: Naming each unknown column with the closest field name (exit status 2).
        RowFileError: The file cannot be read, or its header is missing or broken.
    """
    if ignore_unknown or (fmt or detect_format(path)) != "csv":
        return
    unknown = unknown_columns(read_header(path))
    if unknown:
        names = ", ".join(str(u) for u in unknown)
        fail(
            f"{path}: the header has columns that are not ChargeOver customer fields: {names}; "
            "rename them, or pass --ignore-unknown-columns to import without them"
        )


class RowLedger:
    """Rows in, outcomes counted and reported: the import's account of every row it read.

    create_many numbers the rows it is given from 0 and knows nothing of the file; the ledger
    remembers, for each row handed over and not yet answered, its line in the file and its
    ``external_key``, so that each result can be reported against the line a user can find.
    Rows invalid locally never reach the job: :meth:`feed` reports them on the way.

    Args:
        path: The input file.
        fmt: ``csv``, ``jsonl``, or None to go by the extension.
        shard: Import only shard ``i`` of ``n`` (by :func:`~customer_sdk._rows.shard_of`), or
            None for every row.
        report: The failures report, or None.
        ignore_unknown: Drop the values of unknown columns (JSONL keys) instead of rejecting
            the rows that fill them (``--ignore-unknown-columns``).

    Attributes:
        tally: The rows counted by outcome so far.
        problems: Every problem so far, grouped by reason, for the summary.
        ignored: With ``ignore_unknown``, the unknown names met so far; else None.
        report: The failures report, or None; its ``secrets`` are set once the client is open.
        unfinished: After :meth:`close_unfinished`, how many rows had been handed to the job
            without a result.
    """

    def __init__(
        self,
        path: Path,
        fmt: FileFormat | None,
        shard: Shard | None,
        report: FailureReport | None,
        *,
        ignore_unknown: bool = False,
    ) -> None:
        self.path = path
        self.fmt = fmt
        self.shard = shard
        self.report = report
        self.tally = Tally()
        self.problems = Problems()
        self.ignored: set[str] | None = set() if ignore_unknown else None
        self.unfinished = 0
        # create_many's index -> (line in the file, external_key), for rows awaiting a result.
        self._pending: dict[int, tuple[int, str | None]] = {}

    def rows(self) -> Iterator[Row]:
        """The file's rows that belong to this shard, valid or not, in file order.

        Sharding (``--shard i/n``) splits one file among ``n`` processes, on one host or many,
        with no coordinator: every process reads the whole file and keeps the rows whose
        :func:`~customer_sdk._rows.shard_of` is ``i``. That is a sha256 of the row's
        ``external_key`` (of its line number when it has none), so every process agrees on
        every row, the shards are disjoint and together they cover the file. A row's shard
        depends on its key, not its position, so editing the file between runs moves no keyed
        row to another shard; but the file's sha256 is the job id, so a journal refuses an
        edited file anyway. Each shard is its own job with its own ``--journal``
        (:func:`job_fingerprint`, :func:`~customer_sdk.cli._common.journal_lock`), and the
        processes share the account's rate limit only if given one ``--redis``.

        A valid row whose ``external_key`` an earlier valid row had is made invalid, naming
        that row's line, so that neither ``--dry-run`` nor the import sends it (a key's rows
        all fall in one shard). The keys are kept as 8-byte digests: about 110 MB per million
        distinct keys (:class:`~customer_sdk._bulk.FirstSeen`).

        Yields:
            Each row of the shard (every row without ``--shard``).

        Raises:
            RowFileError: The file cannot be read or decoded (raised as reading reaches it).
        """
        shard = self.shard
        seen = FirstSeen()
        for row in read_rows(self.path, self.fmt, ignored=self.ignored):
            if shard is not None and shard_of(row, shard[1]) != shard[0]:
                continue
            if row.wire is not None and row.key is not None:
                first = seen.earlier(row.key, row.line)
                if first is not None:
                    errors = duplicate_error(f"line {first}").errors
                    row = Row(line=row.line, key=row.key, wire=None, errors=errors)
            yield row

    def reject(self, row: Row) -> None:
        """Count and report a row that failed validation locally.

        Args:
            row: A row whose ``wire`` is None (its ``errors`` say why).
        """
        self.tally.add("rejected")
        self._problem(row.line, row.key, "rejected", row.errors)

    def feed(self) -> Iterator[dict[str, Any]]:
        """The valid rows' wire dicts, for create_many; invalid ones are reported on the way.

        Lazily: create_many pulls one row at a time, so the file is read no faster than the
        job sends, and rows after a stop are never read.

        Yields:
            Each valid row's wire fields, numbered (implicitly, from 0) as create_many counts.
        """
        index = 0
        for row in self.rows():
            if row.wire is None:
                self.reject(row)
                continue
            self._pending[index] = (row.line, row.key)
            index += 1
            yield row.wire

    def record(self, result: RowResult) -> None:
        """Count and report one result of create_many.

        Args:
            result: A result of a row :meth:`feed` handed over.
        """
        # Every index create_many yields was given to it by feed(): a missing one is a bug.
        line, key = self._pending.pop(result.index)
        outcome = str(result.outcome)
        self.tally.add(outcome, resumed=result.resumed, recovered=result.recovered)
        if outcome not in {"created", "existed", "updated"}:
            error = result.error
            if isinstance(error, ValidationError):
                self._problem(line, key or result.key, outcome, error.errors)
            else:
                self._problem(line, key or result.key, outcome, why=reason(error))

    def _problem(
        self,
        line: int,
        key: str | None,
        outcome: str,
        errors: tuple[FieldError, ...] = (),
        why: str = "",
    ) -> None:
        """Group a row's problems by reason and write them to the report (one line each)."""
        for text in [str(e) for e in errors] or [why]:
            self.problems.add(outcome, text, line, key)
        if self.report is not None:
            self.report.add(line, key, outcome, errors, reason=why)

    def close_unfinished(self) -> None:
        """After a stop, report the rows handed to the job that got no result.

        Some may have been sent (the job stopped mid-request), so they are UNKNOWN until a
        re-run settles them: with the same journal it looks them up, and without one the
        create finds an existing key anyway. They are counted in :attr:`unfinished` and
        reported as ``unfinished``, in file order; rows never read are not reported.
        """
        self.unfinished = len(self._pending)
        if self.report is not None:
            why = "the import stopped before this row had a result; re-run to settle it"
            for line, key in sorted(self._pending.values()):
                self.report.add(line, key, "unfinished", reason=why)
        self._pending.clear()
